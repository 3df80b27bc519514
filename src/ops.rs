//! SCIM operations as plain async functions: no HTTP types, only a tenant, a resource type
//! and JSON. Each operation reads what it needs from the backend, computes the complete
//! result in the gateway (so a bad request changes nothing), and only then writes.
//!
//! - `read.rs`: get by id and list/search (pushdown, bounded scan, paging), per resource
//!   type and across both (root `/.search`).
//! - `write.rs`: create, replace (PUT), patch and delete, with uniqueness and membership.
//! - `dispatch.rs`: a write named as data and the status it answers with, shared by the
//!   single endpoints and `/Bulk`.
//! - `bulk.rs`: `/Bulk`, with `bulkId` references, `failOnErrors` and its limits.

mod bulk;
mod dispatch;
mod read;
mod write;

use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::backend::{BackendError, BackendRequest, BackendResponse};
use crate::cache::Rendered;
use crate::deadline::RequestDeadline;
use crate::error::Error;
use crate::mapping::template::{value_text, Escape, Vars};
use crate::mapping::{
    Call, ListCall, MembersMapping, Paging, ResourceKind, ResourceMapping, Total,
};
use crate::scim::error::ScimError;
use crate::scim::resource::project;
use crate::tenant::Tenant;

pub use bulk::{bulk, too_large, BulkLimits, BULK_REQUEST, BULK_RESPONSE};
pub use dispatch::{run, Write, Written};
pub use read::{get, list, search_all, Answer};
pub use write::{create, delete, patch, replace};

/// Characters percent-encoded in query values (RFC 3986 unreserved are kept).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Per-request context.
pub struct Ctx<'a> {
    pub tenant: &'a Tenant,
    /// Absolute SCIM base URL of this request, for `meta.location` and `$ref`.
    pub base_url: String,
    pub kind: ResourceKind,
    /// Request id, forwarded to the backend as `X-Request-Id` so logs on both sides join up.
    pub request_id: Option<HeaderValue>,
    /// The request's `If-Match` value: writes proceed only if the current version matches.
    pub if_match: Option<String>,
    /// Whether by-id reads may be answered from the lookup cache. Writes read the record
    /// they change with `false`: a merge computed on a stale copy would lose updates made
    /// behind the gateway's back.
    pub cached: bool,
    /// The request's overall deadline, shared by every context of the request.
    pub deadline: Arc<RequestDeadline>,
}

