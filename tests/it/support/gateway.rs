//! Starts the gateway on 127.0.0.1:0 in front of the bundled demo directory (or any backend URL).

use std::path::PathBuf;

use scimgate::config::{self, Overrides};
use scimgate::demo::{DemoDirectory, Store};
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

impl Gateway {
    /// The gateway in front of a freshly seeded demo directory.
    pub async fn demo() -> Gateway {
        Gateway::demo_with(Store::seeded()).await
    }

    /// The gateway in front of a demo directory holding `store`.
    pub async fn demo_with(store: Store) -> Gateway {
        let directory = DemoDirectory::new(store, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(directory.clone().serve(listener, async {
            let _ = rx.await;
        }));
        let mut gw = Gateway::start(
            Some(&repo_path("config/demo.yaml")),
            &format!("http://{addr}"),
            Overrides::default(),
        )
        .await;
        gw.directory = Some(directory);
        gw.stop.push(tx);
        gw
    }

    /// The gateway with a config file (or defaults) in front of `backend_url`.
    pub async fn start(
        config_file: Option<&std::path::Path>,
        backend_url: &str,
        extra: Overrides,
    ) -> Gateway {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            tokens: vec![TOKEN.into()],
            backend_url: Some(backend_url.into()),
            ..extra
        };
        let loaded = config::load(config_file, &overrides).unwrap();
        let tenant = build_tenant(&loaded).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let router = scimgate::server::app(&[tenant]);
        tokio::spawn(scimgate::server::serve(listener, router, async {
            let _ = rx.await;
        }));
        let base_url = format!("http://{addr}{}", loaded.settings.base_path);
        Gateway {
            scim: Client::new(base_url.clone(), Some(TOKEN.into())),
            base_url,
            directory: None,
            backend_url: backend_url.into(),
            stop: vec![tx],
        }
    }

    /// A client for the backend itself (to check what really got stored).
    pub fn backend(&self) -> Client {
        Client::new(self.backend_url.clone(), None)
    }
}
