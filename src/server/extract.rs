//! Request extraction that answers in SCIM: JSON bodies (media type, size limit, syntax) and
//! query strings. Rejections become [`ScimError`]s, never axum's plain-text bodies.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::scim::error::ScimError;
use crate::tenant::SharedTenant;

/// A JSON request body sent as `application/scim+json` or `application/json`.
pub struct ScimBody(pub Value);

impl FromRequest<SharedTenant> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, tenant: &SharedTenant) -> Result<Self, Self::Rejection> {
        let limit = tenant.max_body_bytes;
        read_json(req, limit, tenant.body_read_timeout, || {
            ScimError::new(
                413,
                format!("the request body is larger than the limit of {limit} bytes"),
            )
        })
        .await
        .map(ScimBody)
    }
}

/// A `/Bulk` request body: like [`ScimBody`], bounded by `limits.bulk_max_payload_bytes`
/// (the advertised `maxPayloadSize`) instead, with 413 `tooLarge` past it (RFC 7644 §3.7.4).
pub struct BulkBody(pub Value);

impl FromRequest<SharedTenant> for BulkBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, tenant: &SharedTenant) -> Result<Self, Self::Rejection> {
        let limit = tenant.bulk.max_payload_bytes;
        read_json(req, limit, tenant.body_read_timeout, || {
            crate::ops::too_large(format!(
                "the bulk request is larger than maxPayloadSize ({limit} bytes)"
            ))
        })
        .await
        .map(BulkBody)
    }
}

/// Reads a JSON object body of at most `limit` bytes that arrives within `timeout` (408).
async fn read_json(
    req: Request,
    limit: usize,
    timeout: std::time::Duration,
    too_large: impl FnOnce() -> ScimError,
) -> Result<Value, ScimError> {
    check_media_type(req.headers())?;
    let read = axum::body::to_bytes(req.into_body(), limit);
    let bytes = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| {
            ScimError::new(
                408,
                format!(
                    "the request body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            )
        })?
        .map_err(|e| {
            if is_length_limit(&e) {
                too_large()
            } else {
                // A broken chunked encoding or a connection cut mid-body.
                ScimError::invalid_syntax(format!("the request body could not be read: {e}"))
            }
        })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// Whether reading the body stopped at the size limit (and not on a broken body).
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// 415 unless the content type is SCIM or plain JSON (parameters such as charset allowed).
/// A missing content type is tolerated: some scripts omit it and the body is still JSON.
fn check_media_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/scim+json")
        || essence.eq_ignore_ascii_case("application/json")
    {
        Ok(())
    } else {
        Err(ScimError::new(
            415,
            format!(
                "unsupported media type {text:?}; send application/scim+json or application/json"
            ),
        ))
    }
}

/// Parses a raw query string as form-encoded pairs (`+` is a space, as Entra sends it).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}
