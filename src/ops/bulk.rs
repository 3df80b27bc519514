//! `POST /Bulk` (RFC 7644 §3.7): many writes in one request, each run through the same
//! [`dispatch::run`](super::dispatch::run) as the single endpoints, so dialect
//! normalisation, schema checks, write locks, cache upkeep, audit logs and metrics are the
//! same.
//!
//! What this module decides (and why):
//!
//! - The request as a whole fails (nothing runs) only when it cannot be read as a
//!   BulkRequest at all: wrong or missing `schemas`, no `Operations` array, an operation that
//!   is not an object, a `bulkId` that is not a string or is used twice, a `failOnErrors`
//!   that is not a positive integer (400), or more than `maxOperations` operations (413).
//!   The payload size is checked while reading the body (`server::extract`).
//! - Everything wrong with one operation fails only that operation, as its own request
//!   would (§3.7.3: bulk is not atomic, operations before and after still run):
//!   a missing or unsupported `method`, a missing `path` or `data`, a POST without
//!   `bulkId` (400 invalidSyntax); a path that is no resource endpoint (404) or does not
//!   take the method (405), exactly what the single endpoint answers.
//! - `bulkId:xyz`, as a path segment or as any string value anywhere in `data`, is
//!   replaced by the id the POST with bulkId `xyz` created. A POST runs before the first
//!   operation that references it, wherever it stands in the request; results are listed
//!   in request order.
//! - A reference to a bulkId that no POST of the request carries is 400 invalidValue: the
//!   request itself is wrong, whatever the directory holds. A reference to a POST that
//!   failed, or that is part of a reference cycle, is 409: §3.7.1 gives 409 Conflict for
//!   references the service provider could not resolve, and it lets the provider stop at
//!   cycles instead of breaking them up (the operations of a cycle get 409; nothing hangs).
//! - `failOnErrors: n` stops after the n-th failed operation; operations not run by then
//!   are left out of the response.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::dispatch::{self, Write, Written};
use super::Ctx;
use crate::mapping::target::get_ci;
use crate::mapping::ResourceKind;
use crate::scim::error::{ScimError, ScimType};

/// BulkRequest message URN.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// BulkResponse message URN.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Prefix of a reference to another operation's new resource (RFC 7644 §3.7.2).
const REFERENCE: &str = "bulkId:";

/// Bounds of one bulk request (advertised in `/ServiceProviderConfig`, RFC 7644 §3.7.4).
#[derive(Debug, Clone, Copy)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload_bytes: usize,
}

/// The 413 for a bulk request past a limit (RFC 7644 §3.7.4).
pub fn too_large(detail: String) -> ScimError {
    ScimError {
        scim_type: Some(ScimType::TooLarge),
        ..ScimError::new(413, detail)
    }
}

/// `POST /Bulk`: runs the operations and returns the BulkResponse. `ctx` carries the
/// request (base URL, request id); each operation gets its own resource type and version.
pub async fn bulk(ctx: &Ctx<'_>, body: &Value, limits: &BulkLimits) -> Result<Value, ScimError> {
    let request = parse(body, limits)?;
    let order = plan(&request.operations);
    let mut results: Vec<Option<Value>> = vec![None; request.operations.len()];
    let mut created: HashMap<String, String> = HashMap::new();
    let mut errors = 0;
    for step in order {
        let op = &request.operations[step.index];
        let span = tracing::info_span!("bulk_operation", index = step.index);
        let outcome = run_one(ctx, op, step.cyclic, &created)
            .instrument(span)
            .await;
        match &outcome.result {
            Ok((_, id)) => {
                if let (Method::Post, Some(bulk_id)) = (op.method, &op.bulk_id) {
                    created.insert(bulk_id.clone(), id.clone());
                }
            }
            Err(_) => errors += 1,
        }
        results[step.index] = Some(outcome.to_json(op));
        if request.fail_on_errors.is_some_and(|max| errors >= max) {
            break;
        }
    }
    Ok(json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Put,
    Patch,
    Delete,
    /// Missing or not one of the four; the operation fails with its `problem`.
    Invalid,
}

impl Method {
    fn name(self) -> Option<&'static str> {
        match self {
            Method::Post => Some("POST"),
            Method::Put => Some("PUT"),
            Method::Patch => Some("PATCH"),
            Method::Delete => Some("DELETE"),
            Method::Invalid => None,
        }
    }
}

