//! Writes: create, replace (PUT), patch and delete.
//!
//! Every write computes the complete new resource first (canonicalise, apply PATCH, check
//! mutability, required attributes and uniqueness, verify new members exist) and only then
//! calls the backend, so a rejected request changes nothing. Membership changes are sent
//! as the difference between the old and the new member set.

use std::collections::HashSet;

use serde_json::Value;

use super::Ctx;
use crate::error::Error;
use crate::mapping::target::get_ci;
use crate::mapping::template::{value_text, Vars};
use crate::mapping::{
    CreateResponse, Current, DeleteCall, MemberArray, MembersMapping, ResourceKind, UpdateStyle,
};
use crate::scim::attr::AttrPath;
use crate::scim::dialect::Normalisations;
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::query::ListQuery;
use crate::scim::resource::{canonicalize, check_immutable, check_required};
use crate::scim::schema::{Mutability, ResourceSchema};

/// `POST /{Resources}`: returns the created resource.
pub async fn create(ctx: &Ctx<'_>, body: &Value) -> Result<Value, Error> {
    let mapping = ctx.mapping();
    let mut applied = Normalisations::default();
    let resource = canonicalize(body, &mapping.schema, &ctx.tenant.dialect, &mut applied)?;
    ctx.count_normalisations(&applied);
    check_required(&resource, &mapping.schema)?;
    check_members(&resource)?;
    let new_members = member_ids(&resource);
    ctx.verify_users_exist(&new_members).await?;
    let mut record = mapping.to_record(&resource, None)?;
    if let Some(MembersMapping::Embedded(array)) = &mapping.members {
        let members = array.with_ids(&Value::Null, &new_members);
        array
            .path
            .write(&mut record, members)
            .map_err(|e| ScimError::new(500, format!("mapping `members.path`: {e}")))?;
    }
    mapping.stamp(&mut record, true);

    let guard = ctx.unique_guard().await;
    ctx.ensure_unique(&resource, None, None).await?;
    let no_vars = |_: &str| None;
    let response = ctx
        .send(
            &mapping.create.call,
            &no_vars,
            &[],
            Some(mapping.wrap_request(record)),
        )
        .await?;
    drop(guard);

    let created = match mapping.create.response {
        CreateResponse::Record => {
            let body = response.json().unwrap_or(Value::Null);
            let record = mapping.unwrap_record(body);
            if mapping.id.read(&record).is_some() {
                Some(record)
            } else {
                None
            }
        }
        _ => None,
    };
    let record = match created {
        Some(record) => record,
        None => {
            let id = match mapping.create.response {
                CreateResponse::Location => response.header("location").and_then(id_in_location),
                _ => response
                    .json()
                    .ok()
                    .map(|b| mapping.unwrap_record(b))
                    .and_then(|r| mapping.id.read(&r)),
            }
            .ok_or_else(|| {
                ScimError::new(
                    502,
                    "the directory created the resource but did not say its id",
                )
            })?;
            ctx.require_record(&id).await?
        }
    };
    let (id, mut created) = mapping
        .to_scim(&record, &ctx.base_url)
        .ok_or_else(|| ScimError::new(502, "the directory returned a record without an id"))?;
    // A new id has nothing cached (misses are not cached), but a read racing this create
    // may have been: start clean.
    ctx.forget(&id).await;
    ctx.tenant.cursors.forget(ctx.kind);
    if mapping.members.is_some() {
        let id_json = mapping.id.to_json(&id).unwrap_or(Value::String(id.clone()));
        if let Err(e) = ctx.add_members(&id_json, &new_members).await {
            // Leave nothing half-made behind: the client will retry the whole create.
            let _ = ctx.delete_record(&id).await;
            ctx.forget(&id).await;
            return Err(e);
        }
        if let Value::Object(map) = &mut created {
            map.insert("members".into(), ctx.member_values(new_members.iter()));
        }
    }
    let set = changed_attributes(&Value::Object(serde_json::Map::new()), &created);
    tracing::info!(op = "create", resource = ctx.kind.name(), %id, attributes = ?set, "Audit: resource created.");
    Ok(created)
}

/// The id a create's `Location` names: its last path segment, without a query or fragment
/// and percent-decoded (the id is encoded again when it goes into the read-back's path, so
/// a string id such as `a b` sent as `/users/a%20b` must not become `a%2520b`).
fn id_in_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next().unwrap_or_default();
    let segment = path.trim_end_matches('/').rsplit('/').next()?;
    let id = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    (!id.is_empty()).then(|| id.into_owned())
}

