//! A real json-server 0.17.4 process per test, on a free port with a fresh copy of
//! `tests/backends/json-server/db.json`; killed (and its folder removed) on drop.

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
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> PathBuf {
    let bin = std::env::var_os("SCIMGATE_JSON_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path(".cache/json-server-0.17.4/node_modules/.bin/json-server"));
    assert!(
        bin.exists(),
        "json-server not found at {}: run scripts/install-json-server.sh (or set SCIMGATE_JSON_SERVER_BIN)",
        bin.display()
    );
    bin
}

impl JsonServer {
    /// Starts json-server and waits (at most 30 s) until it serves `/users`.
    pub async fn start() -> JsonServer {
        let bin = binary();
        let dir = std::env::temp_dir().join(format!("scimgate-it-js-{}", run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            repo_path("tests/backends/json-server/db.json"),
            dir.join("db.json"),
        )
        .unwrap();
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
        self.child = spawn(&binary(), &self.dir, self.port);
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
