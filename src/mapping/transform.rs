//! Value transforms between SCIM and backend values: value maps, type coercion, case folding.
//!
//! Reads coerce a backend value into the SCIM attribute's declared type (so a numeric
//! `manager_id` becomes the string SCIM expects); writes coerce into the backend type the
//! mapping names. Values are otherwise passed through exactly as sent.

use serde_json::{Number, Value};

use crate::mapping::template::value_text;
use crate::scim::schema::AttrType;

/// Backend value type of a mapped field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendType {
    String,
    Integer,
    Number,
    Boolean,
    /// Seconds since 1970 on the backend, an RFC 3339 dateTime in SCIM.
    EpochSeconds,
    /// Milliseconds since 1970 on the backend.
    EpochMillis,
}

impl BackendType {
    /// Parses a mapping-file type name.
    pub fn parse(name: &str) -> Option<BackendType> {
        Some(match name {
            "string" => BackendType::String,
            "integer" => BackendType::Integer,
            "number" => BackendType::Number,
            "boolean" => BackendType::Boolean,
            "epoch_seconds" => BackendType::EpochSeconds,
            "epoch_millis" => BackendType::EpochMillis,
            _ => return None,
        })
    }
}

/// Case folding applied to strings written to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
}

/// The transforms of one attribute mapping.
#[derive(Debug, Clone, Default)]
pub struct Transform {
    /// `(SCIM value, backend value)` pairs.
    pub values: Vec<(Value, Value)>,
    pub backend_type: Option<BackendType>,
    pub case: Option<Case>,
}

impl Transform {
    /// SCIM value → backend value; `Err` explains why the value cannot be stored.
    pub fn to_backend(&self, scim: &Value) -> Result<Value, String> {
        if scim.is_null() {
            return Ok(Value::Null);
        }
        if !self.values.is_empty() {
            return self
                .values
                .iter()
                .find(|(s, _)| loosely_equal(s, scim))
                .map(|(_, b)| b.clone())
                .ok_or_else(|| {
                    let allowed: Vec<String> =
                        self.values.iter().map(|(s, _)| value_text(s)).collect();
                    format!("value {scim} is not one of {}", allowed.join(", "))
                });
        }
        let value = match self.case {
            Some(Case::Lower) => fold(scim, str::to_lowercase),
            Some(Case::Upper) => fold(scim, str::to_uppercase),
            None => scim.clone(),
        };
        match self.backend_type {
            None => Ok(value),
            Some(t) => coerce_backend(&value, t),
        }
    }

    /// Backend value → SCIM value of type `scim_type`; `None` when it cannot be read.
    pub fn to_scim(&self, backend: &Value, scim_type: AttrType) -> Option<Value> {
        if backend.is_null() {
            return None;
        }
        if !self.values.is_empty() {
            return self
                .values
                .iter()
                .find(|(_, b)| loosely_equal(b, backend))
                .map(|(s, _)| s.clone());
        }
        let backend = match self.backend_type {
            Some(BackendType::EpochSeconds) => Value::String(epoch_to_rfc3339(backend.as_i64()?)),
            Some(BackendType::EpochMillis) => {
                Value::String(epoch_to_rfc3339(backend.as_i64()? / 1000))
            }
            _ => backend.clone(),
        };
        coerce_scim(&backend, scim_type)
    }
}

/// Equality that tolerates case in strings and `"true"` vs `true`.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Bool(x), Value::String(y)) | (Value::String(y), Value::Bool(x)) => {
            y.eq_ignore_ascii_case(if *x { "true" } else { "false" })
        }
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            x.to_string() == *y
        }
        _ => a == b,
    }
}

fn fold(value: &Value, f: fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        other => other.clone(),
    }
}

