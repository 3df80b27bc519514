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
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

use super::store::{
    member_page, ErrorKind, GroupInput, GroupQuery, Listing, MemberInput, Store, StoreError,
    UserInput, UserQuery,
};

mod auth;
#[cfg(test)]
mod tests;

pub use auth::{DemoAuth, LOGIN_PATH, SESSION_HEADER, TOKEN_PATH};

/// Header carrying the API key when the directory requires one.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");
/// Header carrying the number of items matching a list query across all pages.
pub const TOTAL_COUNT_HEADER: HeaderName = HeaderName::from_static("x-total-count");

/// The demo directory service: a shared [`Store`] behind a REST API. Cloning is cheap and
/// every clone serves the same data.
#[derive(Clone)]
pub struct DemoDirectory {
    store: Arc<RwLock<Store>>,
    auth: Arc<auth::AuthGate>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for DemoDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoDirectory")
            .field("open", &self.auth.is_open())
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl DemoDirectory {
    /// Serves `store`; with `Some(key)` every request must send `X-Api-Key: <key>` (see
    /// [`DemoDirectory::with_auth`] for the other modes).
    pub fn new(store: Store, api_key: Option<String>) -> Self {
        Self {
            store: Arc::new(RwLock::new(store)),
            auth: Arc::new(auth::AuthGate::new(
                api_key.map(DemoAuth::ApiKey).unwrap_or_default(),
            )),
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The same data, demanding `auth` of every API call.
    pub fn with_auth(mut self, auth: DemoAuth) -> Self {
        self.auth = Arc::new(auth::AuthGate::new(auth));
        self
    }

    /// Tokens issued so far by the OAuth2 token endpoint or the login call.
    pub fn token_grants(&self) -> u64 {
        self.auth.grants()
    }

    /// API calls refused with 401 so far.
    pub fn refused_count(&self) -> u64 {
        self.auth.refused()
    }

    /// Invalidates every issued token or session, as a directory restart would.
    pub fn revoke_tokens(&self) {
        self.auth.revoke_all();
    }

    /// The complete API as a router, for serving or for in-process tests.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                Users::PATH,
                get(list_records::<Users>).post(create_record::<Users>),
            )
            .route(
                "/api/users/{id}",
                get(get_record::<Users>)
                    .put(replace_record::<Users>)
                    .patch(patch_record::<Users>)
                    .delete(delete_record::<Users>),
            )
            .route(
                Groups::PATH,
                get(list_records::<Groups>).post(create_record::<Groups>),
            )
            .route(
                "/api/groups/{id}",
                get(get_record::<Groups>)
                    .put(replace_record::<Groups>)
                    .patch(patch_record::<Groups>)
                    .delete(delete_record::<Groups>),
            )
            .route(
                "/api/groups/{id}/members",
                get(list_members).post(add_member),
            )
            .route("/api/groups/{id}/members/{user_id}", delete(remove_member))
            .route(TOKEN_PATH, post(auth::token_endpoint))
            .route(LOGIN_PATH, post(auth::login))
            .fallback(route_not_found)
            // Must follow the routes: it is installed on the routes registered so far.
            .method_not_allowed_fallback(method_not_allowed)
            // Layers wrap what is above them, so the key check covers the fallbacks too and
            // the counter (outermost) also sees requests the key check refuses.
            .layer(middleware::from_fn_with_state(
                self.clone(),
                auth::require_auth,
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
// Users and groups: one set of handlers over the two collections
// ---------------------------------------------------------------------------

/// What the CRUD handlers need from a collection of the store.
trait Collection: Send + Sync + 'static {
    /// Singular noun for messages ("user").
    const NOUN: &'static str;
    /// Path of the collection ("/api/users").
    const PATH: &'static str;
    type Input;
    type Query;
    type Record: Serialize;

    fn input(body: &Value) -> Result<Self::Input, StoreError>;
    fn query(pairs: &[(String, String)]) -> Result<Self::Query, StoreError>;
    fn list<'s>(store: &'s Store, query: &Self::Query) -> Listing<&'s Self::Record>;
    fn get(store: &Store, id: u64) -> Result<&Self::Record, StoreError>;
    fn create(store: &mut Store, input: Self::Input) -> Result<&Self::Record, StoreError>;
    fn replace(store: &mut Store, id: u64, input: Self::Input)
        -> Result<&Self::Record, StoreError>;
    fn patch(store: &mut Store, id: u64, input: Self::Input) -> Result<&Self::Record, StoreError>;
    fn delete(store: &mut Store, id: u64) -> Result<(), StoreError>;
    fn id(record: &Self::Record) -> u64;
}

struct Users;
struct Groups;

impl Collection for Users {
    const NOUN: &'static str = "user";
    const PATH: &'static str = "/api/users";
    type Input = UserInput;
    type Query = UserQuery;
    type Record = super::store::User;

    fn input(body: &Value) -> Result<UserInput, StoreError> {
        UserInput::from_json(body)
    }
    fn query(pairs: &[(String, String)]) -> Result<UserQuery, StoreError> {
        UserQuery::from_pairs(pairs)
    }
    fn list<'s>(store: &'s Store, query: &UserQuery) -> Listing<&'s Self::Record> {
        store.list_users(query)
    }
    fn get(store: &Store, id: u64) -> Result<&Self::Record, StoreError> {
        store.user(id)
    }
    fn create(store: &mut Store, input: UserInput) -> Result<&Self::Record, StoreError> {
        store.create_user(input)
    }
    fn replace(store: &mut Store, id: u64, input: UserInput) -> Result<&Self::Record, StoreError> {
        store.replace_user(id, input)
    }
    fn patch(store: &mut Store, id: u64, input: UserInput) -> Result<&Self::Record, StoreError> {
        store.patch_user(id, input)
    }
    fn delete(store: &mut Store, id: u64) -> Result<(), StoreError> {
        store.delete_user(id)
    }
    fn id(record: &Self::Record) -> u64 {
        record.id
    }
}

impl Collection for Groups {
    const NOUN: &'static str = "group";
    const PATH: &'static str = "/api/groups";
    type Input = GroupInput;
    type Query = GroupQuery;
    type Record = super::store::Group;

