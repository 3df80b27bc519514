//! Parsing a PatchOp body into [`PatchOperation`]s, with the dialect rewrites that depend
//! only on the request (op case, value shapes, dotted keys, Entra's remove-with-value).

use serde_json::{Map, Value};

use super::{parse_patch_path, resolve_path, PatchOpKind, PatchOperation, PatchPath, Target};
use crate::scim::attr::get_ci;
use crate::scim::dialect::{self, Dialect, Rule};
use crate::scim::error::ScimError;
use crate::scim::filter::FilterLimits;
use crate::scim::schema::{ResourceSchema, PATCH_OP};

/// Most operations in one PatchOp. IdPs send a handful (Entra batches members into one
/// operation's value array); each operation re-reads the multi-valued attribute it changes,
/// so thousands of them on a large array would cost minutes of CPU in one request.
pub const MAX_OPERATIONS: usize = 1000;

pub(super) fn parse(
    body: &Value,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object with \"schemas\" and \"Operations\"",
        ));
    };
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
        None => {
            return Err(ScimError::invalid_syntax(
                "not a PatchOp message: \"Operations\" is missing",
            ))
        }
    };
    check_schemas(obj, d)?;
    if ops.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty: a PATCH needs at least one operation",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "{} operations in one PATCH; at most {MAX_OPERATIONS} are accepted (send several requests, or one operation with many values)",
            ops.len()
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, raw) in ops.iter().enumerate() {
        operation(raw, schema, d, &mut out).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    Ok(out)
}

fn check_schemas(obj: &Map<String, Value>, d: &mut Dialect<'_>) -> Result<(), ScimError> {
    let names_patch_op = |v: &Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP));
    match get_ci(obj, "schemas") {
        Some(Value::Array(items)) if items.iter().any(names_patch_op) => Ok(()),
        None | Some(Value::Null) if d.enabled(Rule::PatchSchemasOptional) => {
            d.record(Rule::PatchSchemasOptional);
            Ok(())
        }
        _ => Err(ScimError::invalid_syntax(format!(
            "not a PatchOp message: \"schemas\" must be [\"{PATCH_OP}\"]"
        ))),
    }
}

fn operation(
    raw: &Value,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
    out: &mut Vec<PatchOperation>,
) -> Result<(), ScimError> {
    let Value::Object(obj) = raw else {
        return Err(ScimError::invalid_syntax(
            "an operation must be an object with \"op\", \"path\" and \"value\"",
        ));
    };
    let kind = op_kind(obj, d)?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        // An empty path is what some clients send for "no path".
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s)?),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    if let Some(path) = &path {
        if d.enabled(Rule::UnmappedIgnored)
            && resolve_path(schema, path).is_err()
            && names_unmapped(schema, path)
        {
            d.record(Rule::UnmappedIgnored);
            return Ok(());
        }
    }
    match (kind, path) {
        (PatchOpKind::Remove, None) => Err(ScimError::no_target(
            "remove needs a \"path\" naming what to remove",
        )),
        (PatchOpKind::Remove, Some(path)) => remove(path, value, schema, d, out),
        (kind, None) => pathless(kind, value, schema, d, out),
        (kind, Some(path)) => with_path(kind, path, value, schema, d, out),
    }
}

/// Whether `path` is valid in the whole schema the mapping was cut from (its value filter
/// and sub-attribute included, so a typo inside `[…]` is still refused) or names an
/// undeclared extension.
fn names_unmapped(schema: &ResourceSchema, path: &PatchPath) -> bool {
    let whole_resolves = schema
        .whole
        .as_deref()
        .is_some_and(|whole| resolve_path(whole, path).is_ok());
    whole_resolves || schema.names_undeclared_extension(&path.attr)
}

fn op_kind(obj: &Map<String, Value>, d: &mut Dialect<'_>) -> Result<PatchOpKind, ScimError> {
    let raw = match get_ci(obj, "op") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "\"op\" must be a string: add, replace or remove",
            ))
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "the operation has no \"op\" (add, replace or remove)",
            ))
        }
    };
    match dialect::op_name(raw, d).as_ref() {
        "add" => Ok(PatchOpKind::Add),
        "replace" => Ok(PatchOpKind::Replace),
        "remove" => Ok(PatchOpKind::Remove),
        _ => Err(ScimError::invalid_syntax(format!(
            "unknown op \"{raw}\": expected add, replace or remove"
        ))),
    }
}

fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    parse_patch_path(text, &FilterLimits::default()).map_err(|e| {
        let shown: String = text.chars().take(200).collect();
        ScimError::invalid_path(format!("invalid path \"{shown}\" {e}"))
    })
}

/// A remove; Entra's `remove members` with a value array becomes one filtered remove per element.
fn remove(
    path: PatchPath,
    value: Option<Value>,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
    out: &mut Vec<PatchOperation>,
) -> Result<(), ScimError> {
    let target = resolve_path(schema, &path)?;
    let Some(value) = value.filter(|v| !v.is_null()) else {
        out.push(PatchOperation {
            op: PatchOpKind::Remove,
            path: Some(path),
            value: None,
        });
        return Ok(());
    };
    let whole_list = match target {
        Target::Attribute { at, filter: None } if at.sub.is_none() && at.attr.multi_valued => {
            Some(at.attr)
        }
        _ => None,
    };
    let Some(def) = whole_list else {
        // A value has no meaning on any other remove (RFC 7644 §3.5.2.2): it is dropped.
        out.push(PatchOperation {
            op: PatchOpKind::Remove,
            path: Some(path),
            value: None,
        });
        return Ok(());
    };
    // Read strictly, this would clear the whole list: refuse rather than wipe a group.
    if !d.enabled(Rule::RemoveValueArray) {
        return Err(ScimError::invalid_syntax(format!(
            "remove on \"{path}\" carries a value, which RFC 7644 remove does not take; \
             name the elements with a filter such as {}[value eq \"…\"]",
            path.attr
        )));
    }
    let filters = dialect::removal_filters(&value, def, &path.attr.to_string())?;
    d.record(Rule::RemoveValueArray);
    for filter in filters {
        out.push(PatchOperation {
            op: PatchOpKind::Remove,
            path: Some(PatchPath {
                attr: path.attr.clone(),
                filter: Some(filter),
                sub: None,
            }),
            value: None,
        });
    }
    Ok(())
}

/// An add/replace without path: the value holds the attributes to set.
fn pathless(
    kind: PatchOpKind,
    value: Option<Value>,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
    out: &mut Vec<PatchOperation>,
) -> Result<(), ScimError> {
    let Some(Value::Object(mut obj)) = value else {
        return Err(ScimError::invalid_value(format!(
            "{} without \"path\" needs an object value holding the attributes to set",
            kind.as_str()
        )));
    };
    if d.enabled(Rule::DottedKeys) && obj.keys().any(|k| dialect::is_path_key(k, schema)) {
        d.record(Rule::DottedKeys);
        for (key, v) in obj {
            // Keys that are not paths of this schema are ignored, as in the path-less form.
            let Ok(path) = parse_patch_path(&key, &FilterLimits::default()) else {
                continue;
            };
            if resolve_path(schema, &path).is_ok() {
                with_path(kind, path, Some(v), schema, d, out)?;
            }
        }
        return Ok(());
    }
    dialect::resource_object(&mut obj, schema, d);
    out.push(PatchOperation {
        op: kind,
        path: None,
        value: Some(Value::Object(obj)),
    });
    Ok(())
}

/// An add/replace with a path; its value is normalised for the attribute it targets.
fn with_path(
    kind: PatchOpKind,
    path: PatchPath,
    mut value: Option<Value>,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
    out: &mut Vec<PatchOperation>,
) -> Result<(), ScimError> {
    if let Some(v) = value.as_mut() {
        match resolve_path(schema, &path)? {
            Target::Extension(ext) => {
                if let Value::Object(obj) = v {
                    dialect::extension_object(obj, ext, d);
                }
            }
            Target::Attribute { at, filter } => {
                // With a filter and no sub-attribute, a multi-valued attribute's value is one element.
                let element = filter.is_some() && at.sub.is_none() && at.attr.multi_valued;
                dialect::target_value(v, at, element, d);
            }
        }
    } else {
        resolve_path(schema, &path)?;
    }
    out.push(PatchOperation {
        op: kind,
        path: Some(path),
        value,
    });
    Ok(())
}
