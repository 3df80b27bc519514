//! SCIM request bodies, small request helpers and assertions shared by the scenario files.

use serde_json::{json, Value};

use super::client::enc;
use super::{Gateway, Reply};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const EXT_8X8: &str = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A fresh `[a-z0-9]{8}` token, so names never collide between tests or reruns.
pub fn run_id() -> String {
    (0..8)
        .map(|_| *fastrand::choice(b"abcdefghijklmnopqrstuvwxyz0123456789").unwrap())
        .map(char::from)
        .collect()
}

/// The full 8x8 attribute set Entra sends on create (userName `{tag}-{run}@example.com`).
pub fn full_user(run: &str, tag: &str) -> Value {
    let login = format!("{tag}-{run}@example.com");
    json!({
        "schemas": [USER, ENTERPRISE, EXT_8X8],
        "externalId": format!("{tag}-{run}"),
        "userName": login,
        "active": true,
        "displayName": "Jamie Doe",
        "title": "Support Engineer",
        "locale": "en-US",
        "timezone": "Europe/Oslo",
        "name": {"givenName": "Jamie", "familyName": "Doe"},
        "emails": [{"primary": true, "type": "work", "value": login}],
        "phoneNumbers": [
            {"type": "mobile", "value": "+15550100001"},
            {"type": "work", "value": "+15550100002"}
        ],
        ENTERPRISE: {
            "department": "Support",
            "employeeNumber": format!("E-{run}"),
            "costCenter": "CC-4100",
            "organization": "Example Corp",
            "division": "Customer Care"
        },
        EXT_8X8: {"site": "HQ-East"},
        "meta": {"resourceType": "User"}
    })
}

/// A small user (name and work email), as Entra creates members and managers.
pub fn small_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Sam", "familyName": "Member"},
        "emails": [{"primary": true, "type": "work", "value": user_name}]
    })
}

/// A group with the given member ids.
pub fn group(display_name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": [GROUP],
        "displayName": display_name,
        "members": member_refs(members)
    })
}

/// `[{"value": id}, …]`.
pub fn member_refs(ids: &[&str]) -> Value {
    ids.iter().map(|id| json!({"value": id})).collect()
}

/// A PatchOp body around `operations`.
pub fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// POSTs `body` to `/Users` or `/Groups`, asserts 201 and returns the new id.
pub async fn create(gw: &Gateway, endpoint: &str, body: &Value) -> String {
    let r = gw.scim.post(endpoint, body).await;
    assert_eq!(r.status, 201, "POST {endpoint}: {}", r.text);
    r.json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id in {}", r.text))
        .to_owned()
}

/// Creates `small_user(user_name)` and returns its id.
pub async fn create_small_user(gw: &Gateway, user_name: &str) -> String {
    create(gw, "/Users", &small_user(user_name)).await
}

/// GETs a resource, asserting 200.
pub async fn fetch(gw: &Gateway, path: &str) -> Value {
    let r = gw.scim.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    r.json
}

/// `GET {endpoint}?filter=…` (percent-encoded) plus any extra query.
pub async fn filter(gw: &Gateway, endpoint: &str, filter: &str, extra: &str) -> Reply {
    gw.scim
        .get(&format!("{endpoint}?filter={}{extra}", enc(filter)))
        .await
}

/// PATCHes and asserts a 2xx (200 with a body or 204), as every IdP accepts both.
pub async fn patch_ok(gw: &Gateway, path: &str, operations: Value) -> Reply {
    let r = gw.scim.patch(path, &patch(operations)).await;
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {path}: {} {}",
        r.status,
        r.text
    );
    r
}

