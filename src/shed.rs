//! Per-tenant load shedding with `pingora-limits`: a request rate limit (requests per
//! second, estimated over one-second windows by `Rate`) and a concurrency limit (`Inflight`).
//! Excess requests are refused at once with 429 and `Retry-After`, never queued.

use std::time::Duration;

use pingora_limits::inflight::{Guard, Inflight};
use pingora_limits::rate::Rate;

use crate::error::Error;

/// The limits of one tenant; a limit of 0 is off.
pub struct LoadShedder {
    rate_limit: u32,
    max_concurrent: u32,
    rate: Rate,
    inflight: Inflight,
}

impl std::fmt::Debug for LoadShedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadShedder")
            .field("rate_limit", &self.rate_limit)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

/// Holds one concurrency slot while the request is served.
pub struct Admitted(#[allow(dead_code)] Option<Guard>);

// Every tenant has its own shedder, so one key suffices.
const KEY: &str = "tenant";

impl LoadShedder {
    pub fn new(rate_limit: u32, max_concurrent: u32) -> LoadShedder {
        LoadShedder {
            rate_limit,
            max_concurrent,
            rate: Rate::new(Duration::from_secs(1)),
            inflight: Inflight::new(),
        }
    }

    /// Admits one request, or says which limit refuses it.
    pub fn admit(&self) -> Result<Admitted, Error> {
        if self.rate_limit > 0 {
            let seen = self.rate.observe(&KEY, 1);
            if seen > self.rate_limit as isize {
                return Err(Error::Overloaded {
                    limit: "rate_limit",
                    retry_after: 1,
                });
            }
        }
        if self.max_concurrent == 0 {
            return Ok(Admitted(None));
        }
        let (guard, now) = self.inflight.incr(KEY, 1);
        if now > self.max_concurrent as isize {
            // Dropping the guard gives the slot back.
            return Err(Error::Overloaded {
                limit: "max_concurrent_requests",
                retry_after: 1,
            });
        }
        Ok(Admitted(Some(guard)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_limit_refuses_past_the_limit_and_frees_slots() {
        let shed = LoadShedder::new(0, 2);
        let a = shed.admit().unwrap();
        let _b = shed.admit().unwrap();
        assert!(matches!(
            shed.admit(),
            Err(Error::Overloaded {
                limit: "max_concurrent_requests",
                ..
            })
        ));
        drop(a);
        assert!(shed.admit().is_ok());
    }

    #[test]
    fn rate_limit_refuses_past_the_limit_within_a_second() {
        let shed = LoadShedder::new(5, 0);
        let admitted = (0..20).filter(|_| shed.admit().is_ok()).count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn zero_is_no_limit() {
        let shed = LoadShedder::new(0, 0);
        assert!((0..1000).all(|_| shed.admit().is_ok()));
    }
}
