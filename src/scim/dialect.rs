//! IdP dialect normalisation: individually switchable rewrites that turn what Entra ID and
//! Okta really send into the RFC 7643/7644 form the strict core expects, recording each one.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::scim::attr::{get_ci, remove_ci, AttrPath, AttrRef, Resolved};
use crate::scim::error::ScimError;
use crate::scim::filter::{parser::combine, CompValue, CompareOp, Filter};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, SchemaDef};

/// Which dialect rules run; all are on by default. Deserialisable from the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialectOptions {
    /// `Add`/`Replace`/`REMOVE` are read as `add`/`replace`/`remove`.
    pub op_case: bool,
    /// `"True"`/`"false"` become JSON booleans where the schema says boolean.
    pub string_booleans: bool,
    /// A path-less value with keys like `name.givenName` or `urn:…:User:employeeNumber` becomes one operation per key.
    pub dotted_keys: bool,
    /// Entra's `remove members` with a value array removes only the listed elements.
    pub remove_value_array: bool,
    /// A bare string (`"u-1"`) or one-element array for a single-valued complex attribute becomes the object.
    pub complex_from_string: bool,
    /// `""` for a single-valued complex attribute (manager) clears it.
    pub empty_clears: bool,
    /// add/replace on `attr[type eq "x"].sub` creates the element when none matches.
    pub value_filter_upsert: bool,
    /// A `roles`/`entitlements` `value` holding a JSON object in a string is unpacked.
    pub roles_json_string: bool,
    /// A PatchOp body without `schemas` is accepted when it has `Operations`.
    pub patch_schemas_optional: bool,
    /// A PATCH operation on an attribute the mapping does not map (but the SCIM schema, or
    /// an extension this resource type does not declare, has) is ignored, as such
    /// attributes are in POST and PUT bodies, instead of failing the whole PATCH with 400
    /// `invalidPath`; an undeclared extension URN in `schemas` is dropped likewise.
    pub unmapped_ignored: bool,
}

impl Default for DialectOptions {
    fn default() -> Self {
        DialectOptions {
            op_case: true,
            string_booleans: true,
            dotted_keys: true,
            remove_value_array: true,
            complex_from_string: true,
            empty_clears: true,
            value_filter_upsert: true,
            roles_json_string: true,
            patch_schemas_optional: true,
            unmapped_ignored: true,
        }
    }
}

impl DialectOptions {
    /// Every rule off: the strict RFC core alone.
    pub fn strict() -> DialectOptions {
        DialectOptions {
            op_case: false,
            string_booleans: false,
            dotted_keys: false,
            remove_value_array: false,
            complex_from_string: false,
            empty_clears: false,
            value_filter_upsert: false,
            roles_json_string: false,
            patch_schemas_optional: false,
            unmapped_ignored: false,
        }
    }

    /// Whether `rule` is switched on.
    pub fn enabled(&self, rule: Rule) -> bool {
        match rule {
            Rule::OpCase => self.op_case,
            Rule::StringBooleans => self.string_booleans,
            Rule::DottedKeys => self.dotted_keys,
            Rule::RemoveValueArray => self.remove_value_array,
            Rule::ComplexFromString => self.complex_from_string,
            Rule::EmptyClears => self.empty_clears,
            Rule::ValueFilterUpsert => self.value_filter_upsert,
            Rule::RolesJsonString => self.roles_json_string,
            Rule::PatchSchemasOptional => self.patch_schemas_optional,
            Rule::UnmappedIgnored => self.unmapped_ignored,
        }
    }
}

/// One dialect rule; its [`Rule::name`] is the config key and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// See [`DialectOptions::op_case`].
    OpCase,
    /// See [`DialectOptions::string_booleans`].
    StringBooleans,
    /// See [`DialectOptions::dotted_keys`].
    DottedKeys,
    /// See [`DialectOptions::remove_value_array`].
    RemoveValueArray,
    /// See [`DialectOptions::complex_from_string`].
    ComplexFromString,
    /// See [`DialectOptions::empty_clears`].
    EmptyClears,
    /// See [`DialectOptions::value_filter_upsert`].
    ValueFilterUpsert,
    /// See [`DialectOptions::roles_json_string`].
    RolesJsonString,
    /// See [`DialectOptions::patch_schemas_optional`].
    PatchSchemasOptional,
    /// See [`DialectOptions::unmapped_ignored`].
    UnmappedIgnored,
}

