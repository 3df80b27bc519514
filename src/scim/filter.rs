//! SCIM filters (RFC 7644 §3.4.2.2): the filter tree, its parser (with the Entra ID forms the
//! RFC grammar lacks) and its evaluation against resource JSON.

pub(crate) mod datetime;
mod eval;
pub(crate) mod parser;

use std::fmt;

use serde_json::{Number, Value};

pub use crate::scim::attr::ParseError;
use crate::scim::attr::{self, AttrPath};
use crate::scim::schema::ResourceSchema;

pub(crate) use eval::matches_element;

/// A comparison operator (RFC 7644 Table 3); `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The lower-case wire name, e.g. `eq`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses an operator name, case-insensitively.
    pub fn parse(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// The value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A string (quoted, or an unquoted bare token).
    Str(String),
    /// A JSON number.
    Number(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl CompValue {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            CompValue::Str(s) => Value::String(s.clone()),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Null => Value::Null,
        }
    }

    /// The filter value for a JSON scalar; `None` for arrays and objects.
    pub fn from_json(value: &Value) -> Option<CompValue> {
        Some(match value {
            Value::String(s) => CompValue::Str(s.clone()),
            Value::Number(n) => CompValue::Number(n.clone()),
            Value::Bool(b) => CompValue::Bool(*b),
            Value::Null => CompValue::Null,
            Value::Array(_) | Value::Object(_) => return None,
        })
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // JSON text: strings come out quoted and escaped, so the output re-parses.
        write!(f, "{}", self.to_json())
    }
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// All terms match (flattened: no `And` directly inside an `And`).
    And(Vec<Filter>),
    /// Some term matches (flattened likewise).
    Or(Vec<Filter>),
    /// `not (…)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of multi-valued `attr` matches `filter` (inner paths are relative to the element).
    ValuePath {
        /// The multi-valued (or complex) attribute.
        attr: AttrPath,
        /// The condition one of its values must meet.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Whether `resource` (SCIM JSON, core attributes at the top, extensions under their URN)
    /// matches, with names compared case-insensitively and strings by the schema's `caseExact`.
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval::matches_resource(self, resource, schema)
    }

    /// Prints with the fewest parentheses that keep `not` > `and` > `or` precedence.
    fn fmt_at(&self, f: &mut fmt::Formatter<'_>, level: u8) -> fmt::Result {
        match self {
            Filter::Or(items) => join(f, items, " or ", 1, level > 0),
            Filter::And(items) => join(f, items, " and ", 2, level > 1),
            Filter::Not(inner) => {
                f.write_str("not (")?;
                inner.fmt_at(f, 0)?;
                f.write_str(")")
            }
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { attr, filter } => {
                write!(f, "{attr}[")?;
                filter.fmt_at(f, 0)?;
                f.write_str("]")
            }
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    sep: &str,
    level: u8,
    parens: bool,
) -> fmt::Result {
    if parens {
        f.write_str("(")?;
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        item.fmt_at(f, level)?;
    }
    if parens {
        f.write_str(")")?;
    }
    Ok(())
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_at(f, 0)
    }
}

/// Bounds on filter input, so hostile filters cost little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest accepted input, in bytes.
    pub max_length: usize,
    /// Deepest accepted nesting of `(…)`, `not (…)` and `[…]`.
    pub max_depth: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        FilterLimits {
            max_length: 4096,
            max_depth: 32,
        }
    }
}

/// Parses a `filter` query parameter (RFC 7644 §3.4.2.2).
///
/// Beyond the RFC ABNF it accepts what Entra ID sends: case-insensitive keywords and
/// operators, unquoted values (`externalId eq jdoe`), and `emails[type eq "work"].value eq "x"`,
/// read as `emails[type eq "work" and value eq "x"]`.
pub fn parse_filter(input: &str, limits: &FilterLimits) -> Result<Filter, ParseError> {
    parser::Parser::new(input, limits)?.filter()
}

/// Parses an `attributes=` / `excludedAttributes=` list: comma-separated attribute paths,
/// blanks around names tolerated, empty items skipped.
pub fn parse_attr_list(input: &str) -> Result<Vec<AttrPath>, ParseError> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in input.split(',') {
        let end = start + piece.len();
        let lead = piece.len() - piece.trim_start().len();
        let trail = piece.len() - piece.trim_end().len();
        if lead < piece.len() {
            out.push(attr::parse_span(input, start + lead, end - trail)?);
        }
        start = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests;
