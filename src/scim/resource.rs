//! Resource-level rules shared by POST, PUT, PATCH and GET: the canonical resource form,
//! type checks, mutability and required attributes, and `attributes`/`excludedAttributes`.

pub(crate) mod conform;
mod project;

use serde_json::{Map, Value};

pub use project::project;

use crate::scim::attr::{get_ci, insert_ci, AttrPath, AttrRef, Resolved};
use crate::scim::dialect::{self, Dialect, DialectOptions, Normalisations, Rule};
use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef};

use conform::ReadOnlySubs;

/// Turns a client's POST/PUT body into the canonical resource JSON.
///
/// Attribute names get their schema spelling (extension objects under their canonical URN
/// key), dialect fixes run (string booleans, manager as string or array…), values are
/// type-checked (400 `invalidValue` naming the attribute), readOnly attributes and
/// sub-attributes (`id`, `meta`, `groups`, `members.display`…) and attributes unknown to the
/// schema are dropped, nulls are dropped, and `schemas` must name the core schema and only
/// schemas of this resource type (400 `invalidValue` otherwise).
pub fn canonicalize(
    body: &Value,
    schema: &ResourceSchema,
    options: &DialectOptions,
    applied: &mut Normalisations,
) -> Result<Value, ScimError> {
    let Value::Object(input) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} resource must be a JSON object",
            schema.name
        )));
    };
    let mut d = Dialect::new(options, applied);
    let mut schemas = declared_schemas(input, schema, &mut d)?;
    let mut input = input.clone();
    dialect::resource_object(&mut input, schema, &mut d);

    let mut out = Value::Object(Map::new());
    for (key, value) in &input {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            place_extension(&mut out, ext, value)?;
            continue;
        }
        let Ok(path) = AttrPath::parse(key) else {
            continue;
        };
        match schema.resolve(&path) {
            Some(Resolved::Attribute(at)) if at.sub.is_none() => place(&mut out, at, value)?,
            Some(Resolved::Extension(ext)) => place_extension(&mut out, ext, value)?,
            // Unknown attributes (and dotted keys, which are not RFC in a body) are not mapped.
            _ => {}
        }
    }
    prune_empty_extensions(&mut out, schema);
    for ext in &schema.extensions {
        if get_ci_obj(&out, &ext.id).is_some() && !schemas.iter().any(|u| u == &ext.id) {
            schemas.push(ext.id.clone());
        }
    }
    if let Value::Object(map) = &mut out {
        map.insert(
            "schemas".to_owned(),
            Value::Array(schemas.into_iter().map(Value::String).collect()),
        );
    }
    Ok(out)
}

/// The body's `schemas`, canonically spelled, core first; it must contain the core URN.
fn declared_schemas(
    input: &Map<String, Value>,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
) -> Result<Vec<String>, ScimError> {
    let required = || {
        ScimError::invalid_value(format!(
            "\"schemas\" must be an array containing \"{}\"",
            schema.core.id
        ))
    };
    let listed: Vec<&str> = match get_ci(input, "schemas") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|u| u.as_str().ok_or_else(required))
            .collect::<Result<_, _>>()?,
        // A lone string is unambiguous, so it is read as a one-element list.
        Some(Value::String(one)) => vec![one.as_str()],
        _ => return Err(required()),
    };
    if !listed
        .iter()
        .any(|u| u.eq_ignore_ascii_case(&schema.core.id))
    {
        return Err(required());
    }
    let mut out = vec![schema.core.id.clone()];
    for urn in listed {
        if schema.schema(urn).is_none() && d.enabled(Rule::UnmappedIgnored) {
            // An extension this mapping does not declare: its data is ignored like any
            // unmapped attribute (the body's keys under that URN are not placed below).
            d.record(Rule::UnmappedIgnored);
            continue;
        }
        let known = schema.schema(urn).ok_or_else(|| {
            let valid: Vec<&str> = schema.urns().collect();
            ScimError::invalid_value(format!(
                "unknown schema \"{urn}\" for a {} resource; known schemas: {}",
                schema.name,
                valid.join(", ")
            ))
        })?;
        if !out.contains(&known.id) {
            out.push(known.id.clone());
        }
    }
    Ok(out)
}

fn place_extension(out: &mut Value, ext: &SchemaDef, value: &Value) -> Result<(), ScimError> {
    let inner = match value {
        Value::Object(inner) => inner,
        Value::Null => return Ok(()),
        _ => {
            return Err(ScimError::invalid_value(format!(
                "\"{}\" must be an object holding the extension's attributes",
                ext.id
            )))
        }
    };
    for (key, v) in inner {
        if let Some(attr) = ext.attribute(key) {
            let at = AttrRef {
                extension: Some(ext),
                attr,
                sub: None,
            };
            place(out, at, v)?;
        }
    }
    Ok(())
}

