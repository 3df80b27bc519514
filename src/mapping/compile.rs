//! Mapping file → compiled [`ResourceMapping`]: resolves every path against the schema,
//! parses every template and JSON path, and reports all problems of a file at once, each
//! with its file, line and key.

use std::fmt;
use std::path::{Path, PathBuf};

use hyper::Method;
use serde_json::Value;

use super::file::{self, AttributeSpec, CallSpec, ExtensionRef, ListSpec, MappingFile};
use super::path::BackendPath;
use super::target::ScimTarget;
use super::template::{JsonTemplate, Template};
use super::transform::{BackendType, Case, Transform};
use super::{
    AttributeMapping, Call, CreateCall, CreateResponse, DeleteCall, Direction, ErrorMapping,
    GoneMarker, IdField, ListCall, MemberArray, MemberCalls, MembersMapping, MetaFields, NextPage,
    Paging, PushdownRule, ResourceKind, ResourceMapping, Scope, SortRule, Total, UpdateCall,
    UpdateStyle,
};
use crate::scim::error::ScimType;
use crate::scim::filter::{CompareOp, FilterLimits};
use crate::scim::patch::parse_patch_path;
use crate::scim::schema::{
    common_attributes, core_group_schema, core_user_schema, enterprise_user_schema,
    schema_from_json, AttributeDef, Mutability, ResourceSchema, Returned, SchemaDef,
    ENTERPRISE_SCHEMA,
};

/// One problem found in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl MappingProblem {
    /// A problem without a known line.
    pub fn new(file: &Path, key: Option<&str>, message: impl Into<String>) -> MappingProblem {
        MappingProblem {
            file: file.to_owned(),
            line: None,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects problems, attaching line numbers found by searching the source for the key.
struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    list: Vec<MappingProblem>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, message: impl Into<String>) {
        let line = find_line(self.text, key);
        self.list.push(MappingProblem {
            file: self.file.to_owned(),
            line,
            key: Some(key.to_owned()),
            message: message.into(),
        });
    }

    /// Records `Err` and turns the result into an `Option`.
    fn check<T>(&mut self, key: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.add(key, e)).ok()
    }
}

