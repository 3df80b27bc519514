//! `scimgate translate`: one SCIM request through the real router and operations, with the
//! backend replaced by a [`Recorder`] that writes down every call instead of sending it.
//!
//! The recorder has to answer each call for the operation to go on, and it cannot know the
//! backend's data. It answers:
//! - a by-id read of a record it knows (the `--record` file for the request's own id, or a
//!   record created earlier in the same request) with that record;
//! - any other by-id read with a record holding only its id (the record exists, empty);
//! - every other read (lists: uniqueness checks, members, searches) with an empty body,
//!   which the gateway reads as an empty list;
//! - a POST with the sent record plus a made-up id (`201`, with `Location`);
//! - PUT, PATCH and DELETE with `204` and no body.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;

use crate::backend::{BackendRequest, BackendResponse};
use crate::config::Loaded;
use crate::mapping::{ResourceKind, ResourceMapping};
use crate::metrics::Metrics;
use crate::startup::build_tenants;

/// The id a recorded create answers with (string ids); integer ids get [`NEW_NUMERIC_ID`].
pub const NEW_ID: &str = "translate-new-id";
/// The id a recorded create answers with when the mapping's ids are integers.
pub const NEW_NUMERIC_ID: u64 = 900_000_001;

/// A stand-in backend: records calls and answers them as described in the module docs.
#[derive(Debug, Default)]
pub struct Recorder {
    state: Mutex<RecorderState>,
}

#[derive(Debug, Default)]
struct RecorderState {
    calls: Vec<RecordedCall>,
    /// Bodies of by-id reads, keyed by the read's path and query.
    known: HashMap<String, Value>,
}

/// One call the operation made and how the recorder answered it.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub request: BackendRequest,
    pub status: u16,
    pub answer: String,
}

impl Recorder {
    /// Answers the by-id read `path_and_query` with `body` (as the backend would send it).
    pub fn know(&self, path_and_query: String, body: Value) {
        self.lock().known.insert(path_and_query, body);
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `request` (made for a `kind` resource) and answers it.
    pub fn answer(
        &self,
        mappings: &crate::mapping::MappingSet,
        kind: ResourceKind,
        request: &BackendRequest,
    ) -> BackendResponse {
        let mapping = mappings.get(kind);
        let mut state = self.lock();
        let (status, headers, body, answer) = if request.method == Method::GET {
            if let Some(known) = state.known.get(&request.path_and_query) {
                (
                    200,
                    HeaderMap::new(),
                    Some(known.clone()),
                    "answered 200 with the record given (--record) or created above".to_owned(),
                )
            } else if let Some((read_kind, id)) = [ResourceKind::User, ResourceKind::Group]
                .into_iter()
                .find_map(|k| Some((k, by_id_read(mappings.get(k), request.path())?)))
                .filter(|_| !request.path_and_query.contains('?'))
            {
                let stub = id_only_record(mappings.get(read_kind), &id);
                (
                    200,
                    HeaderMap::new(),
                    Some(stub),
                    "answered 200 with a record holding only its id (translate does not know the directory's data)".to_owned(),
                )
            } else {
                (
                    200,
                    HeaderMap::new(),
                    None,
                    "answered 200 with no body (read as an empty list)".to_owned(),
                )
            }
        } else if request.method == Method::POST {
            let id = if mapping.id.integer {
                Value::from(NEW_NUMERIC_ID)
            } else {
                Value::String(NEW_ID.into())
            };
            let id_text = crate::mapping::template::value_text(&id);
            let sent = request.body.clone().unwrap_or(Value::Null);
            let mut record = match &mapping.request_key {
                Some(key) => sent.get(key).cloned().unwrap_or(Value::Null),
                None => sent,
            };
            if !record.is_object() {
                record = Value::Object(serde_json::Map::new());
            }
            let _ = mapping.id.path.write(&mut record, id.clone());
            let body = wrap_record(mapping, record);
            if let Some(path) = by_id_path(mapping, &id) {
                state.known.insert(path, body.clone());
            }
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("{}/{id_text}", request.path())) {
                headers.insert(LOCATION, v);
            }
            (
                201,
                headers,
                Some(body),
                format!("answered 201 with the sent record and the made-up id {id_text}"),
            )
        } else {
            (
                204,
                HeaderMap::new(),
                None,
                "answered 204 with no body".to_owned(),
            )
        };
        state.calls.push(RecordedCall {
            request: request.clone(),
            status,
            answer,
        });
        BackendResponse {
            status,
            headers,
            body: body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())),
        }
    }
}

