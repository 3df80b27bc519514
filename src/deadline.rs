//! The overall deadline of one SCIM request (`limits.request_timeout`).
//!
//! It bounds everything a request waits for before it writes: reads, retries and their
//! backoff, the per-resource write lock. Once the first write call has been sent it is
//! disarmed: a request cut between two writes would leave a half-done change and tell the
//! IdP it failed although the directory already took part of it. The remaining calls are
//! then bounded by `backend.timeout` each, so a 504 from the deadline always means that
//! nothing was written.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The deadline of one request; shared by every context of the request.
#[derive(Debug)]
pub struct RequestDeadline {
    limit: Duration,
    at: Option<Instant>,
    writing: AtomicBool,
}

impl RequestDeadline {
    /// A deadline `limit` from now; a zero limit means none.
    pub fn new(limit: Duration) -> RequestDeadline {
        RequestDeadline {
            limit,
            at: (!limit.is_zero()).then(|| Instant::now() + limit),
            writing: AtomicBool::new(false),
        }
    }

    /// No deadline (background work such as the readiness probe).
    pub fn none() -> RequestDeadline {
        RequestDeadline::new(Duration::ZERO)
    }

    /// The time left; `None` when there is no deadline or a write has been sent; the
    /// deadline error when it has passed.
    pub fn remaining(&self) -> Result<Option<Duration>, Error> {
        let Some(at) = self.at else { return Ok(None) };
        if self.writing.load(Ordering::SeqCst) {
            return Ok(None);
        }
        match at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(self.expired()),
        }
    }

    /// Called before the first write is sent: from now on the deadline no longer cuts in.
    pub fn begin_write(&self) {
        self.writing.store(true, Ordering::SeqCst);
    }

    /// The error for a request past its deadline.
    pub fn expired(&self) -> Error {
        Error::Deadline {
            timeout_ms: self.limit.as_millis() as u64,
        }
    }

    /// Runs `work` within the time left (unbounded once disarmed).
    pub async fn bound<F: Future>(&self, work: F) -> Result<F::Output, Error> {
        match self.remaining()? {
            Some(left) => tokio::time::timeout(left, work)
                .await
                .map_err(|_| self.expired()),
            None => Ok(work.await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cuts_in_before_a_write_and_never_after() {
        let d = RequestDeadline::new(Duration::from_millis(20));
        assert!(d.remaining().unwrap().is_some());
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert!(matches!(d.bound(slow).await, Err(Error::Deadline { .. })));
        assert!(d.remaining().is_err());

        let d = RequestDeadline::new(Duration::from_millis(20));
        d.begin_write();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(matches!(d.remaining(), Ok(None)));
        assert!(d.bound(async { 7 }).await.is_ok());
    }

    #[tokio::test]
    async fn zero_means_no_deadline() {
        let d = RequestDeadline::none();
        assert!(matches!(d.remaining(), Ok(None)));
    }
}
