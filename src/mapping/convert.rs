//! Moves values between SCIM resources and backend records, following a [`ResourceMapping`].

use serde_json::{json, Map, Value};

use super::target::get_ci;
use super::template::value_text;
use super::{AttributeMapping, Direction, ResourceMapping};
use crate::scim::error::ScimError;

impl ResourceMapping {
    /// Takes the record out of a single-record response envelope.
    pub fn unwrap_record(&self, body: Value) -> Value {
        match &self.envelope_record {
            Some(path) => path.read(&body).cloned().unwrap_or(Value::Null),
            None => body,
        }
    }

    /// Wraps a request body in the configured envelope key.
    pub fn wrap_request(&self, record: Value) -> Value {
        match &self.request_key {
            Some(key) => json!({ key.clone(): record }),
            None => record,
        }
    }

    /// Backend record → SCIM resource (members are added by the caller).
    ///
    /// `base_url` is the tenant's SCIM base URL, used for `meta.location`. `None` when the
    /// record has no readable id (not a record of this type).
    pub fn to_scim(&self, record: &Value, base_url: &str) -> Option<(String, Value)> {
        let id = self.id.read(record)?;
        let mut resource = Value::Object(Map::new());
        for m in self.attributes.iter().filter(|m| m.reads()) {
            let raw = match (&m.constant, &m.backend) {
                (Some(c), _) => Some(c),
                (None, Some(path)) => path.read(record),
                (None, None) => None,
            };
            if let Some(value) = raw.and_then(|v| m.transform.to_scim(v, m.scim_type())) {
                m.target.set(&mut resource, value);
            }
        }
        self.prune_valueless(&mut resource);
        self.derive_references(&mut resource, base_url);
        let mut schemas = vec![Value::String(self.schema.core.id.clone())];
        for ext in &self.schema.extensions {
            if get_ci(&resource, &ext.id)
                .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
            {
                schemas.push(Value::String(ext.id.clone()));
            }
        }
        let mut meta = Map::new();
        meta.insert("resourceType".into(), json!(self.kind.name()));
        let stamp = |path: &Option<super::path::BackendPath>| {
            path.as_ref()
                .and_then(|p| p.read(record))
                .and_then(|v| {
                    self.meta
                        .stamps
                        .to_scim(v, crate::scim::schema::AttrType::DateTime)
                })
                .filter(|v| !v.is_null())
        };
        if let Some(created) = stamp(&self.meta.created) {
            meta.insert("created".into(), created);
        }
        if let Some(modified) = stamp(&self.meta.last_modified) {
            meta.insert("lastModified".into(), modified);
        }
        meta.insert("version".into(), Value::String(self.version_of(record)));
        meta.insert(
            "location".into(),
            json!(format!("{base_url}{}/{id}", self.kind.endpoint())),
        );
        if let Value::Object(map) = &mut resource {
            map.insert("schemas".into(), Value::Array(schemas));
            map.insert("id".into(), Value::String(id.clone()));
            map.insert("meta".into(), Value::Object(meta));
        }
        Some((id, resource))
    }

    /// SCIM resource → backend record.
    ///
    /// A create starts from an empty object. An update starts from the backend's record, so
    /// unmapped backend fields survive a read-merge-write, and writes only the attributes
    /// whose value differs from `current.resource` (what that record read as): a field the
    /// client did not change keeps the backend's value, even one the mapping cannot read
    /// (a status outside a value map must not be reset by an unrelated PATCH), and a
    /// `default` is not back-filled into it. Attributes the client cleared are cleared,
    /// except write-only ones (a password the backend never returns must not be wiped).
    pub fn to_record(
        &self,
        resource: &Value,
        current: Option<Current<'_>>,
    ) -> Result<Value, ScimError> {
        let creating = current.is_none();
        let mut record = current
            .map(|c| c.record.clone())
            .unwrap_or_else(|| Value::Object(Map::new()));
        for m in self.attributes.iter().filter(|m| m.writes()) {
            let Some(path) = &m.backend else { continue };
            let mut value = scim_value(m, resource);
            if let (Some(current), None) = (&current, &m.constant) {
                if scim_value(m, current.resource) == value {
                    continue;
                }
            }
            if value.is_null() {
                // `default` fills what the client left out on create or cleared later, for
                // backends that refuse nulls; write-only values are never cleared.
                match (&m.default, creating, m.direction) {
                    (Some(d), _, _) => value = d.clone(),
                    (None, true, _) | (None, false, Direction::WriteOnly) => continue,
                    _ => {}
                }
            }
            let stored = m
                .transform
                .to_backend(&value)
                .map_err(|e| ScimError::invalid_value(format!("{}: {e}", m.key)))?;
            path.write(&mut record, stored)
                .map_err(|e| ScimError::new(500, format!("mapping `{}`: {e}", m.key)))?;
        }
        Ok(record)
    }

    /// Drops elements of typed multi-valued attributes that have no `value`: a backend that
    /// stores `email_primary` without an email must not show an empty email (RFC 7643 §2.4).
    fn prune_valueless(&self, resource: &mut Value) {
        for m in self
            .attributes
            .iter()
            .filter(|m| !m.target.selector.is_empty())
        {
            let container = match &m.target.extension {
                Some(urn) => resource.get_mut(urn.as_str()),
                None => Some(&mut *resource),
            };
            let Some(Value::Object(map)) = container else {
                continue;
            };
            let Some(Value::Array(items)) = map.get_mut(&m.target.attr) else {
                continue;
            };
            items.retain(|e| e.get("value").is_some_and(|v| !v.is_null()));
            if items.is_empty() {
                map.remove(&m.target.attr);
            }
        }
    }

