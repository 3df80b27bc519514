//! The inbound accept loop, written out on hyper's http1 builder (rather than
//! `axum::serve`) for the inbound limits: a header-read timeout (no slowloris), a maximum
//! request-head size, an idle timeout for keep-alive connections, a maximum number of open
//! connections, and a graceful drain with a grace period.
//!
//! At `max_connections` the loop stops accepting: further clients wait in the kernel's
//! listen backlog (a hard bound on sockets and memory) until a connection closes, which the
//! header, body and idle timeouts guarantee. Per-request overload is shed with 429 by
//! `crate::shed` instead.
//!
//! hyper answers some malformed requests itself before the router sees them (400 for a bad
//! request line, 431 for a head over `max_header_bytes`), with an empty body: those are
//! HTTP-level failures that no SCIM client produces, and answering them in SCIM JSON would
//! mean parsing HTTP ourselves.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Limits on client connections.
#[derive(Debug, Clone)]
pub struct InboundLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
}

impl InboundLimits {
    /// The limits `config/default.yaml` ships, with this header-read timeout.
    pub fn with_header_read_timeout(header_read_timeout: Duration) -> InboundLimits {
        InboundLimits {
            header_read_timeout,
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 65536,
            max_connections: 1024,
        }
    }

    /// The limits from validated settings.
    pub fn from_settings(l: &crate::config::LimitSettings) -> InboundLimits {
        let duration = |t: &str| crate::config::parse_duration(t).unwrap_or_default();
        InboundLimits {
            header_read_timeout: duration(&l.header_read_timeout),
            idle_timeout: duration(&l.idle_timeout),
            max_header_bytes: l.max_header_bytes,
            max_connections: l.max_connections,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then accepts
/// nothing new, lets in-flight requests finish for at most `grace`, and returns `Ok`.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: InboundLimits,
) -> std::io::Result<()> {
    let max = limits
        .max_connections
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the limit, new clients wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (http, router, stopped) = (http.clone(), router.clone(), stopped.clone());
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            serve_connection(&http, stream, router, stopped, idle).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection gives its slot back when it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "Shutdown grace period over: dropping the requests still running."
        );
    }
    Ok(())
}

/// Serves one connection until it ends; closes it gracefully (the request being served is
/// answered first) on shutdown or after `idle` without a byte either way.
async fn serve_connection(
    http: &hyper::server::conn::http1::Builder,
    stream: tokio::net::TcpStream,
    router: Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    idle: Duration,
) {
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let service = hyper_util::service::TowerToHyperService::new(router);
    let connection = http.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        let idle_until = activity.last() + idle;
        tokio::select! {
            // Client resets and header timeouts end here; nothing to report upward.
            _ = connection.as_mut() => return,
            _ = stopped.wait_for(|s| *s), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(idle_until.into()), if !closing && !idle.is_zero() => {
                if activity.last() + idle <= Instant::now() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A socket that records its activity.
struct Tracked {
    inner: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
