//! Value transforms between SCIM and backend values: value maps, type coercion, case folding.
//!
//! Reads coerce a backend value into the SCIM attribute's declared type (so a numeric
//! `manager_id` becomes the string SCIM expects); writes coerce into the backend type the
//! mapping names. Values are otherwise passed through exactly as sent.

use serde_json::{Number, Value};

use crate::mapping::template::value_text;
use crate::scim::filter::datetime;
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
    /// `YYYY-MM-DD` (the UTC date) on the backend; midnight UTC in SCIM.
    Date,
    /// `YYYY-MM-DD HH:MM:SS` in UTC on the backend (SQL `DATETIME`/`TIMESTAMP` text).
    SqlDateTime,
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
            "date" => BackendType::Date,
            "sql_datetime" => BackendType::SqlDateTime,
            _ => return None,
        })
    }

    /// Every type name [`BackendType::parse`] knows, for messages.
    pub const NAMES: &'static str =
        "string, integer, number, boolean, epoch_seconds, epoch_millis, date, sql_datetime";

    /// Whether the backend form is a point in time (the SCIM side is an RFC 3339 dateTime).
    pub fn is_datetime(self) -> bool {
        matches!(
            self,
            BackendType::EpochSeconds
                | BackendType::EpochMillis
                | BackendType::Date
                | BackendType::SqlDateTime
        )
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
            Some(t) if t.is_datetime() => Value::String(datetime_to_scim(backend, t)?),
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
        BackendType::EpochSeconds
        | BackendType::EpochMillis
        | BackendType::Date
        | BackendType::SqlDateTime => {
            // The strict parser SCIM dateTimes are checked with: a month 13 or a date
            // without a time is refused, not turned into some other instant.
            let (secs, nanos) = value
                .as_str()
                .and_then(datetime::parse)
                .ok_or_else(|| format!("value {value} is not an RFC 3339 dateTime"))?;
            let utc = || {
                utc_text(secs)
                    .ok_or_else(|| format!("value {value} is not in the years 0000-9999 UTC"))
            };
            Ok(match t {
                BackendType::EpochSeconds => Value::from(secs),
                // Milliseconds keep the fraction a client sent (`.250Z` → …250).
                BackendType::EpochMillis => Value::from(secs * 1000 + i64::from(nanos / 1_000_000)),
                BackendType::Date => Value::String(utc()?[..10].to_owned()),
                _ => Value::String(utc()?[..19].replacen('T', " ", 1)),
            })
        }
    }
}

/// A backend point in time as an RFC 3339 UTC dateTime; `None` when it is not one.
fn datetime_to_scim(backend: &Value, t: BackendType) -> Option<String> {
    match t {
        BackendType::EpochSeconds => utc_text(as_integer(backend)?),
        BackendType::EpochMillis => {
            let millis = as_integer(backend)?;
            let text = utc_text(millis.div_euclid(1000))?;
            Some(match millis.rem_euclid(1000) {
                0 => text,
                rest => format!("{}.{rest:03}Z", &text[..19]),
            })
        }
        BackendType::Date => {
            let day = backend.as_str().filter(|d| d.len() == 10)?;
            utc_text(datetime::parse(&format!("{day}T00:00:00Z"))?.0)
        }
        // Read leniently: `YYYY-MM-DD HH:MM:SS` (UTC) and any RFC 3339 text the backend has.
        _ => utc_text(datetime::parse(backend.as_str()?)?.0),
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

/// [`epoch_to_rfc3339`] for instants RFC 3339 can write (years 0000 to 9999): the first 10
/// characters are the date, the first 19 the date and time.
fn utc_text(secs: i64) -> Option<String> {
    Some(epoch_to_rfc3339(secs)).filter(|t| t.len() == 20 && !t.starts_with('-'))
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
        for bad in [
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-05-01",
            "1714554000",
        ] {
            assert!(t.to_backend(&json!(bad)).is_err(), "{bad}");
        }
        assert!(t.to_backend(&json!(1714554000)).is_err());
    }

    fn typed(t: BackendType) -> Transform {
        Transform {
            backend_type: Some(t),
            ..Transform::default()
        }
    }

    #[test]
    fn epoch_millis_keep_the_milliseconds() {
        let t = typed(BackendType::EpochMillis);
        assert_eq!(
            t.to_backend(&json!("2024-05-01T09:00:00.250Z")).unwrap(),
            json!(1714554000250_i64)
        );
        assert_eq!(
            t.to_scim(&json!(1714554000250_i64), AttrType::DateTime),
            Some(json!("2024-05-01T09:00:00.250Z"))
        );
        assert_eq!(
            t.to_scim(&json!(1714554000000_i64), AttrType::DateTime),
            Some(json!("2024-05-01T09:00:00Z"))
        );
        assert_eq!(
            t.to_scim(&json!(-1), AttrType::DateTime),
            Some(json!("1969-12-31T23:59:59.999Z"))
        );
    }

    #[test]
    fn dates_and_sql_datetimes_are_utc() {
        let date = typed(BackendType::Date);
        assert_eq!(
            date.to_backend(&json!("2024-05-01T23:30:00-05:00"))
                .unwrap(),
            json!("2024-05-02")
        );
        assert_eq!(
            date.to_scim(&json!("2024-05-01"), AttrType::DateTime),
            Some(json!("2024-05-01T00:00:00Z"))
        );
        assert_eq!(date.to_scim(&json!("2024-02-30"), AttrType::DateTime), None);
        let sql = typed(BackendType::SqlDateTime);
        assert_eq!(
            sql.to_backend(&json!("2024-05-01T11:00:00+02:00")).unwrap(),
            json!("2024-05-01 09:00:00")
        );
        assert_eq!(
            sql.to_scim(&json!("2024-05-01 09:00:00"), AttrType::DateTime),
            Some(json!("2024-05-01T09:00:00Z"))
        );
        assert!(sql.to_backend(&json!("2024-05-01 25:00:00")).is_err());
        // Not every instant has a four-digit UTC year.
        assert!(sql.to_backend(&json!("0000-01-01T00:00:00+01:00")).is_err());
        assert_eq!(
            typed(BackendType::EpochSeconds).to_scim(&json!(i64::MAX), AttrType::DateTime),
            None
        );
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