/// The member ids of a group, sorted.
pub async fn member_ids(gw: &Gateway, group_id: &str) -> Vec<String> {
    let g = fetch(gw, &format!("/Groups/{group_id}")).await;
    let mut ids: Vec<String> = g
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Sorted owned copies, to compare with [`member_ids`].
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// The `id`s of a ListResponse's resources, in order.
pub fn resource_ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources array in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids of a list, every page of it, read through SCIM one `count` at a time, with the
/// total each page reported.
pub async fn ids_in_pages(gw: &Gateway, endpoint: &str, count: usize) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut start = 1;
    loop {
        let page = fetch(gw, &format!("{endpoint}?startIndex={start}&count={count}")).await;
        let got = resource_ids(&page);
        assert_eq!(page["startIndex"], json!(start), "{page}");
        assert_eq!(page["itemsPerPage"], json!(got.len()), "{page}");
        let total = page["totalResults"].as_u64().unwrap();
        if got.is_empty() {
            return (ids, total);
        }
        assert!(got.len() <= count, "{page}");
        ids.extend(got);
        start += count;
    }
}

/// Asserts a SCIM error answer: status, Error schema, string status, non-empty detail, the
/// SCIM media type and exactly `scim_type` (None: no scimType).
pub fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "content type {:?} of {}",
        r.header("content-type"),
        r.text
    );
    assert_eq!(r.json["schemas"], json!([ERROR]), "{}", r.text);
    assert_eq!(r.json["status"], json!(status.to_string()), "{}", r.text);
    assert!(
        r.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "empty detail: {}",
        r.text
    );
    assert_eq!(r.scim_type(), scim_type, "{}", r.text);
}

/// Asserts Entra's exact no-match answer (a 404 or a missing `Resources` quarantines the job).
pub fn assert_empty_list(r: &Reply) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": 0,
            "Resources": [],
            "startIndex": 1,
            "itemsPerPage": 0
        }),
        "{}",
        r.text
    );
}

/// Asserts a ListResponse holding exactly the resources `ids`, in that order.
pub fn assert_list_of(r: &Reply, ids: &[&str]) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["schemas"], json!([LIST_RESPONSE]), "{}", r.text);
    assert_eq!(r.json["totalResults"], json!(ids.len()), "{}", r.text);
    assert_eq!(r.json["itemsPerPage"], json!(ids.len()), "{}", r.text);
    assert_eq!(resource_ids(&r.json), ids, "{}", r.text);
}

/// Asserts that `actual` holds everything in `expected`: object keys are a subset, arrays have
/// the same length and each expected element matches some actual element (any order), and
/// scalars are equal (type-strict).
pub fn assert_has(actual: &Value, expected: &Value) {
    if let Err(at) = has(actual, expected, "") {
        panic!("mismatch at {at}\nexpected (subset): {expected:#}\nactual: {actual:#}");
    }
}

fn has(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{at}/{k} (missing)"))?;
                has(av, ev, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{at} (length {} != {})", a.len(), e.len()));
            }
            for (i, ev) in e.iter().enumerate() {
                if !a.iter().any(|av| has(av, ev, "").is_ok()) {
                    return Err(format!("{at}/{i} (no matching element)"));
                }
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(at.to_owned()),
    }
}

/// `body` without what a read does not return as sent (`meta`, `password`, `groups`, `id`).
pub fn as_stored(body: &Value) -> Value {
    let mut v = body.clone();
    let map = v.as_object_mut().unwrap();
    for k in ["meta", "password", "groups", "id"] {
        map.remove(k);
    }
    v
}

// The helpers must be able to fail, or the scenarios built on them prove nothing.
#[cfg(test)]
mod self_check {
    use super::*;

    #[test]
    fn assert_has_accepts_a_subset_in_any_order() {
        assert_has(
            &json!({"a": 1, "b": [{"x": 1, "y": 2}, {"x": 3}], "c": "s"}),
            &json!({"b": [{"x": 3}, {"x": 1}], "c": "s"}),
        );
    }

    #[test]
    #[should_panic(expected = "/a (missing)")]
    fn assert_has_rejects_a_missing_key() {
        assert_has(&json!({"b": 1}), &json!({"a": 1}));
    }

    #[test]
    #[should_panic(expected = "length")]
    fn assert_has_rejects_an_extra_element() {
        assert_has(&json!({"a": [1, 2]}), &json!({"a": [1]}));
    }

    #[test]
    #[should_panic(expected = "mismatch at /a")]
    fn assert_has_is_type_strict() {
        assert_has(&json!({"a": "true"}), &json!({"a": true}));
    }
}