impl<'a> Ctx<'a> {
    /// The same request, for another resource type.
    pub fn for_kind(&self, kind: ResourceKind) -> Ctx<'a> {
        Ctx {
            tenant: self.tenant,
            base_url: self.base_url.clone(),
            kind,
            request_id: self.request_id.clone(),
            if_match: None,
            cached: self.cached,
            deadline: self.deadline.clone(),
        }
    }

    /// 412 unless the record's version matches the request's `If-Match` (RFC 7644 §3.14).
    fn check_precondition(&self, record: &Value) -> Result<(), Error> {
        let Some(wanted) = &self.if_match else {
            return Ok(());
        };
        let current = self.mapping().version_of(record);
        if etag_matches(wanted, &current) {
            Ok(())
        } else {
            Err(ScimError::new(
                412,
                format!("the resource has changed: its version is {current}, not {wanted}"),
            )
            .into())
        }
    }

    /// The same request with the lookup cache bypassed (for the read a write is based on).
    pub fn uncached(&self) -> Ctx<'a> {
        Ctx {
            cached: false,
            ..self.for_kind(self.kind)
        }
    }

    /// Sends one rendered request to the backend through the circuit breaker, with retries
    /// where safe, within the request's deadline. Every backend call passes here; under
    /// `scimgate translate` a recorder answers instead of the backend.
    async fn call_backend(&self, request: &BackendRequest) -> Result<BackendResponse, Error> {
        if let Some(recorder) = &self.tenant.recorder {
            return Ok(recorder.answer(&self.tenant.mappings, self.kind, request));
        }
        let tenant = self.tenant;
        let result = tenant
            .resilience
            .call(
                request,
                &self.deadline,
                || self.send_once(request),
                || {
                    tenant
                        .metrics
                        .retried(&tenant.name, request.method.as_str())
                },
            )
            .await;
        if let Err(Error::Backend(BackendError::CircuitOpen { .. })) = &result {
            tenant.metrics.shed(&tenant.name, "circuit_open");
        }
        result
    }

    /// One try of a backend call with the request id; records the backend metrics.
    async fn send_once(&self, request: &BackendRequest) -> Result<BackendResponse, BackendError> {
        let started = std::time::Instant::now();
        let result = match &self.request_id {
            Some(id) => {
                let extra = [(HeaderName::from_static("x-request-id"), id.clone())];
                self.tenant.backend.send(request, &extra).await
            }
            None => self.tenant.backend.send(request, &[]).await,
        };
        let status = result.as_ref().ok().map(|r| r.status);
        self.tenant.metrics.backend_call(
            &self.tenant.name,
            request.method.as_str(),
            status,
            started.elapsed(),
        );
        result
    }

    /// The mapping of this request's resource type.
    pub fn mapping(&self) -> &'a ResourceMapping {
        self.tenant.mappings.get(self.kind)
    }

    /// Renders and sends one mapped call; non-2xx answers become errors (mapped by the
    /// mapping's error rules where one matches).
    async fn send(
        &self,
        call: &Call,
        vars: &dyn Vars,
        extra_query: &[(String, String)],
        body: Option<Value>,
    ) -> Result<BackendResponse, Error> {
        let request = render_call(call, vars, extra_query, body)?;
        let response = self.call_backend(&request).await?;
        if response.is_success() {
            return Ok(response);
        }
        Err(self.refusal(&request, &response))
    }

    /// The error for a non-2xx answer.
    fn refusal(&self, request: &BackendRequest, response: &BackendResponse) -> Error {
        if let Some(mut mapped) = self.mapping().map_error(response.status, &response.body) {
            // `detail_from` copies the directory's text to the IdP.
            mapped.detail = self.tenant.backend.redact(&mapped.detail);
            return mapped.into();
        }
        BackendError::Status {
            status: response.status,
            method: request.method.to_string(),
            path: request.path().to_owned(),
            reason: short_reason(&response.body, |text| self.tenant.backend.redact(text)),
            retry_after: response.retry_after(),
        }
        .into()
    }

    /// Fetches one record by id from the backend (never the cache: the callers change it
    /// or need fields the cached resource does not keep); `Ok(None)` when the backend
    /// says it does not exist.
    async fn fetch_record(&self, id: &str) -> Result<Option<Value>, Error> {
        let Some(id_json) = self.mapping().id.to_json(id) else {
            return Ok(None);
        };
        self.fetch_record_from_backend(id_json).await
    }

    /// Fetches one resource by id for a read: the rendered resource from the lookup cache
    /// (filling it on a miss), or the backend record when this context bypasses the cache
    /// or it is off.
    async fn fetch_found(&self, id: &str) -> Result<Option<Found>, Error> {
        let Some(id_json) = self.mapping().id.to_json(id) else {
            return Ok(None);
        };
        if !self.cached || !self.tenant.cache.enabled() {
            let record = self.fetch_record_from_backend(id_json).await?;
            return Ok(record.map(Found::Record));
        }
        let key = crate::cache::key_of(&id_json);
        // Boxed: the backend call's state is large, and without the box every hit would
        // carry (and move) it as part of the request's future.
        let fetch = || {
            Box::pin(async move {
                match self.fetch_record_from_backend(id_json).await? {
                    Some(record) => self.render(&record).map(Some),
                    None => Ok(None),
                }
            })
        };
        let found = self.tenant.cache.record(self.kind, &key, fetch).await?;
        Ok(found.map(Found::Cached))
    }

    /// A backend record in its cached form: the SCIM resource rendered for every base URL.
    fn render(&self, record: &Value) -> Result<Rendered, Error> {
        let mapping = self.mapping();
        let (_, resource) = mapping
            .to_scim(record, crate::cache::base_marker())
            .ok_or_else(no_id)?;
        let plain = project(resource.clone(), &[], &[], &mapping.schema) == resource;
        let member_ids = match &mapping.members {
            Some(MembersMapping::Embedded(array)) => Some(array.ids(record)),
            _ => None,
        };
        Rendered::new(&resource, plain, member_ids).ok_or_else(|| {
            ScimError::new(502, "the directory returned a record too large to answer").into()
        })
    }

    /// A fetched resource as a SCIM resource tree, with members when asked for.
    async fn resource_of(&self, found: &Found, with_members: bool) -> Result<Value, Error> {
        let rendered = match found {
            Found::Record(record) => return self.resource_from(record, with_members).await,
            Found::Cached(rendered) => rendered,
        };
        let mut resource = rendered
            .to_value(&crate::cache::json_escaped(&self.base_url))
            .map_err(|e| ScimError::new(500, format!("lookup cache: unreadable entry: {e}")))?;
        if with_members && self.mapping().members.is_some() {
            let members = match rendered.member_ids() {
                Some(ids) => self.member_values(ids.iter()),
                None => {
                    let id = resource
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let mapping = self.mapping();
                    let id_json = mapping.id.to_json(id).unwrap_or(Value::String(id.into()));
                    let members = self.members_of(&id_json).await?;
                    self.member_values(members.iter().map(|(id, _)| id))
                }
            };
            if let Value::Object(map) = &mut resource {
                map.insert("members".into(), members);
            }
        }
        Ok(resource)
    }

    /// The cache key of an id as a request spells it (`"007"` and `7` are one record when
    /// ids are integers).
    fn cache_key(&self, id: &str) -> String {
        self.mapping()
            .id
            .to_json(id)
            .map_or_else(|| id.to_owned(), |v| crate::cache::key_of(&v))
    }

    /// The backend's GET of one record.
    async fn fetch_record_from_backend(&self, id_json: Value) -> Result<Option<Value>, Error> {
        let mapping = self.mapping();
        let vars = |name: &str| (name == "id").then(|| id_json.clone());
        let request = render_call(&mapping.get, &vars, &[], None)?;
        let response = self.call_backend(&request).await?;
        if response.status == 404 || response.status == 410 {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(self.refusal(&request, &response));
        }
        let body = response
            .json()
            .map_err(|reason| bad_answer(&request, reason))?;
        let record = mapping.unwrap_record(body);
        Ok((record.is_object() && !mapping.list.hides(&record)).then_some(record))
    }

    /// The record or a 404 naming the resource.
    async fn require_record(&self, id: &str) -> Result<Value, Error> {
        self.fetch_record(id)
            .await?
            .ok_or_else(|| self.not_found(id))
    }

    /// [`Ctx::fetch_found`] or a 404 naming the resource.
    async fn require_found(&self, id: &str) -> Result<Found, Error> {
        self.fetch_found(id)
            .await?
            .ok_or_else(|| self.not_found(id))
    }

    fn not_found(&self, id: &str) -> Error {
        ScimError::not_found(format!("{} {id} not found", self.kind.name())).into()
    }

    /// Fetches one backend page of `size` records: the one at a zero-based offset, or the
    /// one a previous page named (cursor token or next link).
    async fn fetch_page(
        &self,
        list: &ListCall,
        vars: &dyn Vars,
        params: &[(String, String)],
        from: PageFrom<'_>,
        size: u64,
    ) -> Result<Page, Error> {
        let mut query = params.to_vec();
        let offset = match from {
            PageFrom::Offset(o) => o,
            PageFrom::Next(_) => 0,
        };
        let mut follow = None;
        match &list.paging {
            Paging::None => {}
            Paging::Page {
                page_param,
                size_param,
                first,
                ..
            } => {
                query.push((
                    page_param.clone(),
                    (offset / size.max(1) + first).to_string(),
                ));
                query.push((size_param.clone(), size.to_string()));
            }
            Paging::Offset {
                offset_param,
                limit_param,
                ..
            } => {
                query.push((offset_param.clone(), offset.to_string()));
                query.push((limit_param.clone(), size.to_string()));
            }
            Paging::Cursor {
                cursor_param,
                first,
                size_param,
                ..
            } => {
                if let Some(p) = size_param {
                    query.push((p.clone(), size.to_string()));
                }
                let token = match from {
                    PageFrom::Next(t) => Some(t.to_owned()),
                    PageFrom::Offset(_) => first.clone(),
                };
                if let Some(t) = token {
                    query.push((cursor_param.clone(), t));
                }
            }
            Paging::NextLink { size_param, .. } => match from {
                PageFrom::Next(link) => follow = Some(link),
                PageFrom::Offset(_) => {
                    if let Some(p) = size_param {
                        query.push((p.clone(), size.to_string()));
                    }
                }
            },
        }
        let request = match follow {
            Some(link) => BackendRequest {
                method: list.call.method.clone(),
                path_and_query: link_path(self.tenant.backend.base_url(), link).ok_or_else(
                    || {
                        Error::from(BackendError::BadAnswer {
                            method: list.call.method.to_string(),
                            path: link.to_owned(),
                            reason: "the next-page link points outside the backend URL".into(),
                        })
                    },
                )?,
                body: None,
                read: true,
                idempotent: true,
            },
            None => render_call(&list.call, vars, &query, None)?,
        };
        let response = self.call_backend(&request).await?;
        if !response.is_success() {
            return Err(self.refusal(&request, &response));
        }
        let body = response
            .json()
            .map_err(|reason| bad_answer(&request, reason))?;
        let total = match &list.total {
            Total::Header(name) => response.header(name).and_then(|v| v.trim().parse().ok()),
            Total::Body(path) => path.read(&body).and_then(Value::as_u64),
            Total::Counted => None,
        };
        let next = match &list.paging {
            Paging::Cursor { next, .. } | Paging::NextLink { next, .. } => {
                next.read(&body, |h| response.header(h).map(str::to_owned))
            }
            _ => None,
        };
        let null_body = body.is_null();
        // Moved out, not copied: a 100-record page is most of a list request's work.
        let mut records = match list.records.take(body) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None if null_body => Vec::new(),
            _ => {
                return Err(bad_answer(
                    &request,
                    format!("no record array at `{}`", list.records),
                ))
            }
        };
        let fetched = records.len() as u64;
        if list.gone.is_some() || list.scope.is_some() {
            records.retain(|r| !list.hides(r));
        }
        // Some backends (json-server 1.0) answer a page number past the end with the last
        // page: a page that starts at or after the total holds nothing.
        if let (Paging::Page { .. }, Some(t)) = (&list.paging, total) {
            if offset - offset % size.max(1) >= t {
                records.clear();
            }
        }
        Ok(Page {
            records,
            fetched,
            total,
            next,
        })
    }

    /// Every record of a list call (all pages), up to `cap` records.
    async fn fetch_all(
        &self,
        list: &ListCall,
        vars: &dyn Vars,
        params: &[(String, String)],
        cap: u64,
    ) -> Result<Option<Vec<Value>>, Error> {
        let size = list.paging.max_size().unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut offset = 0;
        let mut token: Option<String> = None;
        loop {
            let from = token
                .as_deref()
                .map_or(PageFrom::Offset(offset), PageFrom::Next);
            let page = self.fetch_page(list, vars, params, from, size).await?;
            let got = page.fetched;
            out.extend(page.records);
            if out.len() as u64 > cap {
                return Ok(None);
            }
            let done = if list.paging.sequential() {
                // A repeated token would loop forever; an empty page ends the walk too.
                got == 0 || page.next.is_none() || page.next == token
            } else {
                matches!(list.paging, Paging::None)
                    || got < size
                    || got == 0
                    || page.total.is_some_and(|t| out.len() as u64 >= t)
            };
            if done {
                return Ok(Some(out));
            }
            offset += got;
            token = page.next;
        }
    }

    /// The membership records of a group as `(member id, record)`, in backend order,
    /// through the lookup cache unless this context bypasses it.
    async fn members_of(&self, group_id: &Value) -> Result<Vec<(String, Value)>, Error> {
        if self.tenant.mappings.groups.members.is_none() {
            return Ok(Vec::new());
        }
        if !self.cached {
            return self.members_from_backend(group_id).await;
        }
        let key = crate::cache::key_of(group_id);
        let found = self
            .tenant
            .cache
            .members(&key, || self.members_from_backend(group_id))
            .await?;
        Ok((*found).clone())
    }

    /// Every member of a group as `(user id, membership record)`, read from the backend
    /// (the record is `null` unless membership has records of its own).
    async fn members_from_backend(&self, group_id: &Value) -> Result<Vec<(String, Value)>, Error> {
        let group_text = value_text(group_id);
        match &self.tenant.mappings.groups.members {
            None => Ok(Vec::new()),
            Some(MembersMapping::Calls(members)) => {
                let vars = |name: &str| (name == "id").then(|| group_id.clone());
                let records = self
                    .fetch_all(&members.list, &vars, &[], u64::MAX)
                    .await?
                    .unwrap_or_default();
                Ok(records
                    .into_iter()
                    .filter_map(|r| {
                        let id = match members.member.read(&r)? {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some((id, r))
                    })
                    .collect())
            }
            Some(MembersMapping::Embedded(array)) => {
                let groups = self.for_kind(ResourceKind::Group);
                let ids = match groups.fetch_found(&group_text).await? {
                    Some(Found::Record(record)) => array.ids(&record),
                    Some(Found::Cached(rendered)) => rendered
                        .member_ids()
                        .map(<[String]>::to_vec)
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                Ok(ids.into_iter().map(|id| (id, Value::Null)).collect())
            }
            Some(MembersMapping::OnUser { array, find }) => {
                let vars = |name: &str| (name == "id").then(|| group_id.clone());
                let mut params = Vec::with_capacity(find.len());
                for (name, t) in find {
                    let value = t.render(&vars, Escape::None).map_err(|e| {
                        Error::from(ScimError::new(500, format!("mapping template: {e}")))
                    })?;
                    params.push((name.clone(), value));
                }
                let users = self.for_kind(ResourceKind::User);
                let user_mapping = users.mapping();
                let cap = self.tenant.max_scan;
                let no_vars = |_: &str| None;
                let records = users
                    .fetch_all(&user_mapping.list, &no_vars, &params, cap)
                    .await?
                    .ok_or_else(|| {
                        ScimError::new(
                            502,
                            format!("finding a group's members needs more than {cap} user records to be read; narrow them with `members.find`"),
                        )
                    })?;
                Ok(records
                    .into_iter()
                    .filter(|r| array.ids(r).contains(&group_text))
                    .filter_map(|r| Some((user_mapping.id.read(&r)?, Value::Null)))
                    .collect())
            }
        }
    }

    /// SCIM `members` values for member ids.
    fn member_values<'i>(&self, ids: impl Iterator<Item = &'i String>) -> Value {
        Value::Array(
            ids.map(|id| {
                json!({
                    "value": id,
                    "$ref": format!("{}/Users/{id}", self.base_url),
                    "type": "User",
                })
            })
            .collect(),
        )
    }
}