/// The 1-based line where `key` is defined: the whole key (attribute paths contain dots),
/// else its dotted segments found one after another (`operations.update.method`).
fn find_line(text: &str, key: &str) -> Option<usize> {
    let defines = |line: &str, name: &str| {
        let t = line.trim_start().trim_start_matches("- ");
        [
            format!("{name}:"),
            format!("'{name}':"),
            format!("\"{name}\":"),
        ]
        .iter()
        .any(|form| {
            t.starts_with(form.as_str())
                || t.contains(&format!("{{ {form}"))
                || t.contains(&format!(", {form}"))
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| defines(l, key)) {
        return Some(i + 1);
    }
    let mut from = 0;
    let mut found = None;
    for segment in key.split('.') {
        let name = segment.split('[').next().unwrap_or(segment);
        let mut i = lines.iter().skip(from).position(|l| defines(l, name))? + from;
        // `filters[2]`: the third `- ` entry of that list, when it is written block style.
        let index = segment
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = index {
            if let Some(entry) = list_entry(&lines, i, n) {
                i = entry;
            }
        }
        found = Some(i + 1);
        from = i;
    }
    found
}

/// The line index of entry `n` of the block list whose key is on line `key_line`.
fn list_entry(lines: &[&str], key_line: usize, n: usize) -> Option<usize> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_indent = indent(lines.get(key_line)?);
    let mut entries = 0;
    for (i, line) in lines.iter().enumerate().skip(key_line + 1) {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // An entry starts `- {...}`, `- key: ...`, or is a bare `-` with its keys below.
        let starts_entry = t == "-" || t.starts_with("- ");
        if indent(line) < key_indent || (indent(line) == key_indent && !starts_entry) {
            return None;
        }
        if starts_entry && indent(line) <= key_indent + 2 {
            if entries == n {
                return Some(i);
            }
            entries += 1;
        }
    }
    None
}

/// Compiles one mapping file for `kind`.
pub fn compile_mapping(
    file: &Path,
    text: &str,
    kind: ResourceKind,
) -> Result<ResourceMapping, Vec<MappingProblem>> {
    let raw: MappingFile = serde_yaml_ng::from_str(text).map_err(|e| {
        vec![MappingProblem {
            file: file.to_owned(),
            line: e.location().map(|l| l.line()),
            key: None,
            message: e.to_string(),
        }]
    })?;
    let mut p = Problems {
        file,
        text,
        list: Vec::new(),
    };
    let compiled = compile_raw(&raw, kind, &mut p);
    match compiled {
        Some(m) if p.list.is_empty() => Ok(m),
        _ => Err(p.list),
    }
}

fn compile_raw(
    raw: &MappingFile,
    kind: ResourceKind,
    p: &mut Problems<'_>,
) -> Option<ResourceMapping> {
    if !raw.resource.eq_ignore_ascii_case(kind.name()) {
        p.add(
            "resource",
            format!(
                "this file must describe `{}`, not `{}`",
                kind.name(),
                raw.resource
            ),
        );
    }
    let full = full_schema(raw, kind, p);
    let id = compile_id(&raw.id, p);
    let meta = MetaFields {
        created: opt_path(p, "meta.created", raw.meta.created.as_deref()),
        last_modified: opt_path(p, "meta.last_modified", raw.meta.last_modified.as_deref()),
        version: opt_path(p, "meta.version", raw.meta.version.as_deref()),
        maintain: raw.meta.maintain,
        stamps: compile_stamp_type(p, raw.meta.stamp_type.as_deref()),
    };
    if meta.maintain {
        for (key, path) in [
            ("meta.created", &meta.created),
            ("meta.last_modified", &meta.last_modified),
        ] {
            match path {
                Some(p2) if !p2.is_writable() => {
                    p.add(key, "must be a writable path when `maintain` is set")
                }
                None => p.add(key, "is required when `maintain` is set"),
                _ => {}
            }
        }
    }
    let envelope_record = opt_path(p, "envelope.record", raw.envelope.record.as_deref());
    let get = compile_call(p, "operations.get", &raw.operations.get);
    let mut list = compile_list(p, "operations.list", &raw.operations.list);
    if let (Some(list), Some(gone)) = (&mut list, compile_gone(p, &raw.operations.delete)) {
        let exclude = compile_query(
            p,
            "operations.delete.exclude",
            &raw.operations.delete.exclude,
        );
        list.call.query.extend(exclude);
        list.gone = Some(gone);
    }
    if let (Some(list), Some(spec)) = (&mut list, &raw.scope) {
        list.scope = p
            .check("scope.path", BackendPath::parse(&spec.path))
            .map(|path| Scope {
                path,
                value: spec.value.clone(),
            });
    }
    let create = compile_create(p, &raw.operations.create);
    let update = compile_update(p, &raw.operations.update);
    let delete = compile_delete(p, &raw.operations.delete);
    let attributes = compile_attributes(p, &raw.attributes, &full);
    let pushdown = compile_pushdown(p, &raw.filters, &full, &attributes);
    let sort = compile_sort(p, &raw.sort, &full, &attributes);
    let members = match (&raw.members, kind) {
        (Some(m), ResourceKind::Group) => compile_members(p, m),
        (Some(_), ResourceKind::User) => {
            p.add("members", "only Group mappings have members");
            None
        }
        (None, _) => None,
    };
    let errors = compile_errors(p, &raw.errors);
    let schema = published_schema(&full, &attributes, members.is_some());
    let compiled = ResourceMapping {
        kind,
        schema,
        id: id?,
        meta,
        envelope_record,
        request_key: raw.envelope.request_key.clone(),
        get: get?,
        list: list?,
        create: create?,
        update: update?,
        delete: delete?,
        attributes,
        pushdown,
        sort,
        members,
        errors,
    };
    check_placeholders(p, &compiled);
    Some(compiled)
}

/// Every `{placeholder}` must be one the gateway fills at that place; a typo would
/// otherwise surface as a 500 on the first request that uses the call.
fn check_placeholders(p: &mut Problems<'_>, m: &ResourceMapping) {
    let mut calls: Vec<(&str, &Call, &[&str])> = vec![
        ("operations.get", &m.get, &["id"]),
        ("operations.list", &m.list.call, &[]),
        ("operations.create", &m.create.call, &[]),
        ("operations.update", &m.update.call, &["id"]),
    ];
    if let DeleteCall::Delete(c) | DeleteCall::Soft(c) = &m.delete {
        calls.push(("operations.delete", c, &["id"]));
    }
    if let Some(MembersMapping::Calls(members)) = &m.members {
        calls.push(("members.list", &members.list.call, &["id"]));
        calls.push(("members.add", &members.add, &["id", "member"]));
        calls.push((
            "members.remove",
            &members.remove,
            &["id", "member", "record."],
        ));
    }
    if let Some(MembersMapping::OnUser { find, .. }) = &m.members {
        for var in find.iter().flat_map(|(_, t)| t.variables()) {
            if var != "id" {
                p.add(
                    "members.find",
                    format!("unknown placeholder {{{var}}} (allowed here: {{id}})"),
                );
            }
        }
    }
    for (key, call, allowed) in calls {
        let mut used: Vec<&str> = call.path.variables().collect();
        used.extend(call.query.iter().flat_map(|(_, t)| t.variables()));
        if let Some(body) = &call.body {
            used.extend(body.variables());
        }
        for var in used {
            let known = allowed.iter().any(|a| {
                *a == var || (a.ends_with('.') && var.starts_with(a) && var.len() > a.len())
            });
            if !known {
                let list: Vec<String> = allowed
                    .iter()
                    .map(|a| {
                        if a.ends_with('.') {
                            format!("{{{a}<field>}}")
                        } else {
                            format!("{{{a}}}")
                        }
                    })
                    .collect();
                let hint = if list.is_empty() {
                    "none".to_owned()
                } else {
                    list.join(", ")
                };
                p.add(
                    key,
                    format!("unknown placeholder {{{var}}} (allowed here: {hint})"),
                );
            }
        }
    }
    for (i, rule) in m.pushdown.iter().enumerate() {
        for var in rule.query.iter().flat_map(|(_, t)| t.variables()) {
            if var != "value" {
                p.add(
                    &format!("filters[{i}]"),
                    format!("unknown placeholder {{{var}}} (allowed here: {{value}})"),
                );
            }
        }
    }
    for a in &m.attributes {
        for var in a.template.iter().flat_map(|t| t.variables()) {
            let resolves = parse_patch_path(var, &FilterLimits::default())
                .ok()
                .is_some_and(|path| ScimTarget::resolve(&path, &m.schema).is_ok());
            if !resolves {
                p.add(
                    &a.key,
                    format!("template placeholder {{{var}}} is not a mapped SCIM attribute"),
                );
            }
        }
    }
}

/// The complete schema of the resource type (core + declared extensions), before filtering.
fn full_schema(raw: &MappingFile, kind: ResourceKind, p: &mut Problems<'_>) -> ResourceSchema {
    let core = match kind {
        ResourceKind::User => core_user_schema(),
        ResourceKind::Group => core_group_schema(),
    };
    let mut extensions = Vec::new();
    for (i, ext) in raw.extensions.iter().enumerate() {
        let key = format!("extensions[{i}]");
        match ext {
            ExtensionRef::Urn(urn) if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => {
                extensions.push(enterprise_user_schema());
            }
            ExtensionRef::Urn(urn) => p.add(
                &key,
                format!("`{urn}` is not a built-in schema; give a schema file with `file:`"),
            ),
            ExtensionRef::File { file } => {
                let path = p.file.parent().unwrap_or(Path::new(".")).join(file);
                let loaded = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read schema file {}: {e}", path.display()))
                    .and_then(|text| {
                        serde_json::from_str::<Value>(&text)
                            .map_err(|e| format!("schema file {} is not JSON: {e}", path.display()))
                    })
                    .and_then(|doc| schema_from_json(&doc));
                if let Some(schema) = p.check(&key, loaded) {
                    extensions.push(schema);
                }
            }
        }
    }
    ResourceSchema {
        name: kind.name().into(),
        endpoint: kind.endpoint().into(),
        core,
        extensions,
        whole: None,
    }
}

fn compile_id(spec: &file::IdSpec, p: &mut Problems<'_>) -> Option<IdField> {
    let path = p.check("id.path", BackendPath::parse(&spec.path))?;
    let integer = match spec.id_type.as_deref() {
        None | Some("string") => false,
        Some("integer") => true,
        Some(other) => {
            p.add(
                "id.type",
                format!("unknown id type `{other}` (string or integer)"),
            );
            false
        }
    };
    Some(IdField { path, integer })
}

fn opt_path(p: &mut Problems<'_>, key: &str, text: Option<&str>) -> Option<BackendPath> {
    text.and_then(|t| p.check(key, BackendPath::parse(t)))
}

fn compile_method(p: &mut Problems<'_>, key: &str, method: &str) -> Option<Method> {
    let upper = method.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => {
            Method::from_bytes(upper.as_bytes()).ok()
        }
        _ => {
            p.add(
                &format!("{key}.method"),
                format!("unsupported method `{method}`"),
            );
            None
        }
    }
}

