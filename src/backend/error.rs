//! Failures talking to the backend. All of them are the upstream's fault: they become
//! 502/503/504 unless a mapping rule gives a backend status a SCIM meaning.

/// A failed backend call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// No connection could be made (refused, DNS, reset before an answer).
    // The URL is for logs only: the IdP has no business knowing the internal address.
    #[error("cannot reach the directory: {reason}")]
    Unreachable { url: String, reason: String },
    /// No complete answer within the configured timeout.
    #[error("the directory did not answer within {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    /// The directory answered with a status the mapping does not translate.
    #[error("the directory answered {status} to {method} {path}: {reason}")]
    Status {
        status: u16,
        method: String,
        path: String,
        /// A short, redacted excerpt of the body.
        reason: String,
        /// `Retry-After` seconds the directory asked for.
        retry_after: Option<u64>,
    },
    /// The circuit breaker is open: the directory failed repeatedly and is given time.
    #[error("the directory is failing; calls are paused for {retry_after} s")]
    CircuitOpen { retry_after: u64 },
    /// The answer was not what the mapping expects (not JSON, no id, no record list).
    #[error("the directory sent an unusable answer to {method} {path}: {reason}")]
    BadAnswer {
        method: String,
        path: String,
        reason: String,
    },
    /// The gateway could not obtain a credential (OAuth2 token, login). `status` is the
    /// SCIM status: 502 when the directory refused the credentials, 503 when it could not
    /// be asked. `reason` never holds a secret.
    #[error("the gateway could not authenticate to the directory: {reason}")]
    Auth { status: u16, reason: String },
}
