//! Query parameters of SCIM reads (RFC 7644 §3.4.2): `filter`, `startIndex`, `count`,
//! `attributes`, `excludedAttributes`, `sortBy`, `sortOrder`, parsed and bounded.

use crate::scim::attr::AttrPath;
use crate::scim::error::ScimError;
use crate::scim::filter::{parse_attr_list, parse_filter, Filter, FilterLimits};

/// Bounds applied while parsing.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub filter: FilterLimits,
    /// Page size when the client gives no `count`.
    pub default_count: u64,
    /// Largest page served (advertised as `filter.maxResults`).
    pub max_count: u64,
}

/// A parsed list/get query.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based; values below 1 are raised to 1 (RFC 7644 §3.4.2.4).
    pub start_index: u64,
    /// Negative values are 0; values above the maximum are capped.
    pub count: u64,
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
}

impl ListQuery {
    /// Parses the query pairs of a request (names are matched case-insensitively).
    pub fn parse(pairs: &[(String, String)], limits: &QueryLimits) -> Result<ListQuery, ScimError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let filter = match get("filter").map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_filter(text, &limits.filter).map_err(|e| {
                ScimError::invalid_filter(format!("invalid filter {:?}: {e}", excerpt(text)))
            })?),
        };
        let start_index = match get("startIndex") {
            None | Some("") => 1,
            Some(v) => parse_int("startIndex", v)?.max(1) as u64,
        };
        let count = match get("count") {
            None | Some("") => limits.default_count,
            Some(v) => (parse_int("count", v)?.max(0) as u64).min(limits.max_count),
        };
        let attributes = attr_list("attributes", get("attributes"))?;
        let excluded = attr_list("excludedAttributes", get("excludedAttributes"))?;
        let sort_by =
            match get("sortBy").map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(AttrPath::parse(text).map_err(|e| {
                    ScimError::invalid_value(format!("invalid sortBy {text:?}: {e}"))
                })?),
            };
        let descending = match get("sortOrder").map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )))
            }
        };
        Ok(ListQuery {
            filter,
            start_index,
            count,
            attributes,
            excluded,
            sort_by,
            descending,
        })
    }
}

fn parse_int(name: &str, value: &str) -> Result<i64, ScimError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {value:?}")))
}

fn attr_list(name: &str, value: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    match value.map(str::trim) {
        None | Some("") => Ok(Vec::new()),
        Some(text) => parse_attr_list(text)
            .map_err(|e| ScimError::invalid_value(format!("invalid {name} {text:?}: {e}"))),
    }
}

/// SearchRequest message URN (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

impl ListQuery {
    /// Parses a `POST /.search` body (RFC 7644 §3.4.3) with the same rules as a query string.
    pub fn from_search_request(
        body: &serde_json::Value,
        limits: &QueryLimits,
    ) -> Result<ListQuery, ScimError> {
        use serde_json::Value;
        if let Some(schemas) = body.get("schemas") {
            let ok = schemas.as_array().is_some_and(|s| {
                s.iter().any(|v| {
                    v.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST))
                })
            });
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "schemas must contain {SEARCH_REQUEST}"
                )));
            }
        }
        let mut pairs = Vec::new();
        let Some(fields) = body.as_object() else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        for (key, value) in fields {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => {
                    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    names
                        .ok_or_else(|| {
                            ScimError::invalid_value(format!(
                                "{key} must be a list of attribute names"
                            ))
                        })?
                        .join(",")
                }
                Value::Null => continue,
                _ if key == "schemas" => continue,
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "{key} has an unexpected value {other}"
                    )))
                }
            };
            if key != "schemas" {
                pairs.push((key.clone(), text));
            }
        }
        ListQuery::parse(&pairs, limits)
    }
}

/// The start of a long client value, for error messages (a 4 KiB filter is not echoed).
fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
