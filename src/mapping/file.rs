//! The raw serde shape of a mapping file: nothing but data, as the author wrote it.
//!
//! `compile.rs` turns this into the checked, request-ready form. Keeping the two apart lets
//! the loader report every problem of a file at once instead of stopping at the first.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// One mapping file: how one SCIM resource type maps onto one backend collection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// SCIM resource type: `User` or `Group`.
    pub resource: String,
    /// Extension schemas this resource type supports.
    #[serde(default)]
    pub extensions: Vec<ExtensionRef>,
    /// Where the backend id lives in a record.
    pub id: IdSpec,
    /// Backend fields holding `meta.created` / `meta.lastModified` / `meta.version`.
    #[serde(default)]
    pub meta: MetaSpec,
    /// Envelopes around single records and lists.
    #[serde(default)]
    pub envelope: EnvelopeSpec,
    /// The backend call for each SCIM operation.
    pub operations: OperationsSpec,
    /// SCIM attribute path → backend JSON path (and transforms). Order is kept.
    pub attributes: serde_yaml_ng::Mapping,
    /// Filters the backend can answer itself.
    #[serde(default)]
    pub filters: Vec<FilterRule>,
    /// Attributes the backend can sort by itself.
    #[serde(default)]
    pub sort: Vec<SortRuleSpec>,
    /// Group membership (Group resources only).
    #[serde(default)]
    pub members: Option<MembersSpec>,
    /// Backend status → SCIM error rules, tried in order.
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    /// The field and value that mark the gateway's own records in a shared backend.
    #[serde(default)]
    pub scope: Option<ScopeSpec>,
}

/// `scope: { path, value }`: records whose field at `path` holds another value (or none)
/// read as absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    pub path: String,
    pub value: Value,
}

/// An extension schema: a built-in URN or a JSON schema file relative to the mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExtensionRef {
    Urn(String),
    File { file: String },
}

/// Backend id location and type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdSpec {
    /// JSON path of the id in a backend record.
    pub path: String,
    /// `string` (default) or `integer`: how the id is written into JSON bodies.
    #[serde(default, rename = "type")]
    pub id_type: Option<String>,
}

/// Backend fields for resource metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSpec {
    pub created: Option<String>,
    pub last_modified: Option<String>,
    pub version: Option<String>,
    /// The gateway writes `created` / `last_modified` itself (for backends without timestamps).
    #[serde(default)]
    pub maintain: bool,
    /// How `created` / `last_modified` are stored: `string` (RFC 3339, the default),
    /// `epoch_seconds`, `epoch_millis`, `date` or `sql_datetime`.
    #[serde(default, rename = "type")]
    pub stamp_type: Option<String>,
}

/// Envelopes: where a record sits in a single-record body (request and response).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSpec {
    /// JSON path of the record inside a single-record response, e.g. `$.user`.
    pub record: Option<String>,
    /// Key to wrap request bodies in, e.g. `user` sends `{"user": {...}}`.
    pub request_key: Option<String>,
}

/// The backend call of each SCIM operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsSpec {
    pub get: CallSpec,
    pub list: ListSpec,
    pub create: CreateSpec,
    pub update: UpdateSpec,
    pub delete: DeleteSpec,
}

/// One HTTP call: method, path template and optional query and body templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    /// Sending this call twice has the same effect as once: it may be retried.
    #[serde(default)]
    pub idempotent: bool,
}

/// The list call and how to read a page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON path of the record array in the response (`$` when the body is the array).
    #[serde(default = "root_path")]
    pub records: String,
    #[serde(default)]
    pub paging: PagingSpec,
    /// Where the total count comes from; absent means "count the records".
    #[serde(default)]
    pub total: Option<TotalSpec>,
}

fn root_path() -> String {
    "$".into()
}

/// How the backend pages its lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSpec {
    /// `page` (page number + size), `offset` (offset + limit), `cursor` (a token from the
    /// body sent back as a query parameter), `next_link` (follow a URL from the body or the
    /// `Link` header) or `none` (one call returns all).
    #[serde(default = "default_paging_style")]
    pub style: String,
    /// Query parameter of the page number or the offset.
    pub page_param: Option<String>,
    pub offset_param: Option<String>,
    /// `cursor`: the query parameter that carries the token back.
    pub cursor_param: Option<String>,
    /// `cursor`: the token sent on the first call (some backends need one, e.g. page `1`).
    pub first_cursor: Option<String>,
    /// `cursor` / `next_link`: JSON path of the next token or URL in the list body.
    pub next: Option<String>,
    /// `cursor` / `next_link`: response header holding it instead; `Link` is read as
    /// RFC 8288 (`<url>; rel="next"`).
    pub next_header: Option<String>,
    /// Query parameter of the page size or limit.
    pub size_param: Option<String>,
    /// Number of the first page (usually 1).
    #[serde(default = "one")]
    pub first_page: u64,
    /// Largest page the backend serves.
    #[serde(default = "default_max_page")]
    pub max_page_size: u64,
}

impl Default for PagingSpec {
    fn default() -> Self {
        PagingSpec {
            style: default_paging_style(),
            page_param: None,
            offset_param: None,
            cursor_param: None,
            first_cursor: None,
            next: None,
            next_header: None,
            size_param: None,
            first_page: 1,
            max_page_size: default_max_page(),
        }
    }
}

fn default_paging_style() -> String {
    "none".into()
}
fn one() -> u64 {
    1
}
fn default_max_page() -> u64 {
    100
}

