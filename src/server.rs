//! The SCIM HTTP server: the route table, authentication, and serving with graceful shutdown.
//!
//! Endpoints under each tenant's base path (RFC 7644 §3.2):
//!
//! | path | methods |
//! |---|---|
//! | `/Users`, `/Groups` | GET (list, §3.4.2), POST (create, §3.3) |
//! | `/Users/{id}`, `/Groups/{id}` | GET (§3.4.1), PUT (§3.5.1), PATCH (§3.5.2), DELETE (§3.6) |
//! | `/Users/.search`, `/Groups/.search` | POST (§3.4.3) |
//! | `/.search` | POST: search across Users and Groups (§3.4.3) |
//! | `/Bulk` | POST (§3.7) |
//! | `/ServiceProviderConfig` | GET (§4) |
//! | `/ResourceTypes`, `/ResourceTypes/{name}` | GET (§4) |
//! | `/Schemas`, `/Schemas/{urn}` | GET (§4) |
//!
//! The admin endpoints (`/metrics`, `/livez`, `/readyz`) are served on their own listener
//! by [`admin`].

pub mod admin;
mod discovery;
mod extract;
mod handlers;

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::future::Future;
use std::time::Duration;
use tracing::Instrument;

use crate::mapping::ResourceKind;
use crate::scim::error::ScimError;
use crate::tenant::SharedTenant;

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// The router for a set of tenants, each at its own base path.
pub fn app(tenants: &[SharedTenant]) -> Router {
    let mut router = Router::new();
    for tenant in tenants {
        router = router.nest(&tenant.base_path, tenant_routes(tenant.clone()));
    }
    router
        .fallback(handlers::unknown_route)
        .layer(middleware::from_fn(log_request))
}