/// Where an operation's path points.
#[derive(Debug, Clone)]
enum Target {
    Collection(ResourceKind),
    /// The id as sent (percent-decoded), possibly a `bulkId:` reference.
    Item(ResourceKind, String),
}

/// One parsed operation.
#[derive(Debug)]
struct Operation {
    method: Method,
    /// The method as sent, echoed when it is not one of the four.
    method_sent: Option<String>,
    bulk_id: Option<String>,
    version: Option<String>,
    target: Option<Target>,
    data: Option<Value>,
    /// Why the operation fails without running, when it does.
    problem: Option<ScimError>,
    /// bulkIds referenced in the path and data, each once.
    references: Vec<String>,
}

struct BulkRequest {
    operations: Vec<Operation>,
    fail_on_errors: Option<usize>,
}

fn parse(body: &Value, limits: &BulkLimits) -> Result<BulkRequest, ScimError> {
    let schema_ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|u| u.eq_ignore_ascii_case(BULK_REQUEST))
        });
    if !schema_ok {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST}"
        )));
    }
    let fail_on_errors = match get_ci(body, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "failOnErrors must be a positive integer, not {v}"
                )))
            }
        },
    };
    let Some(items) = get_ci(body, "Operations").and_then(Value::as_array) else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest needs an Operations array",
        ));
    };
    if items.len() > limits.max_operations {
        return Err(too_large(format!(
            "the bulk request has {} operations, more than maxOperations ({})",
            items.len(),
            limits.max_operations
        )));
    }
    let mut operations = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] is not an object"
            )));
        }
        operations.push(parse_operation(i, item)?);
    }
    let mut defined: HashMap<&str, usize> = HashMap::new();
    for (i, op) in operations.iter().enumerate() {
        let Some(bulk_id) = &op.bulk_id else { continue };
        if let Some(first) = defined.insert(bulk_id, i) {
            return Err(ScimError::invalid_value(format!(
                "bulkId {bulk_id:?} is used by Operations[{first}] and Operations[{i}]; bulkIds must be unique within a request"
            )));
        }
    }
    let posts: HashSet<String> = operations
        .iter()
        .filter(|op| op.method == Method::Post)
        .filter_map(|op| op.bulk_id.clone())
        .collect();
    for op in &mut operations {
        let undefined = op.references.iter().find(|r| !posts.contains(*r));
        if let (None, Some(name)) = (&op.problem, undefined) {
            op.problem = Some(ScimError::invalid_value(format!(
                "{REFERENCE}{name} names no POST operation of this request"
            )));
        }
    }
    Ok(BulkRequest {
        operations,
        fail_on_errors,
    })
}

/// Parses one operation object; problems of the operation are kept in it, problems that
/// make the whole request unreadable are returned.
fn parse_operation(index: usize, item: &Value) -> Result<Operation, ScimError> {
    let text = |key: &str| -> Result<Option<String>, ScimError> {
        match get_ci(item, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ScimError::invalid_syntax(format!(
                "Operations[{index}].{key} must be a string, not {other}"
            ))),
        }
    };
    let method_sent = text("method")?;
    let bulk_id = text("bulkId")?;
    let version = text("version")?;
    let path = text("path")?;
    let data = get_ci(item, "data").filter(|d| !d.is_null()).cloned();
    let method = match method_sent
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        _ => Method::Invalid,
    };
    let mut op = Operation {
        method,
        method_sent,
        bulk_id,
        version,
        target: None,
        data,
        problem: None,
        references: Vec::new(),
    };
    op.problem = check_operation(&mut op, path.as_deref()).err();
    if let Some(Target::Item(_, id)) = &op.target {
        if let Some(name) = id.strip_prefix(REFERENCE) {
            op.references.push(name.to_owned());
        }
    }
    if let Some(data) = &op.data {
        collect_references(data, &mut op.references);
    }
    let mut seen = HashSet::new();
    op.references.retain(|r| seen.insert(r.clone()));
    Ok(op)
}

