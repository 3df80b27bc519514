//! HTTP face of the demo legacy directory: the axum router, its handlers and middleware.
//!
//! Handlers only translate: path, query and body in, [`Store`] call, JSON out. Every error,
//! including unknown routes, wrong methods and malformed requests that axum would otherwise
//! answer in plain text, leaves as `{"error": "<code>", "message": "<text>"}`.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

use super::store::{
    member_page, ErrorKind, GroupInput, GroupQuery, Listing, MemberInput, Store, StoreError,
    UserInput, UserQuery,
};

#[cfg(test)]
mod tests;

/// Header carrying the API key when the directory requires one.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");
/// Header carrying the number of items matching a list query across all pages.
pub const TOTAL_COUNT_HEADER: HeaderName = HeaderName::from_static("x-total-count");

/// The demo directory service: a shared [`Store`] behind a REST API. Cloning is cheap and
/// every clone serves the same data.
#[derive(Clone)]
pub struct DemoDirectory {
    store: Arc<RwLock<Store>>,
    api_key: Option<Arc<str>>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for DemoDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoDirectory")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl DemoDirectory {
    /// Serves `store`; with `Some(key)` every request must send `X-Api-Key: <key>`.
    pub fn new(store: Store, api_key: Option<String>) -> Self {
        Self {
            store: Arc::new(RwLock::new(store)),
            api_key: api_key.map(Arc::from),
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The complete API as a router, for serving or for in-process tests.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/users", get(list_users).post(create_user))
            .route(
                "/api/users/{id}",
                get(get_user)
                    .put(replace_user)
                    .patch(patch_user)
                    .delete(delete_user),
            )
            .route("/api/groups", get(list_groups).post(create_group))
            .route(
                "/api/groups/{id}",
                get(get_group)
                    .put(replace_group)
                    .patch(patch_group)
                    .delete(delete_group),
            )
            .route(
                "/api/groups/{id}/members",
                get(list_members).post(add_member),
            )
            .route("/api/groups/{id}/members/{user_id}", delete(remove_member))
            .fallback(route_not_found)
            // Must follow the routes: it is installed on the routes registered so far.
            .method_not_allowed_fallback(method_not_allowed)
            // Layers wrap what is above them, so the key check covers the fallbacks too and
            // the counter (outermost) also sees requests the key check refuses.
            .layer(middleware::from_fn_with_state(
                self.clone(),
                require_api_key,
            ))
            .layer(middleware::from_fn_with_state(
                self.clone(),
                count_and_trace,
            ))
            .with_state(self.clone())
    }

    /// Serves the API on `listener` until `shutdown` completes, then lets in-flight requests
    /// finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "demo directory listening");
        }
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Total HTTP requests received, refused ones included: lets tests assert how many
    /// backend calls the gateway made.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Runs `f` on the current data, e.g. to assert on the backend state in a test.
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.read())
    }

    /// Runs `f` on the data mutably, e.g. to simulate a change made behind the gateway's back.
    pub fn with_store_mut<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.write())
    }

    // A panic while holding the lock cannot leave the store half-written: every store method
    // validates before it mutates. So a poisoned lock still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------
// Errors and responses
// ---------------------------------------------------------------------------

/// An error response: status plus the JSON `error` code and `message`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let (status, code) = match err.kind() {
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::Validation => (StatusCode::BAD_REQUEST, "validation"),
        };
        Self::new(status, code, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            message: &'a str,
        }
        json(
            self.status,
            &Body {
                error: self.code,
                message: &self.message,
            },
        )
    }
}

type ApiResult = Result<Response, ApiError>;

/// Serializes `value` as the response body. Our records cannot fail to serialize, but if
/// one ever did the client still gets a JSON error rather than a dropped connection.
fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let content_type = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    match serde_json::to_vec(value) {
        Ok(body) => (status, content_type, body).into_response(),
        Err(err) => {
            tracing::error!(%err, "failed to serialize a response body");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                content_type,
                r#"{"error":"internal","message":"failed to serialize the response"}"#,
            )
                .into_response()
        }
    }
}

fn created<T: Serialize>(location: String, value: &T) -> Response {
    let mut response = json(StatusCode::CREATED, value);
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn list_response<T: Serialize>(listing: &Listing<T>) -> Response {
    let mut response = json(StatusCode::OK, &listing.items);
    response
        .headers_mut()
        .insert(TOTAL_COUNT_HEADER, HeaderValue::from(listing.total));
    response
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------

/// Parses a JSON body; any failure to read or parse it is `bad_json`, whatever the
/// `Content-Type`, the way lenient legacy APIs behave.
fn body_json(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bad_json = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", message);
    let bytes = body.map_err(|rejection| bad_json(rejection.body_text()))?;
    serde_json::from_slice(&bytes).map_err(|err| bad_json(format!("malformed JSON body: {err}")))
}

fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|rejection| ApiError::validation(rejection.body_text()))
}

