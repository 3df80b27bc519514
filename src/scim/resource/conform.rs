//! Type checks of client-supplied values against attribute definitions, producing the
//! canonical form (schema spelling of sub-attribute names, no nulls, no unknown sub-attributes).

use serde_json::{Map, Value};

use crate::scim::attr::get_ci;
use crate::scim::error::ScimError;
use crate::scim::filter::datetime;
use crate::scim::schema::{AttrType, AttributeDef, Mutability};

/// What to do with readOnly sub-attributes found in client input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOnlySubs {
    /// Drop them: the client cannot set them (`members.display`, `manager.displayName`).
    Drop,
    /// Keep them, to compare against the stored value of a readOnly attribute.
    Keep,
}

/// Checks a value for the whole attribute `def`; `None` when the value is null (unassigned).
///
/// A multi-valued attribute takes an array (a lone element is accepted as a one-element
/// array) in which at most one element may say `primary: true`.
pub(crate) fn attribute(
    value: &Value,
    def: &AttributeDef,
    label: &str,
    ro: ReadOnlySubs,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return element(value, def, label, ro).map(Some);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
        other => vec![other],
    };
    let items = items
        .into_iter()
        .map(|item| element(item, def, label, ro))
        .collect::<Result<Vec<_>, _>>()?;
    if items.iter().filter(|item| is_primary(item)).count() > 1 {
        return Err(ScimError::invalid_value(format!(
            "'{label}': at most one value may have \"primary\": true"
        )));
    }
    Ok(Some(Value::Array(items)))
}

/// Checks one value of `def` (one element when multi-valued).
pub(crate) fn element(
    value: &Value,
    def: &AttributeDef,
    label: &str,
    ro: ReadOnlySubs,
) -> Result<Value, ScimError> {
    if def.attr_type != AttrType::Complex {
        return simple(value, def, label);
    }
    let Value::Object(obj) = value else {
        return Err(type_error(label, def.attr_type, value));
    };
    let mut out = Map::new();
    for (key, sub_value) in obj {
        // Sub-attributes the schema does not know are not mapped anywhere: dropped, not fatal.
        let Some(sub) = def.sub(key) else {
            continue;
        };
        if ro == ReadOnlySubs::Drop && sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_label = format!("{label}.{}", sub.name);
        if let Some(checked) = attribute(sub_value, sub, &sub_label, ro)? {
            out.insert(sub.name.clone(), checked);
        }
    }
    Ok(Value::Object(out))
}

/// Checks a simple (non-complex) value; values are kept exactly as sent.
pub(crate) fn simple(value: &Value, def: &AttributeDef, label: &str) -> Result<Value, ScimError> {
    let ok = match def.attr_type {
        AttrType::String | AttrType::Reference | AttrType::Binary => value.is_string(),
        AttrType::Boolean => value.is_boolean(),
        AttrType::Integer => value.is_i64() || value.is_u64(),
        AttrType::Decimal => value.is_number(),
        AttrType::DateTime => value.as_str().is_some_and(|s| datetime::parse(s).is_some()),
        AttrType::Complex => value.is_object(),
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(type_error(label, def.attr_type, value))
    }
}

fn type_error(label: &str, expected: AttrType, got: &Value) -> ScimError {
    let expected = match expected {
        AttrType::String | AttrType::Binary => "a string",
        AttrType::Reference => "a string (a reference)",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "an RFC 3339 dateTime string such as \"2024-05-13T04:42:34Z\"",
        AttrType::Complex => "an object",
    };
    ScimError::invalid_value(format!(
        "'{label}' must be {expected}, got {}",
        describe(got)
    ))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the string \"{}…\"", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Whether an element says `"primary": true`.
pub(crate) fn is_primary(element: &Value) -> bool {
    element
        .as_object()
        .and_then(|o| get_ci(o, "primary"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Equality as the schema sees it: strings by `caseExact`, dateTimes by instant, object keys
/// case-insensitively.
pub(crate) fn values_equal(a: &Value, b: &Value, def: &AttributeDef) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if x == y {
                return true;
            }
            if def.attr_type == AttrType::DateTime {
                if let (Some(x), Some(y)) = (datetime::parse(x), datetime::parse(y)) {
                    return x == y;
                }
            }
            !def.case_exact
                && def.attr_type != AttrType::Binary
                && x.to_lowercase() == y.to_lowercase()
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(key, xv)| {
                    get_ci(y, key).is_some_and(|yv| match def.sub(key) {
                        Some(sub) => values_equal(xv, yv, sub),
                        None => xv == yv,
                    })
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(xv, yv)| values_equal(xv, yv, def))
        }
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// [`values_equal`] for optional values; JSON null counts as absent.
pub(crate) fn same_value(a: Option<&Value>, b: Option<&Value>, def: &AttributeDef) -> bool {
    match (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null())) {
        (None, None) => true,
        (Some(a), Some(b)) => values_equal(a, b, def),
        _ => false,
    }
}