/// The operation's target, or why it cannot run.
fn check_operation(op: &mut Operation, path: Option<&str>) -> Result<(), ScimError> {
    let Some(method) = op.method.name() else {
        return Err(ScimError::invalid_syntax(match &op.method_sent {
            Some(m) => format!("method must be POST, PUT, PATCH or DELETE, not {m:?}"),
            None => "every operation needs a method (POST, PUT, PATCH or DELETE)".into(),
        }));
    };
    let Some(path) = path else {
        return Err(ScimError::invalid_syntax(
            "every operation needs a path, such as /Users or /Users/{id}",
        ));
    };
    let target = parse_path(path)?;
    match (&target, op.method) {
        (Target::Collection(_), Method::Post)
        | (Target::Item(..), Method::Put)
        | (Target::Item(..), Method::Patch)
        | (Target::Item(..), Method::Delete) => {}
        _ => {
            return Err(ScimError::new(
                405,
                format!("{method} is not supported on {path}"),
            ))
        }
    }
    op.target = Some(target);
    match op.bulk_id.as_deref() {
        None if op.method == Method::Post => {
            return Err(ScimError::invalid_syntax(
                "a POST operation needs a bulkId (RFC 7644 §3.7.3)",
            ))
        }
        // `bulkId:` with nothing after it could never be told from a plain string value.
        Some(id) if id.trim().is_empty() => {
            return Err(ScimError::invalid_syntax("a bulkId must not be empty"))
        }
        _ => {}
    }
    let needs_data = op.method != Method::Delete;
    if needs_data && !op.data.as_ref().is_some_and(Value::is_object) {
        return Err(ScimError::invalid_syntax(format!(
            "a {method} operation needs a data object"
        )));
    }
    Ok(())
}

/// `/Users`, `/Groups`, `/Users/{id}`, `/Groups/{id}`; anything else is 404, as at the
/// single endpoints.
fn parse_path(path: &str) -> Result<Target, ScimError> {
    let not_found = || ScimError::not_found(format!("no SCIM resource endpoint at {path}"));
    let mut segments = path.strip_prefix('/').ok_or_else(not_found)?.split('/');
    let kind = match segments.next() {
        Some("Users") => ResourceKind::User,
        Some("Groups") => ResourceKind::Group,
        _ => return Err(not_found()),
    };
    match (segments.next(), segments.next()) {
        (None, _) => Ok(Target::Collection(kind)),
        (Some(id), None) if !id.is_empty() => {
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            Ok(Target::Item(kind, id.into_owned()))
        }
        _ => Err(not_found()),
    }
}

