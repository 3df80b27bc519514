//! Pooled hyper-util HTTP/1 client for the backend: keep-alive connections, per-call
//! timeouts, a bounded response size and the outbound credential on every call.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::auth::Outbound;
use super::BackendError;

/// Largest backend body the gateway reads (a 1,000-member page is far below this).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// One call to make.
#[derive(Debug, Clone)]
pub struct BackendRequest {
    pub method: Method,
    /// Path and query, relative to the base URL (starts with `/`).
    pub path_and_query: String,
    pub body: Option<Value>,
    /// A read (changes nothing): the request deadline may cut it off.
    pub read: bool,
    /// Safe to send again after a failure: reads, and writes the mapping marks idempotent.
    pub idempotent: bool,
}

impl BackendRequest {
    /// The path without the query (query values may hold user data: keep them out of errors).
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or_default()
    }
}

/// A complete backend answer.
#[derive(Debug, Clone)]
pub struct BackendResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl BackendResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; an empty body is `null`.
    pub fn json(&self) -> Result<Value, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not JSON ({e})"))
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds: a number, or an HTTP-date counted from now (RFC 9110
    /// section 10.2.3; a date already past means 0).
    pub fn retry_after(&self) -> Option<u64> {
        retry_after_seconds(self.header("retry-after")?, SystemTime::now())
    }
}

fn retry_after_seconds(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    // Rounded up: retrying a fraction of a second early would only meet the same refusal.
    Some(at.duration_since(now).map_or(0, |wait| {
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }))
}

/// Client for one backend.
#[derive(Clone)]
pub struct BackendClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
    headers: HeaderMap,
    auth: Arc<Outbound>,
}

impl std::fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials: never print them.
        f.debug_struct("BackendClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl BackendClient {
    /// A client for `base_url` (`http://host:port[/prefix]`) that adds `headers` to every call.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        connect_timeout: Duration,
        headers: HeaderMap,
    ) -> Result<BackendClient, String> {
        let base = base_url.trim_end_matches('/').to_owned();
        let uri: Uri = format!("{base}/")
            .parse()
            .map_err(|e| format!("backend url `{base_url}` is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "backend url `{base_url}` must be http://host[:port][/path] (put TLS in front with the mesh or a sidecar)"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(BackendClient {
            client,
            base,
            timeout,
            headers,
            auth: Arc::new(Outbound::None),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `text` with every credential this client sends replaced by `[redacted]`: the
    /// configured header values, the auth secrets and the current token, each whole and
    /// without a scheme word such as `Bearer`. Backend error texts are relayed to the IdP,
    /// and a directory that echoes its request must not hand the credentials on. Values
    /// shorter than 6 characters are left alone: a header such as `X-Api-Version: 2` is no
    /// secret, and scrubbing every `2` would garble the text.
    pub fn redact(&self, text: &str) -> String {
        const SHORTEST_SECRET: usize = 6;
        let mut secrets: Vec<String> = self
            .headers
            .values()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .chain(self.auth.secret_texts())
            .collect();
        let schemeless: Vec<String> = secrets
            .iter()
            .filter_map(|s| s.split_once(' ').map(|(_, rest)| rest.to_owned()))
            .collect();
        secrets.extend(schemeless);
        // Longest first, so a token is not half-replaced through a secret it contains.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut text = text.to_owned();
        for secret in secrets.iter().filter(|s| s.len() >= SHORTEST_SECRET) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
        text
    }

    /// Authenticates every call with `auth` (replacing the default: none).
    pub fn with_auth(mut self, auth: Outbound) -> BackendClient {
        self.auth = Arc::new(auth);
        self
    }

    /// Sends one call with the configured headers and credential and reads the whole
    /// answer, within the timeout. When the directory answers 401 to a renewable credential
    /// (OAuth2, login), a new one is fetched and the call is sent once more.
    pub async fn send(
        &self,
        req: &BackendRequest,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<BackendResponse, BackendError> {
        let url = format!("{}{}", self.base, req.path_and_query);
        let body = req
            .body
            .as_ref()
            .map(|json| Bytes::from(serde_json::to_vec(json).unwrap_or_default()));
        let payload = body.map(|b| ("application/json", b));
        let credential = self.auth.credential(self, None).await?;
        let response = self
            .send_with(req, &url, payload.clone(), extra, credential.as_ref())
            .await?;
        match credential {
            Some(used) if response.status == 401 && self.auth.renewable() => {
                let fresh = self.auth.credential(self, Some(&used.1)).await?;
                self.send_with(req, &url, payload, extra, fresh.as_ref())
                    .await
            }
            _ => Ok(response),
        }
    }

    async fn send_with(
        &self,
        req: &BackendRequest,
        url: &str,
        payload: Option<(&'static str, Bytes)>,
        extra: &[(HeaderName, HeaderValue)],
        credential: Option<&(HeaderName, HeaderValue)>,
    ) -> Result<BackendResponse, BackendError> {
        let headers: Vec<(HeaderName, HeaderValue)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .chain(extra.iter().cloned())
            .chain(credential.cloned())
            .collect();
        self.exchange(&req.method, url, &headers, payload)
            .await
            .map_err(|e| match e {
                ExchangeError::Build(reason) => BackendError::BadAnswer {
                    method: req.method.to_string(),
                    path: req.path_and_query.clone(),
                    reason,
                },
                ExchangeError::Backend(e) => e,
            })
    }

    /// One HTTP exchange to an absolute `url` with exactly `headers` (no configured ones),
    /// within the timeout. Also used for token and login calls.
    pub(super) async fn exchange(
        &self,
        method: &Method,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        payload: Option<(&'static str, Bytes)>,
    ) -> Result<BackendResponse, ExchangeError> {
        let mut builder = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder = builder.header(ACCEPT, "application/json");
        let body = match payload {
            Some((content_type, bytes)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ExchangeError::Build(format!("cannot build the request: {e}")))?;
        let timeout_ms = self.timeout.as_millis() as u64;
        let call = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|e| BackendError::Unreachable {
                        url: self.base.clone(),
                        reason: error_chain(&e),
                    })?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| BackendError::BadAnswer {
                    method: method.to_string(),
                    path: url.split('?').next().unwrap_or_default().to_owned(),
                    reason: format!("body could not be read: {e}"),
                })?
                .to_bytes();
            Ok(BackendResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: bytes,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(BackendError::Timeout { timeout_ms }))
            .map_err(ExchangeError::Backend)
    }
}

/// Why [`BackendClient::exchange`] failed: the request could not be built, or the call failed.
#[derive(Debug)]
pub(super) enum ExchangeError {
    Build(String),
    Backend(BackendError),
}

/// The error and its sources on one line ("client error (Connect): tcp connect error: …").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::retry_after_seconds;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(retry_after_seconds(" 120 ", now), Some(120));
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30)
        );
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_seconds("soon", now), None);
        assert_eq!(retry_after_seconds("-5", now), None);
    }
}
