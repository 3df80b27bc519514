//! The gateway's error type and the one place that turns any failure into a SCIM response.
//!
//! Whose fault decides the status (as in pingora): a bad request is 4xx with a `scimType`
//! (already a [`ScimError`]); a backend failure is 502, a backend timeout 504, a backend
//! asking to back off 429/503 with `Retry-After`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::backend::BackendError;
use crate::scim::error::ScimError;

/// Any failure of a SCIM request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request cannot be served as sent, or the directory refused it for a reason the
    /// mapping translates.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The directory failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The request ran past `limits.request_timeout` before it wrote anything.
    #[error("the request took longer than {timeout_ms} ms")]
    Deadline { timeout_ms: u64 },
    /// The tenant's rate or concurrency limit shed the request.
    #[error("too many requests: {limit}")]
    Overloaded {
        /// Which limit (`rate_limit`, `max_concurrent_requests`), for the detail and logs.
        limit: &'static str,
        retry_after: u64,
    },
}

impl Error {
    /// The SCIM error the client sees.
    pub fn to_scim(&self) -> ScimError {
        match self {
            Error::Scim(e) => e.clone(),
            Error::Backend(e) => backend_to_scim(e),
            Error::Deadline { timeout_ms } => ScimError::new(
                504,
                format!(
                    "the request took longer than its deadline of {timeout_ms} ms, waiting for the directory (its calls, their retries, or an earlier write to the same resource); nothing was changed, retry the request"
                ),
            ),
            Error::Overloaded { limit, retry_after } => ScimError::new(
                429,
                format!("too many requests for this tenant ({limit}); retry later"),
            )
            .with_retry_after(*retry_after),
        }
    }
}

fn backend_to_scim(e: &BackendError) -> ScimError {
    match e {
        BackendError::Unreachable { .. } => {
            ScimError::new(502, format!("{e}; the request was not carried out")).with_retry_after(5)
        }
        BackendError::Timeout { .. } => ScimError::new(
            504,
            format!("{e}; the outcome is unknown, retry the request to converge"),
        ),
        BackendError::Status {
            status: status @ (429 | 503),
            retry_after,
            ..
        } => ScimError::new(
            *status,
            format!("the directory is overloaded or unavailable ({status})"),
        )
        .with_retry_after(retry_after.unwrap_or(5)),
        BackendError::Auth { status: 503, .. } => {
            ScimError::new(503, format!("{e}; the request was not carried out")).with_retry_after(5)
        }
        BackendError::Auth { .. } => {
            ScimError::new(502, format!("{e}; the request was not carried out"))
        }
        BackendError::Status { status: 401, .. } => ScimError::new(
            502,
            format!("{e}; the directory refused the gateway's credentials (check backend.auth)"),
        ),
        BackendError::CircuitOpen { retry_after } => {
            ScimError::new(503, format!("{e}; the request was not carried out"))
                .with_retry_after(*retry_after)
        }
        BackendError::Status { .. } | BackendError::BadAnswer { .. } => {
            ScimError::new(502, e.to_string())
        }
    }
}

impl Error {
    /// Logs what the operator needs (and the client must not see) and returns the SCIM
    /// error the client gets: for a response of its own, or for one operation of a bulk
    /// request.
    pub fn report(&self) -> ScimError {
        // No attribute values.
        match self {
            Error::Backend(BackendError::Unreachable { url, reason }) => {
                tracing::warn!(%url, %reason, "Backend unreachable.");
            }
            Error::Backend(BackendError::Timeout { timeout_ms }) => {
                tracing::warn!(timeout_ms, "Backend timed out.");
            }
            Error::Backend(BackendError::Status {
                status,
                method,
                path,
                ..
            }) => {
                tracing::warn!(status, %method, %path, "Backend refused the call.");
            }
            Error::Backend(BackendError::BadAnswer { method, path, .. }) => {
                tracing::warn!(%method, %path, "Backend answer unusable.");
            }
            Error::Backend(BackendError::Auth { reason, .. }) => {
                tracing::warn!(%reason, "Backend authentication failed.");
            }
            Error::Backend(BackendError::CircuitOpen { .. }) => {
                tracing::debug!("Circuit breaker open: request refused.");
            }
            Error::Deadline { timeout_ms } => {
                tracing::warn!(timeout_ms, "Request deadline passed before any write.");
            }
            Error::Overloaded { limit, .. } => {
                tracing::debug!(limit, "Request shed.");
            }
            Error::Scim(_) => {}
        }
        self.to_scim()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        scim_error_response(&self.report())
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scim_error_response(&self)
    }
}

/// The HTTP response for a SCIM error: RFC 7644 §3.12 body, SCIM media type, and
/// `Retry-After` / `WWW-Authenticate` where they apply.
pub fn scim_error_response(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, e.to_json().to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::server::SCIM_MEDIA_TYPE),
    );
    if let Some(seconds) = e.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if e.status == 401 {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimgate\""),
        );
    }
    response
}
