//! SCIM PATCH (RFC 7644 §3.5.2): PATCH paths, parsing PatchOp bodies (through the IdP
//! dialect layer) and applying the operations atomically to a resource.

mod apply;
mod request;

use std::fmt;

use serde_json::Value;

use crate::scim::attr::{resolve_in_element, AttrPath, AttrRef, ParseError, Resolved};
use crate::scim::dialect::{Dialect, DialectOptions, Normalisations};
use crate::scim::error::ScimError;
use crate::scim::filter::{parser::Parser, Filter, FilterLimits};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, SchemaDef};

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add` (RFC 7644 §3.5.2.1).
    Add,
    /// `replace` (RFC 7644 §3.5.2.3).
    Replace,
    /// `remove` (RFC 7644 §3.5.2.2).
    Remove,
}

impl PatchOpKind {
    /// The RFC (lower-case) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

/// A PATCH `path`: `attrPath` or `valuePath [subAttr]` (RFC 7644 §3.5.2).
///
/// `name.givenName` is `attr` with `attr.sub`; `emails[type eq "work"].value` is `attr` emails
/// with `filter` and `sub` "value" (`sub` is only used after a filter).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute, with its sub-attribute when written `name.givenName`.
    pub attr: AttrPath,
    /// The value filter in `[…]`; its paths are relative to one value of `attr`.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses a PATCH `path`, e.g. `members[value eq "u-1"]`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
pub fn parse_patch_path(input: &str, limits: &FilterLimits) -> Result<PatchPath, ParseError> {
    let (attr, filter, sub) = Parser::new(input, limits)?.patch_path()?;
    Ok(PatchPath { attr, filter, sub })
}

/// One operation of a PatchOp request, after dialect normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The kind of operation.
    pub op: PatchOpKind,
    /// `None`: the target is the resource itself (add/replace with an object value).
    pub path: Option<PatchPath>,
    /// The value as sent (after dialect normalisation); `null` clears.
    pub value: Option<Value>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2) into operations, running the dialect normalisations (dialect.rs) first.
///
/// 400 `invalidSyntax` for a body that is not a PatchOp or an unknown `op`, `invalidValue`
/// for an empty `Operations`, `invalidPath` for a path that does not parse or names no
/// attribute of `schema`, `noTarget` for a remove without path.
pub fn parse_patch_request(
    body: &Value,
    schema: &ResourceSchema,
    options: &DialectOptions,
    applied: &mut Normalisations,
) -> Result<Vec<PatchOperation>, ScimError> {
    let mut d = Dialect::new(options, applied);
    request::parse(body, schema, &mut d)
}

/// Applies all operations to a copy of `resource` and returns the result; on any error nothing is applied (atomic).
///
/// Besides the RFC 7644 §3.5.2.1–3 semantics this enforces types (`invalidValue`), readOnly
/// attributes (ignored when unchanged, else `mutability`) and immutable attributes
/// ([`crate::scim::resource::check_immutable`]). Required attributes are left to
/// [`crate::scim::resource::check_required`].
pub fn apply_patch(
    resource: &Value,
    ops: &[PatchOperation],
    schema: &ResourceSchema,
    options: &DialectOptions,
    applied: &mut Normalisations,
) -> Result<Value, ScimError> {
    let mut d = Dialect::new(options, applied);
    apply::apply(resource, ops, schema, &mut d)
}

/// What a PATCH path names once resolved.
#[derive(Clone, Copy)]
enum Target<'s, 'p> {
    /// A whole extension object.
    Extension(&'s SchemaDef),
    /// An attribute; `at.sub` is the sub-attribute, whether written `name.givenName` or `emails[…].value`.
    Attribute {
        at: AttrRef<'s>,
        filter: Option<&'p Filter>,
    },
}

/// Resolves and validates a PATCH path against the schema (400 `invalidPath` when it fails).
fn resolve_path<'s, 'p>(
    schema: &'s ResourceSchema,
    path: &'p PatchPath,
) -> Result<Target<'s, 'p>, ScimError> {
    let invalid = |why: String| ScimError::invalid_path(format!("invalid path \"{path}\": {why}"));
    let resolved = schema.resolve(&path.attr).ok_or_else(|| {
        invalid(format!(
            "{} has no attribute \"{}\"",
            schema.name, path.attr
        ))
    })?;
    let mut at = match resolved {
        Resolved::Extension(ext) if path.filter.is_none() && path.sub.is_none() => {
            return Ok(Target::Extension(ext))
        }
        Resolved::Extension(ext) => {
            return Err(invalid(format!(
                "the extension {} is an object; it takes no value filter",
                ext.id
            )))
        }
        Resolved::Attribute(at) => at,
    };
    let Some(filter) = &path.filter else {
        return Ok(Target::Attribute { at, filter: None });
    };
    if !at.attr.multi_valued && at.attr.attr_type != AttrType::Complex {
        return Err(invalid(format!(
            "a value filter needs a multi-valued or complex attribute; \"{}\" is neither",
            at.attr.name
        )));
    }
    check_element_filter(filter, at.attr).map_err(&invalid)?;
    if let Some(sub) = &path.sub {
        at.sub = Some(at.attr.sub(sub).ok_or_else(|| {
            invalid(format!(
                "\"{}\" has no sub-attribute \"{sub}\"",
                at.attr.name
            ))
        })?);
    }
    Ok(Target::Attribute {
        at,
        filter: Some(filter),
    })
}

/// Every path inside a PATCH value filter must name a sub-attribute of `parent`.
fn check_element_filter(filter: &Filter, parent: &AttributeDef) -> Result<(), String> {
    match filter {
        Filter::And(items) | Filter::Or(items) => items
            .iter()
            .try_for_each(|f| check_element_filter(f, parent)),
        Filter::Not(inner) => check_element_filter(inner, parent),
        Filter::Compare { path, .. } | Filter::Present(path) => {
            match resolve_in_element(parent, path) {
                Some(_) => Ok(()),
                None => Err(format!(
                    "\"{path}\" in the filter is not a sub-attribute of \"{}\"",
                    parent.name
                )),
            }
        }
        Filter::ValuePath { .. } => Err("value filters cannot be nested".to_owned()),
    }
}

#[cfg(test)]
mod tests;