fn compile_template(p: &mut Problems<'_>, key: &str, text: &str) -> Option<Template> {
    p.check(key, Template::parse(text))
}

fn compile_query(
    p: &mut Problems<'_>,
    key: &str,
    query: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, Template)> {
    query
        .iter()
        .filter_map(|(name, t)| {
            compile_template(p, &format!("{key}.query.{name}"), t).map(|t| (name.clone(), t))
        })
        .collect()
}

fn compile_call(p: &mut Problems<'_>, key: &str, spec: &CallSpec) -> Option<Call> {
    let method = compile_method(p, key, &spec.method);
    let path = compile_template(p, &format!("{key}.path"), &spec.path);
    let query = compile_query(p, key, &spec.query);
    let body = match &spec.body {
        Some(b) => p.check(&format!("{key}.body"), JsonTemplate::compile(b)),
        None => None,
    };
    let method = method?;
    let read = method == Method::GET || method == Method::HEAD;
    Some(Call {
        method,
        path: path?,
        query,
        body,
        read,
        idempotent: read || spec.idempotent,
    })
}

fn compile_list(p: &mut Problems<'_>, key: &str, spec: &ListSpec) -> Option<ListCall> {
    let call = compile_call(
        p,
        key,
        &CallSpec {
            method: spec.method.clone(),
            path: spec.path.clone(),
            query: spec.query.clone(),
            body: None,
            idempotent: true,
        },
    )
    .map(|call| Call { read: true, ..call });
    let records = p.check(&format!("{key}.records"), BackendPath::parse(&spec.records));
    let paging = compile_paging(p, key, &spec.paging);
    let total = match &spec.total {
        None => Total::Counted,
        Some(file::TotalSpec {
            header: Some(h),
            body: None,
        }) => Total::Header(h.clone()),
        Some(file::TotalSpec {
            header: None,
            body: Some(b),
        }) => match p.check(&format!("{key}.total.body"), BackendPath::parse(b)) {
            Some(path) => Total::Body(path),
            None => Total::Counted,
        },
        Some(_) => {
            p.add(
                &format!("{key}.total"),
                "give exactly one of `header` or `body`",
            );
            Total::Counted
        }
    };
    Some(ListCall {
        call: call?,
        records: records?,
        paging,
        total,
        gone: None,
        scope: None,
    })
}

