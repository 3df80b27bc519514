//! Reads: get by id, and list with filter pushdown, a bounded in-gateway scan and RFC paging.

use serde_json::{json, Value};

use super::{Ctx, Found, PageFrom};
use crate::error::Error;
use crate::mapping::target::{find_attribute, ScimTarget};
use crate::mapping::{ListCall, MembersMapping, Paging, ResourceKind};
use crate::scim::attr::AttrPath;
use crate::scim::attr::{resolve_in_element, Resolved};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::PatchPath;
use crate::scim::query::ListQuery;
use crate::scim::resource::project;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, Returned, LIST_RESPONSE};

/// What a read by id answers: a resource tree, or the cached resource's JSON text as it is.
pub enum Answer {
    Json {
        body: Value,
        /// `meta.version`, taken before projection: `attributes=userName` leaves `meta`
        /// out of the body, not the ETag out of the answer.
        version: Option<String>,
    },
    Text {
        body: Vec<u8>,
        /// `meta.version`, for the ETag.
        version: Option<String>,
    },
}

/// `GET /{Resources}/{id}`.
pub async fn get(ctx: &Ctx<'_>, id: &str, query: &ListQuery) -> Result<Answer, Error> {
    let found = ctx.require_found(id).await?;
    let with_members = wants_members(ctx, query) && ctx.mapping().members.is_some();
    if let Found::Cached(rendered) = &found {
        // A cache hit without projection or members is the cached text itself.
        if rendered.plain()
            && query.attributes.is_empty()
            && query.excluded.is_empty()
            && !with_members
        {
            return Ok(Answer::Text {
                body: rendered.to_json(&crate::cache::json_escaped(&ctx.base_url)),
                version: rendered.version(),
            });
        }
    }
    // Boxed, like the backend call: the hit above should not carry this path's state.
    let resource = Box::pin(ctx.resource_of(&found, with_members)).await?;
    let version = resource
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body = project(
        resource,
        &query.attributes,
        &query.excluded,
        &ctx.mapping().schema,
    );
    Ok(Answer::Json { body, version })
}

/// `GET /{Resources}` with `filter`, paging and attribute selection.
pub async fn list(ctx: &Ctx<'_>, query: &ListQuery) -> Result<Value, Error> {
    if let Some(filter) = &query.filter {
        check_filter_attributes(filter, &ctx.mapping().schema)?;
    }
    let (total, resources) = ctx.matching(query).await?;
    let schema = &ctx.mapping().schema;
    let projected: Vec<Value> = resources
        .into_iter()
        .map(|r| project(r, &query.attributes, &query.excluded, schema))
        .collect();
    Ok(list_response(total, query.start_index, projected))
}

/// Built key by key: `json!` would serialise `resources` into a deep copy of itself.
fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!([LIST_RESPONSE]));
    body.insert("totalResults".into(), total.into());
    body.insert("startIndex".into(), start_index.into());
    body.insert("itemsPerPage".into(), resources.len().into());
    body.insert("Resources".into(), Value::Array(resources));
    Value::Object(body)
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups, one ListResponse.
///
/// - A filter is applied to each resource type that has every attribute it names; a type
///   that lacks one contributes nothing (it cannot match). Only a filter that no type can
///   answer is 400 invalidFilter, as on the per-type endpoints.
/// - Without `sortBy` the order is all matching Users in their list order, then all
///   matching Groups; with it, the whole result is sorted (resources without the attribute
///   last when ascending, first when descending; ties keep that order). Either way the order is stable across pages.
/// - Each resource keeps its own `schemas` and `meta.resourceType`; `attributes` and
///   `excludedAttributes` are applied with each type's schema.
pub async fn search_all(ctx: &Ctx<'_>, query: &ListQuery) -> Result<Value, Error> {
    // The page can only hold the first startIndex-1+count results of each type.
    let window = ListQuery {
        start_index: 1,
        count: (query.start_index - 1).saturating_add(query.count),
        ..query.clone()
    };
    let mut total = 0;
    let mut found: Vec<(Value, Option<SortKey>)> = Vec::new();
    let mut refused = None;
    let mut searched = false;
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let typed = ctx.for_kind(kind);
        let schema = &typed.mapping().schema;
        if let Some(filter) = &query.filter {
            if let Err(e) = check_filter_attributes(filter, schema) {
                refused.get_or_insert(e);
                continue;
            }
        }
        searched = true;
        let (matched, page) = typed.matching(&window).await?;
        total += matched;
        let keys = match &query.sort_by {
            Some(by) => sort_keys(&page, by, schema),
            None => vec![None; page.len()],
        };
        found.extend(
            page.into_iter()
                .map(|r| project(r, &query.attributes, &query.excluded, schema))
                .zip(keys),
        );
    }
    if !searched {
        if let Some(e) = refused {
            return Err(ScimError::invalid_filter(format!(
                "{}; no resource type has every attribute the filter names",
                e.detail
            ))
            .into());
        }
    }
    if query.sort_by.is_some() {
        found.sort_by(|a, b| compare_keys(&a.1, &b.1, query.descending));
    }
    let page: Vec<Value> = found
        .into_iter()
        .skip((query.start_index - 1) as usize)
        .take(query.count as usize)
        .map(|(r, _)| r)
        .collect();
    Ok(list_response(total, query.start_index, page))
}