/// `PUT /{Resources}/{id}`: replaces the resource.
pub async fn replace(ctx: &Ctx<'_>, id: &str, body: &Value) -> Result<Value, Error> {
    let mapping = ctx.mapping();
    let _lock = ctx.lock(id).await?;
    let fresh = ctx.uncached();
    let record = fresh.require_record(id).await?;
    ctx.check_precondition(&record)?;
    let current = fresh
        .resource_from(&record, ctx.kind == ResourceKind::Group)
        .await?;
    let mut applied = Normalisations::default();
    let mut new = canonicalize(body, &mapping.schema, &ctx.tenant.dialect, &mut applied)?;
    ctx.count_normalisations(&applied);
    keep_omitted_immutables(&current, &mut new, &mapping.schema);
    ctx.update(id, &record, &current, new).await
}

/// `PATCH /{Resources}/{id}`: applies a PatchOp atomically; returns the new resource.
pub async fn patch(ctx: &Ctx<'_>, id: &str, body: &Value) -> Result<Value, Error> {
    let mapping = ctx.mapping();
    let mut applied = Normalisations::default();
    let ops = parse_patch_request(body, &mapping.schema, &ctx.tenant.dialect, &mut applied)?;
    let touches_members = ctx.kind == ResourceKind::Group
        && ops.iter().any(|op| match &op.path {
            Some(path) => path.attr.name.eq_ignore_ascii_case("members"),
            None => op.value.as_ref().is_some_and(|v| {
                v.as_object()
                    .is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case("members")))
            }),
        });
    let _lock = ctx.lock(id).await?;
    let fresh = ctx.uncached();
    let record = fresh.require_record(id).await?;
    ctx.check_precondition(&record)?;
    let current = fresh.resource_from(&record, touches_members).await?;
    let new = apply_patch(
        &current,
        &ops,
        &mapping.schema,
        &ctx.tenant.dialect,
        &mut applied,
    )?;
    ctx.count_normalisations(&applied);
    if !applied.is_empty() {
        tracing::debug!(rules = ?applied, "Dialect normalisations applied.");
    }
    // When members were not read, neither side has them, so no membership change follows.
    ctx.update(id, &record, &current, new).await
}

/// `DELETE /{Resources}/{id}`.
pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    if matches!(ctx.mapping().delete, DeleteCall::Refuse) {
        return Err(ScimError::new(
            405,
            format!(
                "this directory does not allow deleting {}s",
                ctx.kind.name()
            ),
        )
        .into());
    }
    let _lock = ctx.lock(id).await?;
    let Some(record) = ctx.uncached().fetch_record(id).await? else {
        ctx.forget(id).await;
        return Err(ctx.not_found(id));
    };
    ctx.check_precondition(&record)?;
    ctx.tenant.cache.begin_write();
    let deleted = ctx.delete_record(id).await;
    // Whatever the outcome, the cached copy can no longer be vouched for.
    ctx.forget(id).await;
    ctx.tenant.cursors.forget(ctx.kind);
    if ctx.kind == ResourceKind::User {
        // Backends drop a deleted user from its groups; which groups is not known here.
        ctx.tenant.cache.forget_all_members();
    }
    deleted?;
    if ctx.kind == ResourceKind::User {
        // The delete is done and acknowledged either way; a failure here only leaves a
        // dangling member id, which the next membership change of that group drops.
        if let Err(e) = ctx.drop_from_embedding_groups(id).await {
            tracing::warn!(%id, error = %e, "Could not drop a deleted user from the groups embedding it.");
        }
    }
    tracing::info!(op = "delete", resource = ctx.kind.name(), %id, "Audit: resource deleted.");
    Ok(())
}

