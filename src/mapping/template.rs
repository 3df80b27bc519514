//! `{placeholder}` templates for backend paths, query parameters and JSON bodies.
//!
//! A placeholder names a variable (`id`, `member`, `value`, `record.<field>`) and optional
//! filters: `{value|lower}`, `{value|regex}` (escape for a regular expression), `{value|upper}`.
//! In a JSON body a string that is exactly one placeholder keeps the variable's JSON type, so
//! `"{member}"` becomes the number `1001` when member ids are integers.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed template string.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Var { name: String, filters: Vec<Filter> },
}

#[derive(Debug, Clone, Copy)]
enum Filter {
    Lower,
    Upper,
    Regex,
}

/// How rendered variable values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (query values are encoded later by the client).
    None,
    /// Percent-encoded as one URL path segment.
    PathSegment,
}

/// Looks up a template variable as a JSON value.
///
/// `Sync` because request futures hold `&dyn Vars` across awaits and must stay `Send`.
pub trait Vars: Sync {
    fn var(&self, name: &str) -> Option<Value>;
}

impl<F: Fn(&str) -> Option<Value> + Sync> Vars for F {
    fn var(&self, name: &str) -> Option<Value> {
        self(name)
    }
}

impl Template {
    /// Parses `text`; `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, n)| *n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let close = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` in template `{text}`"))?;
                    let inner = &rest[..close];
                    for _ in 0..inner.chars().count() + 1 {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_var(inner, text)?);
                }
                '}' => return Err(format!("stray `}}` in template `{text}`")),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Names of the variables this template uses (without filters).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders as text; a missing variable is an error naming it.
    pub fn render(&self, vars: &dyn Vars, escape: Escape) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var { name, filters } => {
                    let value = vars
                        .var(name)
                        .ok_or_else(|| format!("template variable `{name}` has no value"))?;
                    let text = apply_filters(&value_text(&value), filters);
                    match escape {
                        Escape::None => out.push_str(&text),
                        Escape::PathSegment => {
                            out.extend(utf8_percent_encode(&text, PATH_SEGMENT));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders into JSON: a lone unfiltered placeholder keeps the variable's JSON type.
    pub fn render_json(&self, vars: &dyn Vars) -> Result<Value, String> {
        if let [Part::Var { name, filters }] = self.parts.as_slice() {
            if filters.is_empty() {
                return vars
                    .var(name)
                    .ok_or_else(|| format!("template variable `{name}` has no value"));
            }
        }
        self.render(vars, Escape::None).map(Value::String)
    }
}

fn parse_var(inner: &str, whole: &str) -> Result<Part, String> {
    let mut pieces = inner.split('|').map(str::trim);
    let name = pieces.next().unwrap_or_default();
    if name.is_empty() {
        return Err(format!("empty placeholder in template `{whole}`"));
    }
    let filters = pieces
        .map(|f| match f {
            "lower" => Ok(Filter::Lower),
            "upper" => Ok(Filter::Upper),
            "regex" => Ok(Filter::Regex),
            other => Err(format!(
                "unknown filter `{other}` in template `{whole}` (known: lower, upper, regex)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Part::Var {
        name: name.to_owned(),
        filters,
    })
}

fn apply_filters(text: &str, filters: &[Filter]) -> String {
    filters.iter().fold(text.to_owned(), |acc, f| match f {
        Filter::Lower => acc.to_lowercase(),
        Filter::Upper => acc.to_uppercase(),
        Filter::Regex => regex_escape(&acc),
    })
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text of a JSON scalar (strings without quotes).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A JSON body whose strings are templates.
#[derive(Debug, Clone)]
pub enum JsonTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Compiles every string of `value` as a template.
    pub fn compile(value: &Value) -> Result<JsonTemplate, String> {
        Ok(match value {
            Value::String(s) => JsonTemplate::Text(Template::parse(s)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(JsonTemplate::compile)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::compile(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Renders the body.
    pub fn render(&self, vars: &dyn Vars) -> Result<Value, String> {
        Ok(match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => t.render_json(vars)?,
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(vars))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    map.insert(k.clone(), v.render(vars)?);
                }
                Value::Object(map)
            }
        })
    }

    /// Variables used anywhere in the body.
    pub fn variables(&self) -> Vec<&str> {
        match self {
            JsonTemplate::Literal(_) => Vec::new(),
            JsonTemplate::Text(t) => t.variables().collect(),
            JsonTemplate::Array(items) => items.iter().flat_map(|i| i.variables()).collect(),
            JsonTemplate::Object(fields) => {
                fields.iter().flat_map(|(_, v)| v.variables()).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(name: &str) -> Option<Value> {
        match name {
            "id" => Some(json!(42)),
            "value" => Some(json!("A.b+c@x")),
            "member" => Some(json!("u/1")),
            _ => None,
        }
    }

    #[test]
    fn renders_paths_with_percent_encoded_segments() {
        let t = Template::parse("/api/groups/{id}/members/{member}").unwrap();
        assert_eq!(
            t.render(&vars, Escape::PathSegment).unwrap(),
            "/api/groups/42/members/u%2F1"
        );
    }

    #[test]
    fn filters_fold_case_and_escape_regex() {
        let t = Template::parse("^{value|regex}$").unwrap();
        assert_eq!(t.render(&vars, Escape::None).unwrap(), "^A\\.b\\+c@x$");
        let t = Template::parse("{value|lower}").unwrap();
        assert_eq!(t.render(&vars, Escape::None).unwrap(), "a.b+c@x");
    }

    #[test]
    fn lone_placeholder_keeps_json_type() {
        let body =
            JsonTemplate::compile(&json!({"groupId": "{id}", "label": "g-{id}", "n": 1})).unwrap();
        assert_eq!(
            body.render(&vars).unwrap(),
            json!({"groupId": 42, "label": "g-42", "n": 1})
        );
    }

    #[test]
    fn missing_variables_and_bad_syntax_are_errors() {
        let t = Template::parse("/x/{nope}").unwrap();
        assert!(t.render(&vars, Escape::None).unwrap_err().contains("nope"));
        assert!(Template::parse("/x/{id").is_err());
        assert!(Template::parse("{id|shout}").unwrap_err().contains("shout"));
        assert_eq!(
            Template::parse("{{literal}}")
                .unwrap()
                .render(&vars, Escape::None)
                .unwrap(),
            "{literal}"
        );
    }
}