/// The readiness probe: the mapped User list call for one record. `Ok` means the backend
/// answered it with 2xx and a record list the mapping can read.
pub async fn probe(tenant: &Tenant) -> Result<(), Error> {
    let ctx = Ctx {
        tenant,
        base_url: String::new(),
        kind: ResourceKind::User,
        request_id: None,
        if_match: None,
        cached: false,
        deadline: Arc::new(RequestDeadline::none()),
    };
    let no_vars = |_: &str| None;
    ctx.fetch_page(&ctx.mapping().list, &no_vars, &[], PageFrom::Offset(0), 1)
        .await
        .map(|_| ())
}

/// A resource fetched for a read.
enum Found {
    /// The backend's record (the cache was bypassed or is off).
    Record(Value),
    /// The rendered resource from the lookup cache.
    Cached(Arc<Rendered>),
}

/// 502 for a directory record without a readable id.
fn no_id() -> Error {
    ScimError::new(502, "the directory returned a record without an id").into()
}

/// One backend page.
struct Page {
    records: Vec<Value>,
    /// How many records the backend sent (soft-deleted ones included): paging counts these.
    fetched: u64,
    total: Option<u64>,
    /// The cursor token or link of the next page (sequential paging styles).
    next: Option<String>,
}

/// Where a page starts: a zero-based offset (the first page of sequential styles is offset
/// 0), or the token / link a previous page named.
#[derive(Clone, Copy)]
enum PageFrom<'s> {
    Offset(u64),
    Next(&'s str),
}

