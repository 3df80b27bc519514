//! Declarative mappings: how each SCIM resource type maps onto the backend's REST API.
//!
//! A mapping set is two YAML files (`users.yaml`, `groups.yaml`) in one folder per backend.
//! They are parsed (`file.rs`), compiled and checked (`compile.rs`) once at start-up into an
//! immutable [`ResourceMapping`] that request code shares through an `Arc`; nothing is parsed
//! per request. `convert.rs` moves values between SCIM resources and backend records and
//! `pushdown.rs` turns SCIM filters into backend query parameters.

pub mod compile;
pub mod convert;
pub mod file;
pub mod path;
pub mod pushdown;
pub mod target;
pub mod template;
pub mod transform;

use std::path::{Path, PathBuf};

use hyper::Method;
use serde_json::Value;

use crate::scim::error::ScimType;
use crate::scim::filter::CompareOp;
use crate::scim::schema::{AttrType, Mutability, ResourceSchema};
use path::BackendPath;
use target::ScimTarget;
use template::{JsonTemplate, Template};
use transform::Transform;

pub use compile::{compile_mapping, MappingProblem};
pub use convert::Current;

/// The two resource types a tenant serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// `User` / `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// `/Users` / `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
}

/// The compiled mappings of one backend.
#[derive(Debug)]
pub struct MappingSet {
    pub users: ResourceMapping,
    pub groups: ResourceMapping,
}

