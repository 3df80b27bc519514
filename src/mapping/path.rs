//! Backend JSON paths, parsed once at load time.
//!
//! Simple paths (`$.contact.email`, `$.items[0].id`) are walked directly and can also be
//! written, creating objects on the way. Anything richer (filters, wildcards, recursive
//! descent) is a read-only JSONPath evaluated by `jsonpath-rust`; jsonpath-rust cannot
//! create values, which is why writes need the simple form.

use std::fmt;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

/// A compiled backend path.
#[derive(Clone)]
pub struct BackendPath {
    text: String,
    kind: PathKind,
}

#[derive(Clone)]
enum PathKind {
    Simple(Vec<Segment>),
    Query(Box<JpQuery>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl fmt::Debug for BackendPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendPath({})", self.text)
    }
}

impl fmt::Display for BackendPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl BackendPath {
    /// Parses `$`, `$.a.b`, `$['a'][0]`, or any JSONPath (read-only).
    pub fn parse(text: &str) -> Result<BackendPath, String> {
        let trimmed = text.trim();
        if let Some(segments) = parse_simple(trimmed) {
            return Ok(BackendPath {
                text: trimmed.to_owned(),
                kind: PathKind::Simple(segments),
            });
        }
        match parse_json_path(trimmed) {
            Ok(query) => Ok(BackendPath {
                text: trimmed.to_owned(),
                kind: PathKind::Query(Box::new(query)),
            }),
            Err(e) => Err(format!("invalid JSON path `{trimmed}`: {e}")),
        }
    }

    /// The root path `$`.
    pub fn root() -> BackendPath {
        BackendPath {
            text: "$".into(),
            kind: PathKind::Simple(Vec::new()),
        }
    }

    /// Whether [`BackendPath::write`] can set values at this path.
    pub fn is_writable(&self) -> bool {
        matches!(self.kind, PathKind::Simple(_))
    }

    /// Whether this is the root path `$`.
    pub fn is_root(&self) -> bool {
        matches!(&self.kind, PathKind::Simple(s) if s.is_empty())
    }

    /// The first value at this path, if any.
    pub fn read<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        match &self.kind {
            PathKind::Simple(segments) => segments.iter().try_fold(doc, |cur, seg| match seg {
                Segment::Key(k) => cur.get(k.as_str()),
                Segment::Index(i) => cur.get(*i),
            }),
            PathKind::Query(query) => js_path_process(query, doc)
                .ok()
                .and_then(|found| found.into_iter().next().map(|r| r.val())),
        }
    }

    /// The first value at this path, moved out of `doc` (copied for a JSONPath query).
    pub fn take(&self, doc: Value) -> Option<Value> {
        match &self.kind {
            PathKind::Simple(segments) => {
                segments.iter().try_fold(doc, |cur, seg| match (seg, cur) {
                    (Segment::Key(k), Value::Object(mut map)) => map.remove(k.as_str()),
                    (Segment::Index(i), Value::Array(mut items)) if *i < items.len() => {
                        Some(items.swap_remove(*i))
                    }
                    _ => None,
                })
            }
            PathKind::Query(_) => self.read(&doc).cloned(),
        }
    }

    /// Sets `value` at this path, creating objects and arrays on the way.
    pub fn write(&self, doc: &mut Value, value: Value) -> Result<(), String> {
        let PathKind::Simple(segments) = &self.kind else {
            return Err(format!("`{}` is not a writable path", self.text));
        };
        let Some((last, parents)) = segments.split_last() else {
            *doc = value;
            return Ok(());
        };
        let mut cur = doc;
        for (i, seg) in parents.iter().enumerate() {
            let next_is_index = matches!(segments.get(i + 1), Some(Segment::Index(_)));
            cur = child_mut(cur, seg, next_is_index);
        }
        let slot = child_mut(cur, last, false);
        *slot = value;
        Ok(())
    }

    /// Removes the value at this path (simple paths only); missing parents are fine.
    pub fn remove(&self, doc: &mut Value) {
        let PathKind::Simple(segments) = &self.kind else {
            return;
        };
        let Some((last, parents)) = segments.split_last() else {
            return;
        };
        let mut cur = doc;
        for seg in parents {
            let next = match seg {
                Segment::Key(k) => cur.get_mut(k.as_str()),
                Segment::Index(i) => cur.get_mut(*i),
            };
            match next {
                Some(v) => cur = v,
                None => return,
            }
        }
        match (last, cur) {
            (Segment::Key(k), Value::Object(map)) => {
                map.remove(k);
            }
            (Segment::Index(i), Value::Array(items)) if *i < items.len() => {
                items.remove(*i);
            }
            _ => {}
        }
    }

    /// The first key of a simple path (used to build partial bodies), if any.
    pub fn top_key(&self) -> Option<&str> {
        match &self.kind {
            PathKind::Simple(segments) => match segments.first() {
                Some(Segment::Key(k)) => Some(k),
                _ => None,
            },
            PathKind::Query(_) => None,
        }
    }
}