/// A next-page link as a path relative to the backend base URL: an absolute URL must lie
/// under the base URL (the gateway sends its credentials nowhere else), a path must start
/// with the base URL's own path.
fn link_path(base: &str, link: &str) -> Option<String> {
    let rel = if link.starts_with('/') {
        let after_scheme = base.split_once("://").map_or(base, |(_, r)| r);
        let prefix = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
        link.strip_prefix(prefix)?
    } else {
        link.strip_prefix(base)?
    };
    match rel.chars().next() {
        None => Some("/".into()),
        Some('/') => Some(rel.to_owned()),
        Some('?') => Some(format!("/{rel}")),
        Some(_) => None,
    }
}

/// Renders a mapped call into a request.
pub(crate) fn render_call(
    call: &Call,
    vars: &dyn Vars,
    extra_query: &[(String, String)],
    body: Option<Value>,
) -> Result<BackendRequest, Error> {
    let template_error =
        |e: String| Error::from(ScimError::new(500, format!("mapping template: {e}")));
    let mut path = call
        .path
        .render(vars, Escape::PathSegment)
        .map_err(template_error)?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, t) in &call.query {
        pairs.push((
            name.clone(),
            t.render(vars, Escape::None).map_err(template_error)?,
        ));
    }
    pairs.extend(extra_query.iter().cloned());
    if !pairs.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, QUERY_VALUE),
                    utf8_percent_encode(v, QUERY_VALUE)
                )
            })
            .collect();
        path.push_str(&encoded.join("&"));
    }
    let body = match (&call.body, body) {
        (_, Some(b)) => Some(b),
        (Some(t), None) => Some(t.render(vars).map_err(template_error)?),
        (None, None) => None,
    };
    Ok(BackendRequest {
        method: call.method.clone(),
        path_and_query: path,
        body,
        read: call.read,
        idempotent: call.idempotent,
    })
}