impl MappingSet {
    /// The mapping of one resource type.
    pub fn get(&self, kind: ResourceKind) -> &ResourceMapping {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    /// Loads `users.yaml` and `groups.yaml` from a folder, reporting every problem at once.
    pub fn load_dir(dir: &Path) -> Result<MappingSet, Vec<MappingProblem>> {
        let read = |name: &str| -> Result<(PathBuf, String), MappingProblem> {
            let file = dir.join(name);
            std::fs::read_to_string(&file)
                .map(|text| (file.clone(), text))
                .map_err(|e| MappingProblem::new(&file, None, format!("cannot read: {e}")))
        };
        let mut problems = Vec::new();
        let users = read("users.yaml");
        let groups = read("groups.yaml");
        let compile = |r: Result<(PathBuf, String), MappingProblem>,
                       kind,
                       problems: &mut Vec<MappingProblem>| match r {
            Ok((file, text)) => match compile_mapping(&file, &text, kind) {
                Ok(m) => Some(m),
                Err(mut p) => {
                    problems.append(&mut p);
                    None
                }
            },
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let users = compile(users, ResourceKind::User, &mut problems);
        let groups = compile(groups, ResourceKind::Group, &mut problems);
        match (users, groups) {
            (Some(users), Some(groups)) if problems.is_empty() => Ok(MappingSet { users, groups }),
            _ => Err(problems),
        }
    }
}

/// One resource type's compiled mapping.
#[derive(Debug)]
pub struct ResourceMapping {
    pub kind: ResourceKind,
    /// The schema as published: only what this mapping really supports.
    pub schema: ResourceSchema,
    pub id: IdField,
    pub meta: MetaFields,
    /// Path of the record inside single-record responses.
    pub envelope_record: Option<BackendPath>,
    /// Key that wraps request bodies.
    pub request_key: Option<String>,
    pub get: Call,
    pub list: ListCall,
    pub create: CreateCall,
    pub update: UpdateCall,
    pub delete: DeleteCall,
    pub attributes: Vec<AttributeMapping>,
    pub pushdown: Vec<PushdownRule>,
    /// Attributes the backend can sort by.
    pub sort: Vec<SortRule>,
    pub members: Option<MembersMapping>,
    pub errors: Vec<ErrorMapping>,
}

impl ResourceMapping {
    /// Attribute mappings the gateway checks for uniqueness itself.
    pub fn unique_attributes(&self) -> impl Iterator<Item = &AttributeMapping> {
        self.attributes.iter().filter(|a| a.unique)
    }
}

/// Where the backend id is and how it is typed in JSON bodies.
#[derive(Debug, Clone)]
pub struct IdField {
    pub path: BackendPath,
    pub integer: bool,
}

impl IdField {
    /// The JSON form of an id for request bodies, or `None` if it cannot be a backend id.
    pub fn to_json(&self, id: &str) -> Option<Value> {
        if self.integer {
            // Only the canonical spelling: `01001` or `+1001` must not alias user 1001.
            id.parse::<u64>()
                .ok()
                .filter(|n| n.to_string() == id)
                .map(Value::from)
        } else if matches!(id, "" | "." | "..") {
            // `.` and `..` would be dot segments in the backend path (`/groups/..`), which a
            // normalising backend or proxy resolves to another resource.
            None
        } else {
            Some(Value::String(id.to_owned()))
        }
    }

    /// Reads the id of a record as text.
    pub fn read(&self, record: &Value) -> Option<String> {
        match self.path.read(record)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Backend fields for `meta`.
#[derive(Debug, Clone, Default)]
pub struct MetaFields {
    pub created: Option<BackendPath>,
    pub last_modified: Option<BackendPath>,
    pub version: Option<BackendPath>,
    /// The gateway stamps `created` / `last_modified` on writes.
    pub maintain: bool,
    /// How the backend stores both timestamps (`meta.type`): read into RFC 3339, and
    /// written in that form when the gateway maintains them.
    pub stamps: Transform,
}

/// One backend HTTP call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub body: Option<JsonTemplate>,
    /// A read: GET or HEAD, or the list call whatever its method.
    pub read: bool,
    /// Safe to repeat after a failure (retried): reads, and writes marked `idempotent: true`.
    pub idempotent: bool,
}

/// The list call with its paging and total.
#[derive(Debug, Clone)]
pub struct ListCall {
    pub call: Call,
    pub records: BackendPath,
    pub paging: Paging,
    pub total: Total,
    /// Soft-deleted records to leave out of what this call returns.
    pub gone: Option<GoneMarker>,
    /// Records outside the mapping's `scope`, left out the same way.
    pub scope: Option<Scope>,
}

/// The field and value every record of the gateway's carries (`scope:`); a record with
/// another value belongs to someone else and reads as absent.
#[derive(Debug, Clone)]
pub struct Scope {
    pub path: BackendPath,
    pub value: Value,
}

impl Scope {
    pub fn admits(&self, record: &Value) -> bool {
        self.path.read(record) == Some(&self.value)
    }
}

/// How a soft-deleted record is recognised.
#[derive(Debug, Clone)]
pub struct GoneMarker {
    pub path: BackendPath,
    /// The deleting value; `None`: any value except null and `false`.
    pub value: Option<Value>,
    /// The list call's query already makes the backend leave such records out.
    pub excluded_by_backend: bool,
}

impl GoneMarker {
    /// Whether a record carries the soft-delete mark.
    pub fn marks(&self, record: &Value) -> bool {
        match (self.path.read(record), &self.value) {
            (None, _) | (Some(Value::Null), None) | (Some(Value::Bool(false)), None) => false,
            (Some(_), None) => true,
            (Some(found), Some(wanted)) => found == wanted,
        }
    }
}

impl ListCall {
    /// Whether the backend's paging and totals count exactly the records SCIM shows.
    pub fn backend_counts(&self) -> bool {
        !matches!(self.total, Total::Counted)
            && !matches!(self.paging, Paging::None)
            && self.gone.as_ref().is_none_or(|g| g.excluded_by_backend)
            && self.scope.is_none()
    }

    /// Whether SCIM must not see `record`: soft-deleted, or outside the scope.
    pub fn hides(&self, record: &Value) -> bool {
        self.gone.as_ref().is_some_and(|g| g.marks(record))
            || self.scope.as_ref().is_some_and(|s| !s.admits(record))
    }
}

/// How the backend pages lists.
#[derive(Debug, Clone)]
pub enum Paging {
    /// One call returns everything.
    None,
    /// `page` + `size` parameters; pages are numbered from `first`.
    Page {
        page_param: String,
        size_param: String,
        first: u64,
        max_size: u64,
    },
    /// `offset` (zero-based) + `limit` parameters.
    Offset {
        offset_param: String,
        limit_param: String,
        max_size: u64,
    },
    /// Each page names the next one by a token, sent back in `cursor_param`.
    Cursor {
        cursor_param: String,
        first: Option<String>,
        next: NextPage,
        size_param: Option<String>,
        max_size: u64,
    },
    /// Each page names the URL of the next one.
    NextLink {
        next: NextPage,
        size_param: Option<String>,
        max_size: u64,
    },
}

/// Where a page says what comes next.
#[derive(Debug, Clone)]
pub enum NextPage {
    Body(BackendPath),
    /// A response header; `Link` is parsed as RFC 8288 and its `rel="next"` target taken.
    Header(String),
}

impl NextPage {
    /// The next token or URL named by one response, if any.
    pub fn read(&self, body: &Value, header: impl Fn(&str) -> Option<String>) -> Option<String> {
        let found = match self {
            NextPage::Body(path) => match path.read(body)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            },
            NextPage::Header(name) if name.eq_ignore_ascii_case("link") => {
                link_next(&header(name)?)?
            }
            NextPage::Header(name) => header(name)?,
        };
        let found = found.trim().to_owned();
        (!found.is_empty()).then_some(found)
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header value.
fn link_next(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_owned())
    })
}

impl Paging {
    /// The largest page the backend serves (`None` = unbounded).
    pub fn max_size(&self) -> Option<u64> {
        match self {
            Paging::None => None,
            Paging::Page { max_size, .. }
            | Paging::Offset { max_size, .. }
            | Paging::Cursor { max_size, .. }
            | Paging::NextLink { max_size, .. } => Some(*max_size),
        }
    }

