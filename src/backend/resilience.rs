//! One backend call made resilient: circuit breaker first, then the call, retried with
//! backoff while the call is safe to repeat, the retry budget allows it and the request's
//! deadline leaves time for it.

use std::future::Future;
use std::time::Duration;

use super::breaker::{BreakerOptions, BreakerState, CircuitBreaker};
use super::retry::{healthy, worth_retrying, RetryOptions, RetryPolicy};
use super::{BackendError, BackendRequest, BackendResponse};
use crate::deadline::RequestDeadline;
use crate::error::Error;

/// The breaker and retry policy of one backend.
#[derive(Debug)]
pub struct Resilience {
    pub breaker: CircuitBreaker,
    pub retry: RetryPolicy,
}

impl Resilience {
    pub fn new(breaker: BreakerOptions, retry: RetryOptions) -> Resilience {
        Resilience {
            breaker: CircuitBreaker::new(breaker),
            retry: RetryPolicy::new(retry),
        }
    }

    /// The breaker's state (for the gauge).
    pub fn state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Makes `request` with `send` (one try per invocation). `on_retry` is told before each
    /// retry. A non-2xx answer is returned as `Ok`, as from a single call.
    pub async fn call<F, Fut>(
        &self,
        request: &BackendRequest,
        deadline: &RequestDeadline,
        send: F,
        on_retry: impl Fn(),
    ) -> Result<BackendResponse, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<BackendResponse, BackendError>>,
    {
        self.retry.record_call();
        let mut tries = 0;
        loop {
            tries += 1;
            let left = deadline.remaining()?;
            let admission = self
                .breaker
                .admit()
                .map_err(|retry_after| BackendError::CircuitOpen { retry_after })?;
            if !request.read {
                deadline.begin_write();
            }
            let outcome = match left {
                // Only reads are cut by the deadline; a write, once sent, gets its answer.
                Some(left) if request.read => match tokio::time::timeout(left, send()).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        admission.record(false);
                        return Err(deadline.expired());
                    }
                },
                _ => send().await,
            };
            admission.record(healthy(&outcome));
            if !request.idempotent || tries >= self.retry.attempts() || !worth_retrying(&outcome) {
                return outcome.map_err(Error::from);
            }
            let wait = self.retry.backoff(tries);
            let time_left = deadline.remaining().ok().flatten().unwrap_or(Duration::MAX);
            if wait >= time_left || !self.retry.withdraw() {
                return outcome.map_err(Error::from);
            }
            on_retry();
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn resilience(attempts: u32) -> Resilience {
        Resilience::new(
            BreakerOptions {
                enabled: true,
                consecutive_failures: 100,
                failure_ratio: 1.0,
                min_calls: 1000,
                window: Duration::from_secs(60),
                cooldown: Duration::from_secs(60),
            },
            RetryOptions {
                attempts,
                backoff_base: Duration::from_millis(1),
                backoff_max: Duration::from_millis(2),
                budget_ratio: 0.2,
                budget_min_retries: 100,
                budget_window: Duration::from_secs(60),
            },
        )
    }

    fn request(read: bool, idempotent: bool) -> BackendRequest {
        BackendRequest {
            method: if read {
                hyper::Method::GET
            } else {
                hyper::Method::POST
            },
            path_and_query: "/x".into(),
            body: None,
            read,
            idempotent,
        }
    }

    async fn run(r: &Resilience, req: &BackendRequest, fail_first: u32) -> (u32, bool) {
        let tries = AtomicU32::new(0);
        let out = r
            .call(
                req,
                &RequestDeadline::none(),
                || {
                    let n = tries.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n < fail_first {
                            Err(BackendError::Unreachable {
                                url: "x".into(),
                                reason: "reset".into(),
                            })
                        } else {
                            Ok(BackendResponse {
                                status: 200,
                                headers: Default::default(),
                                body: Default::default(),
                            })
                        }
                    }
                },
                || {},
            )
            .await;
        (tries.load(Ordering::SeqCst), out.is_ok())
    }

    #[tokio::test]
    async fn reads_and_idempotent_writes_are_retried_other_writes_never() {
        let r = resilience(3);
        assert_eq!(run(&r, &request(true, true), 2).await, (3, true));
        assert_eq!(run(&r, &request(false, true), 1).await, (2, true));
        assert_eq!(run(&r, &request(false, false), 1).await, (1, false));
        assert_eq!(run(&r, &request(true, true), 5).await, (3, false));
    }

    #[tokio::test]
    async fn a_passed_deadline_stops_before_sending() {
        let r = resilience(3);
        let deadline = RequestDeadline::new(Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let out = r
            .call(
                &request(true, true),
                &deadline,
                || async { Err(BackendError::Timeout { timeout_ms: 1 }) },
                || {},
            )
            .await;
        assert!(matches!(out, Err(Error::Deadline { .. })));
    }
}
