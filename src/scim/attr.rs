//! SCIM attribute paths (RFC 7644 §3.10): parsing and printing them, resolving them against a
//! [`ResourceSchema`], and case-insensitive access to attributes held in resource JSON.

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{common_attributes, AttributeDef, ResourceSchema, SchemaDef};

/// A syntax error in a path, filter or attribute list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct ParseError {
    /// Byte offset (0-based) into the parsed input.
    pub position: usize,
    /// What was wrong, phrased so a person can fix the input.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
        }
    }

    /// This error as the 400 `invalidFilter` answer to a bad `filter` query parameter.
    pub fn to_invalid_filter(&self) -> ScimError {
        ScimError::invalid_filter(format!("invalid filter {self}"))
    }
}

/// An attribute path: `[urn ":"] name ["." sub]` (RFC 7644 §3.10).
///
/// Names keep the client's spelling; compare them with [`AttrPath::eq_ignore_case`] or resolve
/// them with [`ResourceSchema::resolve`] (RFC 7643 §2.1: names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses a whole string as an attribute path.
    ///
    /// The URN is everything up to the last `:`; only dots after it separate the
    /// sub-attribute, so the dots of `…:enterprise:2.0:User:manager.value` are handled.
    pub fn parse(input: &str) -> Result<AttrPath, ParseError> {
        parse_span(input, 0, input.len())
    }

    /// A plain, unqualified attribute name.
    pub fn simple(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// Equality under SCIM's case-insensitive naming.
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        fn same(a: Option<&str>, b: Option<&str>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
        }
        self.name.eq_ignore_ascii_case(&other.name)
            && same(self.urn.as_deref(), other.urn.as_deref())
            && same(self.sub.as_deref(), other.sub.as_deref())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses `src[start..end]` as an attribute path; error positions are offsets into `src`.
pub(crate) fn parse_span(src: &str, start: usize, end: usize) -> Result<AttrPath, ParseError> {
    let token = src.get(start..end).unwrap_or_default();
    if token.is_empty() {
        return Err(ParseError::new(start, "expected an attribute name"));
    }
    let (urn, rest_start) = match token.rfind(':') {
        Some(colon) => {
            check_urn(&token[..colon], start)?;
            (Some(token[..colon].to_owned()), start + colon + 1)
        }
        None => (None, start),
    };
    let rest = &token[rest_start - start..];
    let (name, sub) = match rest.find('.') {
        Some(dot) => (&rest[..dot], Some((&rest[dot + 1..], rest_start + dot + 1))),
        None => (rest, None),
    };
    check_name(name, rest_start, if urn.is_some() { "':'" } else { "" })?;
    let sub = match sub {
        Some((sub, at)) => {
            if let Some(extra) = sub.find('.') {
                return Err(ParseError::new(
                    at + extra,
                    "only one level of sub-attribute is allowed (RFC 7644 §3.10)",
                ));
            }
            check_name(sub, at, "'.'")?;
            Some(sub.to_owned())
        }
        None => None,
    };
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub,
    })
}

/// Checks an ATTRNAME (`ALPHA *(ALPHA / DIGIT / "-" / "_")`) or `$ref` starting at `at`.
pub(crate) fn check_name(name: &str, at: usize, after: &str) -> Result<(), ParseError> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.char_indices();
    match chars.next() {
        None if after.is_empty() => Err(ParseError::new(at, "expected an attribute name")),
        None => Err(ParseError::new(
            at,
            format!("expected an attribute name after {after}"),
        )),
        Some((_, c)) if !c.is_ascii_alphabetic() => Err(ParseError::new(
            at,
            format!("an attribute name must start with a letter, found '{c}'"),
        )),
        Some(_) => {
            match chars.find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
                Some((i, c)) => Err(ParseError::new(
                    at + i,
                    format!("invalid character '{c}' in attribute name '{name}'"),
                )),
                None => Ok(()),
            }
        }
    }
}

/// Checks the URN prefix of a path: a URI starting with a letter, without blanks or brackets.
fn check_urn(urn: &str, at: usize) -> Result<(), ParseError> {
    match urn.chars().next() {
        None => return Err(ParseError::new(at, "expected a schema URN before ':'")),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err(ParseError::new(
                at,
                format!("a schema URN must start with a letter, found '{c}'"),
            ))
        }
        Some(_) => {}
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || "\"[]()".contains(c);
    match urn.char_indices().find(|(_, c)| bad(*c)) {
        Some((i, c)) => Err(ParseError::new(
            at + i,
            format!("invalid character '{c}' in schema URN"),
        )),
        None => Ok(()),
    }
}

/// What an [`AttrPath`] names once resolved against a [`ResourceSchema`].
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    /// A whole extension object, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Extension(&'a SchemaDef),
    /// An attribute, possibly narrowed to one sub-attribute.
    Attribute(AttrRef<'a>),
}

/// A resolved attribute: where it lives, its definition and the optional sub-attribute.
#[derive(Debug, Clone, Copy)]
pub struct AttrRef<'a> {
    /// The extension holding the attribute; `None` for core and common attributes.
    pub extension: Option<&'a SchemaDef>,
    /// The attribute definition (canonical name in `attr.name`).
    pub attr: &'a AttributeDef,
    /// The sub-attribute definition, when the path names one.
    pub sub: Option<&'a AttributeDef>,
}

