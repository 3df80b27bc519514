//! Reads: get by id, and list with filter pushdown, a bounded in-gateway scan and RFC paging.

use serde_json::{json, Value};

use super::Ctx;
use crate::error::Error;
use crate::mapping::target::{find_attribute, ScimTarget};
use crate::mapping::{Paging, ResourceKind, Total};
use crate::scim::attr::AttrPath;
use crate::scim::attr::{resolve_in_element, Resolved};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::patch::PatchPath;
use crate::scim::query::ListQuery;
use crate::scim::resource::project;
use crate::scim::schema::{AttributeDef, ResourceSchema, LIST_RESPONSE};

/// `GET /{Resources}/{id}`.
pub async fn get(ctx: &Ctx<'_>, id: &str, query: &ListQuery) -> Result<Value, Error> {
    let record = ctx.require_shared(id).await?;
    let resource = ctx
        .resource_from(&record, wants_members(ctx, query))
        .await?;
    Ok(project(
        resource,
        &query.attributes,
        &query.excluded,
        &ctx.mapping().schema,
    ))
}

/// `GET /{Resources}` with `filter`, paging and attribute selection.
pub async fn list(ctx: &Ctx<'_>, query: &ListQuery) -> Result<Value, Error> {
    if let Some(filter) = &query.filter {
        check_filter_attributes(filter, &ctx.mapping().schema)?;
    }
    let (total, resources) = match &query.filter {
        None if query.sort_by.is_none() => ctx.page_through(query).await?,
        _ => ctx.search(query).await?,
    };
    let schema = &ctx.mapping().schema;
    let projected: Vec<Value> = resources
        .into_iter()
        .map(|r| project(r, &query.attributes, &query.excluded, schema))
        .collect();
    Ok(json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": query.start_index,
        "itemsPerPage": projected.len(),
        "Resources": projected,
    }))
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
    /// A backend record as a SCIM resource, with members when asked for.
    pub(super) async fn resource_from(
        &self,
        record: &Value,
        with_members: bool,
    ) -> Result<Value, Error> {
        let mapping = self.mapping();
        let (id, mut resource) = mapping.to_scim(record, &self.base_url).ok_or_else(|| {
            Error::from(ScimError::new(
                502,
                "the directory returned a record without an id",
            ))
        })?;
        if with_members && mapping.members.is_some() {
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

    /// An unfiltered, unsorted list: the backend pages for us.
    async fn page_through(&self, query: &ListQuery) -> Result<(u64, Vec<Value>), Error> {
        let mapping = self.mapping();
        let list = &mapping.list;
        let no_vars = |_: &str| None;
        let counted = matches!(list.total, Total::Counted) || matches!(list.paging, Paging::None);
        if counted {
            // The backend cannot tell the total: read everything (bounded) and page here.
            return self.search(query).await;
        }
        let offset = query.start_index - 1;
        let max = list.paging.max_size().unwrap_or(u64::MAX).max(1);
        let want = query.count;
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
            let page = self.fetch_page(list, &no_vars, &[], cursor, size).await?;
            total = total.or(page.total);
            let got = page.records.len() as u64;
            records.extend(page.records.into_iter().skip(skip));
            skip = 0;
            cursor += got;
            let reached_end = got < size || total.is_some_and(|t| cursor >= t);
            if records.len() as u64 >= want || reached_end || want == 0 {
                break;
            }
        }
        records.truncate(want as usize);
        let with_members = self.kind == ResourceKind::Group && wants_members(self, query);
        let mut resources = Vec::with_capacity(records.len());
        for record in &records {
            resources.push(self.resource_from(record, with_members).await?);
        }
        Ok((total.unwrap_or(offset + records.len() as u64), resources))
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
        if matches.is_none() {
            let found = self.scan(query, filter_members).await?;
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
        if let Some(sort) = &query.sort_by {
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
        if let Some(record) = self.fetch_shared(&id).await? {
            let resource = self.resource_from(&record, with_members).await?;
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

    /// Every resource matching the filter: pushdown narrows, the bounded scan reads, the
    /// gateway evaluates.
    async fn scan(&self, query: &ListQuery, filter_members: bool) -> Result<Vec<Value>, Error> {
        let mapping = self.mapping();
        let params = query
            .filter
            .as_ref()
            .map(|f| mapping.pushdown(f).params)
            .unwrap_or_default();
        let no_vars = |_: &str| None;
        let cap = self.tenant.max_scan;
        let records = self
            .fetch_all(&mapping.list, &no_vars, &params, cap)
            .await?
            .ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::TooMany,
                    format!(
                        "answering this query needs more than {cap} directory records to be scanned; add or narrow a filter with a term the directory can answer (for example userName eq \"...\")"
                    ),
                )
            })?;
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

/// Sorts by one attribute (RFC 7644 §3.4.2.3): resources without a value go last; strings
/// compare case-insensitively unless the attribute is caseExact; the sort is stable, so
/// equal keys keep the backend's order.
fn sort_resources(
    resources: &mut [Value],
    by: &AttrPath,
    descending: bool,
    schema: &ResourceSchema,
) {
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
            Err(_) => return,
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
    resources.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        match (ka, kb) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                if descending {
                    ord.reverse()
                } else {
                    ord
                }
            }
        }
    });
}

#[derive(PartialEq, PartialOrd)]
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
        Filter::Compare { path, .. } | Filter::Present(path) => match schema.resolve(path) {
            Some(Resolved::Attribute(_)) => Ok(()),
            _ => Err(unknown(path)),
        },
        Filter::ValuePath { attr, filter } => {
            let Some(Resolved::Attribute(at)) = schema.resolve(attr) else {
                return Err(unknown(attr));
            };
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