    fn input(body: &Value) -> Result<GroupInput, StoreError> {
        GroupInput::from_json(body)
    }
    fn query(pairs: &[(String, String)]) -> Result<GroupQuery, StoreError> {
        GroupQuery::from_pairs(pairs)
    }
    fn list<'s>(store: &'s Store, query: &GroupQuery) -> Listing<&'s Self::Record> {
        store.list_groups(query)
    }
    fn get(store: &Store, id: u64) -> Result<&Self::Record, StoreError> {
        store.group(id)
    }
    fn create(store: &mut Store, input: GroupInput) -> Result<&Self::Record, StoreError> {
        store.create_group(input)
    }
    fn replace(store: &mut Store, id: u64, input: GroupInput) -> Result<&Self::Record, StoreError> {
        store.replace_group(id, input)
    }
    fn patch(store: &mut Store, id: u64, input: GroupInput) -> Result<&Self::Record, StoreError> {
        store.patch_group(id, input)
    }
    fn delete(store: &mut Store, id: u64) -> Result<(), StoreError> {
        store.delete_group(id)
    }
    fn id(record: &Self::Record) -> u64 {
        record.id
    }
}

async fn list_records<C: Collection>(
    State(dir): State<DemoDirectory>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let query = C::query(&query_pairs(query)?)?;
    Ok(list_response(&C::list(&dir.read(), &query)))
}

async fn get_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, C::NOUN)?;
    Ok(json(StatusCode::OK, C::get(&dir.read(), id)?))
}

async fn create_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let input = C::input(&body_json(body)?)?;
    let mut store = dir.write();
    let record = C::create(&mut store, input)?;
    Ok(created(format!("{}/{}", C::PATH, C::id(record)), record))
}

/// PUT (replace) or PATCH (merge), as `merge` says.
async fn update_record<C: Collection>(
    dir: DemoDirectory,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    merge: bool,
) -> ApiResult {
    let id = path_id(path, C::NOUN)?;
    let input = C::input(&body_json(body)?)?;
    let mut store = dir.write();
    let record = if merge {
        C::patch(&mut store, id, input)?
    } else {
        C::replace(&mut store, id, input)?
    };
    Ok(json(StatusCode::OK, record))
}

async fn replace_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    update_record::<C>(dir, path, body, false).await
}

async fn patch_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    update_record::<C>(dir, path, body, true).await
}

async fn delete_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, C::NOUN)?;
    C::delete(&mut dir.write(), id)?;
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
