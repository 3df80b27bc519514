//! Outbound authentication to the directory (`backend.auth`): no credential, a static one
//! (bearer, basic, API key), or a renewable token (OAuth2 client credentials, a login call)
//! that is cached, renewed ahead of its expiry by one call at a time, and fetched again
//! when the directory answers 401.
//!
//! Secrets are read once at start-up (`env:NAME`, `file:PATH`), carried in sensitive
//! header values, and scrubbed from every error text before it can reach a log or a client.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::client::{BackendClient, ExchangeError};
use super::BackendError;
use crate::config::{parse_duration, resolve_secret, BackendAuthSettings};
use crate::mapping::path::BackendPath;

/// A credential header.
pub type Credential = (HeaderName, HeaderValue);

/// Longest excerpt of a token endpoint's refusal kept for the operator.
const MAX_REASON_CHARS: usize = 160;

/// How every backend call is authenticated.
#[derive(Debug)]
pub enum Outbound {
    None,
    /// The same header on every call (bearer, basic, API key), and the secrets it was built
    /// from (for scrubbing error texts: a basic header hides its password in base64).
    Static(Credential, Vec<String>),
    /// A token obtained from the directory and renewed as needed.
    Renewable(Box<TokenSource>),
}

/// Where a renewable token comes from.
#[derive(Debug)]
enum Grant {
    /// RFC 6749 §4.4: a form POST to the token endpoint, `access_token` and `expires_in`
    /// read from its JSON answer.
    ClientCredentials {
        url: String,
        form: String,
        client_basic: Option<HeaderValue>,
    },
    /// A JSON POST of the credentials; the token is in a header or at a body path.
    Login {
        url: String,
        body: Value,
        token: TokenLocation,
    },
}

#[derive(Debug)]
enum TokenLocation {
    Header(HeaderName),
    Body(BackendPath),
}

/// A renewable token and the state shared by every request that needs it.
pub struct TokenSource {
    grant: Grant,
    send_header: HeaderName,
    send_prefix: String,
    refresh_before: Duration,
    /// The secret values, for scrubbing error texts.
    secrets: Vec<String>,
    /// The current token. The lock is held while a new one is fetched, so concurrent
    /// requests wait for that one fetch instead of each making their own.
    current: tokio::sync::Mutex<Option<Token>>,
    /// The header value last obtained, readable without waiting for a fetch: error texts
    /// are scrubbed of it.
    issued: std::sync::Mutex<Option<HeaderValue>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.grant {
            Grant::ClientCredentials { url, .. } => format!("oauth2 {url}"),
            Grant::Login { url, .. } => format!("login {url}"),
        };
        f.debug_struct("TokenSource")
            .field("grant", &kind)
            .field("send_header", &self.send_header)
            .finish_non_exhaustive()
    }
}

struct Token {
    header: HeaderValue,
    /// When the token must be replaced; `None` when the directory gave no lifetime (it is
    /// then used until a 401).
    renew_at: Option<Instant>,
}

impl Outbound {
    /// The credential for the next call. `rejected` is the value the directory just
    /// answered 401 to: a renewable token equal to it is replaced.
    pub async fn credential(
        &self,
        client: &BackendClient,
        rejected: Option<&HeaderValue>,
    ) -> Result<Option<Credential>, BackendError> {
        match self {
            Outbound::None => Ok(None),
            Outbound::Static(c, _) => Ok(Some(c.clone())),
            Outbound::Renewable(source) => source.credential(client, rejected).await.map(Some),
        }
    }

    /// Every secret text this credential puts on the wire or was built from: the header
    /// value sent, the configured secrets and the token last issued.
    pub fn secret_texts(&self) -> Vec<String> {
        let text = |v: &HeaderValue| v.to_str().unwrap_or_default().to_owned();
        match self {
            Outbound::None => Vec::new(),
            Outbound::Static((_, value), secrets) => {
                let mut texts = secrets.clone();
                texts.push(text(value));
                texts
            }
            Outbound::Renewable(source) => {
                let issued = source.issued.lock().unwrap_or_else(PoisonError::into_inner);
                let mut texts = source.secrets.clone();
                texts.extend(issued.as_ref().map(text));
                texts
            }
        }
    }