/// Type-checks one attribute value and stores it under its canonical name.
fn place(out: &mut Value, at: AttrRef<'_>, value: &Value) -> Result<(), ScimError> {
    if at.attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let Some(checked) = conform::attribute(value, at.attr, &at.attr.name, ReadOnlySubs::Drop)?
    else {
        return Ok(());
    };
    if let Some(container) = at.container_mut(out) {
        insert_ci(container, &at.attr.name, checked);
    }
    Ok(())
}

fn get_ci_obj<'v>(resource: &'v Value, key: &str) -> Option<&'v Map<String, Value>> {
    get_ci(resource.as_object()?, key)?.as_object()
}

/// Drops extension objects left without attributes.
pub(crate) fn prune_empty_extensions(resource: &mut Value, schema: &ResourceSchema) {
    let Value::Object(map) = resource else {
        return;
    };
    map.retain(|key, value| {
        schema.extension(key).is_none() || !value.as_object().is_some_and(Map::is_empty)
    });
}

/// Lists in `schemas` every extension the resource now carries (when it has a `schemas` array).
pub(crate) fn sync_schemas(resource: &mut Value, schema: &ResourceSchema) {
    let present: Vec<String> = schema
        .extensions
        .iter()
        .filter(|ext| get_ci_obj(resource, &ext.id).is_some())
        .map(|ext| ext.id.clone())
        .collect();
    let Some(Value::Array(listed)) = resource.as_object_mut().and_then(|m| m.get_mut("schemas"))
    else {
        return;
    };
    for urn in present {
        if !listed
            .iter()
            .any(|u| u.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&urn)))
        {
            listed.push(Value::String(urn));
        }
    }
}

/// Every schema attribute with the extension it belongs to (`None` for core).
fn all_attributes(schema: &ResourceSchema) -> impl Iterator<Item = AttrRef<'_>> {
    let core = schema.core.attributes.iter().map(|attr| AttrRef {
        extension: None,
        attr,
        sub: None,
    });
    let ext = schema.extensions.iter().flat_map(|ext| {
        ext.attributes.iter().map(move |attr| AttrRef {
            extension: Some(ext),
            attr,
            sub: None,
        })
    });
    core.chain(ext)
}

/// 400 `mutability` if an immutable attribute already set in `old` has another value in
/// `new` (setting it the first time is allowed; leaving it out counts as a change).
///
/// Checks immutable attributes and the immutable sub-attributes of single-valued complex
/// attributes; elements of multi-valued attributes have no identity across versions, so
/// adding or removing them is not a change of an immutable value. readOnly is not checked here.
pub fn check_immutable(old: &Value, new: &Value, schema: &ResourceSchema) -> Result<(), ScimError> {
    for at in all_attributes(schema) {
        let before = at.get(old).filter(|v| !v.is_null());
        let after = at.get(new);
        if at.attr.mutability == Mutability::Immutable {
            if before.is_some() && !conform::same_value(before, after, at.attr) {
                return Err(immutable_error(at.attr, None));
            }
            continue;
        }
        if at.attr.multi_valued || at.attr.attr_type != AttrType::Complex {
            continue;
        }
        for sub in at
            .attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::Immutable)
        {
            let sub_of = |v: Option<&Value>| {
                v.and_then(Value::as_object)
                    .and_then(|o| get_ci(o, &sub.name))
                    .cloned()
            };
            let (b, a) = (sub_of(before), sub_of(after));
            if b.as_ref().is_some_and(|v| !v.is_null())
                && !conform::same_value(b.as_ref(), a.as_ref(), sub)
            {
                return Err(immutable_error(at.attr, Some(sub)));
            }
        }
    }
    Ok(())
}

fn immutable_error(attr: &AttributeDef, sub: Option<&AttributeDef>) -> ScimError {
    let name = match sub {
        Some(sub) => format!("{}.{}", attr.name, sub.name),
        None => attr.name.clone(),
    };
    ScimError::mutability(format!(
        "{name} is immutable: it cannot be changed or removed once set"
    ))
}

/// 400 `invalidValue` if a required attribute (`userName`, Group `displayName`) is missing,
/// null, empty or blank. Required extension attributes are checked when the extension is present.
pub fn check_required(resource: &Value, schema: &ResourceSchema) -> Result<(), ScimError> {
    for at in all_attributes(schema).filter(|at| at.attr.required) {
        if at.extension.is_some() && at.container(resource).is_none() {
            continue;
        }
        let missing = match at.get(resource) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            Some(_) => false,
        };
        if missing {
            return Err(ScimError::invalid_value(format!(
                "{} is required for a {} resource",
                at.attr.name, schema.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
