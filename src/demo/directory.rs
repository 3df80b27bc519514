//! HTTP face of the demo legacy directory: the axum router, its handlers and middleware.
//!
//! Handlers only translate: path, query and body in, [`Store`] call, JSON out. Every error,
//! including unknown routes, wrong methods and malformed requests that axum would otherwise
//! answer in plain text, leaves as `{"error": "<code>", "message": "<text>"}`.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

use super::store::{
    member_page, ErrorKind, GroupInput, GroupQuery, Listing, MemberInput, Page, PageLimits, Store,
    StoreError, UserInput, UserQuery, GROUP_PAGING, MEMBER_PAGING, USER_PAGING,
};

mod auth;
mod shape;
#[cfg(test)]
mod tests;

pub use auth::{DemoAuth, LOGIN_PATH, SESSION_HEADER, TOKEN_PATH};
pub use shape::{CreateAnswer, DemoShape, ListStyle, MemberHome, NextIn, NEXT_CURSOR_HEADER};
use shape::{ListUrl, Window};

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
    shape: DemoShape,
    /// `METHOD path?query` of every request, when asked for ([`DemoDirectory::with_request_log`]).
    log: Option<Arc<Mutex<Vec<String>>>>,
}

impl std::fmt::Debug for DemoDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoDirectory")
            .field("open", &self.auth.is_open())
            .field("requests", &self.request_count())
            .field("shape", &self.shape)
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
            shape: DemoShape::default(),
            log: None,
        }
    }

    /// The same data, answering in `shape` (see [`DemoShape`]).
    pub fn with_shape(mut self, shape: DemoShape) -> Self {
        self.shape = shape;
        self
    }

    /// Also records every request's method, path and query, for [`DemoDirectory::requests_seen`].
    pub fn with_request_log(mut self) -> Self {
        self.log = Some(Arc::default());
        self
    }

    /// `METHOD path?query` of each request so far, oldest first (empty without
    /// [`DemoDirectory::with_request_log`]): lets tests assert which calls the gateway made.
    pub fn requests_seen(&self) -> Vec<String> {
        self.log.as_ref().map_or_else(Vec::new, |log| {
            log.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
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
        let mut router = Router::new()
            .route(
                Users::PATH,
                get(list_records::<Users>).post(create_record::<Users>),
            )
            .route("/api/users/{id}", self.item_routes::<Users>())
            .route(
                Groups::PATH,
                get(list_records::<Groups>).post(create_record::<Groups>),
            )
            .route("/api/groups/{id}", self.item_routes::<Groups>());
        if self.shape.members == MemberHome::SubResource {
            router = router
                .route(
                    "/api/groups/{id}/members",
                    get(list_members).post(add_member),
                )
                .route("/api/groups/{id}/members/{user_id}", delete(remove_member));
        }
        router
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

    /// GET, PUT, PATCH and (unless the shape refuses deletes) DELETE of one record.
    fn item_routes<C: Collection>(&self) -> MethodRouter<DemoDirectory> {
        let routes = get(get_record::<C>)
            .put(replace_record::<C>)
            .patch(patch_record::<C>);
        if self.shape.refuse_deletes {
            routes
        } else {
            routes.delete(delete_record::<C>)
        }
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

/// A record as a JSON value, for the shapes that change it before answering.
fn to_json<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|err| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("failed to serialize a record: {err}"),
        )
    })
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
    if let Some(log) = &dir.log {
        let target = request.uri().path_and_query().map_or("", |p| p.as_str());
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{method} {target}"));
    }
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
    /// Singular noun for messages and envelopes ("user").
    const NOUN: &'static str;
    /// Plural noun for list envelopes ("users").
    const PLURAL: &'static str;
    /// Path of the collection ("/api/users").
    const PATH: &'static str;
    /// Paging limits of the list.
    const LIMITS: PageLimits;
    /// Whether [`MemberHome::OnUser`] holds group membership in these records.
    const HOLDS_GROUPS: bool;
    type Input;
    type Query;
    type Record: Serialize;

    fn input(body: &Value) -> Result<Self::Input, StoreError>;
    fn query(pairs: &[(String, String)]) -> Result<Self::Query, StoreError>;
    /// Makes the query read every match, for the shapes that page outside the store.
    fn unpage(query: &mut Self::Query);
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
    const PLURAL: &'static str = "users";
    const PATH: &'static str = "/api/users";
    const LIMITS: PageLimits = USER_PAGING;
    const HOLDS_GROUPS: bool = true;
    type Input = UserInput;
    type Query = UserQuery;
    type Record = super::store::User;

    fn input(body: &Value) -> Result<UserInput, StoreError> {
        UserInput::from_json(body)
    }
    fn query(pairs: &[(String, String)]) -> Result<UserQuery, StoreError> {
        UserQuery::from_pairs(pairs)
    }
    fn unpage(query: &mut UserQuery) {
        query.page = Page::everything();
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
    const PLURAL: &'static str = "groups";
    const PATH: &'static str = "/api/groups";
    const LIMITS: PageLimits = GROUP_PAGING;
    const HOLDS_GROUPS: bool = false;
    type Input = GroupInput;
    type Query = GroupQuery;
    type Record = super::store::Group;

    fn input(body: &Value) -> Result<GroupInput, StoreError> {
        GroupInput::from_json(body)
    }
    fn query(pairs: &[(String, String)]) -> Result<GroupQuery, StoreError> {
        GroupQuery::from_pairs(pairs)
    }
    fn unpage(query: &mut GroupQuery) {
        query.page = Page::everything();
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

impl DemoDirectory {
    /// A record as JSON in this directory's shape: with its `groups` when membership is
    /// held on the user.
    fn record_json<C: Collection>(
        &self,
        store: &Store,
        record: &C::Record,
    ) -> Result<Value, ApiError> {
        let mut value = to_json(record)?;
        if C::HOLDS_GROUPS && self.shape.members == MemberHome::OnUser {
            if let Value::Object(map) = &mut value {
                map.insert("groups".into(), store.groups_of(C::id(record)).into());
            }
        }
        Ok(value)
    }

    /// The answer carrying one record: the record as is in the default shape (no copy
    /// through `Value` on the benchmark's path), else shaped.
    fn record_answer<C: Collection>(
        &self,
        status: StatusCode,
        store: &Store,
        record: &C::Record,
    ) -> ApiResult {
        if self.shape.is_default() {
            return Ok(json(status, record));
        }
        Ok(self
            .shape
            .record(status, C::NOUN, self.record_json::<C>(store, record)?))
    }

    /// The record of a request body, and the `groups` it holds when membership is on the user.
    fn request_record<C: Collection>(
        &self,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(C::Input, Option<BTreeSet<u64>>), ApiError> {
        let mut body = self.shape.unwrap_request(body_json(body)?, C::NOUN)?;
        let groups = if C::HOLDS_GROUPS && self.shape.members == MemberHome::OnUser {
            shape::take_groups(&mut body)?
        } else {
            None
        };
        Ok((C::input(&body)?, groups))
    }
}

async fn list_records<C: Collection>(
    State(dir): State<DemoDirectory>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let mut pairs = query_pairs(query)?;
    if dir.shape.is_default() {
        let query = C::query(&pairs)?;
        return Ok(list_response(&C::list(&dir.read(), &query)));
    }
    let window = dir.shape.window(&mut pairs, C::LIMITS)?;
    let mut query = C::query(&pairs)?;
    if window != Window::Store {
        C::unpage(&mut query);
    }
    let store = dir.read();
    let listing = C::list(&store, &query);
    let (records, next) = window.apply(listing.items, |r| C::id(r));
    let page = records
        .into_iter()
        .map(|r| dir.record_json::<C>(&store, r))
        .collect::<Result<Vec<_>, _>>()?;
    let at = ListUrl::new(&headers, uri.path(), &pairs, window, C::PLURAL);
    Ok(dir.shape.list(page, listing.total, next, &at))
}

async fn get_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path, C::NOUN)?;
    let store = dir.read();
    dir.record_answer::<C>(StatusCode::OK, &store, C::get(&store, id)?)
}

async fn create_record<C: Collection>(
    State(dir): State<DemoDirectory>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (input, groups) = dir.request_record::<C>(body)?;
    let mut store = dir.write();
    // Checked before the create, so a refused body creates nothing.
    if let Some(groups) = &groups {
        store.check_groups(groups)?;
    }
    let id = C::id(C::create(&mut store, input)?);
    if let Some(groups) = &groups {
        store.set_groups(id, groups)?;
    }
    let record = C::get(&store, id)?;
    let location = format!("{}/{id}", C::PATH);
    if dir.shape.is_default() {
        return Ok(created(location, record));
    }
    let value = dir.record_json::<C>(&store, record)?;
    Ok(dir.shape.created(&headers, location, C::NOUN, id, value))
}

/// PUT (replace) or PATCH (merge), as `merge` says.
async fn update_record<C: Collection>(
    dir: DemoDirectory,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    merge: bool,
) -> ApiResult {
    let id = path_id(path, C::NOUN)?;
    let (input, mut groups) = dir.request_record::<C>(body)?;
    if C::HOLDS_GROUPS && dir.shape.members == MemberHome::OnUser && !merge {
        // PUT resets what it does not send, the groups too.
        groups.get_or_insert_with(BTreeSet::new);
    }
    let mut store = dir.write();
    if let Some(groups) = &groups {
        store.check_groups(groups)?;
    }
    if merge {
        C::patch(&mut store, id, input)?;
    } else {
        C::replace(&mut store, id, input)?;
    }
    if let Some(groups) = &groups {
        store.set_groups(id, groups)?;
    }
    dir.record_answer::<C>(StatusCode::OK, &store, C::get(&store, id)?)
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
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult {
    let group_id = path_id(path, "group")?;
    let mut pairs = query_pairs(query)?;
    if dir.shape.is_default() {
        let page = member_page(&pairs)?;
        return Ok(list_response(&dir.read().list_members(group_id, page)?));
    }
    let window = dir.shape.window(&mut pairs, MEMBER_PAGING)?;
    let page = match window {
        Window::Store => member_page(&pairs)?,
        _ => {
            // Still refuses unknown parameters.
            member_page(&pairs)?;
            Page::everything()
        }
    };
    let listing = dir.read().list_members(group_id, page)?;
    let (members, next) = window.apply(listing.items, |m| m.user_id);
    let page = members.iter().map(to_json).collect::<Result<_, _>>()?;
    let at = ListUrl::new(&headers, uri.path(), &pairs, window, "members");
    Ok(dir.shape.list(page, listing.total, next, &at))
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