fn compile_paging(p: &mut Problems<'_>, key: &str, spec: &file::PagingSpec) -> Paging {
    let need = |p: &mut Problems<'_>, name: &str, v: &Option<String>| -> String {
        v.clone().unwrap_or_else(|| {
            p.add(
                &format!("{key}.paging.{name}"),
                format!("`{name}` is required for this paging style"),
            );
            String::new()
        })
    };
    if spec.max_page_size == 0 {
        p.add(&format!("{key}.paging.max_page_size"), "must be at least 1");
    }
    match spec.style.as_str() {
        "none" => Paging::None,
        "page" => Paging::Page {
            page_param: need(p, "page_param", &spec.page_param),
            size_param: need(p, "size_param", &spec.size_param),
            first: spec.first_page,
            max_size: spec.max_page_size.max(1),
        },
        "offset" => Paging::Offset {
            offset_param: need(p, "offset_param", &spec.offset_param),
            limit_param: need(p, "size_param", &spec.size_param),
            max_size: spec.max_page_size.max(1),
        },
        "cursor" => Paging::Cursor {
            cursor_param: need(p, "cursor_param", &spec.cursor_param),
            first: spec.first_cursor.clone(),
            next: compile_next(p, key, spec).unwrap_or(NextPage::Header(String::new())),
            size_param: spec.size_param.clone(),
            max_size: spec.max_page_size.max(1),
        },
        "next_link" => Paging::NextLink {
            next: compile_next(p, key, spec).unwrap_or(NextPage::Header(String::new())),
            size_param: spec.size_param.clone(),
            max_size: spec.max_page_size.max(1),
        },
        other => {
            p.add(
                &format!("{key}.paging.style"),
                format!("unknown paging style `{other}` (none, page, offset, cursor or next_link)"),
            );
            Paging::None
        }
    }
}

/// `next` (a body path) or `next_header`: exactly one, for the sequential styles.
fn compile_next(p: &mut Problems<'_>, key: &str, spec: &file::PagingSpec) -> Option<NextPage> {
    match (&spec.next, &spec.next_header) {
        (Some(path), None) => p
            .check(&format!("{key}.paging.next"), BackendPath::parse(path))
            .map(NextPage::Body),
        (None, Some(h)) if !h.trim().is_empty() => Some(NextPage::Header(h.trim().to_owned())),
        _ => {
            p.add(
                &format!("{key}.paging"),
                "give exactly one of `next` (a body path) or `next_header` (e.g. `Link`)",
            );
            None
        }
    }
}

fn compile_create(p: &mut Problems<'_>, spec: &file::CreateSpec) -> Option<CreateCall> {
    let call = compile_call(
        p,
        "operations.create",
        &CallSpec {
            method: spec.method.clone(),
            path: spec.path.clone(),
            query: Default::default(),
            body: None,
            idempotent: spec.idempotent,
        },
    );
    let response = match spec.response.as_deref() {
        None | Some("record") => CreateResponse::Record,
        Some("location") => CreateResponse::Location,
        Some("id") => CreateResponse::IdOnly,
        Some(other) => {
            p.add(
                "operations.create.response",
                format!("unknown create response `{other}` (record, location or id)"),
            );
            CreateResponse::Record
        }
    };
    Some(CreateCall {
        call: call?,
        response,
    })
}

fn compile_update(p: &mut Problems<'_>, spec: &file::UpdateSpec) -> Option<UpdateCall> {
    let call = compile_call(
        p,
        "operations.update",
        &CallSpec {
            method: spec.method.clone(),
            path: spec.path.clone(),
            query: Default::default(),
            body: None,
            idempotent: spec.idempotent,
        },
    );
    let style = match spec.style.as_deref() {
        None | Some("replace") => UpdateStyle::Replace,
        Some("merge") => UpdateStyle::Merge,
        Some(other) => {
            p.add(
                "operations.update.style",
                format!("unknown update style `{other}` (replace or merge)"),
            );
            UpdateStyle::Replace
        }
    };
    Some(UpdateCall { call: call?, style })
}