fn coerce_backend(value: &Value, t: BackendType) -> Result<Value, String> {
    match t {
        BackendType::String => Ok(match value {
            Value::String(_) | Value::Array(_) | Value::Object(_) => value.clone(),
            other => Value::String(other.to_string()),
        }),
        BackendType::Integer => as_integer(value)
            .map(Value::from)
            .ok_or_else(|| format!("value {value} is not an integer")),
        BackendType::Number => as_number(value)
            .map(Value::Number)
            .ok_or_else(|| format!("value {value} is not a number")),
        BackendType::Boolean => as_bool(value)
            .map(Value::Bool)
            .ok_or_else(|| format!("value {value} is not a boolean")),
        BackendType::EpochSeconds | BackendType::EpochMillis => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("value {value} is not a dateTime"))?;
            let secs = rfc3339_to_epoch(text)
                .ok_or_else(|| format!("value {value} is not an RFC 3339 dateTime"))?;
            Ok(Value::from(if t == BackendType::EpochMillis {
                secs * 1000
            } else {
                secs
            }))
        }
    }
}

/// Coerces a backend value into a SCIM attribute type.
pub fn coerce_scim(value: &Value, t: AttrType) -> Option<Value> {
    match t {
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => {
            Some(match value {
                Value::Number(n) => Value::String(n.to_string()),
                Value::Bool(b) => Value::String(b.to_string()),
                other => other.clone(),
            })
        }
        AttrType::Boolean => as_bool(value).map(Value::Bool),
        AttrType::Integer => as_integer(value).map(Value::from),
        AttrType::Decimal => as_number(value).map(Value::Number),
        AttrType::Complex => Some(value.clone()),
    }
}

fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_number(value: &Value) -> Option<Number> {
    match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => s.trim().parse::<f64>().ok().and_then(Number::from_f64),
        _ => None,
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Some(false),
        Value::Number(n) => n.as_i64().and_then(|i| match i {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        _ => None,
    }
}

/// Formats seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn epoch_to_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 dateTime (`2024-05-01T09:00:00Z`, fractions and offsets allowed).
pub fn rfc3339_to_epoch(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        "" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status_map() -> Transform {
        Transform {
            values: vec![
                (json!(true), json!("ENABLED")),
                (json!(false), json!("DISABLED")),
            ],
            ..Transform::default()
        }
    }

    #[test]
    fn value_maps_work_both_ways() {
        let t = status_map();
        assert_eq!(t.to_backend(&json!(false)).unwrap(), json!("DISABLED"));
        assert_eq!(
            t.to_scim(&json!("enabled"), AttrType::Boolean),
            Some(json!(true))
        );
        assert!(t.to_backend(&json!("maybe")).unwrap_err().contains("maybe"));
    }

    #[test]
    fn integers_coerce_from_strings_and_back() {
        let t = Transform {
            backend_type: Some(BackendType::Integer),
            ..Transform::default()
        };
        assert_eq!(t.to_backend(&json!("1002")).unwrap(), json!(1002));
        assert!(t.to_backend(&json!("bob")).is_err());
        assert_eq!(
            t.to_scim(&json!(1002), AttrType::String),
            Some(json!("1002"))
        );
    }

    #[test]
    fn epoch_seconds_round_trip_as_rfc3339() {
        let t = Transform {
            backend_type: Some(BackendType::EpochSeconds),
            ..Transform::default()
        };
        assert_eq!(
            t.to_scim(&json!(1714554000), AttrType::DateTime),
            Some(json!("2024-05-01T09:00:00Z"))
        );
        assert_eq!(
            t.to_backend(&json!("2024-05-01T11:00:00+02:00")).unwrap(),
            json!(1714554000)
        );
        assert_eq!(rfc3339_to_epoch("1970-01-01T00:00:00.123Z"), Some(0));
        assert_eq!(rfc3339_to_epoch("yesterday"), None);
    }

    #[test]
    fn case_folding_applies_to_strings_only() {
        let t = Transform {
            case: Some(Case::Lower),
            ..Transform::default()
        };
        assert_eq!(
            t.to_backend(&json!("Jane@Example.COM")).unwrap(),
            json!("jane@example.com")
        );
        assert_eq!(t.to_backend(&json!(5)).unwrap(), json!(5));
    }
}
