//! Thin handlers: extract, call `ops`, answer in `application/scim+json`.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, ETAG, HOST, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::extract::{query_pairs, ScimBody};
use super::SCIM_MEDIA_TYPE;
use crate::error::Error;
use crate::mapping::ResourceKind;
use crate::ops::{self, Ctx};
use crate::scim::error::ScimError;
use crate::scim::query::ListQuery;
use crate::tenant::SharedTenant;

/// A JSON body with the SCIM media type, and the resource's `ETag` when it has a version.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    if let Some(tag) = body
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(ETAG, tag);
    }
    response
}

/// The absolute SCIM base URL of a request: `public_url` if configured, else from the
/// `Host` (and `X-Forwarded-*`) headers.
pub fn base_url(tenant: &SharedTenant, headers: &HeaderMap) -> String {
    if let Some(url) = &tenant.public_url {
        return url.clone();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| headers.get(HOST).and_then(|v| v.to_str().ok()))
        .unwrap_or("localhost");
    let proto = header("x-forwarded-proto").unwrap_or("http");
    format!("{proto}://{host}{}", tenant.base_path)
}

fn ctx<'a>(tenant: &'a SharedTenant, headers: &HeaderMap, kind: ResourceKind) -> Ctx<'a> {
    Ctx {
        tenant,
        base_url: base_url(tenant, headers),
        kind,
        // Set (or generated) by the request-log layer.
        request_id: headers.get("x-request-id").cloned(),
        if_match: headers
            .get(IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        cached: true,
        deadline: std::sync::Arc::new(crate::deadline::RequestDeadline::new(
            tenant.request_timeout,
        )),
    }
}

fn parse_query(tenant: &SharedTenant, raw: Option<&str>) -> Result<ListQuery, ScimError> {
    ListQuery::parse(&query_pairs(raw), &tenant.limits)
}

pub async fn list(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let query = parse_query(&tenant, raw.as_deref())?;
    list_response(&tenant, &headers, kind, &query).await
}

async fn list_response(
    tenant: &SharedTenant,
    headers: &HeaderMap,
    kind: ResourceKind,
    query: &ListQuery,
) -> Result<Response, Error> {
    let body = ops::list(&ctx(tenant, headers, kind), query).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn search(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    let query = ListQuery::from_search_request(&body, &tenant.limits)?;
    list_response(&tenant, &headers, kind, &query).await
}

/// `POST /.search` across all resource types: not offered (RFC 7644 §3.4.3 makes it
/// optional; 501 tells clients to search per resource type instead).
pub async fn root_search() -> ScimError {
    ScimError::new(501, "searching across resource types is not supported; POST to /Users/.search or /Groups/.search")
}

pub async fn get(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let query = parse_query(&tenant, raw.as_deref())?;
    let body = ops::get(&ctx(&tenant, &headers, kind), &id, &query).await?;
    let version = body.pointer("/meta/version").and_then(Value::as_str);
    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .zip(version)
        .is_some_and(|(wanted, current)| {
            wanted
                .split(',')
                .any(|t| t.trim() == current || t.trim() == "*")
        });
    if unchanged {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn create(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    let created = ops::create(&ctx(&tenant, &headers, kind), &body).await?;
    let mut response = scim_json(StatusCode::CREATED, &created);
    if let Some(location) = created
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

pub async fn replace(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    let replaced = ops::replace(&ctx(&tenant, &headers, kind), &id, &body).await?;
    Ok(scim_json(StatusCode::OK, &replaced))
}

pub async fn patch(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    let patched = ops::patch(&ctx(&tenant, &headers, kind), &id, &body).await?;
    // Entra expects 204 for group PATCH and does not need the (possibly huge) member list.
    Ok(match kind {
        ResourceKind::Group => StatusCode::NO_CONTENT.into_response(),
        ResourceKind::User => scim_json(StatusCode::OK, &patched),
    })
}

pub async fn delete(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    ops::delete(&ctx(&tenant, &headers, kind), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// 404 for any path that is not a SCIM endpoint.
pub async fn unknown_route(OriginalUri(uri): OriginalUri) -> ScimError {
    ScimError::not_found(format!("no SCIM endpoint at {}", uri.path()))
}

/// 405 for a known endpoint and an unsupported method.
pub async fn method_not_allowed(
    method: axum::http::Method,
    OriginalUri(uri): OriginalUri,
) -> ScimError {
    ScimError::new(405, format!("{method} is not supported on {}", uri.path()))
}