/// A path id. Anything but a decimal integer names no record, hence 404 rather than 400.
fn record_id(raw: &str, kind: &str) -> Result<u64, ApiError> {
    // `u64::from_str` alone would also take "+7".
    match raw.parse::<u64>() {
        Ok(id) if raw.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(ApiError::not_found(format!("{kind} '{raw}' not found"))),
    }
}

fn path_id(path: Result<Path<String>, PathRejection>, kind: &str) -> Result<u64, ApiError> {
    let Path(raw) = path.map_err(|rejection| ApiError::not_found(rejection.body_text()))?;
    record_id(&raw, kind)
}

// ---------------------------------------------------------------------------
// Middleware and fallbacks
// ---------------------------------------------------------------------------

async fn count_and_trace(
    State(dir): State<DemoDirectory>,
    request: Request,
    next: Next,
) -> Response {
    dir.requests.fetch_add(1, Ordering::Relaxed);
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros(),
        "demo directory request"
    );
    response
}

async fn require_api_key(
    State(dir): State<DemoDirectory>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &dir.api_key else {
        return next.run(request).await;
    };
    let unauthorized = |message| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    match request.headers().get(API_KEY_HEADER) {
        None => unauthorized("missing X-Api-Key header").into_response(),
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => unauthorized("invalid API key").into_response(),
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "method {} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

async fn list_users(
    State(dir): State<DemoDirectory>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let query = UserQuery::from_pairs(&query_pairs(query)?)?;
    Ok(list_response(&dir.read().list_users(&query)))
}

async fn get_user(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, "user")?;
    Ok(json(StatusCode::OK, dir.read().user(id)?))
}

async fn create_user(
    State(dir): State<DemoDirectory>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let input = UserInput::from_json(&body_json(body)?)?;
    let mut store = dir.write();
    let user = store.create_user(input)?;
    Ok(created(format!("/api/users/{}", user.id), user))
}

async fn replace_user(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = path_id(path, "user")?;
    let input = UserInput::from_json(&body_json(body)?)?;
    Ok(json(StatusCode::OK, dir.write().replace_user(id, input)?))
}

async fn patch_user(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = path_id(path, "user")?;
    let input = UserInput::from_json(&body_json(body)?)?;
    Ok(json(StatusCode::OK, dir.write().patch_user(id, input)?))
}

async fn delete_user(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, "user")?;
    dir.write().delete_user(id)?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

async fn list_groups(
    State(dir): State<DemoDirectory>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let query = GroupQuery::from_pairs(&query_pairs(query)?)?;
    Ok(list_response(&dir.read().list_groups(&query)))
}

async fn get_group(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, "group")?;
    Ok(json(StatusCode::OK, dir.read().group(id)?))
}

async fn create_group(
    State(dir): State<DemoDirectory>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let input = GroupInput::from_json(&body_json(body)?)?;
    let mut store = dir.write();
    let group = store.create_group(input)?;
    Ok(created(format!("/api/groups/{}", group.id), group))
}

async fn replace_group(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = path_id(path, "group")?;
    let input = GroupInput::from_json(&body_json(body)?)?;
    Ok(json(StatusCode::OK, dir.write().replace_group(id, input)?))
}

async fn patch_group(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = path_id(path, "group")?;
    let input = GroupInput::from_json(&body_json(body)?)?;
    Ok(json(StatusCode::OK, dir.write().patch_group(id, input)?))
}

async fn delete_group(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, "group")?;
    dir.write().delete_group(id)?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------

async fn list_members(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let group_id = path_id(path, "group")?;
    let page = member_page(&query_pairs(query)?)?;
    Ok(list_response(&dir.read().list_members(group_id, page)?))
}

async fn add_member(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let group_id = path_id(path, "group")?;
    let input = MemberInput::from_json(&body_json(body)?)?;
    let member = dir.write().add_member(group_id, input.user_id)?;
    Ok(created(
        format!("/api/groups/{group_id}/members/{}", member.user_id),
        &member,
    ))
}

async fn remove_member(
    State(dir): State<DemoDirectory>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((group, user)) =
        path.map_err(|rejection| ApiError::not_found(rejection.body_text()))?;
    let group_id = record_id(&group, "group")?;
    let user_id = record_id(&user, "member")?;
    dir.write().remove_member(group_id, user_id)?;
    Ok(no_content())
}
