//! Thin handlers: extract, call `ops`, answer in `application/scim+json`.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, ETAG, HOST, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::extract::{query_pairs, BulkBody, ScimBody};
use super::SCIM_MEDIA_TYPE;
use crate::error::Error;
use crate::mapping::ResourceKind;
use crate::ops::{self, Answer, Ctx, Write, Written};
use crate::scim::error::ScimError;
use crate::scim::query::ListQuery;
use crate::tenant::SharedTenant;

/// A JSON body with the SCIM media type, and the resource's `ETag` when it has a version.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    // Straight into bytes: `Value`'s `Display` goes through a formatter adapter per write.
    let text = serde_json::to_vec(body).unwrap_or_default();
    let version = body.pointer("/meta/version").and_then(Value::as_str);
    scim_text(status, text, version)
}

/// [`scim_json`] for a body already serialised.
fn scim_text(status: StatusCode, body: Vec<u8>, version: Option<&str>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    if let Some(tag) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
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

/// `POST /{Resources}/.search`, or without a resource type `POST /.search` across Users
/// and Groups (RFC 7644 §3.4.3).
pub async fn search(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
    kind: Option<ResourceKind>,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    let query = ListQuery::from_search_request(&body, &tenant.limits)?;
    match kind {
        Some(kind) => list_response(&tenant, &headers, kind, &query).await,
        None => {
            // Each resource type gets its own context inside; User is only a placeholder.
            let request = ctx(&tenant, &headers, ResourceKind::User);
            let body = ops::search_all(&request, &query).await?;
            Ok(scim_json(StatusCode::OK, &body))
        }
    }
}

/// `POST /Bulk` (RFC 7644 §3.7): 200 with a BulkResponse whatever the operations' outcomes.
pub async fn bulk(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    body: Result<BulkBody, ScimError>,
) -> Result<Response, Error> {
    let BulkBody(body) = body?;
    // Each operation gets its own resource type and `version`; the request's If-Match
    // means nothing here.
    let request = ctx(&tenant, &headers, ResourceKind::User);
    let body = ops::bulk(&request, &body, &tenant.bulk).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub async fn get(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let query = parse_query(&tenant, raw.as_deref())?;
    let answer = ops::get(&ctx(&tenant, &headers, kind), &id, &query).await?;
    let (body, version) = match answer {
        Answer::Json { body, version } => (serde_json::to_vec(&body).unwrap_or_default(), version),
        Answer::Text { body, version } => (body, version),
    };
    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .zip(version.as_deref())
        .is_some_and(|(wanted, current)| ops::etag_matches(wanted, current));
    if unchanged {
        // A 304 carries the ETag it stands for (RFC 9110 §15.4.5).
        return Ok(scim_text(
            StatusCode::NOT_MODIFIED,
            Vec::new(),
            version.as_deref(),
        ));
    }
    Ok(scim_text(StatusCode::OK, body, version.as_deref()))
}

pub async fn create(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    write(&tenant, &headers, kind, Write::Create(&body)).await
}

pub async fn replace(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    write(&tenant, &headers, kind, Write::Replace(&id, &body)).await
}

pub async fn patch(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ScimBody, ScimError>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    let ScimBody(body) = body?;
    write(&tenant, &headers, kind, Write::Patch(&id, &body)).await
}

pub async fn delete(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    kind: ResourceKind,
) -> Result<Response, Error> {
    write(&tenant, &headers, kind, Write::Delete(&id)).await
}

/// Runs a write and answers with its status: the resource as the body (none for 204),
/// `ETag`, and `Location` for a create.
async fn write(
    tenant: &SharedTenant,
    headers: &HeaderMap,
    kind: ResourceKind,
    write: Write<'_>,
) -> Result<Response, Error> {
    let Written { status, resource } = ops::run(&ctx(tenant, headers, kind), write).await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let resource = match resource {
        Some(resource) if status != StatusCode::NO_CONTENT => resource,
        _ => return Ok(status.into_response()),
    };
    let mut response = scim_json(status, &resource);
    if status == StatusCode::CREATED {
        if let Some(location) = resource
            .pointer("/meta/location")
            .and_then(Value::as_str)
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(LOCATION, location);
        }
    }
    Ok(response)
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