fn compile_delete(p: &mut Problems<'_>, spec: &file::DeleteSpec) -> Option<DeleteCall> {
    let style = spec.style.as_deref().unwrap_or("delete");
    if style == "refuse" {
        return Some(DeleteCall::Refuse);
    }
    let (Some(method), Some(path)) = (&spec.method, &spec.path) else {
        p.add(
            "operations.delete",
            "`method` and `path` are required unless style is `refuse`",
        );
        return None;
    };
    let call = compile_call(
        p,
        "operations.delete",
        &CallSpec {
            method: method.clone(),
            path: path.clone(),
            query: Default::default(),
            body: spec.body.clone(),
            idempotent: spec.idempotent,
        },
    )?;
    match style {
        "delete" => Some(DeleteCall::Delete(call)),
        "soft" if call.body.is_some() => Some(DeleteCall::Soft(call)),
        "soft" => {
            p.add(
                "operations.delete.body",
                "a soft delete needs the `body` it sends",
            );
            None
        }
        other => {
            p.add(
                "operations.delete.style",
                format!("unknown delete style `{other}` (delete, soft or refuse)"),
            );
            None
        }
    }
}

/// The soft-delete marker: required for `style: soft` (else a deleted record would still
/// read as present), refused for the other styles.
fn compile_gone(p: &mut Problems<'_>, spec: &file::DeleteSpec) -> Option<GoneMarker> {
    let soft = spec.style.as_deref() == Some("soft");
    match (&spec.marker, soft) {
        (Some(m), true) => {
            let path = p.check("operations.delete.marker", BackendPath::parse(&m.path))?;
            Some(GoneMarker {
                path,
                value: m.value.clone(),
                excluded_by_backend: !spec.exclude.is_empty(),
            })
        }
        (None, true) => {
            p.add(
                "operations.delete",
                "a soft delete needs a `marker` (the field its body sets), so deleted records read as gone",
            );
            None
        }
        (Some(_), false) => {
            p.add(
                "operations.delete.marker",
                "only a soft delete has a marker",
            );
            None
        }
        (None, false) => {
            if !spec.exclude.is_empty() {
                p.add(
                    "operations.delete.exclude",
                    "only a soft delete has `exclude`",
                );
            }
            None
        }
    }
}

fn parse_target(
    p: &mut Problems<'_>,
    key: &str,
    scim_path: &str,
    schema: &ResourceSchema,
) -> Option<ScimTarget> {
    let parsed = parse_patch_path(scim_path, &FilterLimits::default())
        .map_err(|e| format!("invalid SCIM path: {e}"));
    let parsed = p.check(key, parsed)?;
    p.check(key, ScimTarget::resolve(&parsed, schema))
}

fn compile_attributes(
    p: &mut Problems<'_>,
    raw: &serde_yaml_ng::Mapping,
    schema: &ResourceSchema,
) -> Vec<AttributeMapping> {
    let mut out: Vec<AttributeMapping> = Vec::new();
    for (k, v) in raw {
        let Some(key) = k.as_str() else {
            p.add(
                "attributes",
                format!("attribute keys must be strings, got {k:?}"),
            );
            continue;
        };
        let spec: AttributeSpec = match v {
            serde_yaml_ng::Value::String(path) => AttributeSpec {
                path: Some(path.clone()),
                ..AttributeSpec::default()
            },
            other => match serde_yaml_ng::from_value(other.clone()) {
                Ok(spec) => spec,
                Err(e) => {
                    p.add(key, e.to_string());
                    continue;
                }
            },
        };
        let Some(mut target) = parse_target(p, key, key, schema) else {
            continue;
        };
        if target.multi_valued
            && !target.selector.is_empty()
            && !out
                .iter()
                .any(|m| m.target.attr == target.attr && m.target.extension == target.extension)
        {
            target.takes_untyped = true;
        }
        let reference = reference_endpoint(schema, &target);
        if let Some(mut m) = compile_attribute(p, key, spec, target) {
            m.reference = reference;
            if out.iter().any(|o| o.target.key() == m.target.key()) {
                p.add(key, "this SCIM attribute is mapped twice");
            }
            out.push(m);
        }
    }
    out
}

/// `meta.type`: `string` or one of the point-in-time backend types.
fn compile_stamp_type(p: &mut Problems<'_>, name: Option<&str>) -> Transform {
    let backend_type = match name.map(|n| (n, BackendType::parse(n))) {
        None | Some((_, Some(BackendType::String))) => None,
        Some((_, Some(t))) if t.is_datetime() => Some(t),
        Some((other, _)) => {
            p.add(
                "meta.type",
                format!("unknown type `{other}` (string, epoch_seconds, epoch_millis, date or sql_datetime)"),
            );
            None
        }
    };
    Transform {
        backend_type,
        ..Transform::default()
    }
}

