//! Circuit breaker for one backend: closed → open after repeated failures → half-open (one
//! probe call) after a cool-down → closed when the probe succeeds. While open, calls fail at
//! once, so a dead directory costs the IdP one fast 503 instead of a queue of timeouts.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone)]
pub struct BreakerOptions {
    pub enabled: bool,
    pub consecutive_failures: u32,
    pub failure_ratio: f64,
    pub min_calls: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

/// The breaker's state, as the `scimgate_backend_breaker_state` gauge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// After the cool-down: one probe is out, everyone else is refused until it reports.
    HalfOpen {
        probing: bool,
    },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    consecutive: u32,
    window_start: Instant,
    calls: u32,
    failures: u32,
}

/// A circuit breaker (thread-safe; one per backend).
#[derive(Debug)]
pub struct CircuitBreaker {
    options: BreakerOptions,
    inner: Mutex<Inner>,
}

/// Permission to make one call; report its outcome with [`Admission::record`]. Dropped
/// without a report (the request was cancelled), it counts as neither, and a half-open
/// breaker lets the next caller probe.
#[derive(Debug)]
pub struct Admission<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl CircuitBreaker {
    pub fn new(options: BreakerOptions) -> CircuitBreaker {
        CircuitBreaker {
            options,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                consecutive: 0,
                window_start: Instant::now(),
                calls: 0,
                failures: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a call through, or says how many seconds until the next probe may be made.
    pub fn admit(&self) -> Result<Admission<'_>, u64> {
        if !self.options.enabled {
            return Ok(self.admission(false));
        }
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.phase {
            Phase::Closed => Ok(self.admission(false)),
            Phase::Open { until } if now < until => Err(seconds_until(now, until)),
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                inner.phase = Phase::HalfOpen { probing: true };
                Ok(self.admission(true))
            }
            Phase::HalfOpen { probing: true } => Err(self.options.cooldown.as_secs().max(1)),
        }
    }

    fn admission(&self, probe: bool) -> Admission<'_> {
        Admission {
            breaker: self,
            probe,
            reported: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if Instant::now() < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn report(&self, probe: bool, success: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        if now.duration_since(inner.window_start) >= self.options.window {
            inner.window_start = now;
            inner.calls = 0;
            inner.failures = 0;
        }
        inner.calls += 1;
        if success {
            inner.consecutive = 0;
            if probe || matches!(inner.phase, Phase::HalfOpen { .. }) {
                tracing::info!("Backend recovered: circuit breaker closed.");
                inner.phase = Phase::Closed;
                inner.calls = 0;
                inner.failures = 0;
                inner.window_start = now;
            }
            return;
        }
        inner.failures += 1;
        inner.consecutive += 1;
        let o = &self.options;
        let ratio_tripped = inner.calls >= o.min_calls
            && f64::from(inner.failures) >= o.failure_ratio * f64::from(inner.calls);
        let trip = probe || inner.consecutive >= o.consecutive_failures || ratio_tripped;
        if trip && !matches!(inner.phase, Phase::Open { .. }) {
            if !probe {
                tracing::warn!(
                    consecutive = inner.consecutive,
                    failures = inner.failures,
                    calls = inner.calls,
                    cooldown_ms = o.cooldown.as_millis() as u64,
                    "Backend failing: circuit breaker opened."
                );
            }
            inner.phase = Phase::Open {
                until: now + o.cooldown,
            };
        }
    }

    fn abandon_probe(&self) {
        let mut inner = self.lock();
        if matches!(inner.phase, Phase::HalfOpen { probing: true }) {
            inner.phase = Phase::HalfOpen { probing: false };
        }
    }
}

impl Admission<'_> {
    /// Reports whether the call succeeded (the backend is healthy).
    pub fn record(mut self, success: bool) {
        self.reported = true;
        if self.breaker.options.enabled {
            self.breaker.report(self.probe, success);
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.abandon_probe();
        }
    }
}

/// Whole seconds from `now` to `until`, at least 1 (the unit of `Retry-After`).
fn seconds_until(now: Instant, until: Instant) -> u64 {
    let left = until.saturating_duration_since(now);
    (left.as_millis().div_ceil(1000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cooldown_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(BreakerOptions {
            enabled: true,
            consecutive_failures: 3,
            failure_ratio: 0.5,
            min_calls: 10,
            window: Duration::from_secs(60),
            cooldown: Duration::from_millis(cooldown_ms),
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_refuses_with_retry_after() {
        let b = breaker(60_000);
        for _ in 0..3 {
            b.admit().unwrap().record(false);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit().unwrap_err(), 60);
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let b = breaker(60_000);
        for _ in 0..2 {
            b.admit().unwrap().record(false);
        }
        b.admit().unwrap().record(true);
        for _ in 0..2 {
            b.admit().unwrap().record(false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn opens_on_failure_ratio() {
        let b = breaker(60_000);
        // Alternating: never 3 in a row, but half of 10 calls failed.
        for i in 0..10 {
            b.admit().unwrap().record(i % 2 == 0);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let b = breaker(0);
        for _ in 0..3 {
            b.admit().unwrap().record(false);
        }
        let probe = b.admit().expect("cool-down over: a probe");
        assert!(b.admit().is_err(), "only one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.admit().is_ok());
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_dropped_probe_frees_the_slot() {
        let b = breaker(0);
        for _ in 0..3 {
            b.admit().unwrap().record(false);
        }
        drop(b.admit().unwrap());
        let probe = b.admit().expect("a dropped probe does not block the next");
        probe.record(false);
        assert_ne!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn disabled_never_opens() {
        let b = CircuitBreaker::new(BreakerOptions {
            enabled: false,
            ..breaker(60_000).options
        });
        for _ in 0..10 {
            b.admit().unwrap().record(false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