/// A PUT that leaves out an immutable attribute keeps its value: Okta's profile pushes often
/// do not carry such attributes, and "not sent" is not a change (RFC 7644 §3.5.1 only
/// forbids a different value).
fn keep_omitted_immutables(current: &Value, new: &mut Value, schema: &ResourceSchema) {
    let containers = std::iter::once((None, &schema.core))
        .chain(schema.extensions.iter().map(|e| (Some(e.id.as_str()), e)));
    for (urn, def) in containers {
        for attr in def
            .attributes
            .iter()
            .filter(|a| a.mutability == Mutability::Immutable)
        {
            let old_container = match urn {
                Some(u) => get_ci(current, u),
                None => Some(current),
            };
            let Some(old) = old_container.and_then(|c| get_ci(c, &attr.name)) else {
                continue;
            };
            let Value::Object(root) = new else { return };
            let target = match urn {
                Some(u) => root
                    .entry(u.to_owned())
                    .or_insert_with(|| Value::Object(serde_json::Map::new())),
                None => &mut *new,
            };
            if let Value::Object(map) = target {
                if !map.keys().any(|k| k.eq_ignore_ascii_case(&attr.name)) {
                    map.insert(attr.name.clone(), old.clone());
                }
            }
        }
    }
}

/// 400 when a member carries no id (`{}` or `{"value": null}` would otherwise be dropped
/// silently and the IdP would believe the member was added).
fn check_members(resource: &Value) -> Result<(), ScimError> {
    let Some(items) = resource.get("members").and_then(Value::as_array) else {
        return Ok(());
    };
    match items.iter().find(|m| {
        !matches!(m.get("value"), Some(Value::String(s)) if !s.is_empty())
            && !m.get("value").is_some_and(Value::is_number)
    }) {
        Some(bad) => Err(ScimError::invalid_value(format!(
            "every member needs a \"value\" with the User id, got {bad}"
        ))),
        None => Ok(()),
    }
}

