//! Opt-in answer shapes of the demo directory ([`DemoShape`]), so that each backend shape
//! the mapping engine supports runs against a directory that really behaves that way:
//! creates answered by a `Location` header or by the id alone, envelopes, unpaged lists,
//! keyset pages whose next page is named by a body link, an RFC 8288 `Link` header or a
//! cursor header, membership held on the user record, and deletes refused. The default is
//! the shipped demo, answered by the handlers' unchanged fast paths.

use std::collections::BTreeSet;

use axum::http::header::{HOST, LINK, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::{json, ApiError, TOTAL_COUNT_HEADER};
use crate::demo::store::PageLimits;

/// Header naming the `after` value of the next keyset page ([`NextIn::CursorHeader`]).
pub const NEXT_CURSOR_HEADER: HeaderName = HeaderName::from_static("x-next-cursor");

/// How the directory answers, beyond its data. Every field defaults to the shipped demo:
/// `DemoShape { lists: ListStyle::Unpaged, ..DemoShape::default() }` changes only paging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoShape {
    /// What a create of a user or group answers.
    pub create: CreateAnswer,
    /// How the user, group and member lists page.
    pub lists: ListStyle,
    /// `{"user": {...}}` around single records, in requests too, and `{"users": [...]}`
    /// (`groups`, `members`) around lists. Member adds keep their bare `{"user_id": n}`.
    pub envelope: bool,
    /// Where group membership is written.
    pub members: MemberHome,
    /// Users and groups have no DELETE: it answers 405 like any other missing method.
    pub refuse_deletes: bool,
}

/// The answer to `POST /api/users` and `POST /api/groups`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CreateAnswer {
    /// 201 with the new record and a `Location` header.
    #[default]
    Record,
    /// 201 with no body; the new record's path is only in `Location`.
    Location,
    /// 201 with `{"id": n}` alone (in the envelope when there is one) and no `Location`.
    IdOnly,
}

/// How lists page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListStyle {
    /// `page` / `per_page`, the total in `X-Total-Count`.
    #[default]
    Pages,
    /// Everything matching in one answer, no paging parameters, no total.
    Unpaged,
    /// Keyset pages in id order: `after=<id>` (exclusive) and `limit` (the list's default
    /// and maximum page size); `page`, `per_page` and sorting are refused.
    Keyset(NextIn),
}

/// Where a keyset page names the next one (on the last page: nowhere, or `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextIn {
    /// `{"data": [...], "links": {"next": "<absolute URL>"}, "total": n}`; with the envelope
    /// the array is under `users` / `groups` / `members` instead of `data`.
    BodyLink,
    /// `Link: <first URL>; rel="first", <next URL>; rel="next"`; no total.
    LinkHeader,
    /// `X-Next-Cursor: <after value>`; no total.
    CursorHeader,
}

/// Where group membership is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemberHome {
    /// The `/api/groups/{id}/members` sub-resource.
    #[default]
    SubResource,
    /// A `groups` array of group ids in each user record, written with the user's POST, PUT
    /// (absent: no groups) and PATCH (absent: unchanged); `GET /api/users?group=<id>` lists a
    /// group's members. The members sub-resource does not exist.
    OnUser,
}

impl DemoShape {
    /// Whether this is the shipped demo's shape.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The record inside a request body: the body itself, or what the envelope holds.
    pub(super) fn unwrap_request(&self, body: Value, noun: &str) -> Result<Value, ApiError> {
        if !self.envelope {
            return Ok(body);
        }
        match body {
            Value::Object(mut outer) if outer.len() == 1 && outer.contains_key(noun) => {
                Ok(outer.remove(noun).unwrap_or(Value::Null))
            }
            _ => Err(ApiError::validation(format!(
                "request body must be {{\"{noun}\": {{...}}}}"
            ))),
        }
    }

    /// A single-record answer.
    pub(super) fn record(&self, status: StatusCode, noun: &str, record: Value) -> Response {
        json(status, &self.wrap(noun, record))
    }