fn compile_attribute(
    p: &mut Problems<'_>,
    key: &str,
    spec: AttributeSpec,
    target: ScimTarget,
) -> Option<AttributeMapping> {
    let backend = opt_path(p, key, spec.path.as_deref());
    let mut direction = match spec.direction.as_deref() {
        None | Some("both") => Direction::Both,
        Some("read") => Direction::ReadOnly,
        Some("write") => Direction::WriteOnly,
        Some(other) => {
            p.add(
                key,
                format!("unknown direction `{other}` (read, write or both)"),
            );
            Direction::Both
        }
    };
    let mutability = match spec.mutability.as_deref().map(Mutability::parse) {
        Some(Some(Mutability::ReadOnly)) => {
            direction = Direction::ReadOnly;
            None
        }
        Some(Some(Mutability::WriteOnly)) => {
            direction = Direction::WriteOnly;
            None
        }
        Some(Some(m)) => Some(m),
        Some(None) => {
            p.add(
                key,
                "unknown mutability (readOnly, readWrite, immutable, writeOnly)",
            );
            None
        }
        None => None,
    };
    if spec.path.is_none() && spec.constant.is_none() {
        p.add(key, "needs a backend `path` (or a `constant`)");
        return None;
    }
    if direction != Direction::ReadOnly {
        if let Some(b) = &backend {
            if !b.is_writable() {
                p.add(
                    key,
                    format!("`{b}` can only be read; writable paths are `$.a.b` or `$.a[0].b` (or set direction: read)"),
                );
            }
        }
    }
    let backend_type = match spec.backend_type.as_deref() {
        None => None,
        Some(t) => {
            let parsed = BackendType::parse(t);
            if parsed.is_none() {
                p.add(key, format!("unknown type `{t}` ({})", BackendType::NAMES));
            }
            parsed
        }
    };
    let case = match spec.case.as_deref() {
        None => None,
        Some("lower") => Some(Case::Lower),
        Some("upper") => Some(Case::Upper),
        Some(other) => {
            p.add(key, format!("unknown case `{other}` (lower or upper)"));
            None
        }
    };
    let values = spec
        .values
        .iter()
        .flatten()
        .filter_map(|(s, b)| {
            let scim = serde_json::to_value(s).ok()?;
            let backend = serde_json::to_value(b).ok()?;
            Some((yaml_key_value(scim), backend))
        })
        .collect();
    let template = spec
        .template
        .as_deref()
        .and_then(|t| compile_template(p, &format!("{key}.template"), t));
    let transform = Transform {
        values,
        backend_type,
        case,
    };
    for (what, value) in [("default", &spec.default), ("constant", &spec.constant)] {
        if let Some(v) = value {
            if let Err(e) = transform.to_backend(v) {
                p.add(key, format!("{what} cannot be stored: {e}"));
            }
        }
    }
    Some(AttributeMapping {
        key: key.to_owned(),
        target,
        backend,
        direction,
        transform,
        default: spec.default,
        constant: spec.constant,
        template,
        reference: None,
        mutability,
        unique: spec.unique,
    })
}

/// `/Users` when `target` is the `value` of a complex attribute whose `$ref` points to Users
/// (the enterprise manager), so the gateway can derive `$ref` from the mapped id.
fn reference_endpoint(schema: &ResourceSchema, target: &ScimTarget) -> Option<&'static str> {
    if target.sub.as_deref() != Some("value") || target.multi_valued {
        return None;
    }
    let container = match &target.extension {
        Some(urn) => schema.schema(urn)?,
        None => &schema.core,
    };
    let reference = container.attribute(&target.attr)?.sub("$ref")?;
    reference
        .reference_types
        .iter()
        .any(|t| t == "User")
        .then_some("/Users")
}

/// YAML map keys `true`/`false` arrive as strings when quoted; keep booleans as booleans.
fn yaml_key_value(v: Value) -> Value {
    match v.as_str() {
        Some("true") => Value::Bool(true),
        Some("false") => Value::Bool(false),
        _ => v,
    }
}

/// A pushdown rule for an attribute the mapping does not map could never be used: the
/// gateway refuses filters and sorts on unmapped attributes before any backend call.
fn check_mapped(
    p: &mut Problems<'_>,
    key: &str,
    written: &str,
    target: &ScimTarget,
    mapped: &[AttributeMapping],
) {
    let builtin = target.extension.is_none() && matches!(target.attr.as_str(), "id" | "meta");
    if !builtin && !mapped.iter().any(|m| m.target.key() == target.key()) {
        p.add(
            key,
            format!(
                "`{written}` is not mapped under attributes:, so this rule could never be used"
            ),
        );
    }
}

fn compile_pushdown(
    p: &mut Problems<'_>,
    rules: &[file::FilterRule],
    schema: &ResourceSchema,
    mapped: &[AttributeMapping],
) -> Vec<PushdownRule> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let key = format!("filters[{i}]");
            let target = parse_target(p, &key, &rule.attribute, schema)?;
            check_mapped(p, &key, &rule.attribute, &target, mapped);
            let operator = match rule.operator.to_ascii_lowercase().as_str() {
                "eq" => CompareOp::Eq,
                "ne" => CompareOp::Ne,
                "co" => CompareOp::Co,
                "sw" => CompareOp::Sw,
                "ew" => CompareOp::Ew,
                "gt" => CompareOp::Gt,
                "ge" => CompareOp::Ge,
                "lt" => CompareOp::Lt,
                "le" => CompareOp::Le,
                other => {
                    p.add(&key, format!("unknown operator `{other}`"));
                    return None;
                }
            };
            let query = compile_query(p, &key, &rule.query);
            if query.is_empty() {
                p.add(
                    &key,
                    "a pushed-down filter needs at least one query parameter",
                );
            }
            Some(PushdownRule {
                key: target.key(),
                operator,
                query,
            })
        })
        .collect()
}

