//! Evaluation of a [`Filter`] against resource JSON, honouring attribute types and `caseExact`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{datetime, CompValue, CompareOp, Filter};
use crate::scim::attr::{get_ci, resolve_in_element, AttrPath, Resolved};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema};

/// What the paths of a filter are relative to.
#[derive(Clone, Copy)]
enum Scope<'s> {
    /// A whole resource.
    Resource(&'s ResourceSchema),
    /// One value of a complex (or simple multi-valued) attribute, inside `attr[…]`.
    Element(&'s AttributeDef),
}

pub(super) fn matches_resource(filter: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    eval(filter, resource, Scope::Resource(schema))
}

/// Whether one value of `parent` matches `filter` (the filter of a value path or PATCH path).
pub(crate) fn matches_element(filter: &Filter, element: &Value, parent: &AttributeDef) -> bool {
    eval(filter, element, Scope::Element(parent))
}

fn eval(filter: &Filter, json: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| eval(f, json, scope)),
        Filter::Or(items) => items.iter().any(|f| eval(f, json, scope)),
        Filter::Not(inner) => !eval(inner, json, scope),
        Filter::Present(path) => {
            select(path, json, scope, true).is_some_and(|o| o.values.iter().any(|v| !is_empty(v)))
        }
        Filter::Compare { path, op, value } => compare(path, *op, value, json, scope),
        Filter::ValuePath { attr, filter } => value_path(attr, filter, json, scope),
    }
}

/// The values a path selects and the definition that says how they compare.
struct Operand<'v, 's> {
    values: Vec<&'v Value>,
    def: Option<&'s AttributeDef>,
}

/// `None` when the path names nothing in the schema.
///
/// For comparisons (not presence), a complex attribute without a sub-attribute stands for its
/// `value` sub-attribute: `emails eq "x"`, `manager eq "id"`, `members eq "id"`.
fn select<'v, 's>(
    path: &AttrPath,
    json: &'v Value,
    scope: Scope<'s>,
    presence: bool,
) -> Option<Operand<'v, 's>> {
    match scope {
        Scope::Element(parent) => {
            let def = resolve_in_element(parent, path)?;
            let value = if parent.sub_attributes.is_empty() {
                Some(json)
            } else {
                json.as_object().and_then(|o| get_ci(o, &def.name))
            };
            Some(Operand {
                values: flatten(value),
                def: Some(def),
            })
        }
        Scope::Resource(schema) => match schema.resolve(path)? {
            Resolved::Extension(ext) => Some(Operand {
                values: flatten(json.as_object().and_then(|o| get_ci(o, &ext.id))),
                def: None,
            }),
            Resolved::Attribute(at) => {
                let value = at.get(json);
                let sub = match at.sub {
                    Some(sub) => Some(sub),
                    None if !presence && at.attr.attr_type == AttrType::Complex => {
                        Some(at.attr.sub("value")?)
                    }
                    None => None,
                };
                Some(match sub {
                    Some(sub) => Operand {
                        values: flatten(value)
                            .into_iter()
                            .filter_map(|v| v.as_object().and_then(|o| get_ci(o, &sub.name)))
                            .flat_map(|v| flatten(Some(v)))
                            .collect(),
                        def: Some(sub),
                    },
                    None => Operand {
                        values: flatten(value),
                        def: Some(at.attr),
                    },
                })
            }
        },
    }
}