    /// The answer to a create of the record `id` at `location` (a path; the `Location`
    /// shape answers it as an absolute URL, as such APIs mostly do).
    pub(super) fn created(
        &self,
        headers: &HeaderMap,
        mut location: String,
        noun: &str,
        id: u64,
        record: Value,
    ) -> Response {
        let mut response = match self.create {
            CreateAnswer::Record => self.record(StatusCode::CREATED, noun, record),
            CreateAnswer::Location => {
                location.insert_str(0, &origin(headers));
                StatusCode::CREATED.into_response()
            }
            CreateAnswer::IdOnly => {
                return self.record(StatusCode::CREATED, noun, json!({ "id": id }))
            }
        };
        if let Ok(location) = HeaderValue::try_from(location) {
            response.headers_mut().insert(LOCATION, location);
        }
        response
    }

    fn wrap(&self, key: &str, value: Value) -> Value {
        if self.envelope {
            json!({ key: value })
        } else {
            value
        }
    }

    /// Takes this style's paging parameters out of `pairs` (the store pages only `Pages`).
    pub(super) fn window(
        &self,
        pairs: &mut Vec<(String, String)>,
        limits: PageLimits,
    ) -> Result<Window, ApiError> {
        let refuse = |pairs: &[(String, String)], names: &[&str]| match pairs
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
        {
            Some((name, _)) => Err(ApiError::validation(format!(
                "query parameter '{name}' is not supported by this list"
            ))),
            None => Ok(()),
        };
        match self.lists {
            ListStyle::Pages => Ok(Window::Store),
            ListStyle::Unpaged => {
                refuse(pairs, &["page", "per_page"])?;
                Ok(Window::All)
            }
            ListStyle::Keyset(_) => {
                refuse(pairs, &["page", "per_page", "sort", "order"])?;
                let after = take(pairs, "after")?.map_or(Ok(0), |raw| number(&raw, "after", 0))?;
                let limit = take(pairs, "limit")?
                    .map_or(Ok(limits.default_size), |raw| number(&raw, "limit", 1))?;
                Ok(Window::Keyset {
                    after,
                    limit: limit.min(limits.max_size),
                })
            }
        }
    }