/// The `value`s of a resource's `members`, deduplicated, in order.
fn member_ids(resource: &Value) -> Vec<String> {
    let mut seen = HashSet::new();
    resource
        .get("members")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| match m.get("value")? {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|id| seen.insert(id.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the top-level attributes that differ between two resources (for the audit log).
fn changed_attributes(old: &Value, new: &Value) -> Vec<String> {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = o
        .keys()
        .chain(n.keys())
        .filter(|k| !matches!(k.as_str(), "meta" | "schemas" | "id"))
        .filter(|k| o.get(*k) != n.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Ctx<'_> {
    /// The write lock of one resource, held from the read to the last write. Waiting for
    /// it counts against the request's deadline.
    async fn lock(&self, id: &str) -> Result<crate::locks::KeyGuard<'_>, Error> {
        let key = format!("{}/{id}", self.kind.name());
        self.deadline.bound(self.tenant.write_locks.lock(key)).await
    }

    /// Counts the dialect rules a request needed.
    fn count_normalisations(&self, applied: &Normalisations) {
        self.tenant
            .metrics
            .normalised(&self.tenant.name, applied.names());
    }

    /// Drops the cached record (and, for a group, membership) of `id`.
    async fn forget(&self, id: &str) {
        let key = self.cache_key(id);
        self.tenant.cache.forget_record(self.kind, &key).await;
        if self.kind == ResourceKind::Group {
            self.tenant.cache.forget_members(&key).await;
        }
    }

    /// The shared write path of PUT and PATCH, keeping the lookup cache in step: on success
    /// the backend's record replaces the cached one (when the backend sent it back), on any
    /// failure the cached copy is dropped.
    async fn update(
        &self,
        id: &str,
        record: &Value,
        current: &Value,
        new: Value,
    ) -> Result<Value, Error> {
        self.tenant.cache.begin_write();
        let result = self.update_backend(id, record, current, new).await;
        self.forget(id).await;
        match result {
            Ok((resource, Some(stored))) => {
                // A record the gateway cannot render stays uncached (it was forgotten above).
                if let (true, Ok(rendered)) = (self.tenant.cache.enabled(), self.render(&stored)) {
                    let key = self.cache_key(id);
                    self.tenant
                        .cache
                        .store_record(self.kind, &key, rendered)
                        .await;
                }
                Ok(resource)
            }
            Ok((resource, None)) => Ok(resource),
            Err(e) => Err(e),
        }
    }

    /// Computes and sends a PUT/PATCH. Returns the new resource and, when the gateway can
    /// vouch for it, the backend record as it now is (the backend's answer or the unchanged
    /// fresh read).
    async fn update_backend(
        &self,
        id: &str,
        record: &Value,
        current: &Value,
        mut new: Value,
    ) -> Result<(Value, Option<Value>), Error> {
        let mapping = self.mapping();
        if let Value::Object(map) = &mut new {
            map.insert("id".into(), Value::String(id.to_owned()));
        }
        check_immutable(current, &new, &mapping.schema)?;
        check_required(&new, &mapping.schema)?;
        check_members(&new)?;
        let old_members = member_ids(current);
        let new_members = member_ids(&new);
        // Sets, not `Vec::contains`: with 10,000 members the difference was quadratic.
        let (old_set, new_set): (HashSet<&String>, HashSet<&String>) =
            (old_members.iter().collect(), new_members.iter().collect());
        let added: Vec<String> = new_members
            .iter()
            .filter(|m| !old_set.contains(m))
            .cloned()
            .collect();
        let removed: Vec<String> = old_members
            .iter()
            .filter(|m| !new_set.contains(m))
            .cloned()
            .collect();
        self.verify_users_exist(&added).await?;
        let mut new_record = mapping.to_record(
            &new,
            Some(Current {
                record,
                resource: current,
            }),
        )?;
        let embedded = match &mapping.members {
            Some(MembersMapping::Embedded(array)) => Some(array),
            _ => None,
        };
        let members_change = !added.is_empty() || !removed.is_empty();
        if let (Some(array), true) = (embedded, members_change) {
            array
                .path
                .write(&mut new_record, array.with_ids(record, &new_members))
                .map_err(|e| ScimError::new(500, format!("mapping `members.path`: {e}")))?;
        }

        let changed = changed_attributes(current, &new);
        let mut stored = record.clone();
        let mut vouched = true;
        if new_record != *record {
            let guard = self.unique_guard().await;
            self.ensure_unique(&new, Some(id), Some(current)).await?;
            mapping.stamp(&mut new_record, false);
            let body = match mapping.update.style {
                UpdateStyle::Replace => new_record.clone(),
                UpdateStyle::Merge => {
                    // Timestamps are not mapped attributes: stamp the partial body too.
                    let mut partial = mapping.changed_fields(record, &new_record);
                    if let (Some(array), true) = (embedded, members_change) {
                        let _ = array
                            .path
                            .write(&mut partial, array.with_ids(record, &new_members));
                    }
                    mapping.stamp(&mut partial, false);
                    partial
                }
            };
            let id_json = mapping
                .id
                .to_json(id)
                .unwrap_or(Value::String(id.to_owned()));
            let vars = |name: &str| (name == "id").then(|| id_json.clone());
            let response = self
                .send(
                    &mapping.update.call,
                    &vars,
                    &[],
                    Some(mapping.wrap_request(body)),
                )
                .await?;
            drop(guard);
            let returned = response.json().ok().map(|b| mapping.unwrap_record(b));
            stored = match returned {
                Some(r) if mapping.id.read(&r).is_some() => r,
                _ => {
                    // Our own guess at the stored record: good enough for the response,
                    // not for the cache (the backend may have stamped or normalised fields).
                    vouched = false;
                    new_record
                }
            };
        }
        if embedded.is_none() && mapping.members.is_some() && members_change {
            let id_json = mapping
                .id
                .to_json(id)
                .unwrap_or(Value::String(id.to_owned()));
            self.add_members(&id_json, &added).await?;
            self.remove_members(&id_json, &removed).await?;
            // The record in hand predates the member calls, and a directory may stamp the
            // group on each (the demo's updated_at): read it again for the answer's version
            // and the cache. The writes have landed, so a failed read only skips the cache.
            match self.uncached().require_record(id).await {
                Ok(fresh) => stored = fresh,
                Err(_) => vouched = false,
            }
        }
        if !changed.is_empty() {
            tracing::info!(op = "update", resource = self.kind.name(), %id, changed = ?changed, "Audit: resource updated.");
        }
        let (_, mut resource) = mapping
            .to_scim(&stored, &self.base_url)
            .ok_or_else(|| ScimError::new(502, "the directory returned a record without an id"))?;
        if current.get("members").is_some() {
            if let Value::Object(map) = &mut resource {
                map.insert("members".into(), self.member_values(new_members.iter()));
            }
        }
        Ok((resource, vouched.then_some(stored)))
    }

    /// Holds the uniqueness guard when the mapping has gateway-enforced unique attributes.
    async fn unique_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.mapping().unique_attributes().next().is_some() {
            Some(self.tenant.unique_guard.lock().await)
        } else {
            None
        }
    }

    /// 409 when another resource already has a value of a gateway-unique attribute.
    async fn ensure_unique(
        &self,
        resource: &Value,
        own_id: Option<&str>,
        previous: Option<&Value>,
    ) -> Result<(), Error> {
        let mapping = self.mapping();
        for m in mapping.unique_attributes() {
            let Some(Value::String(value)) = m.target.get(resource) else {
                continue;
            };
            let unchanged = previous
                .and_then(|p| m.target.get(p))
                .and_then(Value::as_str)
                .is_some_and(|old| old.eq_ignore_ascii_case(value));
            if unchanged {
                continue;
            }
            let filter = Filter::Compare {
                path: AttrPath {
                    urn: m.target.extension.clone(),
                    name: m.target.attr.clone(),
                    sub: m.target.sub.clone(),
                },
                op: CompareOp::Eq,
                value: CompValue::Str(value.clone()),
            };
            let query = ListQuery {
                filter: Some(filter),
                start_index: 1,
                count: 2,
                ..ListQuery::default()
            };
            let (_, found) = self.search(&query).await?;
            let clash = found
                .iter()
                .any(|r| r.get("id").and_then(Value::as_str) != own_id);
            if clash {
                return Err(ScimError::uniqueness(format!(
                    "{} {value:?} is already taken",
                    m.target.attr
                ))
                .into());
            }
        }
        Ok(())
    }

    /// 400 unless every id names an existing User (checked before any write).
    async fn verify_users_exist(&self, ids: &[String]) -> Result<(), Error> {
        if ids.is_empty() || self.kind != ResourceKind::Group {
            return Ok(());
        }
        let users = self.for_kind(ResourceKind::User);
        for id in ids {
            if users.fetch_found(id).await?.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "member {id:?} is not an existing User"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Adds members after a create or update: one call each, or one user update each when
    /// membership is held on the user (embedded arrays are written with the group itself).
    async fn add_members(&self, group_id: &Value, ids: &[String]) -> Result<(), Error> {
        let members = match &self.tenant.mappings.groups.members {
            Some(MembersMapping::Calls(members)) => members,
            Some(MembersMapping::OnUser { array, .. }) => {
                let gid = value_text(group_id);
                return self
                    .edit_users_groups(array, ids, |groups| {
                        let adds = !groups.contains(&gid);
                        if adds {
                            groups.push(gid.clone());
                        }
                        adds
                    })
                    .await;
            }
            _ => return Ok(()),
        };
        for id in ids {
            let member = member_json(id, members.member_integer);
            let vars = |name: &str| match name {
                "id" => Some(group_id.clone()),
                "member" => Some(member.clone()),
                _ => None,
            };
            match self.send(&members.add, &vars, &[], None).await {
                Ok(_) => {}
                // Already a member (a concurrent add got there first): the intended state.
                Err(Error::Scim(e)) if e.status == 409 => {}
                Err(Error::Backend(crate::backend::BackendError::Status {
                    status: 409, ..
                })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn remove_members(&self, group_id: &Value, ids: &[String]) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let members = match &self.tenant.mappings.groups.members {
            Some(MembersMapping::Calls(members)) => members,
            Some(MembersMapping::OnUser { array, .. }) => {
                let gid = value_text(group_id);
                return self
                    .edit_users_groups(array, ids, |groups| {
                        let before = groups.len();
                        groups.retain(|g| *g != gid);
                        groups.len() != before
                    })
                    .await;
            }
            _ => return Ok(()),
        };
        let needs_records = members
            .remove
            .path
            .variables()
            .any(|v| v.starts_with("record."));
        let records = if needs_records {
            self.members_of(group_id).await?
        } else {
            ids.iter().map(|id| (id.clone(), Value::Null)).collect()
        };
        for (id, record) in records.iter().filter(|(id, _)| ids.contains(id)) {
            let member = member_json(id, members.member_integer);
            let vars = |name: &str| match name {
                "id" => Some(group_id.clone()),
                "member" => Some(member.clone()),
                other => other
                    .strip_prefix("record.")
                    .and_then(|field| field.split('.').try_fold(record, |cur, k| cur.get(k)))
                    .cloned(),
            };
            match self
                .send(&members.remove, &vars as &dyn Vars, &[], None)
                .await
            {
                Ok(_) => {}
                // Already gone: the intended state is reached.
                Err(Error::Backend(crate::backend::BackendError::Status {
                    status: 404, ..
                })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Edits the id array of one record of this context's type (a user's groups, a
    /// group's embedded members) under its write lock, on a fresh read, and sends the
    /// record's update call when `edit` changed something. A record that is gone is left
    /// alone (removing from it is done; adding to it was checked before any write).
    /// Membership held on the user: applies `edit` to the group-id array of each user in
    /// `ids`, one user (and one write lock) at a time.
    async fn edit_users_groups(
        &self,
        array: &MemberArray,
        ids: &[String],
        edit: impl Fn(&mut Vec<String>) -> bool,
    ) -> Result<(), Error> {
        let users = self.for_kind(ResourceKind::User);
        for id in ids {
            users.edit_member_array(id, array, &edit).await?;
        }
        Ok(())
    }

    async fn edit_member_array(
        &self,
        owner_id: &str,
        array: &MemberArray,
        edit: impl FnOnce(&mut Vec<String>) -> bool,
    ) -> Result<(), Error> {
        let mapping = self.mapping();
        let _lock = self.lock(owner_id).await;
        let Some(record) = self.uncached().fetch_record(owner_id).await? else {
            return Ok(());
        };
        let mut ids = array.ids(&record);
        if !edit(&mut ids) {
            return Ok(());
        }
        let items = array.with_ids(&record, &ids);
        let mut body = match mapping.update.style {
            UpdateStyle::Replace => record.clone(),
            UpdateStyle::Merge => Value::Object(serde_json::Map::new()),
        };
        array
            .path
            .write(&mut body, items)
            .map_err(|e| ScimError::new(500, format!("mapping `members.path`: {e}")))?;
        mapping.stamp(&mut body, false);
        let id_json = mapping
            .id
            .to_json(owner_id)
            .unwrap_or(Value::String(owner_id.to_owned()));
        let vars = |name: &str| (name == "id").then(|| id_json.clone());
        self.tenant.cache.begin_write();
        let sent = self
            .send(
                &mapping.update.call,
                &vars,
                &[],
                Some(mapping.wrap_request(body)),
            )
            .await;
        self.forget(owner_id).await;
        sent.map(|_| ())
    }

    /// After a user is deleted: takes it out of every group that embeds it (the backend
    /// keeps such arrays as they are), within `limits.max_scan_records` groups.
    async fn drop_from_embedding_groups(&self, user_id: &str) -> Result<(), Error> {
        let Some(MembersMapping::Embedded(array)) = &self.tenant.mappings.groups.members else {
            return Ok(());
        };
        let groups = self.for_kind(ResourceKind::Group).uncached();
        let no_vars = |_: &str| None;
        let Some(records) = groups
            .fetch_all(&groups.mapping().list, &no_vars, &[], self.tenant.max_scan)
            .await?
        else {
            tracing::warn!(%user_id, "Too many groups to look for a deleted user's memberships.");
            return Ok(());
        };
        for record in records
            .iter()
            .filter(|r| array.ids(r).iter().any(|m| m == user_id))
        {
            let Some(gid) = groups.mapping().id.read(record) else {
                continue;
            };
            groups
                .edit_member_array(&gid, array, |ids| {
                    ids.retain(|m| m != user_id);
                    true
                })
                .await?;
        }
        Ok(())
    }

    /// Sends the delete (or soft-delete) call for an id.
    async fn delete_record(&self, id: &str) -> Result<(), Error> {
        let mapping = self.mapping();
        let id_json = mapping
            .id
            .to_json(id)
            .unwrap_or(Value::String(id.to_owned()));
        let vars = |name: &str| (name == "id").then(|| id_json.clone());
        match &mapping.delete {
            DeleteCall::Delete(call) | DeleteCall::Soft(call) => {
                match self.send(call, &vars, &[], None).await {
                    Ok(_) => Ok(()),
                    Err(Error::Backend(crate::backend::BackendError::Status {
                        status: 404,
                        ..
                    })) => Err(self.not_found(id)),
                    Err(e) => Err(e),
                }
            }
            DeleteCall::Refuse => Err(ScimError::new(405, "deletes are not allowed").into()),
        }
    }
}

fn member_json(id: &str, integer: bool) -> Value {
    match (integer, id.parse::<u64>()) {
        (true, Ok(n)) => Value::from(n),
        _ => Value::String(id.to_owned()),
    }
}

#[cfg(test)]
mod tests;