/// The id in `path` when it is the mapping's by-id read (`GET /users/{id}`).
fn by_id_read(mapping: &ResourceMapping, path: &str) -> Option<String> {
    const MARK: &str = "translate0id0mark";
    let template = by_id_path(mapping, &Value::String(MARK.into()))?;
    let template = template.split('?').next().unwrap_or_default().to_owned();
    let (prefix, suffix) = template.split_once(MARK)?;
    let id = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// The rendered by-id read of `id`.
pub fn by_id_path(mapping: &ResourceMapping, id: &Value) -> Option<String> {
    let vars = |name: &str| (name == "id").then(|| id.clone());
    crate::ops::render_call(&mapping.get, &vars, &[], None)
        .ok()
        .map(|r| r.path_and_query)
}

/// A backend answer holding only the id `id`.
pub fn id_only_record(mapping: &ResourceMapping, id: &str) -> Value {
    let mut record = Value::Object(serde_json::Map::new());
    let id_json = mapping
        .id
        .to_json(id)
        .unwrap_or_else(|| Value::String(id.into()));
    let _ = mapping.id.path.write(&mut record, id_json);
    // Inside the scope: a record of someone else's would read as absent.
    if let Some(scope) = &mapping.list.scope {
        let _ = scope.path.write(&mut record, scope.value.clone());
    }
    wrap_record(mapping, record)
}

/// A record inside the single-record envelope, as the backend would answer it.
fn wrap_record(mapping: &ResourceMapping, record: Value) -> Value {
    match &mapping.envelope_record {
        Some(path) => {
            let mut outer = Value::Object(serde_json::Map::new());
            match path.write(&mut outer, record.clone()) {
                Ok(()) => outer,
                Err(_) => record,
            }
        }
        None => record,
    }
}

/// The header `backend.auth` adds to every call, if any.
fn auth_header(auth: &crate::config::BackendAuthSettings) -> Option<String> {
    match auth.mode.as_str() {
        "bearer" | "basic" | "oauth2" => Some("Authorization".into()),
        "api_key" => Some(auth.api_key.header.clone()),
        "login" => Some(auth.login.send_header.clone()),
        _ => None,
    }
}

/// Header names whose values are shown; every other header value is redacted.
const SHOWN_HEADERS: &[&str] = &["accept", "content-type", "x-request-id", "if-match"];

/// The calls as text: method, URL, headers (secrets redacted) and body, with the answer the
/// recorder gave.
pub fn render_calls(
    calls: &[RecordedCall],
    base_url: &str,
    configured_headers: &[String],
) -> String {
    let mut out = String::new();
    if calls.is_empty() {
        out.push_str("No backend calls.\n");
    }
    for (i, call) in calls.iter().enumerate() {
        let r = &call.request;
        let _ = writeln!(
            out,
            "{}. {} {}{}",
            i + 1,
            r.method,
            base_url,
            r.path_and_query
        );
        let mut headers: Vec<(String, String)> = configured_headers
            .iter()
            .map(|name| (name.clone(), "<redacted>".to_owned()))
            .collect();
        headers.push(("Accept".into(), "application/json".into()));
        if r.body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        for (name, value) in headers {
            let shown = SHOWN_HEADERS.contains(&name.to_ascii_lowercase().as_str());
            let value = if shown { value } else { "<redacted>".into() };
            let _ = writeln!(out, "   {name}: {value}");
        }
        if let Some(body) = &r.body {
            let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
            for line in pretty.lines() {
                let _ = writeln!(out, "   {line}");
            }
        }
        let _ = writeln!(out, "   -> {} ({})", call.status, call.answer);
    }
    out
}

/// The SCIM request to translate.
#[derive(Debug, Clone)]
pub struct ScimRequest {
    pub method: Method,
    /// Relative to the tenant's base path (or starting with it), query included.
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// The directory's current record for the id in `path`, as its by-id GET returns it.
    pub record: Option<Value>,
}

/// Runs `request` through the tenant `tenant` (or the only one) with a [`Recorder`] for a
/// backend, and describes the calls it made and the SCIM answer it would give.
pub async fn translate(
    loaded: &Loaded,
    tenant: Option<&str>,
    request: ScimRequest,
) -> Result<String, Vec<String>> {
    let names = || {
        loaded
            .tenants
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match tenant {
        Some(name) => loaded.tenants.iter().find(|t| t.name == name),
        None if loaded.tenants.len() == 1 => loaded.tenants.first(),
        None => {
            return Err(vec![format!(
                "translate: the config has several tenants; pick one with --tenant ({})",
                names()
            )])
        }
    };
    let Some(chosen) = chosen else {
        return Err(vec![format!(
            "--tenant {}: no tenant of that name ({})",
            tenant.unwrap_or_default(),
            names()
        )]);
    };
    // A token of its own, so that the real router (authentication included) can be used
    // whatever tokens the environment holds.
    let token = format!(
        "translate-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let mut settings = chosen.clone();
    settings.auth.tokens = vec![token.clone()];
    settings.auth.token_files.clear();
    let only = Loaded {
        tenants: vec![settings],
        ..loaded.clone()
    };
    let metrics = Metrics::new().map_err(|e| vec![format!("metrics: {e}")])?;
    let mut built = build_tenants(&only, Arc::new(metrics), &[])?;
    let mut tenant = built
        .pop()
        .ok_or_else(|| vec!["translate: no tenant built".to_owned()])?;
    let recorder = Arc::new(Recorder::default());
    if let Some(t) = Arc::get_mut(&mut tenant) {
        t.recorder = Some(recorder.clone());
    }
    if tenant.recorder.is_none() {
        return Err(vec![
            "translate: the tenant is shared; cannot attach the recorder".into(),
        ]);
    }

    let base = tenant.base_path.trim_end_matches('/');
    let relative = match request.path.strip_prefix(base) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest.to_owned(),
        _ => request.path.clone(),
    };
    let relative = if relative.starts_with('/') {
        relative
    } else {
        format!("/{relative}")
    };
    let target = target_of(&relative);
    let mut notes = Vec::new();
    if let Some((kind, id)) = &target {
        let mapping = tenant.mappings.get(*kind);
        if let Some(record) = &request.record {
            let id_json = mapping.id.to_json(id).unwrap_or(Value::String(id.clone()));
            if let Some(path) = by_id_path(mapping, &id_json) {
                recorder.know(path, record.clone());
                notes.push(format!(
                    "The read of {} {id} was answered with the --record file.",
                    kind.name()
                ));
            }
        } else if request.method != Method::POST {
            notes.push(format!(
                "No --record given: the read of {} {id} was answered with a record holding only its id, so the write is computed as if the record were empty.",
                kind.name()
            ));
        }
    }
    notes.push(
        "Reads cannot be known without the directory: other by-id reads were answered with a record holding only its id, lists as empty, creates with a made-up id.".into(),
    );
    notes.push("Header values other than Accept and Content-Type are redacted.".into());
    if matches!(chosen.backend.auth.mode.as_str(), "oauth2" | "login") {
        notes.push(format!(
            "backend.auth.mode {}: the token call is made once before the first call and again when the token expires or is refused; it is not shown.",
            chosen.backend.auth.mode
        ));
    }

    let uri = format!("{base}{relative}");
    let mut http = Request::builder()
        .method(request.method.clone())
        .uri(&uri)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    if request.body.is_some() {
        http = http.header(hyper::header::CONTENT_TYPE, crate::server::SCIM_MEDIA_TYPE);
    }
    let http = http
        .body(Body::from(request.body.clone().unwrap_or_default()))
        .map_err(|e| vec![format!("translate: {uri} is not a request path: {e}")])?;
    let router = crate::server::app(std::slice::from_ref(&tenant));
    let response = match router.oneshot(http).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| vec![format!("translate: cannot read the SCIM answer: {e}")])?;

    let mut out = String::new();
    let _ = writeln!(out, "Tenant {}: {} {uri}", tenant.name, request.method);
    let _ = writeln!(
        out,
        "Backend calls (NOT sent; answered by translate, see the notes):"
    );
    let mut configured: Vec<String> = chosen.backend.headers.keys().cloned().collect();
    configured.extend(auth_header(&chosen.backend.auth));
    out.push_str(&render_calls(
        &recorder.calls(),
        tenant.backend.base_url(),
        &configured,
    ));
    let _ = writeln!(out, "SCIM answer if the directory answered so: {status}");
    let text = String::from_utf8_lossy(&body);
    let pretty = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.into_owned());
    if !pretty.is_empty() {
        let _ = writeln!(out, "{pretty}");
    }
    let _ = writeln!(out, "Notes:");
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}

/// The resource type and id a relative SCIM path addresses (`/Users/42` → User, 42).
fn target_of(relative: &str) -> Option<(ResourceKind, String)> {
    let path = relative.split('?').next().unwrap_or_default();
    let mut segments = path.trim_start_matches('/').split('/');
    let kind = match segments.next()? {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        _ => return None,
    };
    let id = segments.next()?;
    if id.is_empty() || id.starts_with('.') || segments.next().is_some() {
        return None;
    }
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?
        .into_owned();
    Some((kind, id))
}