    /// Adds `$ref` next to mapped reference values (`manager.value` → the manager's URL).
    fn derive_references(&self, resource: &mut Value, base_url: &str) {
        for m in &self.attributes {
            let Some(endpoint) = m.reference else {
                continue;
            };
            let Some(Value::String(id)) = m.target.get(resource).cloned() else {
                continue;
            };
            let mut reference = m.target.clone();
            reference.sub = Some("$ref".into());
            reference.set(
                resource,
                Value::String(format!("{base_url}{endpoint}/{id}")),
            );
        }
    }

    /// The resource version (ETag, RFC 7644 §3.14): the backend's own version field when the
    /// mapping names one, else a hash of the whole record, so any backend change shows.
    pub fn version_of(&self, record: &Value) -> String {
        let tag = match self.meta.version.as_ref().and_then(|p| p.read(record)) {
            Some(v) if !v.is_null() => value_text(v),
            _ => {
                // Hashed as it is serialised: no buffer for the whole record.
                let mut hash = Fnv1a::default();
                let _ = serde_json::to_writer(&mut hash, record);
                format!("{:016x}", hash.0)
            }
        };
        format!("W/\"{tag}\"")
    }

    /// Writes the gateway-maintained timestamps (when the mapping asks for them): both on
    /// create, `last_modified` on update.
    pub fn stamp(&self, record: &mut Value, creating: bool) {
        if !self.meta.maintain {
            return;
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let now = Value::String(super::transform::epoch_to_rfc3339(secs));
        // Cannot fail: `meta.type` is a point-in-time type and `now` an RFC 3339 dateTime.
        let now = self.meta.stamps.to_backend(&now).unwrap_or(now);
        let targets = [
            creating.then_some(&self.meta.created),
            Some(&self.meta.last_modified),
        ];
        for path in targets.into_iter().flatten().flatten() {
            // Checked writable at load time.
            let _ = path.write(record, now.clone());
        }
    }

    /// The fields of `new` that differ from `old`, for partial (merge-style) updates.
    pub fn changed_fields(&self, old: &Value, new: &Value) -> Value {
        let mut partial = Value::Object(Map::new());
        for m in self.attributes.iter().filter(|m| m.writes()) {
            let Some(path) = &m.backend else { continue };
            // An absent field and a null one mean the same to every backend we front.
            let before = path.read(old).filter(|v| !v.is_null());
            let after = path.read(new).filter(|v| !v.is_null());
            if before != after {
                // Cannot fail: every written path was checked to be writable at load time.
                let _ = path.write(&mut partial, after.cloned().unwrap_or(Value::Null));
            }
        }
        partial
    }

    /// A SCIM error for a backend error answer, if a mapping rule matches.
    pub fn map_error(&self, status: u16, body: &[u8]) -> Option<ScimError> {
        let text = String::from_utf8_lossy(body);
        let rule = self.errors.iter().find(|r| {
            r.status == status
                && r.body_contains
                    .as_deref()
                    .is_none_or(|needle| text.contains(needle))
        })?;
        let detail = rule
            .detail
            .clone()
            .or_else(|| {
                let doc: Value = serde_json::from_slice(body).ok()?;
                let found = rule.detail_from.as_ref()?.read(&doc)?;
                Some(value_text(found))
            })
            .unwrap_or_else(|| format!("the directory refused the request ({status})"));
        Some(ScimError {
            status: rule.scim_status,
            scim_type: rule.scim_type,
            detail,
            retry_after: None,
        })
    }
}

/// Reads a template variable (a SCIM attribute path such as `name.givenName`) as JSON.
/// The record an update starts from, and the SCIM resource it reads as.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub record: &'a Value,
    pub resource: &'a Value,
}

/// The value `m` writes for `resource`, before `default` and the backend transform: the
/// constant, the rendered template, the attribute itself, or a reference's id.
fn scim_value(m: &AttributeMapping, resource: &Value) -> Value {
    let value = if let Some(c) = &m.constant {
        c.clone()
    } else if let Some(t) = &m.template {
        let vars = |name: &str| scim_var(resource, name);
        // With a part missing the template would store a half-built value ("Jane ")
        // or wipe a good one: the attribute's own value is stored as sent instead.
        match t.render(&vars, super::template::Escape::None) {
            Ok(text) => Value::String(text),
            Err(_) => m.target.get(resource).cloned().unwrap_or(Value::Null),
        }
    } else {
        m.target.get(resource).cloned().unwrap_or(Value::Null)
    };
    if value.is_null() {
        if let Some(id) = m.reference.and_then(|_| reference_id(&m.target, resource)) {
            return Value::String(id);
        }
    }
    value
}

fn scim_var(resource: &Value, name: &str) -> Option<Value> {
    let (container, path) = match name.rfind(':') {
        Some(i) => (get_ci(resource, &name[..i])?, &name[i + 1..]),
        None => (resource, name),
    };
    let found = path
        .split('.')
        .try_fold(container, |cur, part| get_ci(cur, part))?;
    (!found.is_null()).then(|| found.clone())
}

/// The id at the end of a reference's `$ref` when the client sent no `value`.
fn reference_id(target: &super::target::ScimTarget, resource: &Value) -> Option<String> {
    let mut reference = target.clone();
    reference.sub = Some("$ref".into());
    let url = reference.get(resource)?.as_str()?;
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// 64-bit FNV-1a: a stable, dependency-free hash for version tags (not for security), fed
/// as an `io::Write` so a record is hashed while it is serialised.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = bytes.iter().fold(self.0, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