fn compile_sort(
    p: &mut Problems<'_>,
    rules: &[file::SortRuleSpec],
    schema: &ResourceSchema,
    mapped: &[AttributeMapping],
) -> Vec<SortRule> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let key = format!("sort[{i}]");
            let target = parse_target(p, &key, &rule.attribute, schema)?;
            check_mapped(p, &key, &rule.attribute, &target, mapped);
            let query = compile_query(p, &key, &rule.query);
            if query.is_empty() {
                p.add(
                    &key,
                    "a pushed-down sort needs at least one query parameter",
                );
            }
            for var in query.iter().flat_map(|(_, t)| t.variables()) {
                if var != "order" {
                    p.add(
                        &key,
                        format!("unknown placeholder {{{var}}} (allowed here: {{order}})"),
                    );
                }
            }
            Some(SortRule {
                key: target.key(),
                query,
                ascending: rule.ascending.clone().unwrap_or_else(|| "asc".into()),
                descending: rule.descending.clone().unwrap_or_else(|| "desc".into()),
            })
        })
        .collect()
}

fn compile_members(p: &mut Problems<'_>, spec: &file::MembersSpec) -> Option<MembersMapping> {
    let integer = match spec.member_type.as_deref() {
        None | Some("string") => false,
        Some("integer") => true,
        Some(other) => {
            p.add(
                "members.member_type",
                format!("unknown type `{other}` (string or integer)"),
            );
            false
        }
    };
    let style = spec.style.as_deref().unwrap_or("calls");
    // Each style has its own keys; one of another style is a mistake, not a no-op.
    let keys: [(&str, bool); 6] = [
        ("list", spec.list.is_some()),
        ("add", spec.add.is_some()),
        ("remove", spec.remove.is_some()),
        ("member", spec.member.is_some()),
        ("path", spec.path.is_some()),
        ("find", !spec.find.is_empty()),
    ];
    let allowed: &[&str] = match style {
        "calls" => &["list", "add", "remove", "member"],
        "embedded" => &["path", "member"],
        "on_user" => &["path", "find"],
        other => {
            p.add(
                "members.style",
                format!("unknown membership style `{other}` (calls, embedded or on_user)"),
            );
            return None;
        }
    };
    for (key, given) in keys {
        if given && !allowed.contains(&key) {
            p.add(
                &format!("members.{key}"),
                format!("`{key}` does not apply to membership style `{style}`"),
            );
        }
    }
    let required = |p: &mut Problems<'_>, key: &str, present: bool| {
        if !present {
            p.add(
                &format!("members.{key}"),
                format!("`{key}` is required for membership style `{style}`"),
            );
        }
    };
    for key in allowed
        .iter()
        .filter(|k| **k != "find" && (style != "embedded" || **k != "member"))
    {
        required(p, key, keys.iter().any(|(k, given)| k == key && *given));
    }
    let writable = |p: &mut Problems<'_>, key: &str, text: &Option<String>| {
        let path = p.check(key, BackendPath::parse(text.as_deref()?))?;
        if !path.is_writable() {
            p.add(key, "must be a writable path (`$.a.b`)");
        }
        Some(path)
    };
    match style {
        "calls" => {
            let list = spec
                .list
                .as_ref()
                .and_then(|l| compile_list(p, "members.list", l));
            let member = spec
                .member
                .as_ref()
                .and_then(|m| p.check("members.member", BackendPath::parse(m)));
            let add = spec
                .add
                .as_ref()
                .and_then(|c| compile_call(p, "members.add", c));
            let remove = spec
                .remove
                .as_ref()
                .and_then(|c| compile_call(p, "members.remove", c));
            Some(MembersMapping::Calls(Box::new(MemberCalls {
                list: list?,
                member: member?,
                member_integer: integer,
                add: add?,
                remove: remove?,
            })))
        }
        "embedded" => Some(MembersMapping::Embedded(MemberArray {
            path: writable(p, "members.path", &spec.path)?,
            member: writable(p, "members.member", &spec.member),
            integer,
        })),
        _ => Some(MembersMapping::OnUser {
            array: MemberArray {
                path: writable(p, "members.path", &spec.path)?,
                member: None,
                integer,
            },
            find: compile_query(p, "members.find", &spec.find),
        }),
    }
}

fn compile_errors(p: &mut Problems<'_>, rules: &[file::ErrorRule]) -> Vec<ErrorMapping> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let key = format!("errors[{i}]");
            let scim_type = rule.scim_type.as_deref().and_then(|t| {
                let parsed = ScimType::parse(t);
                if parsed.is_none() {
                    p.add(&key, format!("unknown scimType `{t}`"));
                }
                parsed
            });
            if !(100..=599).contains(&rule.status) {
                p.add(
                    &key,
                    format!("status {} is not an HTTP status", rule.status),
                );
            }
            if !(400..=599).contains(&rule.scim_status) {
                p.add(&key, "scim_status must be a 4xx or 5xx status");
            }
            ErrorMapping {
                status: rule.status,
                body_contains: rule.body_contains.clone(),
                scim_status: rule.scim_status,
                scim_type,
                detail: rule.detail.clone(),
                detail_from: opt_path(p, &key, rule.detail_from.as_deref()),
            }
        })
        .collect()
}

