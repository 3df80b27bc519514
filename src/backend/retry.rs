//! Retry policy for backend calls: which outcomes are worth another try, how long to wait
//! (exponential backoff with full jitter) and a retry budget, so that during an outage
//! retries add at most a fixed share to the load instead of multiplying it.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{BackendError, BackendResponse};

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryOptions {
    /// Most tries of one call, the first included.
    pub attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub budget_ratio: f64,
    pub budget_min_retries: u32,
    pub budget_window: Duration,
}

/// The retry policy of one backend, with its budget.
#[derive(Debug)]
pub struct RetryPolicy {
    options: RetryOptions,
    budget: Mutex<Budget>,
}

/// Calls and retries in the current and the previous window.
#[derive(Debug)]
struct Budget {
    window_start: Instant,
    calls: u64,
    retries: u64,
    previous_calls: u64,
    previous_retries: u64,
}

impl RetryPolicy {
    pub fn new(options: RetryOptions) -> RetryPolicy {
        RetryPolicy {
            options,
            budget: Mutex::new(Budget {
                window_start: Instant::now(),
                calls: 0,
                retries: 0,
                previous_calls: 0,
                previous_retries: 0,
            }),
        }
    }

    /// Most tries of one call.
    pub fn attempts(&self) -> u32 {
        self.options.attempts
    }

    /// The wait before retry number `retry` (1 for the first retry): a random time up to
    /// `min(backoff_max, backoff_base * 2^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .options
            .backoff_base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.options.backoff_max);
        ceiling.mul_f64(fastrand::f64())
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        let mut b = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(b.window_start);
        if elapsed >= self.options.budget_window {
            // A window with no traffic in between leaves no history.
            let adjacent = elapsed < self.options.budget_window * 2;
            b.previous_calls = if adjacent { b.calls } else { 0 };
            b.previous_retries = if adjacent { b.retries } else { 0 };
            b.calls = 0;
            b.retries = 0;
            b.window_start = now;
        }
        b
    }

    /// Counts one first try of a call (the base the budget is a share of).
    pub fn record_call(&self) {
        self.budget().calls += 1;
    }

    /// Takes one retry from the budget; `false` when the budget is spent.
    pub fn withdraw(&self) -> bool {
        let mut b = self.budget();
        let calls = (b.calls + b.previous_calls) as f64;
        let allowed =
            f64::from(self.options.budget_min_retries) + self.options.budget_ratio * calls;
        if ((b.retries + b.previous_retries) as f64) < allowed {
            b.retries += 1;
            true
        } else {
            false
        }
    }
}

/// Whether an outcome is worth another try of a call that is safe to repeat: no answer, a
/// timeout, a broken body, or a server error that does not ask to back off. 429, and 503
/// with `Retry-After`, are the backend asking for time: they go back to the IdP instead.
pub fn worth_retrying(outcome: &Result<BackendResponse, BackendError>) -> bool {
    match outcome {
        Ok(response) => match response.status {
            500 | 502 | 504 => true,
            503 => response.retry_after().is_none(),
            _ => false,
        },
        Err(
            BackendError::Unreachable { .. }
            | BackendError::Timeout { .. }
            | BackendError::BadAnswer { .. },
        ) => true,
        // Auth failures were already retried once with a fresh login by the auth layer.
        Err(
            BackendError::Status { .. }
            | BackendError::CircuitOpen { .. }
            | BackendError::Auth { .. },
        ) => false,
    }
}

/// Whether an outcome shows a healthy backend, for the circuit breaker: any answer below
/// 500 does (a 404 or 409 is the directory working).
pub fn healthy(outcome: &Result<BackendResponse, BackendError>) -> bool {
    match outcome {
        Ok(response) => response.status < 500,
        Err(BackendError::Status { status, .. }) => *status < 500,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ratio: f64, min: u32) -> RetryPolicy {
        RetryPolicy::new(RetryOptions {
            attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            budget_ratio: ratio,
            budget_min_retries: min,
            budget_window: Duration::from_secs(60),
        })
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let p = policy(0.2, 0);
        for _ in 0..200 {
            assert!(p.backoff(1) <= Duration::from_millis(100));
            assert!(p.backoff(2) <= Duration::from_millis(200));
            assert!(p.backoff(3) <= Duration::from_millis(350));
            assert!(p.backoff(40) <= Duration::from_millis(350));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(3)).collect();
        assert!(spread.len() > 10, "backoff is jittered");
    }

    #[test]
    fn budget_allows_a_share_of_calls_plus_a_floor() {
        let p = policy(0.2, 2);
        for _ in 0..10 {
            p.record_call();
        }
        // 2 + 0.2 * 10 = 4 retries.
        let granted = (0..10).filter(|_| p.withdraw()).count();
        assert_eq!(granted, 4);
        for _ in 0..5 {
            p.record_call();
        }
        assert!(p.withdraw(), "more calls make room for one more retry");
        assert!(!p.withdraw());
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<BackendResponse, BackendError> {
        let mut headers = hyper::HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert("retry-after", v.parse().unwrap());
        }
        Ok(BackendResponse {
            status,
            headers,
            body: bytes::Bytes::new(),
        })
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(worth_retrying(&answer(502, None)));
        assert!(worth_retrying(&answer(503, None)));
        assert!(!worth_retrying(&answer(503, Some("3"))));
        assert!(!worth_retrying(&answer(429, None)));
        assert!(!worth_retrying(&answer(404, None)));
        assert!(!worth_retrying(&answer(200, None)));
        assert!(worth_retrying(&Err(BackendError::Timeout {
            timeout_ms: 1
        })));
        assert!(!worth_retrying(&Err(BackendError::CircuitOpen {
            retry_after: 1
        })));
        assert!(healthy(&answer(409, None)));
        assert!(!healthy(&answer(500, None)));
    }
}
