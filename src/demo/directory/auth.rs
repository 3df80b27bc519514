//! The demo directory's own authentication, so the gateway's outbound auth modes run
//! against a backend that really behaves that way: an API key, a static bearer token, HTTP
//! Basic, OAuth2 client credentials with a token endpoint issuing short-lived tokens, or a
//! login call issuing session tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::{constant_time_eq, json, ApiError, DemoDirectory, API_KEY_HEADER};
use crate::backend::auth::{basic_credentials, form_encode};

/// Path of the OAuth2 token endpoint (RFC 6749 §3.2).
pub const TOKEN_PATH: &str = "/oauth/token";
/// Path of the login call.
pub const LOGIN_PATH: &str = "/api/login";
/// Header the login call answers with, and that later calls must carry.
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("x-session-token");

/// What the directory demands of every API call.
#[derive(Clone, Default)]
pub enum DemoAuth {
    /// Nothing.
    #[default]
    Open,
    /// `X-Api-Key: <key>`.
    ApiKey(String),
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic ...` with these credentials.
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>` with a token from `POST /oauth/token` (client
    /// credentials grant), valid for `lifetime`.
    OAuth2 {
        client_id: String,
        client_secret: String,
        lifetime: Duration,
    },
    /// `X-Session-Token: <token>` with a token from `POST /api/login`
    /// (`{"username","password"}`), answered in the `X-Session-Token` header and as
    /// `{"session":{"token":…}}`, valid for `lifetime`.
    Login {
        username: String,
        password: String,
        lifetime: Duration,
    },
}

/// The auth mode plus the tokens issued so far.
#[derive(Default)]
pub(super) struct AuthGate {
    mode: DemoAuth,
    /// Issued token → when it stops working.
    issued: Mutex<HashMap<String, Instant>>,
    grants: AtomicU64,
    refused: AtomicU64,
}

impl AuthGate {
    pub(super) fn new(mode: DemoAuth) -> AuthGate {
        AuthGate {
            mode,
            ..AuthGate::default()
        }
    }

    pub(super) fn is_open(&self) -> bool {
        matches!(self.mode, DemoAuth::Open)
    }

    /// Tokens issued by the token endpoint or the login call.
    pub(super) fn grants(&self) -> u64 {
        self.grants.load(Ordering::Relaxed)
    }

    /// API calls refused with 401.
    pub(super) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Makes every issued token invalid (as a directory restart would).
    pub(super) fn revoke_all(&self) {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn issue(&self, lifetime: Duration) -> String {
        let token: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), Instant::now() + lifetime);
        self.grants.fetch_add(1, Ordering::Relaxed);
        token
    }

    fn is_live(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued
            .get(token)
            .is_some_and(|until| Instant::now() < *until)
    }

    /// `Ok` when the headers satisfy the mode, else the 401 message.
    fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let header = |name: &HeaderName| headers.get(name).map(HeaderValue::as_bytes);
        let bearer = || {
            header(&AUTHORIZATION)
                .and_then(|v| v.strip_prefix(b"Bearer "))
                .and_then(|t| std::str::from_utf8(t).ok())
        };
        match &self.mode {
            DemoAuth::Open => Ok(()),
            DemoAuth::ApiKey(key) => match header(&API_KEY_HEADER) {
                None => Err("missing X-Api-Key header"),
                Some(given) if constant_time_eq(given, key.as_bytes()) => Ok(()),
                Some(_) => Err("invalid API key"),
            },
            DemoAuth::Bearer(token) => match bearer() {
                None => Err("missing bearer token"),
                Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
                Some(_) => Err("invalid bearer token"),
            },
            DemoAuth::Basic { username, password } => {
                let expected = basic_credentials(username, password);
                match header(&AUTHORIZATION) {
                    None => Err("missing basic credentials"),
                    Some(given) if constant_time_eq(given, expected.as_bytes()) => Ok(()),
                    Some(_) => Err("invalid username or password"),
                }
            }
            DemoAuth::OAuth2 { .. } => match bearer() {
                None => Err("missing bearer token"),
                Some(token) if self.is_live(token) => Ok(()),
                Some(_) => Err("the access token is invalid or expired"),
            },
            DemoAuth::Login { .. } => match header(&SESSION_HEADER) {
                None => Err("missing X-Session-Token header"),
                Some(token) if std::str::from_utf8(token).is_ok_and(|t| self.is_live(t)) => Ok(()),
                Some(_) => Err("the session is invalid or expired"),
            },
        }
    }
}

/// Middleware: refuses API calls that do not satisfy the mode (the token endpoint and the
/// login call are reachable without a credential, as they must be).
pub(super) async fn require_auth(
    State(dir): State<DemoDirectory>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let exempt = match dir.auth.mode {
        DemoAuth::OAuth2 { .. } => path == TOKEN_PATH,
        DemoAuth::Login { .. } => path == LOGIN_PATH,
        _ => false,
    };
    if exempt {
        return next.run(request).await;
    }
    match dir.auth.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(message) => {
            dir.auth.refused.fetch_add(1, Ordering::Relaxed);
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
        }
    }
}

/// `POST /oauth/token`: the client-credentials grant, client authenticated by HTTP Basic or
/// by form fields (RFC 6749 §2.3.1).
pub(super) async fn token_endpoint(
    State(dir): State<DemoDirectory>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let DemoAuth::OAuth2 {
        client_id,
        client_secret,
        lifetime,
    } = &dir.auth.mode
    else {
        return ApiError::not_found("this directory has no token endpoint").into_response();
    };
    let form = parse_form(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        json(
            status,
            &json!({"error": error, "error_description": description}),
        )
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let by_header = headers.get(AUTHORIZATION).map(|given| {
        let expected = basic_credentials(&form_encode(client_id), &form_encode(client_secret));
        constant_time_eq(given.as_bytes(), expected.as_bytes())
    });
    let by_form = match (field("client_id"), field("client_secret")) {
        (Some(id), Some(secret)) => Some(
            constant_time_eq(id.as_bytes(), client_id.as_bytes())
                & constant_time_eq(secret.as_bytes(), client_secret.as_bytes()),
        ),
        _ => None,
    };
    if by_header.or(by_form) != Some(true) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let token = dir.auth.issue(*lifetime);
    json(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()}),
    )
}

/// `POST /api/login` with `{"username","password"}`.
pub(super) async fn login(State(dir): State<DemoDirectory>, body: Bytes) -> Response {
    let DemoAuth::Login {
        username,
        password,
        lifetime,
    } = &dir.auth.mode
    else {
        return ApiError::not_found("this directory has no login").into_response();
    };
    let given: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |k: &str| given.get(k).and_then(Value::as_str).unwrap_or_default();
    let user_ok = constant_time_eq(text("username").as_bytes(), username.as_bytes());
    let password_ok = constant_time_eq(text("password").as_bytes(), password.as_bytes());
    if !(user_ok & password_ok) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid username or password",
        )
        .into_response();
    }
    let token = dir.auth.issue(*lifetime);
    let mut response = json(
        StatusCode::OK,
        &json!({"session": {"token": token, "expires_in": lifetime.as_secs()}}),
    );
    if let Ok(value) = HeaderValue::from_str(&token) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}