/// Where a list's total comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalSpec {
    pub header: Option<String>,
    pub body: Option<String>,
}

/// Create call and where the new id comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSpec {
    pub method: String,
    pub path: String,
    /// `record` (the response body is the new record, default), `location` (id from the
    /// `Location` header, then read back) or `id` (the body holds only the id, then read back).
    #[serde(default)]
    pub response: Option<String>,
    /// Sending this call twice has the same effect as once: it may be retried.
    #[serde(default)]
    pub idempotent: bool,
}

/// Update call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpec {
    pub method: String,
    pub path: String,
    /// `replace`: send the whole merged record (read-merge-write PUT, default);
    /// `merge`: send only the changed fields (partial PATCH).
    #[serde(default)]
    pub style: Option<String>,
    /// Sending this call twice has the same effect as once: it may be retried.
    #[serde(default)]
    pub idempotent: bool,
}

/// Delete call: a real delete, a soft delete (an update setting a field) or refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteSpec {
    pub method: Option<String>,
    pub path: Option<String>,
    /// `delete` (default), `soft` (send `body` with the update call) or `refuse` (405).
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub body: Option<Value>,
    /// Sending this call twice has the same effect as once: it may be retried.
    #[serde(default)]
    pub idempotent: bool,
    /// `soft`: how reads recognise a soft-deleted record (it then reads as gone).
    #[serde(default)]
    pub marker: Option<MarkerSpec>,
    /// `soft`: list query parameters that make the backend leave soft-deleted records out
    /// (then its paging and totals can be used as they are).
    #[serde(default)]
    pub exclude: BTreeMap<String, String>,
}

/// The field a soft delete sets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkerSpec {
    /// JSON path of the field in a record.
    pub path: String,
    /// The value that means "deleted"; absent: any value except null and `false`.
    #[serde(default)]
    pub value: Option<Value>,
}

/// One pushed-down filter: SCIM attribute + operator → query parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    pub attribute: String,
    #[serde(alias = "op")]
    pub operator: String,
    pub query: BTreeMap<String, String>,
}

/// One pushed-down sort: SCIM attribute → query parameters (`{order}` is the direction).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortRuleSpec {
    pub attribute: String,
    pub query: BTreeMap<String, String>,
    /// Value of `{order}` for ascending (default `asc`) and descending (default `desc`).
    #[serde(default)]
    pub ascending: Option<String>,
    #[serde(default)]
    pub descending: Option<String>,
}

/// Group membership: where it is stored and how it changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersSpec {
    /// `calls` (default): a sub-resource or separate collection, one add/remove call per
    /// member; `embedded`: an array in the group record, written by the group's update
    /// call; `on_user`: an array of group ids in each user record, written by the user's
    /// update call.
    #[serde(default)]
    pub style: Option<String>,
    /// `calls`: lists a group's membership records.
    #[serde(default)]
    pub list: Option<ListSpec>,
    /// `calls`: JSON path of the member's (user's) id inside a membership record;
    /// `embedded`: inside an array element, when elements are objects (absent: ids).
    #[serde(default)]
    pub member: Option<String>,
    /// `string` (default) or `integer`: how ids are written into JSON bodies (member ids;
    /// for `on_user`, group ids).
    #[serde(default)]
    pub member_type: Option<String>,
    /// `calls`: adds one member: `{member}` is the user id.
    #[serde(default)]
    pub add: Option<CallSpec>,
    /// `calls`: removes one member: `{member}` is the user id, `{record.<path>}` reads the
    /// membership record.
    #[serde(default)]
    pub remove: Option<CallSpec>,
    /// `embedded`: the array in the group record; `on_user`: the array in the user record.
    #[serde(default)]
    pub path: Option<String>,
    /// `on_user`: user list query parameters that narrow the users to a group's members
    /// (`{id}` is the group id); the gateway checks each user's array itself.
    #[serde(default)]
    pub find: BTreeMap<String, String>,
}

/// Backend status (and optional body match) → SCIM error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    pub status: u16,
    /// Only when the backend body contains this text.
    #[serde(default)]
    pub body_contains: Option<String>,
    pub scim_status: u16,
    #[serde(default)]
    pub scim_type: Option<String>,
    /// Fixed detail; else taken from `detail_from` in the backend body; else generic.
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub detail_from: Option<String>,
}

/// The long form of an attribute entry (the short form is just the backend path).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub path: Option<String>,
    /// `read` (backend → SCIM only), `write` (SCIM → backend only) or `both` (default).
    pub direction: Option<String>,
    /// Backend value type: `string`, `integer`, `number`, `boolean`, `epoch_seconds`,
    /// `epoch_millis`.
    #[serde(rename = "type")]
    pub backend_type: Option<String>,
    /// SCIM value → backend value (e.g. `true: ENABLED`); applied in reverse on reads.
    #[serde(default)]
    pub values: Option<serde_yaml_ng::Mapping>,
    /// Fold the case of strings written to the backend: `lower` or `upper`.
    pub case: Option<String>,
    /// Written when the client sent nothing on create, or cleared the attribute later.
    pub default: Option<Value>,
    /// Always written; reads return it too.
    pub constant: Option<Value>,
    /// Backend value built from other SCIM attributes, e.g. `"{name.givenName} {name.familyName}"`.
    pub template: Option<String>,
    /// Overrides the schema's mutability: `immutable`, `readOnly`, `readWrite`, `writeOnly`.
    pub mutability: Option<String>,
    /// The gateway enforces uniqueness of this attribute (for backends that do not).
    #[serde(default)]
    pub unique: bool,
}
