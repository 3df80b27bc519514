//! The project's own fault proxy: a small HTTP/1 proxy between the gateway and a backend
//! that the test controls. It forwards each request on a fresh upstream connection
//! (`Connection: close` both ways, so every call is one exchange) unless a fault is set:
//! added latency, a reset connection, a burst of error statuses, a truncated body, a
//! non-JSON body, or the backend down (connections accepted and closed at once; with the
//! upstream itself stopped, the same happens for real). It keeps the head of every request
//! it received, so a test can see which calls (and credentials) the gateway sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward after waiting this long.
    Latency(Duration),
    /// Close the connection without an answer once the request is read.
    Reset,
    /// Answer with this status (and `Retry-After` when given) instead of forwarding.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Forward, then pass on the head and only half the body before closing.
    Truncate,
    /// Forward, then answer 200 with an HTML body instead of the backend's JSON.
    NotJson,
    /// Refuse service: close every connection as soon as it is accepted.
    Down,
}

#[derive(Debug, Default)]
struct Plan {
    fault: Option<Fault>,
    /// Requests the fault still applies to; `None` = until cleared.
    remaining: Option<u64>,
    /// Only requests with this method are hit (others are forwarded).
    method: Option<String>,
}

/// A running fault proxy; dropping it stops accepting.
pub struct FaultProxy {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
    /// Requests the proxy received (faulted or not).
    seen: Arc<AtomicU64>,
    /// Requests that reached the upstream.
    forwarded: Arc<AtomicU64>,
    /// The head (request line and headers) of every request received, in order.
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let plan = Arc::new(Mutex::new(Plan::default()));
        let seen = Arc::new(AtomicU64::new(0));
        let forwarded = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (p, s, f, h) = (plan.clone(), seen.clone(), forwarded.clone(), heads.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (p, s, f, h) = (p.clone(), s.clone(), f.clone(), h.clone());
                tokio::spawn(async move {
                    let _ = handle(client, upstream, &p, &s, &f, &h).await;
                });
            }
        });
        FaultProxy {
            url,
            plan,
            seen,
            forwarded,
            heads,
            task,
        }
    }

    /// Applies `fault` to every request until [`FaultProxy::clear`].
    pub fn set(&self, fault: Fault) {
        *self.plan.lock().unwrap() = Plan {
            fault: Some(fault),
            remaining: None,
            method: None,
        };
    }

    /// Applies `fault` to the next `count` requests (a burst).
    pub fn burst(&self, fault: Fault, count: u64) {
        *self.plan.lock().unwrap() = Plan {
            fault: Some(fault),
            remaining: Some(count),
            method: None,
        };
    }

    /// Applies `fault` to every request with `method` (e.g. only the writes).
    pub fn set_for(&self, method: &str, fault: Fault) {
        *self.plan.lock().unwrap() = Plan {
            fault: Some(fault),
            remaining: None,
            method: Some(method.to_owned()),
        };
    }

    /// Applies `fault` to the next `count` requests with `method`.
    pub fn burst_for(&self, method: &str, fault: Fault, count: u64) {
        *self.plan.lock().unwrap() = Plan {
            fault: Some(fault),
            remaining: Some(count),
            method: Some(method.to_owned()),
        };
    }

    /// Back to plain forwarding.
    pub fn clear(&self) {
        *self.plan.lock().unwrap() = Plan::default();
    }

    /// Requests received so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Requests forwarded to the upstream so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// The heads of the requests received so far (request line, then `Name: value` lines).
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// The fault for a request with `method`, consuming one from a burst.
fn take_fault(plan: &Mutex<Plan>, method: Option<&str>) -> Option<Fault> {
    let mut plan = plan.lock().unwrap();
    let fault = plan.fault.clone()?;
    if let (Some(wanted), Some(method)) = (&plan.method, method) {
        if !wanted.eq_ignore_ascii_case(method) {
            return None;
        }
    }
    if let Some(left) = plan.remaining.as_mut() {
        if *left == 0 {
            return None;
        }
        *left -= 1;
    }
    Some(fault)
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    plan: &Mutex<Plan>,
    seen: &AtomicU64,
    forwarded: &AtomicU64,
    heads: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    if plan.lock().unwrap().fault == Some(Fault::Down) {
        // Like a process that is not there: nothing is read, nothing answered.
        return Ok(());
    }
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    seen.fetch_add(1, Ordering::SeqCst);
    let head = &request[..head_end(&request).unwrap_or(request.len())];
    heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(head).trim_end().to_owned());
    let method = std::str::from_utf8(&request)
        .ok()
        .and_then(|t| t.split(' ').next())
        .map(str::to_owned);
    let fault = take_fault(plan, method.as_deref());
    match &fault {
        Some(Fault::Down | Fault::Reset) => return Ok(()),
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let body = format!(r#"{{"message":"injected {status}"}}"#);
            let retry = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n",
                body.len()
            );
            client.write_all(head.as_bytes()).await?;
            client.write_all(body.as_bytes()).await?;
            return client.shutdown().await;
        }
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&with_connection_close(&request)).await?;
    forwarded.fetch_add(1, Ordering::SeqCst);
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    let out = match &fault {
        Some(Fault::Truncate) => {
            let head_end = head_end(&response).unwrap_or(response.len());
            let body_len = response.len() - head_end;
            response[..head_end + body_len / 2].to_vec()
        }
        Some(Fault::NotJson) => {
            let body = "<html><body>Service temporarily unavailable</body></html>";
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        _ => with_connection_close(&response),
    };
    client.write_all(&out).await?;
    client.shutdown().await
}

/// Reads one request: the head and its `Content-Length` body.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if let Some(end) = head_end(&got) {
            let length = content_length(&got[..end]);
            if got.len() >= end + length {
                return Ok(Some(got));
            }
        }
        match stream.read(&mut buf).await? {
            0 => return Ok(None),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Index just past the blank line ending the head.
fn head_end(message: &[u8]) -> Option<usize> {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// The message with any `Connection` header replaced by `Connection: close`.
fn with_connection_close(message: &[u8]) -> Vec<u8> {
    let Some(end) = head_end(message) else {
        return message.to_vec();
    };
    let head = String::from_utf8_lossy(&message[..end - 4]);
    let mut out: String = head
        .split("\r\n")
        .filter(|l| {
            !l.split(':')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("connection"))
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push_str("\r\nConnection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&message[end..]);
    bytes
}