impl<'a> AttrRef<'a> {
    /// The definition the path ends at: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The schema URN the attribute belongs to.
    pub fn schema_urn<'s>(&self, schema: &'s ResourceSchema) -> &'s str
    where
        'a: 's,
    {
        self.extension
            .map_or(schema.core.id.as_str(), |e| e.id.as_str())
    }

    /// The path with canonical spelling; URN-qualified only for extension attributes.
    pub fn canonical_path(&self) -> AttrPath {
        AttrPath {
            urn: self.extension.map(|e| e.id.clone()),
            name: self.attr.name.clone(),
            sub: self.sub.map(|s| s.name.clone()),
        }
    }

    /// The JSON object holding the attribute: the resource itself, or its extension object.
    pub fn container<'v>(&self, resource: &'v Value) -> Option<&'v Map<String, Value>> {
        let top = resource.as_object()?;
        match self.extension {
            None => Some(top),
            Some(ext) => get_ci(top, &ext.id)?.as_object(),
        }
    }

    /// Like [`AttrRef::container`], creating the extension object when it is missing.
    pub fn container_mut<'v>(&self, resource: &'v mut Value) -> Option<&'v mut Map<String, Value>> {
        let top = resource.as_object_mut()?;
        let Some(ext) = self.extension else {
            return Some(top);
        };
        if !get_ci(top, &ext.id).is_some_and(Value::is_object) {
            insert_ci(top, &ext.id, Value::Object(Map::new()));
        }
        get_ci_mut(top, &ext.id)?.as_object_mut()
    }

    /// The attribute's value in `resource` (the whole attribute, not the sub-attribute).
    pub fn get<'v>(&self, resource: &'v Value) -> Option<&'v Value> {
        get_ci(self.container(resource)?, &self.attr.name)
    }
}

impl ResourceSchema {
    /// Resolves a path to the schema, attribute and sub-attribute it names.
    ///
    /// A URN selects that schema; `urn ":" name` equal to an extension URN names the whole
    /// extension. An unqualified name is looked up in the core schema, then in the common
    /// attributes (`id`, `externalId`, `meta`), then in the extensions (Entra sends a bare
    /// `manager` for the enterprise manager).
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved<'_>> {
        let (extension, attr) = match &path.urn {
            Some(urn) => {
                if path.sub.is_none() {
                    if let Some(ext) = self.extension(&format!("{urn}:{}", path.name)) {
                        return Some(Resolved::Extension(ext));
                    }
                }
                if self.core.id.eq_ignore_ascii_case(urn) {
                    (None, self.core_attribute(&path.name)?)
                } else {
                    let ext = self.extension(urn)?;
                    (Some(ext), ext.attribute(&path.name)?)
                }
            }
            None => match self.core_attribute(&path.name) {
                Some(attr) => (None, attr),
                None => self
                    .extensions
                    .iter()
                    .find_map(|ext| ext.attribute(&path.name).map(|a| (Some(ext), a)))?,
            },
        };
        let sub = match &path.sub {
            Some(name) => Some(attr.sub(name)?),
            None => None,
        };
        Some(Resolved::Attribute(AttrRef {
            extension,
            attr,
            sub,
        }))
    }

    /// A core-schema or common attribute by name (case-insensitive).
    pub fn core_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.core.attribute(name).or_else(|| common_attribute(name))
    }
}

/// The definition of `path` relative to one value of `parent` (the inside of `emails[…]`).
///
/// For a simple multi-valued attribute, `value` names the element itself (RFC 7644 §3.4.2.2).
pub fn resolve_in_element<'a>(
    parent: &'a AttributeDef,
    path: &AttrPath,
) -> Option<&'a AttributeDef> {
    if path.urn.is_some() || path.sub.is_some() {
        return None;
    }
    if parent.sub_attributes.is_empty() && path.name.eq_ignore_ascii_case("value") {
        return Some(parent);
    }
    parent.sub(&path.name)
}

/// `id`, `externalId` and `meta`, built once so resolution can hand out references to them.
fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    static COMMON: OnceLock<Vec<AttributeDef>> = OnceLock::new();
    COMMON
        .get_or_init(common_attributes)
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Looks `key` up in a JSON object, preferring an exact match, else any case-insensitive one.
pub fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Mutable variant of [`get_ci`].
pub fn get_ci_mut<'v>(obj: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    let actual = find_key(obj, key)?;
    obj.get_mut(&actual)
}

/// Removes every spelling of `key`; returns the exact-spelling value if there was one.
pub fn remove_ci(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let exact = obj.remove(key);
    let others: Vec<String> = obj
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    let mut removed = exact;
    for k in others {
        let v = obj.remove(&k);
        removed = removed.or(v);
    }
    removed
}

/// Sets `key` to `value`, replacing any other spelling of the key.
pub fn insert_ci(obj: &mut Map<String, Value>, key: &str, value: Value) {
    remove_ci(obj, key);
    obj.insert(key.to_owned(), value);
}

fn find_key(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Schemas shared by the tests of every module.
#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