/// Whether the response needs `members` (they cost a backend call per group).
fn wants_members(ctx: &Ctx<'_>, query: &ListQuery) -> bool {
    if ctx.kind != ResourceKind::Group {
        return false;
    }
    let names_members =
        |paths: &[AttrPath]| paths.iter().any(|p| p.name.eq_ignore_ascii_case("members"));
    if !query.attributes.is_empty() {
        return names_members(&query.attributes);
    }
    !names_members(&query.excluded)
}

fn mentions_members(filter: &Filter) -> bool {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            path.name.eq_ignore_ascii_case("members")
        }
        Filter::ValuePath { attr, .. } => attr.name.eq_ignore_ascii_case("members"),
        Filter::And(terms) | Filter::Or(terms) => terms.iter().any(mentions_members),
        Filter::Not(inner) => mentions_members(inner),
    }
}

impl Ctx<'_> {
    /// The total and the requested page of a list query: an unfiltered list that is unsorted
    /// or sorted by the backend (`backend_sort`) is paged by the backend, anything else is
    /// searched in the gateway.
    async fn matching(&self, query: &ListQuery) -> Result<(u64, Vec<Value>), Error> {
        let backend_sort = self.backend_sort(query);
        match (&query.filter, &backend_sort) {
            (None, Some(sort)) => self.page_through(query, sort).await,
            (None, None) if query.sort_by.is_none() => self.page_through(query, &[]).await,
            _ => self.search(query).await,
        }
    }

    /// A backend record as a SCIM resource, with members when asked for.
    pub(super) async fn resource_from(
        &self,
        record: &Value,
        with_members: bool,
    ) -> Result<Value, Error> {
        let mapping = self.mapping();
        let (id, mut resource) = mapping
            .to_scim(record, &self.base_url)
            .ok_or_else(super::no_id)?;
        if let (true, Some(MembersMapping::Embedded(array))) = (with_members, &mapping.members) {
            // The record in hand already holds them.
            let ids = array.ids(record);
            if let Value::Object(map) = &mut resource {
                map.insert("members".into(), self.member_values(ids.iter()));
            }
        } else if with_members && mapping.members.is_some() {
            let id_json = mapping.id.to_json(&id).unwrap_or(Value::String(id));
            let members = self.members_of(&id_json).await?;
            if let Value::Object(map) = &mut resource {
                map.insert(
                    "members".into(),
                    self.member_values(members.iter().map(|(id, _)| id)),
                );
            }
        }
        Ok(resource)
    }

    /// Sort parameters when the backend sorts this query itself: the mapping has a sort rule
    /// for `sortBy`, and the backend answers the whole filter (if any), so that its order is
    /// the order of the answer. Otherwise the gateway sorts (`sort_resources`).
    fn backend_sort(&self, query: &ListQuery) -> Option<Vec<(String, String)>> {
        let by = query.sort_by.as_ref()?;
        let mapping = self.mapping();
        if query
            .filter
            .as_ref()
            .is_some_and(|f| !mapping.pushdown(f).complete)
        {
            return None;
        }
        mapping.sort_params(by, query.descending)
    }

    /// An unfiltered list, unsorted or sorted by the backend (`sort`): the backend pages.
    async fn page_through(
        &self,
        query: &ListQuery,
        sort: &[(String, String)],
    ) -> Result<(u64, Vec<Value>), Error> {
        let mapping = self.mapping();
        let list = &mapping.list;
        if !list.backend_counts() {
            // The backend cannot tell the total: read everything (bounded) and page here.
            return self.search(query).await;
        }
        let offset = query.start_index - 1;
        let max = list.paging.max_size().unwrap_or(u64::MAX).max(1);
        let want = query.count;
        let (records, total) = if list.paging.sequential() {
            self.walk_to(list, sort, offset, want, max).await?
        } else {
            self.jump_to(list, sort, offset, want, max).await?
        };
        let with_members = self.kind == ResourceKind::Group && wants_members(self, query);
        let mut resources = Vec::with_capacity(records.len());
        for record in &records {
            resources.push(self.resource_from(record, with_members).await?);
        }
        Ok((total.unwrap_or(offset + records.len() as u64), resources))
    }

    /// The window `[offset, offset + want)` of an offset- or page-numbered list, and the
    /// backend's total: the backend jumps straight to it.
    async fn jump_to(
        &self,
        list: &ListCall,
        sort: &[(String, String)],
        offset: u64,
        want: u64,
        max: u64,
    ) -> Result<(Vec<Value>, Option<u64>), Error> {
        let no_vars = |_: &str| None;
        let mut records: Vec<Value> = Vec::new();
        let mut total = None;
        // Page-numbered backends can only start at a multiple of the page size: choose the
        // request size so that the window starts on a page boundary when it can.
        let size = match list.paging {
            Paging::Page { .. } if want > 0 && want <= max && offset % want == 0 => want,
            Paging::Page { .. } => {
                let mut s = max;
                while s > 1 && offset % s != 0 {
                    s -= 1;
                }
                s
            }
            _ => want.clamp(1, max),
        };
        let mut cursor = offset - offset % size;
        let mut skip = (offset - cursor) as usize;
        loop {
            let page = self
                .fetch_page(list, &no_vars, sort, PageFrom::Offset(cursor), size)
                .await?;
            total = total.or(page.total);
            let got = page.fetched;
            records.extend(page.records.into_iter().skip(skip));
            skip = 0;
            cursor += got;
            let reached_end = got < size || total.is_some_and(|t| cursor >= t);
            if records.len() as u64 >= want || reached_end || want == 0 {
                break;
            }
        }
        records.truncate(want as usize);
        Ok((records, total))
    }

    /// The same window of a cursor- or link-paged list: pages can only be reached one after
    /// another, so the walk starts at the first page (or at the page a previous walk
    /// remembered for this offset) and skips what lies before the window, within
    /// `limits.max_scan_records`.
    async fn walk_to(
        &self,
        list: &ListCall,
        sort: &[(String, String)],
        offset: u64,
        want: u64,
        max: u64,
    ) -> Result<(Vec<Value>, Option<u64>), Error> {
        let no_vars = |_: &str| None;
        let cap = self.tenant.max_scan;
        if offset > cap {
            return Err(too_many(cap).into());
        }
        // A first page serves what was asked; a walk to a later window takes the largest
        // pages, for the fewest calls.
        let size = if offset == 0 { want.clamp(1, max) } else { max };
        // Remembered tokens belong to the backend's default order, not to a sorted walk.
        let memo = sort.is_empty();
        let remembered = memo
            .then(|| self.tenant.cursors.nearest(self.kind, size, offset))
            .flatten();
        let (mut seen, mut token) = match remembered {
            Some((at, t)) => (at, Some(t)),
            None => (0, None),
        };
        let mut from_memo = token.is_some();
        let mut records: Vec<Value> = Vec::new();
        let mut total = None;
        loop {
            let from = token.as_deref().map_or(PageFrom::Offset(0), PageFrom::Next);
            let page = match self.fetch_page(list, &no_vars, sort, from, size).await {
                Ok(page) => page,
                // A remembered token the backend no longer takes: walk from the start.
                Err(_) if from_memo => {
                    self.tenant.cursors.forget(self.kind);
                    (seen, token, from_memo) = (0, None, false);
                    continue;
                }
                Err(e) => return Err(e),
            };
            from_memo = false;
            total = total.or(page.total);
            let got = page.fetched;
            for (i, record) in page.records.into_iter().enumerate() {
                if seen + i as u64 >= offset && (records.len() as u64) < want {
                    records.push(record);
                }
            }
            seen += got;
            let next = page.next.filter(|n| got > 0 && Some(n) != token.as_ref());
            let Some(next) = next else { break };
            if memo {
                self.tenant
                    .cursors
                    .remember(self.kind, size, seen, next.clone());
            }
            if records.len() as u64 >= want || total.is_some_and(|t| seen >= t) {
                break;
            }
            if seen > cap {
                return Err(too_many(cap).into());
            }
            token = Some(next);
        }
        Ok((records, total))
    }

    /// A filtered or sorted list: narrow with pushdown, scan (bounded), evaluate, sort, page.
    pub(super) async fn search(&self, query: &ListQuery) -> Result<(u64, Vec<Value>), Error> {
        let mapping = self.mapping();
        let filter_members = query.filter.as_ref().is_some_and(mentions_members);
        let lookup = query
            .filter
            .as_ref()
            .and_then(|f| unique_lookup(f, &mapping.schema));
        let mut matches = match &lookup {
            Some((attr, value)) => {
                self.cached_match(query, attr, value, filter_members)
                    .await?
            }
            None => None,
        };
        let backend_sort = self.backend_sort(query);
        if matches.is_none() {
            let found = self
                .scan(
                    query,
                    filter_members,
                    backend_sort.as_deref().unwrap_or(&[]),
                )
                .await?;
            if let (Some((attr, value)), [only]) = (&lookup, found.as_slice()) {
                if let Some(id) = only.get("id").and_then(Value::as_str) {
                    self.tenant
                        .cache
                        .remember_id(self.kind, attr, value, id)
                        .await;
                }
            }
            matches = Some(found);
        }
        let mut matches = matches.unwrap_or_default();
        if let (Some(sort), None) = (&query.sort_by, &backend_sort) {
            sort_resources(&mut matches, sort, query.descending, &mapping.schema);
        }
        let total = matches.len() as u64;
        let start = (query.start_index - 1) as usize;
        let mut page: Vec<Value> = matches
            .into_iter()
            .skip(start)
            .take(query.count as usize)
            .collect();
        if self.kind == ResourceKind::Group && wants_members(self, query) && !filter_members {
            for resource in &mut page {
                let Some(id) = resource
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                else {
                    continue;
                };
                let id_json = mapping.id.to_json(&id).unwrap_or(Value::String(id));
                let members = self.members_of(&id_json).await?;
                if let Value::Object(map) = resource {
                    map.insert(
                        "members".into(),
                        self.member_values(members.iter().map(|(id, _)| id)),
                    );
                }
            }
        }
        Ok((total, page))
    }

    /// The resource a unique-attribute lookup found last time, if it still matches.
    async fn cached_match(
        &self,
        query: &ListQuery,
        attr: &str,
        value: &str,
        with_members: bool,
    ) -> Result<Option<Vec<Value>>, Error> {
        let Some(id) = self.tenant.cache.id_for(self.kind, attr, value).await else {
            return Ok(None);
        };
        if let Some(found) = self.fetch_found(&id).await? {
            let resource = self.resource_of(&found, with_members).await?;
            if query
                .filter
                .as_ref()
                .is_some_and(|f| f.matches(&resource, &self.mapping().schema))
            {
                return Ok(Some(vec![resource]));
            }
        }
        self.tenant.cache.forget_id(self.kind, attr, value).await;
        Ok(None)
    }

    /// Every resource matching the filter, in the backend's order: pushdown narrows, the
    /// bounded scan reads (with `sort` when the backend sorts), the gateway evaluates.
    async fn scan(
        &self,
        query: &ListQuery,
        filter_members: bool,
        sort: &[(String, String)],
    ) -> Result<Vec<Value>, Error> {
        let mapping = self.mapping();
        let mut params = query
            .filter
            .as_ref()
            .map(|f| mapping.pushdown(f).params)
            .unwrap_or_default();
        params.extend(sort.iter().cloned());
        let no_vars = |_: &str| None;
        let cap = self.tenant.max_scan;
        let records = self
            .fetch_all(&mapping.list, &no_vars, &params, cap)
            .await?
            .ok_or_else(|| too_many(cap))?;
        let mut matches = Vec::new();
        for record in &records {
            let resource = self.resource_from(record, filter_members).await?;
            if query
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(&resource, &mapping.schema))
            {
                matches.push(resource);
            }
        }
        Ok(matches)
    }
}

