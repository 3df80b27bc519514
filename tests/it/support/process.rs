//! Starting a real third-party server (json-server, Prometheus) on a free port and waiting
//! until it answers, robust against the port being taken between choosing and binding it.

use std::process::Child;
use std::time::{Duration, Instant};

use super::{Client, Reply};

/// A port that was free a moment ago. Another process can take it before the server binds
/// it; [`start_on_free_port`] notices that and tries again with a new one.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Spawns a server with `spawn(port)` and polls `probe_path` until `is_ready` accepts the
/// answer. When the process exits early (its port was taken) or the port answers as
/// someone else, the process is killed and started again on another port, up to three
/// times. Returns the child and its port; panics with `log()` after `limit`.
pub async fn start_on_free_port(
    name: &str,
    mut spawn: impl FnMut(u16) -> Child,
    probe_path: &str,
    is_ready: impl Fn(&Reply) -> bool,
    log: impl Fn() -> String,
    limit: Duration,
) -> (Child, u16) {
    let mut last = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let mut child = spawn(port);
        let probe = Client::new(format!("http://127.0.0.1:{port}"), None);
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                last = format!("{name} exited with {status}:\n{}", log());
                break;
            }
            match probe.try_raw("GET", probe_path, &[], None).await {
                Ok(reply) if is_ready(&reply) => return (child, port),
                Ok(reply) => last = format!("{name} answered {}: {}", reply.status, reply.text),
                Err(e) => last = format!("{name} not answering: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{name} did not become ready: {last}\n{}", log());
}