/// The non-null values of an attribute: the elements of an array, else the value itself.
fn flatten(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(v) => vec![v],
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(map) => map.values().all(is_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// `ne` is "no value equals", so a missing attribute matches `ne` and nothing else.
fn compare(
    path: &AttrPath,
    op: CompareOp,
    expected: &CompValue,
    json: &Value,
    scope: Scope<'_>,
) -> bool {
    let Some(operand) = select(path, json, scope, false) else {
        return op == CompareOp::Ne;
    };
    if *expected == CompValue::Null {
        return match op {
            CompareOp::Eq => operand.values.is_empty(),
            CompareOp::Ne => !operand.values.is_empty(),
            _ => false,
        };
    }
    let test = |op| {
        operand
            .values
            .iter()
            .any(|v| compare_one(v, op, expected, operand.def))
    };
    match op {
        CompareOp::Ne => !test(CompareOp::Eq),
        _ => test(op),
    }
}

fn value_path(attr: &AttrPath, filter: &Filter, json: &Value, scope: Scope<'_>) -> bool {
    let Scope::Resource(schema) = scope else {
        return false;
    };
    let Some(Resolved::Attribute(at)) = schema.resolve(attr) else {
        return false;
    };
    if at.sub.is_some() {
        return false;
    }
    flatten(at.get(json))
        .into_iter()
        .any(|element| matches_element(filter, element, at.attr))
}

/// One actual value against the filter value; `op` is never `Ne` here.
fn compare_one(
    actual: &Value,
    op: CompareOp,
    expected: &CompValue,
    def: Option<&AttributeDef>,
) -> bool {
    let attr_type = def.map(|d| d.attr_type);
    let case_exact = def.is_some_and(|d| d.case_exact);
    match actual {
        Value::Bool(a) => compare_bool(*a, op, expected),
        Value::Number(a) => {
            expected_number(expected).is_some_and(|b| ordered(op, compare_numbers(a, &b)))
        }
        Value::String(a) => match attr_type {
            Some(AttrType::Boolean) if parse_bool(a).is_some() => {
                parse_bool(a).is_some_and(|a| compare_bool(a, op, expected))
            }
            Some(AttrType::Integer | AttrType::Decimal) if !is_substring_op(op) => {
                match (serde_json::from_str::<Number>(a), expected_number(expected)) {
                    (Ok(a), Some(b)) => ordered(op, compare_numbers(&a, &b)),
                    _ => compare_text(a, op, expected, case_exact),
                }
            }
            Some(AttrType::DateTime) if !is_substring_op(op) => {
                let b = expected_text(expected).and_then(|t| datetime::parse(&t));
                match (datetime::parse(a), b) {
                    (Some(a), Some(b)) => ordered(op, Some(a.cmp(&b))),
                    _ => compare_text(a, op, expected, case_exact),
                }
            }
            _ => compare_text(a, op, expected, case_exact),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

fn is_substring_op(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

/// Booleans support `eq` only; the filter may spell the value as a string (`"True"`).
fn compare_bool(actual: bool, op: CompareOp, expected: &CompValue) -> bool {
    let expected = match expected {
        CompValue::Bool(b) => Some(*b),
        CompValue::Str(s) => parse_bool(s),
        CompValue::Number(_) | CompValue::Null => None,
    };
    op == CompareOp::Eq && expected == Some(actual)
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn expected_number(expected: &CompValue) -> Option<Number> {
    match expected {
        CompValue::Number(n) => Some(n.clone()),
        CompValue::Str(s) => serde_json::from_str(s.trim()).ok(),
        CompValue::Bool(_) | CompValue::Null => None,
    }
}

/// The filter value as text, for comparison with a string attribute.
fn expected_text(expected: &CompValue) -> Option<Cow<'_, str>> {
    match expected {
        CompValue::Str(s) => Some(Cow::Borrowed(s)),
        CompValue::Number(n) => Some(Cow::Owned(n.to_string())),
        CompValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        CompValue::Null => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_text(actual: &str, op: CompareOp, expected: &CompValue, case_exact: bool) -> bool {
    let Some(expected) = expected_text(expected) else {
        return false;
    };
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (Cow::Borrowed(actual), expected)
    } else {
        (
            Cow::Owned(actual.to_lowercase()),
            Cow::Owned(expected.to_lowercase()),
        )
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordered(op, Some(a.cmp(&b))),
    }
}

/// Whether an ordering satisfies `eq`/`gt`/`ge`/`lt`/`le`; substring operators never do.
fn ordered(op: CompareOp, ordering: Option<Ordering>) -> bool {
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
