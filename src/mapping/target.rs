//! The SCIM side of an attribute mapping: where a mapped value lives in a SCIM resource.
//!
//! A target is an attribute (in the core schema or under an extension URN key), optionally
//! one element of a multi-valued attribute selected by `eq` terms (`emails[type eq "work"]`),
//! optionally a sub-attribute. Targets are resolved against the schema once, at load time,
//! so requests only walk JSON.

use serde_json::{Map, Value};

use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::PatchPath;
use crate::scim::schema::{common_attributes, AttrType, AttributeDef, ResourceSchema};

/// A resolved SCIM location.
#[derive(Debug, Clone)]
pub struct ScimTarget {
    /// Extension URN holding the attribute, `None` for the core schema.
    pub extension: Option<String>,
    /// Canonical attribute name.
    pub attr: String,
    /// For multi-valued attributes: the element whose sub-attributes equal these values.
    pub selector: Vec<(String, String)>,
    /// Canonical sub-attribute name.
    pub sub: Option<String>,
    /// SCIM type of the addressed value.
    pub value_type: AttrType,
    /// Whether the attribute is multi-valued.
    pub multi_valued: bool,
    /// Writes may take a typeless element when no element carries the selector's type
    /// (set for the first typed slot of each multi-valued attribute).
    pub takes_untyped: bool,
}

impl ScimTarget {
    /// Resolves a parsed PATCH-style path against the resource schema.
    pub fn resolve(path: &PatchPath, schema: &ResourceSchema) -> Result<ScimTarget, String> {
        let (extension, def) = find_attribute(schema, path)?;
        let selector = match &path.filter {
            None => Vec::new(),
            Some(filter) => selector_terms(filter)
                .ok_or("a mapping may select an element only with `eq` terms joined by `and`")?,
        };
        if !selector.is_empty() && !def.multi_valued {
            return Err(format!("`{}` is not multi-valued", def.name));
        }
        let sub_name = path.sub.as_deref().or(path.attr.sub.as_deref());
        let (sub, value_type) = match sub_name {
            Some(name) => {
                let sub = def
                    .sub(name)
                    .ok_or_else(|| format!("`{}` has no sub-attribute `{name}`", def.name))?;
                (Some(sub.name.clone()), sub.attr_type)
            }
            None => (None, def.attr_type),
        };
        for (key, _) in &selector {
            if def.sub(key).is_none() {
                return Err(format!("`{}` has no sub-attribute `{key}`", def.name));
            }
        }
        if def.multi_valued && selector.is_empty() && sub.is_some() {
            return Err(format!(
                "`{}` is multi-valued: select one element, e.g. `{}[type eq \"work\"].value`",
                def.name, def.name
            ));
        }
        let selector = selector
            .into_iter()
            .filter_map(|(k, v)| def.sub(&k).map(|d| (d.name.clone(), v)))
            .collect();
        Ok(ScimTarget {
            extension,
            attr: def.name.clone(),
            selector,
            sub,
            value_type,
            multi_valued: def.multi_valued,
            takes_untyped: false,
        })
    }

