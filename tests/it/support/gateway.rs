//! Starts the gateway on 127.0.0.1:0 in front of the bundled demo directory (or any backend URL).

use std::path::PathBuf;

use scimgate::config::{self, Overrides};
use scimgate::demo::{DemoAuth, DemoDirectory, Store};
use scimgate::server::listener::{serve_with_limits, InboundLimits};
use scimgate::startup::build_tenant;
use tokio::sync::oneshot;

use super::Client;

pub const TOKEN: &str = "test-token-0123456789";

/// A running gateway; dropping it stops the servers.
pub struct Gateway {
    pub scim: Client,
    pub base_url: String,
    /// The demo directory behind the gateway, when there is one.
    pub directory: Option<DemoDirectory>,
    pub backend_url: String,
    /// Client for the admin listener (`/metrics`, `/livez`, `/readyz`), no token.
    pub admin: Client,
    stop: Vec<oneshot::Sender<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for s in self.stop.drain(..) {
            let _ = s.send(());
        }
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A config file in the temp folder, removed on drop.
pub struct TempConfig {
    pub path: PathBuf,
}

impl TempConfig {
    pub fn new(yaml: &str) -> TempConfig {
        let path = std::env::temp_dir().join(format!("scimgate-it-{}.yaml", super::scim::run_id()));
        std::fs::write(&path, yaml).unwrap();
        TempConfig { path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Gateway {
    /// The gateway in front of a freshly seeded demo directory.
    pub async fn demo() -> Gateway {
        Gateway::demo_with(Store::seeded()).await
    }

    /// The gateway with the config file `config` in front of a freshly seeded demo directory.
    pub async fn demo_with_config(config: &std::path::Path) -> Gateway {
        Gateway::demo_serving(Store::seeded(), config).await
    }

    /// The gateway in front of a demo directory holding `store`.
    pub async fn demo_with(store: Store) -> Gateway {
        Gateway::demo_serving(store, &repo_path("config/demo.yaml")).await
    }

    async fn demo_serving(store: Store, config: &std::path::Path) -> Gateway {
        let directory = DemoDirectory::new(store, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(directory.clone().serve(listener, async {
            let _ = rx.await;
        }));
        let mut gw = Gateway::start(
            Some(config),
            &format!("http://{addr}"),
            Overrides::default(),
        )
        .await;
        gw.directory = Some(directory);
        gw.stop.push(tx);
        gw
    }

    /// The gateway with `config/demo.yaml`, but the mapping folder `mappings`, in front of
    /// `directory` (served here on a free port).
    pub async fn demo_directory_with_mappings(
        directory: DemoDirectory,
        mappings: &std::path::Path,
    ) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(directory.clone().serve(listener, async {
            let _ = rx.await;
        }));
        let mut gw = Gateway::start_tuned(
            Some(&repo_path("config/demo.yaml")),
            &url,
            Overrides::default(),
            |s| s.mappings = mappings.display().to_string(),
        )
        .await;
        gw.directory = Some(directory);
        gw.stop_on_drop(tx);
        gw
    }

    /// The gateway in front of a seeded demo directory that demands `auth`, configured with
    /// the YAML mapping `backend_auth` as its `backend.auth` section.
    pub async fn demo_with_auth(auth: DemoAuth, backend_auth: &str) -> Gateway {
        let directory = DemoDirectory::new(Store::seeded(), None).with_auth(auth);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(directory.clone().serve(listener, async {
            let _ = rx.await;
        }));
        let indented: String = backend_auth.lines().map(|l| format!("    {l}\n")).collect();
        let config = format!(
            "mappings: {}\nbackend:\n  auth:\n{indented}",
            repo_path("mappings/demo").display()
        );
        let file = temp_file("config.yaml", &config);
        let mut gw =
            Gateway::start(Some(&file), &format!("http://{addr}"), Overrides::default()).await;
        gw.directory = Some(directory);
        gw.stop.push(tx);
        gw
    }

    /// The gateway in front of a seeded demo directory that waits `delay` before answering
    /// each request (so that requests overlap: coalescing, draining on shutdown).
    pub async fn demo_slow(delay: std::time::Duration) -> Gateway {
        let (directory, url, stop) = slow_directory(Store::seeded(), delay).await;
        let mut gw = Gateway::start(
            Some(&repo_path("config/demo.yaml")),
            &url,
            Overrides::default(),
        )
        .await;
        gw.directory = Some(directory);
        gw.stop.push(stop);
        gw
    }

    /// The gateway with a config file (or defaults) in front of `backend_url`.
    pub async fn start(
        config_file: Option<&std::path::Path>,
        backend_url: &str,
        extra: Overrides,
    ) -> Gateway {
        Gateway::start_tuned(config_file, backend_url, extra, |_| {}).await
    }

    /// Like [`Gateway::start`], with settings changed by `tune` after loading (limits,
    /// retry and breaker keys for the fault tests).
    pub async fn start_tuned(
        config_file: Option<&std::path::Path>,
        backend_url: &str,
        extra: Overrides,
        tune: impl FnOnce(&mut config::Settings),
    ) -> Gateway {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            tokens: vec![TOKEN.into()],
            backend_url: Some(backend_url.into()),
            ..extra
        };
        let mut loaded = config::load(config_file, &overrides).unwrap();
        tune(&mut loaded.settings);
        // Single-tenant form: the one tenant runs with the tuned top-level sections (the
        // mappings too: without them a tuned mapping folder was silently not used).
        if let (false, [tenant]) = (loaded.multi_tenant, loaded.tenants.as_mut_slice()) {
            tenant.mappings = loaded.settings.mappings.clone();
            tenant.backend = loaded.settings.backend.clone();
            tenant.limits = loaded.settings.limits.clone();
            tenant.cache = loaded.settings.cache.clone();
            tenant.dialect = loaded.settings.dialect;
        }
        let problems = config::validate(&loaded);
        assert!(problems.is_empty(), "{problems:?}");
        let tenant = build_tenant(&loaded).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let router = scimgate::server::app(std::slice::from_ref(&tenant));
        // The binary's own accept loop, with the configured inbound limits.
        let limits = InboundLimits::from_settings(&loaded.settings.limits);
        tokio::spawn(serve_with_limits(
            listener,
            router,
            async {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(1),
            limits,
        ));
        // The admin listener always runs on its own free port, whatever admin_listen says.
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_addr = admin_listener.local_addr().unwrap();
        let (admin_tx, admin_rx) = oneshot::channel::<()>();
        let admin_router = scimgate::server::admin::app(tenant.metrics.clone(), &[tenant]);
        tokio::spawn(scimgate::server::serve(
            admin_listener,
            admin_router,
            async {
                let _ = admin_rx.await;
            },
        ));
        let base_url = format!("http://{addr}{}", loaded.settings.base_path);
        Gateway {
            scim: Client::new(base_url.clone(), Some(TOKEN.into())),
            base_url,
            directory: None,
            backend_url: backend_url.into(),
            admin: Client::new(format!("http://{admin_addr}"), None),
            stop: vec![tx, admin_tx],
        }
    }

    /// Sends on `stop` when the gateway is dropped (stops a backend started for it).
    pub fn stop_on_drop(&mut self, stop: oneshot::Sender<()>) {
        self.stop.push(stop);
    }

    /// The admin `/metrics` text.
    pub async fn metrics(&self) -> String {
        let reply = self.admin.get("/metrics").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.text
    }

    /// The value of one metric series (exact label text as exposed), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics().await, series)
    }

    /// A client for the backend itself (to check what really got stored).
    pub fn backend(&self) -> Client {
        Client::new(self.backend_url.clone(), None)
    }
}

/// A copy of `mappings/demo` with each file's text changed by `edit(file name, text)`, in a
/// fresh temp folder beside a copy of the schemas (the mappings refer to `../schemas`).
pub fn demo_mappings_variant(edit: impl Fn(&str, String) -> String) -> PathBuf {
    let root = std::env::temp_dir().join(format!("scimgate-it-variant-{}", super::scim::run_id()));
    let dir = root.join("demo");
    let schemas = root.join("schemas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&schemas).unwrap();
    for entry in std::fs::read_dir(repo_path("mappings/schemas")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), schemas.join(entry.file_name())).unwrap();
    }
    for name in ["users.yaml", "groups.yaml"] {
        let text = std::fs::read_to_string(repo_path(&format!("mappings/demo/{name}"))).unwrap();
        std::fs::write(dir.join(name), edit(name, text)).unwrap();
    }
    dir
}

/// `text` with `old` (which must be there) replaced by `new`.
pub fn swap(text: &str, old: &str, new: &str) -> String {
    assert!(
        text.contains(old),
        "the mapping changed, update this test: no {old:?}"
    );
    text.replace(old, new)
}

/// Writes `contents` to a new file in the temp folder (named after `name`) and returns its
/// path; for config files and secret files.
pub fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scimgate-it-{}-{}",
        std::process::id(),
        next_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The value of `series` (e.g. `name{a="b"}`, labels in exposition order) in metrics text.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// A demo directory holding `store` behind a layer that sleeps `delay` per request; returns
/// it, its base URL and the sender that stops it.
pub async fn slow_directory(
    store: Store,
    delay: std::time::Duration,
) -> (DemoDirectory, String, oneshot::Sender<()>) {
    let directory = DemoDirectory::new(store, None);
    let router = directory.router().layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            tokio::time::sleep(delay).await;
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    (directory, format!("http://{addr}"), tx)
}