/// Every `bulkId:` reference among the string values of `value`.
fn collect_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(REFERENCE) {
                out.push(name.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// Replaces every `bulkId:` reference with the created id; `Err` names a reference whose
/// POST did not succeed.
fn substitute(value: &mut Value, created: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(REFERENCE) {
                *s = created.get(name).cloned().ok_or_else(|| name.to_owned())?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| substitute(v, created)),
        Value::Object(map) => map.values_mut().try_for_each(|v| substitute(v, created)),
        _ => Ok(()),
    }
}

/// One step of the execution order.
struct Step {
    index: usize,
    /// Part of a reference cycle: fails with 409 instead of running.
    cyclic: bool,
}

/// The execution order: request order, except that a POST runs before the operations that
/// reference it. Depth-first with an explicit stack (no recursion, so a long chain of
/// references cannot exhaust the stack); a reference back into the stack is a cycle.
fn plan(operations: &[Operation]) -> Vec<Step> {
    let defined: HashMap<&str, usize> = operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == Method::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let depends: Vec<Vec<usize>> = operations
        .iter()
        .map(|op| {
            op.references
                .iter()
                .filter_map(|r| defined.get(r.as_str()).copied())
                .collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let mut state = vec![State::New; operations.len()];
    let mut cyclic = vec![false; operations.len()];
    let mut order = Vec::with_capacity(operations.len());
    for root in 0..operations.len() {
        if state[root] != State::New {
            continue;
        }
        // (operation, next dependency to look at)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::OnStack;
        while let Some(&(node, next)) = stack.last() {
            let Some(&dep) = depends[node].get(next) else {
                state[node] = State::Done;
                order.push(node);
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match state[dep] {
                State::New => {
                    state[dep] = State::OnStack;
                    stack.push((dep, 0));
                }
                State::OnStack => {
                    let from = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                    for &(n, _) in &stack[from..] {
                        cyclic[n] = true;
                    }
                }
                State::Done => {}
            }
        }
    }
    order
        .into_iter()
        .map(|index| Step {
            index,
            cyclic: cyclic[index],
        })
        .collect()
}

/// What one operation did.
struct Outcome {
    /// The location of the resource the operation was about, when known.
    location: Option<String>,
    /// The write's outcome and the resource id; or the error.
    result: Result<(Written, String), ScimError>,
}

impl Outcome {
    fn failed(location: Option<String>, error: ScimError) -> Outcome {
        Outcome {
            location,
            result: Err(error),
        }
    }

    /// The operation's entry in the BulkResponse (RFC 7644 §3.7.3): `status` is a string;
    /// `location` is there except for a failed POST; `response` holds the error.
    fn to_json(&self, op: &Operation) -> Value {
        let mut entry = Map::new();
        if let Some(method) = op
            .method
            .name()
            .map(str::to_owned)
            .or(op.method_sent.clone())
        {
            entry.insert("method".into(), Value::String(method));
        }
        if let Some(bulk_id) = &op.bulk_id {
            entry.insert("bulkId".into(), Value::String(bulk_id.clone()));
        }
        let resource = self
            .result
            .as_ref()
            .ok()
            .and_then(|(w, _)| w.resource.as_ref());
        let meta = |key: &str| {
            resource
                .and_then(|r| r.pointer(&format!("/meta/{key}")))
                .cloned()
        };
        let location = meta("location").or_else(|| self.location.clone().map(Value::String));
        if let Some(location) = location {
            entry.insert("location".into(), location);
        }
        if let Some(version) = meta("version") {
            entry.insert("version".into(), version);
        }
        match &self.result {
            Ok((written, _)) => {
                entry.insert("status".into(), json!(written.status.to_string()));
            }
            Err(e) => {
                entry.insert("status".into(), json!(e.status.to_string()));
                entry.insert("response".into(), e.to_json());
            }
        }
        Value::Object(entry)
    }
}

/// Resolves one operation's references and runs it.
async fn run_one(
    ctx: &Ctx<'_>,
    op: &Operation,
    cyclic: bool,
    created: &HashMap<String, String>,
) -> Outcome {
    let (Some(target), None) = (&op.target, &op.problem) else {
        let problem = op
            .problem
            .clone()
            .unwrap_or_else(|| ScimError::invalid_syntax("the operation has no usable path"));
        return Outcome::failed(None, problem);
    };
    let (kind, id) = match target {
        Target::Collection(kind) => (*kind, None),
        Target::Item(kind, id) => (*kind, Some(id.clone())),
    };
    let location_of = |id: &str| format!("{}{}/{id}", ctx.base_url, kind.endpoint());
    let unresolved = |name: String| {
        ScimError::new(
            409,
            format!("{REFERENCE}{name} cannot be resolved: the POST operation with that bulkId did not succeed"),
        )
    };
    if cyclic {
        return Outcome::failed(
            id.as_deref().map(location_of),
            ScimError::new(
                409,
                "the operation is part of a circular bulkId reference, which is not resolved (RFC 7644 §3.7.1)",
            ),
        );
    }
    let id = match id {
        Some(id) => match id.strip_prefix(REFERENCE) {
            Some(name) => match created.get(name) {
                Some(resolved) => Some(resolved.clone()),
                None => return Outcome::failed(None, unresolved(name.to_owned())),
            },
            None => Some(id),
        },
        None => None,
    };
    let location = id.as_deref().map(location_of);
    let mut data = op.data.clone().unwrap_or(Value::Null);
    if let Err(name) = substitute(&mut data, created) {
        return Outcome::failed(location, unresolved(name));
    }
    let write = match (op.method, id.as_deref()) {
        (Method::Post, None) => Write::Create(&data),
        (Method::Put, Some(id)) => Write::Replace(id, &data),
        (Method::Patch, Some(id)) => Write::Patch(id, &data),
        (Method::Delete, Some(id)) => Write::Delete(id),
        // `check_operation` pairs methods and targets; nothing else reaches here.
        _ => {
            return Outcome::failed(
                location,
                ScimError::invalid_syntax("the method does not fit the path"),
            )
        }
    };
    let op_ctx = Ctx {
        if_match: op.version.clone(),
        ..ctx.for_kind(kind)
    };
    let started = Instant::now();
    let result = dispatch::run(&op_ctx, write).await.map_err(|e| e.report());
    let status = match &result {
        Ok(written) => written.status,
        Err(e) => e.status,
    };
    let tenant = ctx.tenant;
    tenant.metrics.scim_request(
        &tenant.name,
        kind.endpoint().trim_start_matches('/'),
        write.metric_label(),
        status,
        started.elapsed(),
    );
    match result {
        Ok(written) => {
            let new_id = written
                .resource
                .as_ref()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(id)
                .unwrap_or_default();
            Outcome {
                location,
                result: Ok((written, new_id)),
            }
        }
        Err(e) => Outcome::failed(location, e),
    }
}

#[cfg(test)]
mod tests;