    /// Reads the addressed value from a SCIM resource.
    pub fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = match &self.extension {
            Some(urn) => get_ci(resource, urn)?,
            None => resource,
        };
        let attr = get_ci(container, &self.attr)?;
        let element = if self.selector.is_empty() {
            attr
        } else {
            let items = attr.as_array()?;
            // Several elements may match (an `add` appends a second work email): the primary
            // one wins, else the last, which is the most recently added.
            let primary = items
                .iter()
                .filter(|e| self.selects(e))
                .find(|e| get_ci(e, "primary") == Some(&Value::Bool(true)));
            primary
                .or_else(|| items.iter().rfind(|e| self.selects(e)))
                .or_else(|| {
                    self.takes_untyped
                        .then(|| {
                            items.iter().find(|e| {
                                self.selector
                                    .iter()
                                    .all(|(k, _)| get_ci(e, k).is_none_or(Value::is_null))
                            })
                        })
                        .flatten()
                })?
        };
        match &self.sub {
            Some(sub) => get_ci(element, sub),
            None => Some(element),
        }
    }

    /// Writes a value into a SCIM resource, creating containers and the selected element.
    pub fn set(&self, resource: &mut Value, value: Value) {
        let mut container = resource;
        if let Some(urn) = &self.extension {
            container = entry_object(container, urn);
        }
        if self.selector.is_empty() {
            match &self.sub {
                Some(sub) => {
                    let parent = entry_object(container, &self.attr);
                    insert(parent, sub, value);
                }
                None => insert(container, &self.attr, value),
            }
            return;
        }
        let list = entry(container, &self.attr, || Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        let Value::Array(items) = list else {
            return;
        };
        let index = match items.iter().position(|e| self.selects(e)) {
            Some(i) => i,
            None => {
                let mut element = Map::new();
                for (k, v) in &self.selector {
                    element.insert(k.clone(), Value::String(v.clone()));
                }
                items.push(Value::Object(element));
                items.len() - 1
            }
        };
        match &self.sub {
            Some(sub) => insert(&mut items[index], sub, value),
            None => items[index] = value,
        }
    }

    fn selects(&self, element: &Value) -> bool {
        self.selector.iter().all(|(k, v)| {
            get_ci(element, k)
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(v))
        })
    }

    /// A stable, case-folded key naming this target, used to match filter terms.
    pub fn key(&self) -> String {
        let mut key = String::new();
        if let Some(urn) = &self.extension {
            key.push_str(&urn.to_ascii_lowercase());
            key.push(':');
        }
        key.push_str(&self.attr.to_ascii_lowercase());
        for (k, v) in &self.selector {
            key.push_str(&format!(
                "[{}={}]",
                k.to_ascii_lowercase(),
                v.to_ascii_lowercase()
            ));
        }
        if let Some(sub) = &self.sub {
            key.push('.');
            key.push_str(&sub.to_ascii_lowercase());
        }
        key
    }
}

/// Finds the attribute a path names: URN-qualified, core, common, then extensions.
pub fn find_attribute<'s>(
    schema: &'s ResourceSchema,
    path: &PatchPath,
) -> Result<(Option<String>, std::borrow::Cow<'s, AttributeDef>), String> {
    let name = &path.attr.name;
    if let Some(urn) = &path.attr.urn {
        let def = schema
            .schema(urn)
            .ok_or_else(|| format!("unknown schema `{urn}`"))?;
        let attr = def
            .attribute(name)
            .ok_or_else(|| format!("schema `{}` has no attribute `{name}`", def.id))?;
        let extension = (def.id != schema.core.id).then(|| def.id.clone());
        return Ok((extension, std::borrow::Cow::Borrowed(attr)));
    }
    if let Some(attr) = schema.core.attribute(name) {
        return Ok((None, std::borrow::Cow::Borrowed(attr)));
    }
    if let Some(attr) = common_attributes()
        .into_iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
        return Ok((None, std::borrow::Cow::Owned(attr)));
    }
    schema
        .extensions
        .iter()
        .find_map(|ext| {
            ext.attribute(name)
                .map(|a| (Some(ext.id.clone()), std::borrow::Cow::Borrowed(a)))
        })
        .ok_or_else(|| format!("unknown attribute `{name}`"))
}

/// The `(sub-attribute, value)` pairs of a filter made only of `eq` string terms and `and`.
pub fn selector_terms(filter: &Filter) -> Option<Vec<(String, String)>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(v),
        } if path.urn.is_none() && path.sub.is_none() => Some(vec![(path.name.clone(), v.clone())]),
        Filter::And(terms) => {
            let mut out = Vec::new();
            for term in terms {
                out.extend(selector_terms(term)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Case-insensitive object member lookup (SCIM names are case-insensitive).
pub fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn entry<'a>(container: &'a mut Value, key: &str, fresh: impl FnOnce() -> Value) -> &'a mut Value {
    if !container.is_object() {
        *container = Value::Object(Map::new());
    }
    let Value::Object(map) = container else {
        return container;
    };
    let existing = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    map.entry(existing.unwrap_or_else(|| key.to_owned()))
        .or_insert_with(fresh)
}

fn entry_object<'a>(container: &'a mut Value, key: &str) -> &'a mut Value {
    let slot = entry(container, key, || Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot
}

fn insert(container: &mut Value, key: &str, value: Value) {
    *entry(container, key, || Value::Null) = value;
}
