//! The SCIM HTTP server: the route table, authentication, and serving with graceful shutdown.
//!
//! Endpoints under each tenant's base path (RFC 7644 §3.2):
//!
//! | path | methods |
//! |---|---|
//! | `/Users`, `/Groups` | GET (list, §3.4.2), POST (create, §3.3) |
//! | `/Users/{id}`, `/Groups/{id}` | GET (§3.4.1), PUT (§3.5.1), PATCH (§3.5.2), DELETE (§3.6) |
//! | `/Users/.search`, `/Groups/.search` | POST (§3.4.3) |
//! | `/.search` | POST: 501, searching across resource types is not offered |
//! | `/ServiceProviderConfig` | GET (§4) |
//! | `/ResourceTypes`, `/ResourceTypes/{name}` | GET (§4) |
//! | `/Schemas`, `/Schemas/{urn}` | GET (§4) |

mod discovery;
mod extract;
mod handlers;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::future::Future;
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
            read_only(axum::routing::post(handlers::root_search)),
        )
        .route(
            "/Users/.search",
            read_only(axum::routing::post(
                move |state: T, headers: HeaderMap, body: Body| {
                    handlers::search(state, headers, body, ResourceKind::User)
                },
            )),
        )
        .route(
            "/Groups/.search",
            read_only(axum::routing::post(
                move |state: T, headers: HeaderMap, body: Body| {
                    handlers::search(state, headers, body, ResourceKind::Group)
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
        .with_state(tenant)
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