    /// A list answer: `page` (the window's records as JSON), `total` matching records, and
    /// `next`, the `after` value of the next keyset page.
    pub(super) fn list(
        &self,
        page: Vec<Value>,
        total: usize,
        next: Option<u64>,
        at: &ListUrl,
    ) -> Response {
        let items = Value::Array(page);
        let (body, header) = match self.lists {
            ListStyle::Pages => (
                self.wrap(at.plural, items),
                Some((TOTAL_COUNT_HEADER, total.to_string())),
            ),
            ListStyle::Unpaged => (self.wrap(at.plural, items), None),
            ListStyle::Keyset(NextIn::BodyLink) => {
                let key = if self.envelope { at.plural } else { "data" };
                let next = next.map_or(Value::Null, |after| Value::String(at.url(Some(after))));
                let mut body = Map::new();
                body.insert(key.to_owned(), items);
                body.insert("links".into(), json!({ "next": next }));
                body.insert("total".into(), json!(total));
                (Value::Object(body), None)
            }
            ListStyle::Keyset(NextIn::LinkHeader) => {
                let mut link = format!("<{}>; rel=\"first\"", at.url(None));
                if let Some(after) = next {
                    link.push_str(&format!(", <{}>; rel=\"next\"", at.url(Some(after))));
                }
                (self.wrap(at.plural, items), Some((LINK, link)))
            }
            ListStyle::Keyset(NextIn::CursorHeader) => (
                self.wrap(at.plural, items),
                next.map(|after| (NEXT_CURSOR_HEADER, after.to_string())),
            ),
        };
        let mut response = json(StatusCode::OK, &body);
        if let Some((name, value)) = header {
            if let Ok(value) = HeaderValue::try_from(value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// Which records of a list the request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Window {
    /// The store's page (`page` / `per_page`).
    Store,
    /// Every matching record.
    All,
    /// Up to `limit` records with ids above `after`.
    Keyset { after: u64, limit: u64 },
}

impl Window {
    /// Keeps the window of `items` (in id order) and says where the next page starts.
    pub(super) fn apply<T>(self, items: Vec<T>, id: impl Fn(&T) -> u64) -> (Vec<T>, Option<u64>) {
        let Window::Keyset { after, limit } = self else {
            return (items, None);
        };
        let mut rest = items.into_iter().filter(|item| id(item) > after);
        let page: Vec<T> = rest
            .by_ref()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        let next = match rest.next() {
            Some(_) => page.last().map(&id),
            None => None,
        };
        (page, next)
    }
}

/// The list a request read, for the links that name its other pages.
pub(super) struct ListUrl {
    /// `http://host` from the request's `Host` header, empty without one (links are then
    /// paths).
    origin: String,
    path: String,
    /// The request's query without `after` and `limit`, so every page keeps its filters.
    pairs: Vec<(String, String)>,
    limit: u64,
    /// Envelope key of the list.
    pub plural: &'static str,
}

impl ListUrl {
    pub(super) fn new(
        headers: &HeaderMap,
        path: &str,
        pairs: &[(String, String)],
        window: Window,
        plural: &'static str,
    ) -> Self {
        let limit = match window {
            Window::Keyset { limit, .. } => limit,
            _ => 0,
        };
        ListUrl {
            origin: origin(headers),
            path: path.to_owned(),
            pairs: pairs.to_vec(),
            limit,
            plural,
        }
    }

    /// The URL of the page after `after` (`None`: the first page).
    fn url(&self, after: Option<u64>) -> String {
        let mut query: Vec<String> = self
            .pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if let Some(after) = after {
            query.push(format!("after={after}"));
        }
        query.push(format!("limit={}", self.limit));
        format!("{}{}?{}", self.origin, self.path, query.join("&"))
    }
}

/// Everything but RFC 3986's unreserved characters.
const QUERY_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `http://host` from the request's `Host` header; empty without one.
fn origin(headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(String::new, |host| format!("http://{host}"))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_PART).to_string()
}

/// Removes the parameter `name` (given at most once) from `pairs`.
fn take(pairs: &mut Vec<(String, String)>, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = None;
    let mut twice = false;
    pairs.retain(|(k, v)| {
        if k != name {
            return true;
        }
        twice |= found.replace(v.clone()).is_some();
        false
    });
    if twice {
        return Err(ApiError::validation(format!(
            "query parameter '{name}' is given more than once"
        )));
    }
    Ok(found)
}

/// A decimal query value of at least `min`.
fn number(raw: &str, name: &str, min: u64) -> Result<u64, ApiError> {
    match raw.parse::<u64>() {
        Ok(n) if raw.bytes().all(|b| b.is_ascii_digit()) && n >= min => Ok(n),
        _ => Err(ApiError::validation(format!(
            "query parameter '{name}' must be an integer of at least {min}"
        ))),
    }
}

/// The `groups` array of a user body (membership held on the user), taken out so the rest
/// parses as a plain user; `null` means no groups.
pub(super) fn take_groups(body: &mut Value) -> Result<Option<BTreeSet<u64>>, ApiError> {
    let Some(raw) = body.as_object_mut().and_then(|o| o.remove("groups")) else {
        return Ok(None);
    };
    let items = match raw {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        _ => return Err(groups_error()),
    };
    items
        .iter()
        .map(|item| item.as_u64().ok_or_else(groups_error))
        .collect::<Result<BTreeSet<u64>, ApiError>>()
        .map(Some)
}

fn groups_error() -> ApiError {
    ApiError::validation("field 'groups' must be an array of integer group ids or null")
}