fn bad_answer(request: &BackendRequest, reason: String) -> Error {
    BackendError::BadAnswer {
        method: request.method.to_string(),
        path: request.path().to_owned(),
        reason,
    }
    .into()
}

/// A short excerpt of a backend error body for operators: the `message`/`error` field of a
/// JSON body when there is one, else the first line of text, cut to 160 characters.
/// Whether an `If-Match` / `If-None-Match` list names `current` (or is `*`). The comparison
/// is weak (RFC 9110 §8.8.3.2): `"x"` and `W/"x"` are the same version.
pub fn etag_matches(list: &str, current: &str) -> bool {
    let opaque = |tag: &str| {
        tag.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    list.split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(current))
}

/// The directory's own words for a refusal, at most 160 characters, passed through `redact`
/// before they are cut (a secret cut in half would no longer be recognised).
fn short_reason(body: &[u8], redact: impl Fn(&str) -> String) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|doc| {
        ["message", "detail", "error", "title"]
            .iter()
            .find_map(|k| {
                let v = doc.get(*k)?;
                match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                }
            })
    });
    let reason = from_json.unwrap_or_else(|| text.lines().next().unwrap_or_default().to_owned());
    let reason: String = redact(&reason).chars().take(160).collect();
    if reason.trim().is_empty() {
        "no details".into()
    } else {
        reason
    }
}

#[cfg(test)]
mod link_tests {
    use super::link_path;

    #[test]
    fn next_links_stay_under_the_backend_url() {
        let base = "http://127.0.0.1:3000/api";
        assert_eq!(
            link_path(base, "http://127.0.0.1:3000/api/users?page=2").as_deref(),
            Some("/users?page=2")
        );
        assert_eq!(
            link_path(base, "/api/users?page=2").as_deref(),
            Some("/users?page=2")
        );
        assert_eq!(link_path(base, "http://evil.test/api/users"), None);
        assert_eq!(link_path(base, "http://127.0.0.1:3000/apix/users"), None);
        assert_eq!(link_path(base, "/other/users"), None);
        assert_eq!(
            link_path("http://127.0.0.1:3000", "/users?_page=2").as_deref(),
            Some("/users?_page=2")
        );
    }
}