/// The schema as published in `/Schemas`: only mapped attributes, with the mapping's
/// mutability. Advertising exactly what works keeps clients from sending what would be lost.
fn published_schema(
    full: &ResourceSchema,
    attrs: &[AttributeMapping],
    has_members: bool,
) -> ResourceSchema {
    let keep = |schema: &SchemaDef, extension: Option<&str>| -> SchemaDef {
        let mut attributes = Vec::new();
        for def in &schema.attributes {
            let mapped: Vec<&AttributeMapping> = attrs
                .iter()
                .filter(|m| m.target.extension.as_deref() == extension && m.target.attr == def.name)
                .collect();
            if extension.is_none() && def.name == "members" && has_members {
                attributes.push(users_only_members(def));
                continue;
            }
            if !mapped.is_empty() {
                attributes.push(restrict(def, &mapped));
            }
        }
        SchemaDef {
            attributes,
            ..schema.clone()
        }
    };
    let mut core = keep(&full.core, None);
    // `id` and `meta` are served for every resource; `externalId` only when mapped.
    let mut common: Vec<AttributeDef> = common_attributes()
        .into_iter()
        .filter(|a| a.name != "externalId" || core.attribute("externalId").is_some())
        .collect();
    core.attributes.retain(|a| a.name != "externalId");
    common.append(&mut core.attributes);
    core.attributes = common;
    ResourceSchema {
        name: full.name.clone(),
        endpoint: full.endpoint.clone(),
        core,
        extensions: full
            .extensions
            .iter()
            .map(|ext| keep(ext, Some(&ext.id)))
            .filter(|ext| !ext.attributes.is_empty())
            .collect(),
        whole: Some(std::sync::Arc::new(full.clone())),
    }
}

/// Group members are Users here (nested groups are not provisioned): advertise only that.
fn users_only_members(def: &AttributeDef) -> AttributeDef {
    let mut out = def.clone();
    out.sub_attributes.retain(|s| s.name != "display");
    for sub in &mut out.sub_attributes {
        match sub.name.as_str() {
            "type" => sub.canonical_values = vec!["User".into()],
            "$ref" => sub.reference_types = vec!["User".into()],
            _ => {}
        }
    }
    out
}

/// Narrows one attribute definition to what its mappings cover.
fn restrict(def: &AttributeDef, mapped: &[&AttributeMapping]) -> AttributeDef {
    let mut out = def.clone();
    if let Some(whole) = mapped
        .iter()
        .find(|m| m.target.sub.is_none() && m.target.selector.is_empty())
    {
        apply_mutability(&mut out, whole);
        return out;
    }
    if def.sub_attributes.is_empty() {
        return out;
    }
    let mut types: Vec<String> = Vec::new();
    for (_, v) in mapped
        .iter()
        .flat_map(|m| m.target.selector.iter())
        .filter(|(k, _)| k == "type")
    {
        if !types.contains(v) {
            types.push(v.clone());
        }
    }
    out.sub_attributes = def
        .sub_attributes
        .iter()
        .filter(|sub| {
            (sub.name == "$ref" && mapped.iter().any(|m| m.reference.is_some()))
                || (sub.name == "type" && !types.is_empty())
                || mapped
                    .iter()
                    .any(|m| m.target.sub.as_deref() == Some(sub.name.as_str()))
                || mapped
                    .iter()
                    .any(|m| m.target.selector.iter().any(|(k, _)| *k == sub.name))
        })
        .map(|sub| {
            let mut sub = sub.clone();
            if sub.name == "type" && !types.is_empty() {
                sub.canonical_values = types.clone();
            }
            if let Some(m) = mapped
                .iter()
                .find(|m| m.target.sub.as_deref() == Some(sub.name.as_str()))
            {
                apply_mutability(&mut sub, m);
            }
            sub
        })
        .collect();
    out
}

/// The mapping's direction and mutability override win over the schema's mutability. A
/// `constant` is set by the gateway alone, so clients see it as readOnly (RFC 7643 §2.2):
/// a value they send on create or PUT is ignored, a PATCH changing it gets 400 mutability.
fn apply_mutability(def: &mut AttributeDef, m: &AttributeMapping) {
    def.mutability = match (m.direction, m.mutability) {
        _ if m.constant.is_some() && m.direction != Direction::WriteOnly => Mutability::ReadOnly,
        (Direction::ReadOnly, _) => Mutability::ReadOnly,
        (Direction::WriteOnly, _) => Mutability::WriteOnly,
        (Direction::Both, Some(over)) => over,
        (Direction::Both, None) => def.mutability,
    };
    if def.mutability == Mutability::WriteOnly {
        def.returned = Returned::Never;
    }
}

#[cfg(test)]
mod tests;