/// One span and one log line per request: request id (from `X-Request-Id` or generated,
/// echoed in the response), method, path, status and duration. Never the query string
/// (filter values are user data) and never headers (tokens).
async fn log_request(mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", fastrand::u64(..)));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %request_id, %method, %path);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "Request failed.");
        } else {
            tracing::info!(status, elapsed_ms, "Request served.");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

const REQUEST_ID: &str = "x-request-id";

// Extractor types of the handler closures (closures need them spelled out).
type T = State<SharedTenant>;
type Id = Path<String>;
type Body = Result<extract::ScimBody, ScimError>;

fn tenant_routes(tenant: SharedTenant) -> Router {
    let collection = |kind: ResourceKind| -> MethodRouter<SharedTenant> {
        get(move |state: T, headers: HeaderMap, query: RawQuery| {
            handlers::list(state, headers, query, kind)
        })
        .post(move |state: T, headers: HeaderMap, body: Body| {
            handlers::create(state, headers, body, kind)
        })
        .fallback(handlers::method_not_allowed)
    };
    let item = |kind: ResourceKind| -> MethodRouter<SharedTenant> {
        get(
            move |state: T, headers: HeaderMap, id: Id, query: RawQuery| {
                handlers::get(state, headers, id, query, kind)
            },
        )
        .put(move |state: T, headers: HeaderMap, id: Id, body: Body| {
            handlers::replace(state, headers, id, body, kind)
        })
        .patch(move |state: T, headers: HeaderMap, id: Id, body: Body| {
            handlers::patch(state, headers, id, body, kind)
        })
        .delete(move |state: T, headers: HeaderMap, id: Id| {
            handlers::delete(state, headers, id, kind)
        })
        .fallback(handlers::method_not_allowed)
    };
    let read_only = |r: MethodRouter<SharedTenant>| r.fallback(handlers::method_not_allowed);
    Router::new()
        .route(
            "/.search",
            read_only(axum::routing::post(
                move |state: T, headers: HeaderMap, body: Body| {
                    handlers::search(state, headers, body, None)
                },
            )),
        )
        .route("/Bulk", read_only(axum::routing::post(handlers::bulk)))
        .route(
            "/Users/.search",
            read_only(axum::routing::post(
                move |state: T, headers: HeaderMap, body: Body| {
                    handlers::search(state, headers, body, Some(ResourceKind::User))
                },
            )),
        )
        .route(
            "/Groups/.search",
            read_only(axum::routing::post(
                move |state: T, headers: HeaderMap, body: Body| {
                    handlers::search(state, headers, body, Some(ResourceKind::Group))
                },
            )),
        )
        .route("/Users", collection(ResourceKind::User))
        .route("/Users/{id}", item(ResourceKind::User))
        .route("/Groups", collection(ResourceKind::Group))
        .route("/Groups/{id}", item(ResourceKind::Group))
        .route(
            "/ServiceProviderConfig",
            read_only(get(discovery::service_provider_config)),
        )
        .route("/ResourceTypes", read_only(get(discovery::resource_types)))
        .route(
            "/ResourceTypes/{name}",
            read_only(get(discovery::resource_type)),
        )
        .route("/Schemas", read_only(get(discovery::schemas)))
        .route("/Schemas/{id}", read_only(get(discovery::schema)))
        .route_layer(middleware::from_fn_with_state(tenant.clone(), authenticate))
        // Outside authentication, so refused tokens are counted too.
        .route_layer(middleware::from_fn_with_state(tenant.clone(), measure))
        .with_state(tenant)
}

/// SCIM request metrics: in-flight gauge, count by status class and duration, with the
/// resource and operation named from the matched route (never the concrete path, which
/// holds ids).
async fn measure(
    State(tenant): State<SharedTenant>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let (resource, operation) = classify(
        matched
            .as_ref()
            .map(MatchedPath::as_str)
            .unwrap_or_default(),
        request.method(),
    );
    let metrics = &tenant.metrics;
    let in_flight = metrics.in_flight.with_label_values(&[&tenant.name]);
    in_flight.inc();
    // Decremented on drop too, so a request cancelled by a closed connection is not left
    // counted as in flight.
    struct Leave(prometheus::IntGauge);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.dec();
        }
    }
    let _leave = Leave(in_flight);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.scim_request(
        &tenant.name,
        resource,
        operation,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `(resource, operation)` label values of a matched route and method. (Each operation
/// of a `/Bulk` request is counted as well, by `ops::bulk`, as the write it stands for.)
fn classify(route: &str, method: &Method) -> (&'static str, &'static str) {
    let resource = if route.contains("/Users") {
        "Users"
    } else if route.contains("/Groups") {
        "Groups"
    } else if route.ends_with("/Bulk") {
        return ("Bulk", "bulk");
    } else if route.ends_with("/.search") {
        return ("all", "search");
    } else {
        return ("discovery", "discovery");
    };
    let item = route.ends_with("/{id}");
    let operation = if route.ends_with("/.search") {
        "search"
    } else {
        match (item, method.as_str()) {
            (false, "GET") => "list",
            (false, "POST") => "create",
            (true, "GET") => "get",
            (true, "PUT") => "replace",
            (true, "PATCH") => "patch",
            (true, "DELETE") => "delete",
            // Answered 405: one bucket, so the label set stays bounded.
            _ => "other",
        }
    };
    (resource, operation)
}

/// Rejects requests without an accepted bearer token (401 with a SCIM body).
async fn authenticate(
    State(tenant): State<SharedTenant>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if tenant.tokens.accepts(header) {
        next.run(request).await
    } else {
        ScimError::new(
            401,
            "a valid bearer token is required (Authorization: Bearer <Secret Token>)",
        )
        .into_response()
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Like [`serve`], with inbound limits, and once `shutdown` completes (no new connections
/// are accepted from then on) in-flight requests get at most `grace` to finish; then this
/// returns `Ok` anyway, so a stuck backend cannot keep the process from exiting.
///
/// The accept loop is written out (rather than `axum::serve`) for the header-read timeout:
/// a client that never finishes its request head is disconnected instead of holding a
/// connection forever.
pub async fn serve_with_grace(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "Accept failed.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = hyper_util::service::TowerToHyperService::new(router.clone());
                let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    // Client resets and header timeouts end here; nothing to report upward.
                    let _ = watched.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
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