impl Rule {
    /// Every rule, in [`ALL_RULES`] order.
    pub const ALL: [Rule; 10] = [
        Rule::OpCase,
        Rule::StringBooleans,
        Rule::DottedKeys,
        Rule::RemoveValueArray,
        Rule::ComplexFromString,
        Rule::EmptyClears,
        Rule::ValueFilterUpsert,
        Rule::RolesJsonString,
        Rule::PatchSchemasOptional,
        Rule::UnmappedIgnored,
    ];

    /// The snake_case name, as in [`DialectOptions`] and [`ALL_RULES`].
    pub fn name(self) -> &'static str {
        match self {
            Rule::OpCase => "op_case",
            Rule::StringBooleans => "string_booleans",
            Rule::DottedKeys => "dotted_keys",
            Rule::RemoveValueArray => "remove_value_array",
            Rule::ComplexFromString => "complex_from_string",
            Rule::EmptyClears => "empty_clears",
            Rule::ValueFilterUpsert => "value_filter_upsert",
            Rule::RolesJsonString => "roles_json_string",
            Rule::PatchSchemasOptional => "patch_schemas_optional",
            Rule::UnmappedIgnored => "unmapped_ignored",
        }
    }
}

/// Names of all rules, for pre-registering metric labels.
pub const ALL_RULES: &[&str] = &[
    "op_case",
    "string_booleans",
    "dotted_keys",
    "remove_value_array",
    "complex_from_string",
    "empty_clears",
    "value_filter_upsert",
    "roles_json_string",
    "patch_schemas_optional",
    "unmapped_ignored",
];

/// The rules that fired for one request, each named once, in the order they first fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalisations {
    names: Vec<&'static str>,
}

impl Normalisations {
    /// An empty record.
    pub fn new() -> Normalisations {
        Normalisations::default()
    }

    /// Notes that `rule` fired (once per request, however often it fired).
    pub fn record(&mut self, rule: Rule) {
        if !self.names.contains(&rule.name()) {
            self.names.push(rule.name());
        }
    }

    /// The rule names, in firing order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Whether `rule` fired.
    pub fn contains(&self, rule: Rule) -> bool {
        self.names.contains(&rule.name())
    }

    /// Whether no rule fired.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The options and the record of one request, carried together through the rewrites.
pub(crate) struct Dialect<'a> {
    options: &'a DialectOptions,
    applied: &'a mut Normalisations,
}

impl<'a> Dialect<'a> {
    pub(crate) fn new(options: &'a DialectOptions, applied: &'a mut Normalisations) -> Dialect<'a> {
        Dialect { options, applied }
    }

    pub(crate) fn enabled(&self, rule: Rule) -> bool {
        self.options.enabled(rule)
    }

    pub(crate) fn record(&mut self, rule: Rule) {
        self.applied.record(rule);
    }

    /// Runs `fix` when `rule` is on, recording the rule if `fix` reports a change.
    fn apply(&mut self, rule: Rule, fix: impl FnOnce() -> bool) {
        if self.enabled(rule) && fix() {
            self.record(rule);
        }
    }
}

/// `op_case`: the op name as the core expects it.
pub(crate) fn op_name<'r>(raw: &'r str, d: &mut Dialect<'_>) -> Cow<'r, str> {
    let lower = raw.to_ascii_lowercase();
    if lower == raw
        || !d.enabled(Rule::OpCase)
        || !matches!(lower.as_str(), "add" | "replace" | "remove")
    {
        return Cow::Borrowed(raw);
    }
    d.record(Rule::OpCase);
    Cow::Owned(lower)
}

/// Whether a path-less value key is a path (`name.givenName`, `urn:…:User:employeeNumber`)
/// rather than a plain attribute name or an extension URN.
pub(crate) fn is_path_key(key: &str, schema: &ResourceSchema) -> bool {
    schema.extension(key).is_none() && (key.contains('.') || key.contains(':'))
}