/// 400 `tooMany`: answering needs more directory records than `limits.max_scan_records`.
fn too_many(cap: u64) -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "answering this query needs more than {cap} directory records to be scanned; add or narrow a filter with a term the directory can answer (for example userName eq \"...\")"
        ),
    )
}

/// Sorts by one attribute (RFC 7644 §3.4.2.3): resources without a value go last when
/// ascending and first when descending; strings compare case-insensitively unless the
/// attribute is caseExact; the sort is stable, so equal keys keep the backend's order.
fn sort_resources(
    resources: &mut Vec<Value>,
    by: &AttrPath,
    descending: bool,
    schema: &ResourceSchema,
) {
    let keys = sort_keys(resources, by, schema);
    let mut keyed: Vec<(Value, Option<SortKey>)> = resources.drain(..).zip(keys).collect();
    keyed.sort_by(|a, b| compare_keys(&a.1, &b.1, descending));
    resources.extend(keyed.into_iter().map(|(r, _)| r));
}

/// Orders two sort keys (RFC 7644 §3.4.2.3): a missing key goes last when ascending and
/// first when descending.
fn compare_keys(a: &Option<SortKey>, b: &Option<SortKey>, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ascending = match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
    };
    if descending {
        ascending.reverse()
    } else {
        ascending
    }
}

