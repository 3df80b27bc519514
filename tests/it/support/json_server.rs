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
        let spawn = |port: u16| {
            let log = std::fs::File::create(&log_path).unwrap();
            Command::new(&bin)
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "db.json",
                ])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start json-server")
        };
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
        }
    }

    /// A client for json-server itself, to check what really got stored.
    pub fn client(&self) -> Client {
        Client::new(self.url.clone(), None)
    }
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
