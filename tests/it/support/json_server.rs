//! A real json-server process per test (0.17.4, or 1.0.0-beta.15 with [`JsonServer::start_v1`]),
//! on a free port with a fresh copy of its `tests/backends/<folder>/db.json`; killed (and its
//! folder removed) on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scimgate::config::Overrides;

use super::gateway::repo_path;
use super::process::start_on_free_port;
use super::scim::run_id;
use super::{Client, Gateway};

pub struct JsonServer {
    pub url: String,
    child: Child,
    dir: PathBuf,
    port: u16,
    /// The binary it runs, for [`JsonServer::restart`].
    bin: PathBuf,
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pinned json-server 1.0 beta (`tests/backends/json-server-1/`).
pub const V1: &str = "1.0.0-beta.15";

/// The json-server binary of `version`; `SCIMGATE_JSON_SERVER_BIN` / `SCIMGATE_JSON_SERVER_1_BIN`
/// override the `.cache` install.
fn binary(version: &str) -> PathBuf {
    let var = if version == V1 {
        "SCIMGATE_JSON_SERVER_1_BIN"
    } else {
        "SCIMGATE_JSON_SERVER_BIN"
    };
    let bin = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        repo_path(&format!(
            ".cache/json-server-{version}/node_modules/.bin/json-server"
        ))
    });
    assert!(
        bin.exists(),
        "json-server {version} not found at {}: run scripts/install-json-server.sh {version} (or set {var})",
        bin.display()
    );
    bin
}

impl JsonServer {
    /// Starts json-server 0.17.4 and waits (at most 30 s) until it serves `/users`.
    pub async fn start() -> JsonServer {
        JsonServer::start_version("0.17.4", "tests/backends/json-server/db.json").await
    }

    /// Starts json-server 1.0.0-beta.15 with `tests/backends/json-server-1/db.json`.
    pub async fn start_v1() -> JsonServer {
        JsonServer::start_version(V1, "tests/backends/json-server-1/db.json").await
    }

    async fn start_version(version: &str, seed: &str) -> JsonServer {
        let bin = binary(version);
        let dir = std::env::temp_dir().join(format!("scimgate-it-js-{}", run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(repo_path(seed), dir.join("db.json")).unwrap();
        // Production mode (see below) makes json-server 1.0 require its static folder.
        std::fs::create_dir_all(dir.join("public")).unwrap();
        let log_path = dir.join("json-server.log");
        let spawn = |port: u16| spawn(&bin, &dir, port);
        // json-server's `/users` is a JSON array; anything else on the port is not ours.
        let (child, port) = start_on_free_port(
            "json-server",
            spawn,
            "/users",
            |r| r.status == 200 && r.json.is_array(),
            || std::fs::read_to_string(&log_path).unwrap_or_default(),
            Duration::from_secs(30),
        )
        .await;
        JsonServer {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
            port,
            bin,
        }
    }

    /// Waits (at most 10 s) until json-server's db.json holds every one of `texts`:
    /// json-server answers before it writes the file (lowdb's FileAsync), so a kill right
    /// after an answer can lose that change in json-server itself, whatever the gateway does.
    pub async fn wait_persisted(&self, texts: &[&str]) {
        for _ in 0..100 {
            let db = std::fs::read_to_string(self.dir.join("db.json")).unwrap_or_default();
            if texts.iter().all(|t| db.contains(t)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("json-server never wrote {texts:?} to db.json");
    }

    /// Kills the process (its data stays in db.json, which json-server writes on every change).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and folder; waits (at most 30 s) until it serves.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.bin, &self.dir, self.port);
        let probe = self.client();
        for _ in 0..300 {
            if let Ok(r) = probe.try_raw("GET", "/users", &[], None).await {
                if r.status == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "json-server did not come back on port {}: {}",
            self.port,
            std::fs::read_to_string(self.dir.join("json-server.log")).unwrap_or_default()
        );
    }

    /// A client for json-server itself, to check what really got stored.
    pub fn client(&self) -> Client {
        Client::new(self.url.clone(), None)
    }
}

/// json-server on `port` in `dir`, logging to `dir/json-server.log`.
fn spawn(bin: &std::path::Path, dir: &std::path::Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("json-server.log"))
        .unwrap();
    Command::new(bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "db.json",
        ])
        .current_dir(dir)
        // json-server 1.0 reloads db.json when the file changes unless in production mode,
        // and a reload racing its own next write loses that write.
        .env("NODE_ENV", "production")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("cannot start json-server")
}

/// json-server plus the gateway with `config/json-server.yaml` in front of it. Keep the
/// `JsonServer` alive as long as the gateway is used.
pub async fn json_server_gateway() -> (JsonServer, Gateway) {
    let server = JsonServer::start().await;
    let gw = Gateway::start(
        Some(&repo_path("config/json-server.yaml")),
        &server.url,
        Overrides::default(),
    )
    .await;
    (server, gw)
}

/// json-server 1.0 plus the gateway with `config/json-server-1.yaml` in front of it.
pub async fn json_server_1_gateway() -> (JsonServer, Gateway) {
    let server = JsonServer::start_v1().await;
    let gw = Gateway::start(
        Some(&repo_path("config/json-server-1.yaml")),
        &server.url,
        Overrides::default(),
    )
    .await;
    (server, gw)
}

/// The gateway in front of `server` with a variant of a shipped mapping set: `edit` gets
/// the text of `users.yaml` / `groups.yaml` (by file name) and returns what to use.
pub async fn variant_gateway(
    server: &JsonServer,
    shipped: &str,
    edit: impl Fn(&str, String) -> String,
) -> Gateway {
    let dir = server.dir.join("mappings");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["users.yaml", "groups.yaml"] {
        let text =
            std::fs::read_to_string(repo_path(&format!("mappings/{shipped}/{name}"))).unwrap();
        // Schema files are referenced relative to the mapping folder.
        let text = text.replace(
            "../schemas/",
            &format!("{}/", repo_path("mappings/schemas").display()),
        );
        std::fs::write(dir.join(name), edit(name, text)).unwrap();
    }
    let config = server.dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "mappings: {}\nbackend:\n  url: {}\n",
            dir.display(),
            server.url
        ),
    )
    .unwrap();
    Gateway::start(Some(&config), &server.url, Overrides::default()).await
}
