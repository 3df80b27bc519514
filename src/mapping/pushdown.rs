//! SCIM filter → backend query parameters, for the terms the mapping says the backend answers;
//! `sortBy` → backend sort parameters, for the attributes the mapping says the backend sorts.
//!
//! Pushdown only narrows what the backend returns: the gateway always evaluates the whole
//! filter on what comes back, so a backend whose matching is looser (case, prefix) than
//! SCIM's can still be used safely.

use super::target::ScimTarget;
use super::template::{value_text, Escape};
use super::ResourceMapping;
use crate::scim::attr::AttrPath;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::PatchPath;

/// Query parameters for the pushed-down part of a filter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pushdown {
    pub params: Vec<(String, String)>,
    /// Every term of the filter was pushed down (the backend's matches are the candidates).
    pub complete: bool,
}

impl ResourceMapping {
    /// Translates the `and`-ed terms of `filter` that have a pushdown rule.
    pub fn pushdown(&self, filter: &Filter) -> Pushdown {
        let terms: Vec<&Filter> = match filter {
            Filter::And(terms) => terms.iter().collect(),
            other => vec![other],
        };
        let mut out = Pushdown {
            params: Vec::new(),
            complete: true,
        };
        for term in terms {
            let rendered = self.term_params(term);
            match rendered {
                Some(params) => {
                    for (k, v) in params {
                        if !out.params.iter().any(|(existing, _)| *existing == k) {
                            out.params.push((k, v));
                        }
                    }
                }
                None => out.complete = false,
            }
        }
        out
    }

    /// Query parameters that make the backend sort by `by`, when the mapping has a sort rule
    /// for that attribute.
    pub fn sort_params(&self, by: &AttrPath, descending: bool) -> Option<Vec<(String, String)>> {
        let path = PatchPath {
            attr: by.clone(),
            filter: None,
            sub: None,
        };
        let key = ScimTarget::resolve(&path, &self.schema).ok()?.key();
        let rule = self.sort.iter().find(|r| r.key == key)?;
        let order = if descending {
            &rule.descending
        } else {
            &rule.ascending
        };
        let vars = |name: &str| (name == "order").then(|| serde_json::Value::String(order.clone()));
        rule.query
            .iter()
            .map(|(k, t)| t.render(&vars, Escape::None).ok().map(|v| (k.clone(), v)))
            .collect()
    }

    fn term_params(&self, term: &Filter) -> Option<Vec<(String, String)>> {
        let (key, op, value) = term_key(term, self)?;
        let rule = self
            .pushdown
            .iter()
            .find(|r| r.key == key && r.operator == op)?;
        if matches!(value, CompValue::Null) {
            return None;
        }
        let scim = value.to_json();
        // The backend holds transformed values (`Employee` stored as `staff`, a dateTime as
        // epoch seconds), so the query must name the stored form. A value the transform
        // refuses is never stored: the term is then left to the gateway.
        let stored = match self.attributes.iter().find(|a| a.target.key() == key) {
            Some(m) => m.transform.to_backend(&scim).ok()?,
            None => scim,
        };
        let text = value_text(&stored);
        let vars = |name: &str| (name == "value").then(|| serde_json::Value::String(text.clone()));
        rule.query
            .iter()
            .map(|(k, t)| t.render(&vars, Escape::None).ok().map(|v| (k.clone(), v)))
            .collect()
    }
}

/// The target key, operator and value of a simple comparison term, including Entra's
/// `emails[type eq "work"].value eq "x"` form (parsed as a value path with an `and`).
fn term_key<'f>(
    term: &'f Filter,
    mapping: &ResourceMapping,
) -> Option<(String, CompareOp, &'f CompValue)> {
    match term {
        Filter::Compare { path, op, value } => {
            let target = ScimTarget::resolve(
                &PatchPath {
                    attr: path.clone(),
                    filter: None,
                    sub: None,
                },
                &mapping.schema,
            )
            .ok()?;
            Some((target.key(), *op, value))
        }
        Filter::ValuePath { attr, filter } => {
            let inner: Vec<&Filter> = match filter.as_ref() {
                Filter::And(terms) => terms.iter().collect(),
                other => vec![other],
            };
            let (compare, selectors) = inner.split_last()?;
            let Filter::Compare {
                path: sub_path,
                op,
                value,
            } = compare
            else {
                return None;
            };
            let mut selector = Vec::new();
            for s in selectors {
                match s {
                    Filter::Compare {
                        path,
                        op: CompareOp::Eq,
                        value: CompValue::Str(v),
                    } => selector.push((path.name.clone(), v.clone())),
                    _ => return None,
                }
            }
            let mut target = ScimTarget::resolve(
                &PatchPath {
                    attr: attr.clone(),
                    filter: None,
                    sub: None,
                },
                &mapping.schema,
            )
            .ok()?;
            target.selector = selector;
            target.sub = Some(sub_path.name.clone());
            // Canonical spelling comes from the compiled rule keys, which are case-folded.
            Some((target.key(), *op, value))
        }
        _ => None,
    }
}