    /// Whether pages can only be reached one after another from the first.
    pub fn sequential(&self) -> bool {
        matches!(self, Paging::Cursor { .. } | Paging::NextLink { .. })
    }
}

/// Where a list's total count comes from.
#[derive(Debug, Clone)]
pub enum Total {
    Header(String),
    Body(BackendPath),
    Counted,
}

/// How the created record's id is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateResponse {
    /// The body is the new record.
    Record,
    /// The id is the last segment of the `Location` header; read back afterwards.
    Location,
    /// The body holds the id but not the whole record; read back afterwards.
    IdOnly,
}

/// The create call.
#[derive(Debug, Clone)]
pub struct CreateCall {
    pub call: Call,
    pub response: CreateResponse,
}

/// How updates are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStyle {
    /// The whole merged record (read-merge-write).
    Replace,
    /// Only the fields that changed.
    Merge,
}

/// The update call.
#[derive(Debug, Clone)]
pub struct UpdateCall {
    pub call: Call,
    pub style: UpdateStyle,
}

/// How deletes are carried out.
#[derive(Debug, Clone)]
pub enum DeleteCall {
    Delete(Call),
    /// An update call with this body (e.g. `{"deleted": true}`).
    Soft(Call),
    Refuse,
}

/// Which way an attribute flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Both,
    ReadOnly,
    WriteOnly,
}

/// One SCIM attribute ↔ backend field.
#[derive(Debug, Clone)]
pub struct AttributeMapping {
    /// The key as written in the mapping file (for messages).
    pub key: String,
    pub target: ScimTarget,
    /// Backend field (absent for read-only constants).
    pub backend: Option<BackendPath>,
    pub direction: Direction,
    pub transform: Transform,
    /// Written when the client sent nothing on create, or cleared the attribute later.
    pub default: Option<Value>,
    /// Always this value.
    pub constant: Option<Value>,
    /// Backend value computed from other SCIM attributes.
    pub template: Option<Template>,
    /// For `value` of a reference attribute (manager): the endpoint its `$ref` points to.
    pub reference: Option<&'static str>,
    /// Mutability the mapping declares (e.g. `immutable`), overriding the schema's.
    pub mutability: Option<Mutability>,
    pub unique: bool,
}

impl AttributeMapping {
    /// Whether reads copy this backend field into SCIM.
    pub fn reads(&self) -> bool {
        self.direction != Direction::WriteOnly
    }

    /// Whether writes copy this SCIM value to the backend.
    pub fn writes(&self) -> bool {
        self.direction != Direction::ReadOnly
    }

    /// The SCIM type of the mapped value.
    pub fn scim_type(&self) -> AttrType {
        self.target.value_type
    }
}

/// One filter the backend answers: attribute + operator → query parameters.
#[derive(Debug, Clone)]
pub struct PushdownRule {
    /// [`ScimTarget::key`] of the attribute.
    pub key: String,
    pub operator: CompareOp,
    pub query: Vec<(String, Template)>,
}

