//! A real json-server 0.17.4 process per test, on a free port with a fresh copy of
//! `tests/backends/json-server/db.json`; killed (and its folder removed) on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scimgate::config::Overrides;

use super::gateway::repo_path;
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

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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
        let port = free_port();
        let log = std::fs::File::create(dir.join("json-server.log")).unwrap();
        let child = Command::new(bin)
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
            .expect("cannot start json-server");
        let server = JsonServer {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        // json-server listens only once db.json is loaded, so an open port means ready.
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                let r = server.client().get("/users").await;
                assert_eq!(r.status, 200, "json-server /users: {}", r.text);
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(server.dir.join("json-server.log")).unwrap_or_default();
        panic!(
            "json-server on {} did not listen within 30 s:\n{log}",
            server.url
        );
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