/// Normalises a value aimed at `at` (as resolved from a PATCH path or an object key).
/// `element` says the value is one element (the path had a value filter and no sub-attribute).
pub(crate) fn target_value(value: &mut Value, at: AttrRef<'_>, element: bool, d: &mut Dialect<'_>) {
    match at.sub {
        Some(sub) => attribute_value(value, sub, d),
        None if element => element_value(value, at.attr, d),
        None => attribute_value(value, at.attr, d),
    }
}

/// Normalises a resource-shaped object: a POST/PUT body or a path-less PATCH value.
pub(crate) fn resource_object(
    obj: &mut Map<String, Value>,
    schema: &ResourceSchema,
    d: &mut Dialect<'_>,
) {
    for (key, value) in obj.iter_mut() {
        if let Some(ext) = schema.extension(key) {
            if let Value::Object(inner) = value {
                extension_object(inner, ext, d);
            }
            continue;
        }
        let Ok(path) = AttrPath::parse(key) else {
            continue;
        };
        match schema.resolve(&path) {
            Some(Resolved::Attribute(at)) => target_value(value, at, false, d),
            Some(Resolved::Extension(ext)) => {
                if let Value::Object(inner) = value {
                    extension_object(inner, ext, d);
                }
            }
            None => {}
        }
    }
}

/// Normalises the attributes inside one extension object.
pub(crate) fn extension_object(obj: &mut Map<String, Value>, ext: &SchemaDef, d: &mut Dialect<'_>) {
    for (key, value) in obj.iter_mut() {
        if let Some(def) = ext.attribute(key) {
            attribute_value(value, def, d);
        }
    }
}

/// Normalises the value of a whole attribute.
fn attribute_value(value: &mut Value, def: &AttributeDef, d: &mut Dialect<'_>) {
    if def.multi_valued {
        match value {
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| element_value(item, def, d)),
            other => element_value(other, def, d),
        }
    } else if def.attr_type == AttrType::Complex {
        d.apply(Rule::EmptyClears, || empty_to_null(value));
        d.apply(Rule::ComplexFromString, || complex_from_string(value, def));
        if let Value::Object(obj) = value {
            sub_values(obj, def, d);
        }
    } else if def.attr_type == AttrType::Boolean {
        d.apply(Rule::StringBooleans, || string_to_bool(value));
    }
}

/// Normalises one value of `def` (one element when it is multi-valued).
fn element_value(value: &mut Value, def: &AttributeDef, d: &mut Dialect<'_>) {
    if def.attr_type != AttrType::Complex {
        if def.attr_type == AttrType::Boolean {
            d.apply(Rule::StringBooleans, || string_to_bool(value));
        }
        return;
    }
    if is_role_like(def) {
        d.apply(Rule::RolesJsonString, || role_from_json_string(value, def));
    }
    if let Value::Object(obj) = value {
        sub_values(obj, def, d);
    }
}

fn sub_values(obj: &mut Map<String, Value>, def: &AttributeDef, d: &mut Dialect<'_>) {
    for (key, value) in obj.iter_mut() {
        if let Some(sub) = def.sub(key) {
            attribute_value(value, sub, d);
        }
    }
}

/// `empty_clears`: `""` for a complex attribute means "no value" (null clears in the core).
fn empty_to_null(value: &mut Value) -> bool {
    if value.as_str() == Some("") {
        *value = Value::Null;
        return true;
    }
    false
}

/// `complex_from_string`: `"u-1"` → `{"value": "u-1"}`; `[{…}]` → `{…}`.
fn complex_from_string(value: &mut Value, def: &AttributeDef) -> bool {
    match value {
        Value::String(s) if !s.is_empty() && def.sub("value").is_some() => {
            let text = std::mem::take(s);
            let mut obj = Map::new();
            obj.insert("value".to_owned(), Value::String(text));
            *value = Value::Object(obj);
            true
        }
        Value::Array(items) if items.len() == 1 && items.first().is_some_and(Value::is_object) => {
            if let Some(only) = items.pop() {
                *value = only;
            }
            true
        }
        _ => false,
    }
}