/// Steps into `seg`, replacing a non-container value with the container it needs.
fn child_mut<'a>(cur: &'a mut Value, seg: &Segment, next_is_index: bool) -> &'a mut Value {
    let fresh = || {
        if next_is_index {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    };
    match seg {
        Segment::Key(k) => {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            match cur {
                Value::Object(map) => map.entry(k.clone()).or_insert_with(fresh),
                // Unreachable: `cur` was made an object just above.
                other => other,
            }
        }
        Segment::Index(i) => {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            match cur {
                Value::Array(items) => {
                    while items.len() <= *i {
                        items.push(Value::Null);
                    }
                    if items[*i].is_null() {
                        items[*i] = fresh();
                    }
                    &mut items[*i]
                }
                other => other,
            }
        }
    }
}

/// Parses the simple subset: `$` followed by `.key`, `['key']` or `[N]` segments.
fn parse_simple(text: &str) -> Option<Vec<Segment>> {
    let rest = text.strip_prefix('$')?;
    let bytes = rest.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && is_key_char(bytes[end]) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                segments.push(Segment::Key(rest[start..end].to_owned()));
                i = end;
            }
            b'[' => {
                let close = rest[i..].find(']')? + i;
                let inner = rest[i + 1..close].trim();
                if let Some(quoted) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    if quoted.contains(['\'', '"', '\\']) {
                        return None;
                    }
                    segments.push(Segment::Key(quoted.to_owned()));
                } else {
                    segments.push(Segment::Index(inner.parse().ok()?));
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(segments)
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn take_moves_out_what_read_finds() {
        let doc = json!({"data": {"items": [{"id": 1}, {"id": 2}]}, "n": 2});
        for text in [
            "$",
            "$.data.items",
            "$.data.items[1]",
            "$.nope",
            "$.n.x",
            "$..id",
        ] {
            let path = BackendPath::parse(text).unwrap();
            assert_eq!(path.take(doc.clone()).as_ref(), path.read(&doc), "{text}");
        }
    }

    #[test]
    fn simple_paths_read_and_write_nested_values() {
        let path = BackendPath::parse("$.contact.email").unwrap();
        assert!(path.is_writable());
        let mut doc = json!({});
        path.write(&mut doc, json!("a@example.com")).unwrap();
        assert_eq!(doc, json!({"contact": {"email": "a@example.com"}}));
        assert_eq!(path.read(&doc), Some(&json!("a@example.com")));
    }

    #[test]
    fn writes_pad_arrays_and_create_objects() {
        let path = BackendPath::parse("$.phones[1].number").unwrap();
        let mut doc = json!({"phones": [{"number": "1"}]});
        path.write(&mut doc, json!("2")).unwrap();
        assert_eq!(doc, json!({"phones": [{"number": "1"}, {"number": "2"}]}));
    }

    #[test]
    fn bracket_keys_and_root() {
        let path = BackendPath::parse("$['user-data']['x']").unwrap();
        let doc = json!({"user-data": {"x": 5}});
        assert_eq!(path.read(&doc), Some(&json!(5)));
        assert!(BackendPath::parse("$").unwrap().is_root());
    }

    #[test]
    fn filter_paths_are_read_only_queries() {
        let path = BackendPath::parse("$.emails[?(@.kind == 'work')].address").unwrap();
        assert!(!path.is_writable());
        let doc =
            json!({"emails": [{"kind": "home", "address": "h"}, {"kind": "work", "address": "w"}]});
        assert_eq!(path.read(&doc), Some(&json!("w")));
        assert!(path.write(&mut json!({}), json!(1)).is_err());
    }

    #[test]
    fn invalid_paths_are_rejected_with_the_text() {
        let err = BackendPath::parse("$.a[?(@.x == )]").unwrap_err();
        assert!(err.contains("$.a[?(@.x == )]"), "{err}");
    }

    #[test]
    fn remove_deletes_only_the_leaf() {
        let path = BackendPath::parse("$.org.manager_id").unwrap();
        let mut doc = json!({"org": {"manager_id": 1, "department": "x"}});
        path.remove(&mut doc);
        assert_eq!(doc, json!({"org": {"department": "x"}}));
    }
}
