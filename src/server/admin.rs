//! The admin listener (`admin_listen`, default `127.0.0.1:9090`), separate from SCIM so it
//! needs no token and can stay off the public interface:
//!
//! | path | answers |
//! |---|---|
//! | `GET /metrics` | every metric in the Prometheus text format (0.0.4) |
//! | `GET /livez` | 200 `ok` whenever the process is serving |
//! | `GET /readyz` | 200 `{"status":"ready"}` when the config and mappings are loaded and every tenant's backend answers the probe; else 503 `{"status":"unavailable","problems":[...]}` (plain JSON, not a SCIM error: probes are not SCIM clients) |
//!
//! The readiness probe is the mapped User list call for one record. Its result is kept for
//! [`PROBE_TTL`], so frequent kubelet probes and scrapes do not load the directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tokio::sync::Mutex;

use crate::metrics::Metrics;
use crate::tenant::SharedTenant;

/// How long one readiness probe result is reused.
pub const PROBE_TTL: Duration = Duration::from_secs(1);

struct AdminState {
    metrics: Arc<Metrics>,
    tenants: Vec<SharedTenant>,
    /// The last probe: when it ran and the problems it found. Held across the probe, so
    /// concurrent `/readyz` calls wait for one probe instead of each starting their own.
    last_probe: Mutex<Option<(Instant, Vec<String>)>>,
}

/// The admin router for `tenants`, exposing `metrics`.
pub fn app(metrics: Arc<Metrics>, tenants: &[SharedTenant]) -> Router {
    let state = Arc::new(AdminState {
        metrics,
        tenants: tenants.to_vec(),
        last_probe: Mutex::new(None),
    });
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics_text(State(state): State<Arc<AdminState>>) -> Response {
    for tenant in &state.tenants {
        tenant.cache.refresh_gauges().await;
        state
            .metrics
            .breaker_state
            .with_label_values(&[&tenant.name])
            .set(tenant.resilience.state() as i64);
    }
    match state.metrics.render() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    let draining = state
        .tenants
        .iter()
        .any(|t| t.draining.load(std::sync::atomic::Ordering::SeqCst));
    if draining {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "draining", "problems": ["shutting down"]})),
        )
            .into_response();
    }
    let mut last = state.last_probe.lock().await;
    let problems = match &*last {
        Some((at, problems)) if at.elapsed() < PROBE_TTL => problems.clone(),
        _ => {
            let mut problems = Vec::new();
            for tenant in &state.tenants {
                if let Err(e) = crate::ops::probe(tenant).await {
                    problems.push(format!("tenant {}: backend: {e}", tenant.name));
                }
            }
            *last = Some((Instant::now(), problems.clone()));
            problems
        }
    };
    drop(last);
    if problems.is_empty() {
        axum::Json(json!({"status": "ready"})).into_response()
    } else {
        tracing::warn!(?problems, "Not ready.");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "problems": problems})),
        )
            .into_response()
    }
}
