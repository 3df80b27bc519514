//! The real binary under SIGTERM: a burst of requests is in flight when the signal arrives;
//! every request the server accepted gets a complete answer, and the process exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::gateway::TOKEN;
use crate::support::process::free_port;

/// Outcome of one raw HTTP/1.1 request on its own connection.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A complete response with this status.
    Complete(u16),
    /// No connection: the server had stopped accepting (not a lost request).
    Refused,
    /// Connected but the answer was cut short: a lost request.
    Broken(String),
}

async fn request(port: u16, path: &str) -> Outcome {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return Outcome::Refused;
    };
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return Outcome::Broken("write failed".into());
    }
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw).await {
        return Outcome::Broken(format!("read failed: {e}"));
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Outcome::Broken(format!("no complete head: {text:?}"));
    };
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok());
    match length {
        Some(n) if n == body.len() => Outcome::Complete(status),
        other => Outcome::Broken(format!(
            "body {} bytes, content-length {other:?}",
            body.len()
        )),
    }
}

/// Starts `scimgate demo` on a free port (extra environment in `env`) and waits until it
/// answers.
async fn start_demo(env: &[(&str, &str)]) -> (u16, std::process::Child) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin-listen",
            "",
            "--token",
            TOKEN,
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if request(port, "/scim/v2/ServiceProviderConfig").await == Outcome::Complete(200) {
            return (port, child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the demo did not start");
}

#[tokio::test]
async fn sigterm_during_a_burst_loses_no_request_and_exits_zero() {
    // The drain keeps accepting and serving after the signal. On a loaded 2-core CI machine
    // the default 1 s did not always cover reading 200 queued requests; a connection still
    // unread when the drain ends is closed (and reset), which is what the drain is sized
    // against in production (deploy/k8s uses 8 s).
    let (port, mut child) = start_demo(&[("SCIMGATE__SHUTDOWN_DRAIN", "3s")]).await;

    let burst: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i % 20)).await;
                request(port, "/scim/v2/Users?count=5").await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(8)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let mut complete = 0;
    for task in burst {
        match task.await.unwrap() {
            Outcome::Complete(status) => {
                assert_eq!(status, 200);
                complete += 1;
            }
            Outcome::Refused => {}
            Outcome::Broken(why) => panic!("a request was lost during shutdown: {why}"),
        }
    }
    assert!(
        complete > 0,
        "no request was in flight; the test proves nothing"
    );
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the process did not exit after SIGTERM")
    });
    assert!(status.success(), "exit status {status}");
}

/// A client that never finishes its request head is disconnected after
/// `limits.header_read_timeout` instead of holding the connection.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (port, mut child) = start_demo(&[("SCIMGATE__LIMITS__HEADER_READ_TIMEOUT", "300ms")]).await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        closed.is_ok(),
        "the half-sent request still holds its connection after 5 s"
    );
    // Healthy requests were served all along (checked above); the slow one got no 2xx.
    assert!(
        !String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 2"),
        "{buf:?}"
    );
}