/// `string_booleans`: `"True"`/`"false"` (any case) → JSON booleans.
fn string_to_bool(value: &mut Value) -> bool {
    let parsed = match value.as_str() {
        Some(s) if s.eq_ignore_ascii_case("true") => true,
        Some(s) if s.eq_ignore_ascii_case("false") => false,
        _ => return false,
    };
    *value = Value::Bool(parsed);
    true
}

fn is_role_like(def: &AttributeDef) -> bool {
    def.name.eq_ignore_ascii_case("roles") || def.name.eq_ignore_ascii_case("entitlements")
}

/// `roles_json_string`: Entra's app-role element `{"value": "{\"id\":…,\"value\":\"25\",\"displayName\":\"R\"}"}`
/// becomes `{"value": "25", "display": "R"}`: known sub-attributes are taken from the inner
/// object (`displayName` as `display`), sub-attributes already on the element win, the rest
/// (the app-role `id`) is dropped.
fn role_from_json_string(value: &mut Value, def: &AttributeDef) -> bool {
    let Value::Object(obj) = value else {
        return false;
    };
    let Some(Value::String(raw)) = get_ci(obj, "value") else {
        return false;
    };
    if !raw.trim_start().starts_with('{') {
        return false;
    }
    let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(raw) else {
        return false;
    };
    remove_ci(obj, "value");
    for (key, inner_value) in inner {
        let name = if key.eq_ignore_ascii_case("displayName") {
            "display"
        } else {
            key.as_str()
        };
        if let Some(sub) = def.sub(name) {
            if get_ci(obj, &sub.name).is_none() {
                obj.insert(sub.name.clone(), inner_value);
            }
        }
    }
    true
}

/// `remove_value_array`: one filter per listed element, matching it by `value` (or, for
/// elements without one, by all their simple sub-attributes).
pub(crate) fn removal_filters(
    value: &Value,
    def: &AttributeDef,
    label: &str,
) -> Result<Vec<Filter>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter(|item| !item.is_null())
        .map(|item| {
            element_filter(item, def).ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "remove on '{label}': value element {item} names no sub-attribute value to match"
                ))
            })
        })
        .collect()
}

fn element_filter(item: &Value, def: &AttributeDef) -> Option<Filter> {
    let eq = |name: &str, v: &Value| {
        let value = CompValue::from_json(v).filter(|c| *c != CompValue::Null)?;
        Some(Filter::Compare {
            path: AttrPath::simple(name),
            op: CompareOp::Eq,
            value,
        })
    };
    let Value::Object(obj) = item else {
        return eq("value", item);
    };
    if let Some(v) = get_ci(obj, "value").filter(|v| !v.is_null()) {
        return eq("value", v);
    }
    let terms: Vec<Filter> = obj
        .iter()
        .filter_map(|(k, v)| eq(&def.sub(k)?.name, v))
        .collect();
    (!terms.is_empty()).then(|| combine(terms, true))
}

/// `value_filter_upsert`: the element implied by a filter made only of `eq` terms joined by
/// `and` (`type eq "mobile"` → `{"type": "mobile"}`); `None` for any other filter shape.
/// Entra's upsert selects a slot by its `type`: a filter without a `type` term (such as
/// `members[value eq "1"]`) names an element that must exist, so no match stays `noTarget`.
pub(crate) fn upsert_element(filter: &Filter, def: &AttributeDef) -> Option<Map<String, Value>> {
    let mut element = Map::new();
    collect_eq_terms(filter, def, &mut element)?;
    element.contains_key("type").then_some(element)
}

fn collect_eq_terms(
    filter: &Filter,
    def: &AttributeDef,
    out: &mut Map<String, Value>,
) -> Option<()> {
    match filter {
        Filter::And(items) => items.iter().try_for_each(|f| collect_eq_terms(f, def, out)),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() && *value != CompValue::Null => {
            let sub = def.sub(&path.name)?;
            out.insert(sub.name.clone(), value.to_json());
            Some(())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
