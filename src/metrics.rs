//! Every Prometheus metric family of the gateway, defined once and registered in one
//! [`Registry`] per process (never the crate's global default registry, so tests that run
//! several gateways in one process do not share counters).
//!
//! Labels never carry user data: only the tenant name, fixed resource/operation names,
//! status classes, cache names and dialect rule names. The README's "Metrics" section lists
//! every family with its meaning.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::scim::dialect::ALL_RULES;

/// Histogram buckets in seconds: SCIM calls fan out to several backend calls, so the range
/// reaches further than the default's 10 s only by one bucket and starts at 1 ms.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The gateway's metric families and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `scimgate_scim_requests_total{tenant,resource,operation,status_class}`.
    pub scim_requests: IntCounterVec,
    /// `scimgate_scim_request_duration_seconds{tenant,resource,operation}`.
    pub scim_duration: HistogramVec,
    /// `scimgate_backend_requests_total{tenant,operation,status_class}`.
    pub backend_requests: IntCounterVec,
    /// `scimgate_backend_request_duration_seconds{tenant,operation}`.
    pub backend_duration: HistogramVec,
    /// `scimgate_cache_lookups_total{tenant,cache,result}`.
    pub cache_lookups: IntCounterVec,
    /// `scimgate_cache_entries{tenant,cache}`.
    pub cache_entries: IntGaugeVec,
    /// `scimgate_requests_in_flight{tenant}`.
    pub in_flight: IntGaugeVec,
    /// `scimgate_dialect_normalisations_total{tenant,rule}`.
    pub normalisations: IntCounterVec,
    /// `scimgate_backend_breaker_state{tenant}`: 0 closed, 1 half-open, 2 open.
    pub breaker_state: IntGaugeVec,
    /// `scimgate_backend_retries_total{tenant,operation}`.
    pub retries: IntCounterVec,
    /// `scimgate_shed_requests_total{tenant,reason}`.
    pub shed: IntCounterVec,
    /// `scimgate_build_info{version}`, always 1.
    pub build_info: IntGaugeVec,
    /// `scimgate_config_reloads_total{result}`: `success` or `failure` (old set kept).
    pub config_reloads: IntCounterVec,
}