/// Each resource's sort key for `by` (`None`: no value, or an attribute the schema lacks).
fn sort_keys(resources: &[Value], by: &AttrPath, schema: &ResourceSchema) -> Vec<Option<SortKey>> {
    let path = PatchPath {
        attr: by.clone(),
        filter: None,
        sub: None,
    };
    let target = match ScimTarget::resolve(&path, schema) {
        Ok(t) => t,
        // A multi-valued attribute sorts by its primary (else first) element's value.
        Err(_) => match ScimTarget::resolve(
            &PatchPath {
                attr: AttrPath {
                    sub: None,
                    ..by.clone()
                },
                filter: None,
                sub: None,
            },
            schema,
        ) {
            Ok(t) => t,
            Err(_) => return vec![None; resources.len()],
        },
    };
    let case_exact = find_attribute(schema, &path)
        .map(|(_, def)| {
            by.sub
                .as_deref()
                .and_then(|s| def.sub(s).map(|d| d.case_exact))
                .unwrap_or(def.case_exact)
        })
        .unwrap_or(false);
    let key = |r: &Value| -> Option<SortKey> {
        let mut v = target.get(r)?;
        if let Value::Array(items) = v {
            let pick = items
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first())?;
            v = pick.get("value").unwrap_or(pick);
        }
        Some(match v {
            Value::String(s) if case_exact => SortKey::Text(s.clone()),
            Value::String(s) => SortKey::Text(s.to_lowercase()),
            Value::Number(n) => SortKey::Number(n.as_f64().unwrap_or(0.0)),
            Value::Bool(b) => SortKey::Number(f64::from(u8::from(*b))),
            _ => return None,
        })
    };
    resources.iter().map(key).collect()
}