/// One attribute the backend sorts by: query parameters, with `{order}` filled in.
#[derive(Debug, Clone)]
pub struct SortRule {
    /// [`ScimTarget::key`] of the attribute.
    pub key: String,
    pub query: Vec<(String, Template)>,
    /// What `{order}` becomes for `sortOrder=ascending` and `descending`.
    pub ascending: String,
    pub descending: String,
}

/// Where group membership is stored.
#[derive(Debug, Clone)]
pub enum MembersMapping {
    /// A sub-resource or separate collection: one call per added or removed member.
    Calls(Box<MemberCalls>),
    /// An array in the group record, written with the group's update call.
    Embedded(MemberArray),
    /// An array of group ids in each user record, written with the user's update call.
    OnUser {
        array: MemberArray,
        /// User list query parameters narrowing the users to one group's members.
        find: Vec<(String, Template)>,
    },
}

/// Membership as records of their own.
#[derive(Debug, Clone)]
pub struct MemberCalls {
    pub list: ListCall,
    pub member: BackendPath,
    pub member_integer: bool,
    pub add: Call,
    pub remove: Call,
}

/// An array of ids inside a record.
#[derive(Debug, Clone)]
pub struct MemberArray {
    pub path: BackendPath,
    /// Path of the id inside an element when elements are objects.
    pub member: Option<BackendPath>,
    /// Ids are written as numbers.
    pub integer: bool,
}

impl MemberArray {
    /// The ids in a record's array, in order.
    pub fn ids(&self, record: &Value) -> Vec<String> {
        let Some(Value::Array(items)) = self.path.read(record) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let id = match &self.member {
                    Some(p) => p.read(item)?,
                    None => item,
                };
                match id {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            })
            .collect()
    }

    /// The array holding exactly `ids`: elements of ids already there are kept as they
    /// are (with whatever else the backend stores in them), new ones are added.
    pub fn with_ids(&self, record: &Value, ids: &[String]) -> Value {
        let old: Vec<Value> = match self.path.read(record) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let id_of = |item: &Value| -> Option<String> {
            let v = match &self.member {
                Some(p) => p.read(item)?,
                None => item,
            };
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let items = ids
            .iter()
            .map(|id| {
                if let Some(kept) = old.iter().find(|i| id_of(i).as_deref() == Some(id)) {
                    return kept.clone();
                }
                let value = match (self.integer, id.parse::<u64>()) {
                    (true, Ok(n)) => Value::from(n),
                    _ => Value::String(id.clone()),
                };
                match &self.member {
                    Some(p) => {
                        let mut item = Value::Object(serde_json::Map::new());
                        // Checked writable at load time.
                        let _ = p.write(&mut item, value);
                        item
                    }
                    None => value,
                }
            })
            .collect();
        Value::Array(items)
    }
}

/// Backend status (and optional body text) → SCIM error.
#[derive(Debug, Clone)]
pub struct ErrorMapping {
    pub status: u16,
    pub body_contains: Option<String>,
    pub scim_status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: Option<String>,
    pub detail_from: Option<BackendPath>,
}

#[cfg(test)]
mod next_page_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn link_header_next_target() {
        let header = r#"<http://h/users?_page=1&_limit=2>; rel="first", <http://h/users?_page=2&_limit=2>; rel="next", <http://h/users?_page=3&_limit=2>; rel="last""#;
        assert_eq!(
            link_next(header).as_deref(),
            Some("http://h/users?_page=2&_limit=2")
        );
        assert_eq!(
            link_next(r#"</a?p=2>; rel="prev next""#).as_deref(),
            Some("/a?p=2")
        );
        assert_eq!(link_next(r#"</a?p=1>; rel="prev""#), None);
        assert_eq!(link_next("garbage"), None);
    }

    #[test]
    fn next_from_body_or_header() {
        let body = json!({"next": 3, "links": {"next": ""}});
        let none = |_: &str| None;
        let next = NextPage::Body(BackendPath::parse("$.next").unwrap());
        assert_eq!(next.read(&body, none).as_deref(), Some("3"));
        // An empty or null next means the last page.
        let empty = NextPage::Body(BackendPath::parse("$.links.next").unwrap());
        assert_eq!(empty.read(&body, none), None);
        let header = NextPage::Header("X-Next-Cursor".into());
        assert_eq!(
            header
                .read(&body, |h| (h == "X-Next-Cursor").then(|| "abc".to_owned()))
                .as_deref(),
            Some("abc")
        );
    }
}