impl Metrics {
    /// Creates and registers every family. Fails only if two families share a name, which
    /// is a programming error reported at start-up rather than a panic.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let gauge = |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntGaugeVec> {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let histogram =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<HistogramVec> {
                let h = HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                    labels,
                )?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let metrics = Metrics {
            scim_requests: counter(
                "scimgate_scim_requests_total",
                "SCIM requests answered, by resource, operation and status class.",
                &["tenant", "resource", "operation", "status_class"],
            )?,
            scim_duration: histogram(
                "scimgate_scim_request_duration_seconds",
                "Time to answer a SCIM request, backend calls included.",
                &["tenant", "resource", "operation"],
            )?,
            backend_requests: counter(
                "scimgate_backend_requests_total",
                "Calls to the directory API, by HTTP method and status class (error = no answer: connect failure or timeout).",
                &["tenant", "operation", "status_class"],
            )?,
            backend_duration: histogram(
                "scimgate_backend_request_duration_seconds",
                "Time of one call to the directory API, body included.",
                &["tenant", "operation"],
            )?,
            cache_lookups: counter(
                "scimgate_cache_lookups_total",
                "Lookup-cache reads; miss = the lookup called the directory.",
                &["tenant", "cache", "result"],
            )?,
            cache_entries: gauge(
                "scimgate_cache_entries",
                "Entries held by the lookup cache (refreshed at each scrape).",
                &["tenant", "cache"],
            )?,
            in_flight: gauge(
                "scimgate_requests_in_flight",
                "SCIM requests being served right now.",
                &["tenant"],
            )?,
            normalisations: counter(
                "scimgate_dialect_normalisations_total",
                "IdP dialect normalisations applied to write requests, by rule.",
                &["tenant", "rule"],
            )?,
            breaker_state: gauge(
                "scimgate_backend_breaker_state",
                "State of the directory's circuit breaker: 0 closed, 1 half-open, 2 open (refreshed at each scrape).",
                &["tenant"],
            )?,
            retries: counter(
                "scimgate_backend_retries_total",
                "Retries of directory calls that are safe to repeat, by HTTP method.",
                &["tenant", "operation"],
            )?,
            shed: counter(
                "scimgate_shed_requests_total",
                "SCIM requests refused at once to protect the gateway or the directory, by reason.",
                &["tenant", "reason"],
            )?,
            build_info: gauge(
                "scimgate_build_info",
                "Always 1; the version label says which build is running.",
                &["version"],
            )?,
            config_reloads: counter(
                "scimgate_config_reloads_total",
                "Reloads of config and mappings (SIGHUP), by result; failure = the old tenant set kept serving.",
                &["result"],
            )?,
            registry,
        };
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for result in ["success", "failure"] {
            metrics.config_reloads.with_label_values(&[result]);
        }
        Ok(metrics)
    }

    /// Pre-registers the per-tenant series that should be visible at 0 before anything
    /// happens (every dialect rule, the in-flight gauge), so dashboards and `rate()` work
    /// from the first scrape.
    pub fn add_tenant(&self, tenant: &str) {
        for rule in ALL_RULES {
            self.normalisations.with_label_values(&[tenant, rule]);
        }
        self.in_flight.with_label_values(&[tenant]);
        self.breaker_state.with_label_values(&[tenant]);
        for reason in SHED_REASONS {
            self.shed.with_label_values(&[tenant, reason]);
        }
    }

    /// Counts one retry of a backend call.
    pub fn retried(&self, tenant: &str, method: &str) {
        self.retries
            .with_label_values(&[tenant, &method.to_ascii_lowercase()])
            .inc();
    }

    /// Counts one shed request.
    pub fn shed(&self, tenant: &str, reason: &str) {
        self.shed.with_label_values(&[tenant, reason]).inc();
    }

    /// Records one backend call: `status` is the HTTP status, `None` when no answer came.
    pub fn backend_call(&self, tenant: &str, method: &str, status: Option<u16>, took: Duration) {
        let operation = method.to_ascii_lowercase();
        let class = status.map_or_else(|| "error".to_owned(), status_class);
        self.backend_requests
            .with_label_values(&[tenant, &operation, &class])
            .inc();
        self.backend_duration
            .with_label_values(&[tenant, &operation])
            .observe(took.as_secs_f64());
    }

    /// Records one answered SCIM request.
    pub fn scim_request(
        &self,
        tenant: &str,
        resource: &str,
        operation: &str,
        status: u16,
        took: Duration,
    ) {
        self.scim_requests
            .with_label_values(&[tenant, resource, operation, &status_class(status)])
            .inc();
        self.scim_duration
            .with_label_values(&[tenant, resource, operation])
            .observe(took.as_secs_f64());
    }

    /// Counts the dialect rules that fired for one request.
    pub fn normalised(&self, tenant: &str, rules: &[&'static str]) {
        for rule in rules {
            self.normalisations.with_label_values(&[tenant, rule]).inc();
        }
    }

    /// Counts one cache lookup.
    pub fn cache_lookup(&self, tenant: &str, cache: &str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups
            .with_label_values(&[tenant, cache, result])
            .inc();
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, String> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| format!("cannot encode metrics: {e}"))?;
        String::from_utf8(out).map_err(|e| format!("metrics are not UTF-8: {e}"))
    }
}

/// `reason` values of `scimgate_shed_requests_total`: the tenant's two limits and the open
/// circuit breaker.
pub const SHED_REASONS: [&str; 3] = ["rate_limit", "max_concurrent_requests", "circuit_open"];

/// `2xx`, `4xx`, `5xx` (and `1xx`/`3xx` should they occur).
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_prometheus_names() {
        let m = Metrics::new().unwrap();
        m.add_tenant("t");
        m.backend_call("t", "GET", Some(200), Duration::from_millis(3));
        m.backend_call("t", "POST", None, Duration::from_millis(3));
        m.scim_request("t", "Users", "get", 404, Duration::from_millis(5));
        m.cache_lookup("t", "records", true);
        let text = m.render().unwrap();
        assert!(text.contains(r#"scimgate_build_info{version=""#), "{text}");
        assert!(text.contains(
            r#"scimgate_backend_requests_total{operation="get",status_class="2xx",tenant="t"} 1"#
        ));
        assert!(text.contains(
            r#"scimgate_backend_requests_total{operation="post",status_class="error",tenant="t"} 1"#
        ));
        assert!(text.contains(r#"status_class="4xx""#));
        assert!(text.contains(
            r#"scimgate_cache_lookups_total{cache="records",result="hit",tenant="t"} 1"#
        ));
        for rule in ALL_RULES {
            assert!(
                text.contains(&format!(
                    r#"scimgate_dialect_normalisations_total{{rule="{rule}",tenant="t"}} 0"#
                )),
                "{rule} not pre-registered"
            );
        }
    }

    #[test]
    fn registries_are_independent() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.cache_lookup("t", "records", false);
        assert!(!b
            .render()
            .unwrap()
            .contains("scimgate_cache_lookups_total{"));
    }
}