#[derive(Clone, PartialEq, PartialOrd)]
enum SortKey {
    Number(f64),
    Text(String),
}

/// `(attribute key, folded value)` when the filter is `attr eq "value"` on an attribute
/// that identifies one resource (userName, externalId, group displayName): such lookups are
/// answered through the lookup cache's attribute → id map.
fn unique_lookup(filter: &Filter, schema: &ResourceSchema) -> Option<(String, String)> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::Str(value),
    } = filter
    else {
        return None;
    };
    let target = ScimTarget::resolve(
        &PatchPath {
            attr: path.clone(),
            filter: None,
            sub: None,
        },
        schema,
    )
    .ok()?;
    let key = target.key();
    match key.as_str() {
        // caseExact=false: the map is keyed on the folded value.
        "username" | "displayname" => Some((key, value.to_lowercase())),
        "externalid" => Some((key, value.clone())),
        _ => None,
    }
}

/// 400 `invalidFilter` for a filter on an attribute this resource type does not have (or
/// the mapping does not map): answering "no match" would make an IdP create duplicates
/// (RFC 7644 §3.4.2.2: "the specified attribute … is not supported").
fn check_filter_attributes(filter: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    let unknown = |path: &AttrPath| {
        ScimError::invalid_filter(format!(
            "the filter names {path}, which {} resources do not have",
            schema.name
        ))
    };
    match filter {
        Filter::Compare { path, op, .. } => match schema.resolve(path) {
            Some(Resolved::Attribute(at)) => {
                check_returned(path, at.sub.unwrap_or(at.attr))?;
                check_ordering(path, *op, at.sub.unwrap_or(at.attr))
            }
            _ => Err(unknown(path)),
        },
        Filter::Present(path) => match schema.resolve(path) {
            Some(Resolved::Attribute(at)) => check_returned(path, at.sub.unwrap_or(at.attr)),
            _ => Err(unknown(path)),
        },
        Filter::ValuePath { attr, filter } => {
            let Some(Resolved::Attribute(at)) = schema.resolve(attr) else {
                return Err(unknown(attr));
            };
            check_returned(attr, at.attr)?;
            check_element_filter(filter, at.attr).map_err(|p| {
                unknown(&AttrPath {
                    sub: Some(p.name.clone()),
                    ..attr.clone()
                })
            })
        }
        Filter::And(terms) | Filter::Or(terms) => terms
            .iter()
            .try_for_each(|t| check_filter_attributes(t, schema)),
        Filter::Not(inner) => check_filter_attributes(inner, schema),
    }
}