    /// Whether a 401 is worth one retry with a fresh credential.
    pub fn renewable(&self) -> bool {
        matches!(self, Outbound::Renewable(_))
    }

    /// Builds the credential described by the settings; `base_url` resolves relative token
    /// and login paths. Problems are reported as `backend.auth.KEY: message`.
    pub fn from_settings(s: &BackendAuthSettings, base_url: &str) -> Result<Outbound, Vec<String>> {
        let problems = validate(s);
        if !problems.is_empty() {
            return Err(problems);
        }
        // validate() resolved every secret already; a failure here would be a race with the
        // environment or the file system, reported the same way.
        let secret = |key: &str, value: &str| {
            resolve_secret(value).map_err(|e| vec![format!("backend.auth.{key}: {e}")])
        };
        let base = base_url.trim_end_matches('/');
        let resolve_url = |path: &str| {
            if path.starts_with("http://") {
                path.to_owned()
            } else {
                format!("{base}/{}", path.trim_start_matches('/'))
            }
        };
        let fixed = |name: HeaderName, value: String, secrets: Vec<String>| {
            sensitive(&value)
                .map(|v| Outbound::Static((name, v), secrets))
                .map_err(|e| vec![format!("backend.auth: {e}")])
        };
        match s.mode.as_str() {
            "" | "none" => Ok(Outbound::None),
            "bearer" => {
                let token = secret("token", &s.token)?;
                fixed(AUTHORIZATION, format!("Bearer {token}"), vec![token])
            }
            "basic" => {
                let user = secret("username", &s.username)?;
                let password = secret("password", &s.password)?;
                let header = basic_credentials(&user, &password);
                fixed(
                    AUTHORIZATION,
                    header,
                    vec![format!("{user}:{password}"), password],
                )
            }
            "api_key" => {
                let name = header_name("api_key.header", &s.api_key.header)?;
                let value = secret("api_key.value", &s.api_key.value)?;
                fixed(name, value.clone(), vec![value])
            }
            "oauth2" => {
                let o = &s.oauth2;
                let id = secret("oauth2.client_id", &o.client_id)?;
                let key = secret("oauth2.client_secret", &o.client_secret)?;
                let mut form = vec![("grant_type", "client_credentials".to_owned())];
                if !o.scope.is_empty() {
                    form.push(("scope", o.scope.clone()));
                }
                let client_basic = if o.client_auth == "body" {
                    form.push(("client_id", id.clone()));
                    form.push(("client_secret", key.clone()));
                    None
                } else {
                    // RFC 6749 §2.3.1: both parts are form-encoded before the Basic encoding.
                    let header = basic_credentials(&form_encode(&id), &form_encode(&key));
                    Some(sensitive(&header).map_err(|e| vec![format!("backend.auth: {e}")])?)
                };
                let form = form
                    .iter()
                    .map(|(k, v)| format!("{k}={}", form_encode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                Ok(Outbound::Renewable(Box::new(TokenSource::new(
                    Grant::ClientCredentials {
                        url: resolve_url(&o.token_url),
                        form,
                        client_basic,
                    },
                    AUTHORIZATION,
                    "Bearer ".into(),
                    parse_duration(&o.refresh_before).unwrap_or_default(),
                    vec![id, key],
                ))))
            }
            "login" => {
                let l = &s.login;
                let user = secret("username", &s.username)?;
                let password = secret("password", &s.password)?;
                let template = match &l.body {
                    Value::Object(o) if !o.is_empty() => l.body.clone(),
                    _ => serde_json::json!({"username": "{username}", "password": "{password}"}),
                };
                let token = if l.token_header.is_empty() {
                    let path = BackendPath::parse(&l.token_path)
                        .map_err(|e| vec![format!("backend.auth.login.token_path: {e}")])?;
                    TokenLocation::Body(path)
                } else {
                    TokenLocation::Header(header_name("login.token_header", &l.token_header)?)
                };
                Ok(Outbound::Renewable(Box::new(TokenSource::new(
                    Grant::Login {
                        url: resolve_url(&l.path),
                        body: fill_credentials(&template, &user, &password),
                        token,
                    },
                    header_name("login.send_header", &l.send_header)?,
                    l.send_prefix.clone(),
                    Duration::ZERO,
                    vec![user, password],
                ))))
            }
            other => Err(vec![format!("backend.auth.mode: unknown mode {other:?}")]),
        }
    }
}

impl TokenSource {
    fn new(
        grant: Grant,
        send_header: HeaderName,
        send_prefix: String,
        refresh_before: Duration,
        secrets: Vec<String>,
    ) -> TokenSource {
        TokenSource {
            grant,
            send_header,
            send_prefix,
            refresh_before,
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
            current: tokio::sync::Mutex::new(None),
            issued: std::sync::Mutex::new(None),
        }
    }

    async fn credential(
        &self,
        client: &BackendClient,
        rejected: Option<&HeaderValue>,
    ) -> Result<Credential, BackendError> {
        let mut current = self.current.lock().await;
        let usable = current.as_ref().filter(|t| {
            t.renew_at.is_none_or(|at| Instant::now() < at) && rejected != Some(&t.header)
        });
        if let Some(token) = usable {
            return Ok((self.send_header.clone(), token.header.clone()));
        }
        // Drop a rejected or expired token even when the fetch below fails.
        *current = None;
        let token = self.fetch(client).await?;
        let header = token.header.clone();
        *self.issued.lock().unwrap_or_else(PoisonError::into_inner) = Some(header.clone());
        *current = Some(token);
        Ok((self.send_header.clone(), header))
    }

    /// One token or login call.
    async fn fetch(&self, client: &BackendClient) -> Result<Token, BackendError> {
        let (url, headers, payload) = match &self.grant {
            Grant::ClientCredentials {
                url,
                form,
                client_basic,
            } => {
                let headers: Vec<Credential> = client_basic
                    .iter()
                    .map(|v| (AUTHORIZATION, v.clone()))
                    .collect();
                let payload = (
                    "application/x-www-form-urlencoded",
                    Bytes::from(form.clone()),
                );
                (url, headers, payload)
            }
            Grant::Login { url, body, .. } => {
                let bytes = serde_json::to_vec(body).unwrap_or_default();
                (url, Vec::new(), ("application/json", Bytes::from(bytes)))
            }
        };
        let endpoint = url.split('?').next().unwrap_or_default();
        let response = client
            .exchange(&Method::POST, url, &headers, Some(payload))
            .await
            .map_err(|e| {
                let why = match e {
                    ExchangeError::Build(reason) => reason,
                    ExchangeError::Backend(e) => e.to_string(),
                };
                self.failure(503, format!("POST {endpoint} failed: {why}"))
            })?;
        if !response.is_success() {
            let status = response.status;
            // The directory is down or overloaded: try again later. Anything else means it
            // refused these credentials: the operator has to fix the configuration.
            let (scim_status, hint) = if status >= 500 || status == 429 {
                (503, "the directory's login is unavailable")
            } else {
                (502, "check the credentials in backend.auth")
            };
            let excerpt = refusal_excerpt(&response.body);
            return Err(self.failure(
                scim_status,
                format!("POST {endpoint} answered {status} ({excerpt}); {hint}"),
            ));
        }
        let (text, lifetime) = self.read_token(&response).map_err(|why| {
            self.failure(
                502,
                format!("POST {endpoint} answered without a token: {why}"),
            )
        })?;
        let header = sensitive(&format!("{}{text}", self.send_prefix)).map_err(|e| {
            self.failure(502, format!("POST {endpoint}: the token is unusable: {e}"))
        })?;
        let renew_at = lifetime.map(|life| {
            // Renew `refresh_before` ahead, but never earlier than half-way, so a short-lived
            // token is still used for a while.
            let ahead = self.refresh_before.min(life / 2);
            Instant::now() + life - ahead
        });
        tracing::debug!(
            endpoint,
            lifetime_s = lifetime.map(|l| l.as_secs()),
            "Obtained a backend token."
        );
        Ok(Token { header, renew_at })
    }

    /// The token text and its lifetime from a successful answer.
    fn read_token(
        &self,
        response: &super::BackendResponse,
    ) -> Result<(String, Option<Duration>), String> {
        match &self.grant {
            Grant::ClientCredentials { .. } => {
                let doc = response.json()?;
                let token = doc
                    .get("access_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or("no access_token in the JSON body")?;
                let lifetime = doc
                    .get("expires_in")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .map(Duration::from_secs);
                Ok((token.to_owned(), lifetime))
            }
            Grant::Login { token, .. } => {
                let text = match token {
                    TokenLocation::Header(name) => response
                        .header(name.as_str())
                        .map(str::to_owned)
                        .ok_or_else(|| format!("no {name} header"))?,
                    TokenLocation::Body(path) => {
                        let doc = response.json()?;
                        path.read(&doc)
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .ok_or("no string at the configured token_path")?
                    }
                };
                if text.is_empty() {
                    return Err("the token is empty".into());
                }
                Ok((text, None))
            }
        }
    }

    /// An authentication failure whose text holds none of the secrets.
    fn failure(&self, status: u16, reason: String) -> BackendError {
        let mut reason = reason;
        for secret in &self.secrets {
            reason = reason.replace(secret.as_str(), "[redacted]");
        }
        BackendError::Auth { status, reason }
    }
}

/// Every problem with `backend.auth`, as `backend.auth.KEY: message`.
pub fn validate(s: &BackendAuthSettings) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |key: &str, value: &str| {
        if value.is_empty() {
            problems.push(format!(
                "backend.auth.{key}: required for mode {:?}",
                s.mode
            ));
        } else if let Err(e) = resolve_secret(value) {
            problems.push(format!("backend.auth.{key}: {e}"));
        }
    };
    match s.mode.as_str() {
        "" | "none" => {}
        "bearer" => need("token", &s.token),
        "basic" => {
            need("username", &s.username);
            need("password", &s.password);
        }
        "api_key" => {
            need("api_key.header", &s.api_key.header);
            need("api_key.value", &s.api_key.value);
        }
        "oauth2" => {
            need("oauth2.token_url", &s.oauth2.token_url);
            need("oauth2.client_id", &s.oauth2.client_id);
            need("oauth2.client_secret", &s.oauth2.client_secret);
            if !matches!(s.oauth2.client_auth.as_str(), "" | "basic" | "body") {
                problems.push(format!(
                    "backend.auth.oauth2.client_auth: {:?} must be basic or body",
                    s.oauth2.client_auth
                ));
            }
            if parse_duration(&s.oauth2.refresh_before).is_none() {
                problems.push(format!(
                    "backend.auth.oauth2.refresh_before: {:?} is not a duration like 30s",
                    s.oauth2.refresh_before
                ));
            }
        }
        "login" => {
            need("username", &s.username);
            need("password", &s.password);
            need("login.path", &s.login.path);
            need("login.send_header", &s.login.send_header);
            let l = &s.login;
            match (l.token_header.is_empty(), l.token_path.is_empty()) {
                (true, true) | (false, false) => problems.push(
                    "backend.auth.login: set exactly one of token_header and token_path".into(),
                ),
                (true, false) => {
                    if let Err(e) = BackendPath::parse(&l.token_path) {
                        problems.push(format!("backend.auth.login.token_path: {e}"));
                    }
                }
                (false, true) => {}
            }
            if !matches!(l.body, Value::Object(_)) {
                problems.push("backend.auth.login.body: must be a JSON object".into());
            }
        }
        other => problems.push(format!(
            "backend.auth.mode: {other:?} must be none, bearer, basic, api_key, oauth2 or login"
        )),
    }
    for (key, value) in [
        ("api_key.header", &s.api_key.header),
        ("login.token_header", &s.login.token_header),
        ("login.send_header", &s.login.send_header),
    ] {
        if !value.is_empty() && HeaderName::from_bytes(value.as_bytes()).is_err() {
            problems.push(format!(
                "backend.auth.{key}: {value:?} is not a header name"
            ));
        }
    }
    problems
}

/// `Basic base64(user:password)` (RFC 7617).
pub fn basic_credentials(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding (RFC 4648 §4); the only user is the Basic scheme.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded` value encoding (everything but unreserved).
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A form-encoded value (also how OAuth2 client credentials are encoded for Basic).
pub fn form_encode(value: &str) -> String {
    utf8_percent_encode(value, FORM_VALUE).to_string()
}

fn sensitive(value: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| "a credential holds characters not allowed in a header".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}

fn header_name(key: &str, value: &str) -> Result<HeaderName, Vec<String>> {
    HeaderName::from_bytes(value.as_bytes()).map_err(|_| {
        vec![format!(
            "backend.auth.{key}: {value:?} is not a header name"
        )]
    })
}

/// The login body with `{username}` and `{password}` filled into every string.
fn fill_credentials(template: &Value, user: &str, password: &str) -> Value {
    match template {
        Value::String(s) => Value::String(
            s.replace("{username}", user)
                .replace("{password}", password),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_credentials(v, user, password))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_credentials(v, user, password)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a token endpoint said when it refused: OAuth2's `error`/`error_description`, a
/// `message`, or the first line of text; short.
fn refusal_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|doc| {
        ["error_description", "message", "error", "title"]
            .iter()
            .find_map(|k| match doc.get(*k)? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
    });
    let excerpt = from_json.unwrap_or_else(|| text.lines().next().unwrap_or_default().to_owned());
    let excerpt: String = excerpt.chars().take(MAX_REASON_CHARS).collect();
    if excerpt.trim().is_empty() {
        "no details".into()
    } else {
        excerpt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        // RFC 7617 §2's example.
        assert_eq!(
            basic_credentials("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn every_missing_setting_is_reported() {
        let mut s = BackendAuthSettings {
            mode: "login".into(),
            ..BackendAuthSettings::default()
        };
        s.login.body = Value::Object(Default::default());
        let problems = validate(&s);
        for key in [
            "username",
            "password",
            "login.path",
            "login.send_header",
            "login:",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(key)),
                "{key} missing in {problems:?}"
            );
        }
        s.mode = "kerberos".into();
        assert_eq!(validate(&s).len(), 1);
    }

    #[test]
    fn login_body_gets_the_credentials() {
        let template = serde_json::json!({"auth": {"user": {"name": "{username}", "password": "{password}"}, "n": 1}});
        assert_eq!(
            fill_credentials(&template, "admin", "s3cr\"t"),
            serde_json::json!({"auth": {"user": {"name": "admin", "password": "s3cr\"t"}, "n": 1}})
        );
    }

    #[test]
    fn refusals_are_short_and_scrubbed() {
        let source = TokenSource::new(
            Grant::Login {
                url: "http://x/login".into(),
                body: Value::Null,
                token: TokenLocation::Header(AUTHORIZATION),
            },
            AUTHORIZATION,
            String::new(),
            Duration::ZERO,
            vec!["hunter2".into()],
        );
        let excerpt = refusal_excerpt(br#"{"error":{"message":"bad password hunter2"}}"#);
        let BackendError::Auth { reason, .. } = source.failure(502, excerpt) else {
            panic!("not an auth error");
        };
        assert_eq!(reason, "bad password [redacted]");
    }
}