/// 400 `invalidFilter` for a filter on a `returned: never` attribute (a password, a mapping's
/// `direction: write` field): the gateway never reads it back, so "no match" would be a
/// wrong answer, and a match would let a client probe a secret (RFC 7643 §2.2).
fn check_returned(path: &AttrPath, def: &AttributeDef) -> Result<(), ScimError> {
    if def.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "{path} is never returned (writeOnly): it cannot be filtered on"
        )));
    }
    Ok(())
}

/// RFC 7644 §3.4.2.2: `gt`, `ge`, `lt` and `le` on a Boolean (or a complex attribute)
/// SHALL be refused with `invalidFilter`, not answered with an empty list.
fn check_ordering(path: &AttrPath, op: CompareOp, def: &AttributeDef) -> Result<(), ScimError> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    if ordering && matches!(def.attr_type, AttrType::Boolean | AttrType::Complex) {
        return Err(ScimError::invalid_filter(format!(
            "{path} is a {} attribute: it cannot be compared with gt, ge, lt or le",
            def.attr_type.as_str()
        )));
    }
    Ok(())
}

/// Inside `attr[...]`, every name must be a sub-attribute of `attr`.
fn check_element_filter<'f>(filter: &'f Filter, parent: &AttributeDef) -> Result<(), &'f AttrPath> {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            resolve_in_element(parent, path).map(|_| ()).ok_or(path)
        }
        Filter::And(terms) | Filter::Or(terms) => terms
            .iter()
            .try_for_each(|t| check_element_filter(t, parent)),
        Filter::Not(inner) => check_element_filter(inner, parent),
        Filter::ValuePath { attr, .. } => Err(attr),
    }
}
