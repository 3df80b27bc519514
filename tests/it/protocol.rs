//! Issue 3's protocol points through HTTP, written once and run over both backends (point 8):
//! the filter grammar (1), attributes/excludedAttributes with `returned` (3), PATCH path forms,
//! multi-valued semantics, `noTarget` and atomicity (4), PUT (5) and schema enforcement (7).
//! Every refused request is checked to leave the backend exactly as it was.

use serde_json::{json, Value};

use crate::support::client::enc;
use crate::support::scim::*;
use crate::support::snapshot::snapshot;
use crate::support::{Gateway, Reply};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const EXT_8X8: &str = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User";

/// The whole backend: the demo store, or every json-server collection.
async fn backend_state(gw: &Gateway) -> Value {
    if gw.directory.is_some() {
        return snapshot(gw);
    }
    let mut state = serde_json::Map::new();
    for collection in ["users", "groups", "group_members"] {
        let r = gw.backend().get(&format!("/{collection}")).await;
        state.insert(collection.into(), r.json);
    }
    Value::Object(state)
}

/// Sends a request that must be refused with `status`/`scim_type` and change nothing.
async fn refused(
    gw: &Gateway,
    method: &str,
    path: &str,
    body: &Value,
    status: u16,
    scim_type: &str,
) {
    let before = backend_state(gw).await;
    let r = gw.scim.send(method, path, Some(body)).await;
    assert_scim_error(&r, status, Some(scim_type));
    assert_eq!(
        backend_state(gw).await,
        before,
        "{method} {path} changed the backend: {}",
        r.text
    );
}

async fn ids_matching(gw: &Gateway, filter_text: &str) -> Vec<String> {
    let r: Reply = filter(gw, "/Users", filter_text, "&count=200").await;
    assert_eq!(r.status, 200, "{filter_text}: {}", r.text);
    let mut ids = resource_ids(&r.json);
    ids.sort();
    ids
}

/// Point 1: every operator, and/or/not with precedence and parentheses, value paths whose
/// terms hold on one element, sub-attributes, URN names, case-insensitive keywords and names,
/// escaped quotes, unicode; an invalid filter is 400 invalidFilter.
pub async fn filter_grammar(gw: &Gateway) {
    let run = run_id();
    let mut made = Vec::new();
    for (tag, title, dept) in [
        ("fa", "Alpha", "Sales"),
        ("fb", "Beta \"B\" ü", "R&D"),
        ("fc", "Gamma", "Sales"),
    ] {
        let mut user = full_user(&run, tag);
        user["title"] = json!(title);
        user[ENTERPRISE]["department"] = json!(dept);
        made.push(create(gw, "/Users", &user).await);
    }
    let (a, b, c) = (made[0].clone(), made[1].clone(), made[2].clone());
    let mine = format!("externalId ew \"-{run}\"");
    let cases: Vec<(String, Vec<&String>)> = vec![
        (format!("{mine} and title eq \"alpha\""), vec![&a]),
        (format!("{mine} and title ne \"Alpha\""), vec![&b, &c]),
        (format!("{mine} and title co \"amm\""), vec![&c]),
        (format!("{mine} and userName sw \"FB-\""), vec![&b]),
        (
            format!("{mine} and externalId gt \"fa-{run}\""),
            vec![&b, &c],
        ),
        (
            format!("{mine} and externalId ge \"fb-{run}\""),
            vec![&b, &c],
        ),
        (format!("{mine} and externalId lt \"fb-{run}\""), vec![&a]),
        (
            format!("{mine} and externalId le \"fb-{run}\""),
            vec![&a, &b],
        ),
        (format!("{mine} and title pr"), vec![&a, &b, &c]),
        (format!("{mine} and not (title eq \"Alpha\")"), vec![&b, &c]),
        // `and` binds tighter than `or`; parentheses change that.
        (
            format!("{mine} and (title eq \"Alpha\" or title eq \"Gamma\" and title eq \"x\")"),
            vec![&a],
        ),
        (
            format!("{mine} and ((title eq \"Alpha\" or title eq \"Gamma\") and title ne \"x\")"),
            vec![&a, &c],
        ),
        (
            format!("{mine} and emails[type eq \"work\" and value sw \"fc-\"]"),
            vec![&c],
        ),
        (
            format!("{mine} and emails[type eq \"home\" and value sw \"fc-\"]"),
            vec![],
        ),
        (
            format!("{mine} and name.familyName eq \"doe\""),
            vec![&a, &b, &c],
        ),
        (
            format!("{mine} and {ENTERPRISE}:department eq \"sales\""),
            vec![&a, &c],
        ),
        (
            format!("{mine} AND TITLE Eq \"beta \\\"b\\\" Ü\""),
            vec![&b],
        ),
        (
            format!("{mine} and meta.created gt \"2000-01-01T00:00:00Z\""),
            vec![&a, &b, &c],
        ),
    ];
    for (text, want) in cases {
        let mut want: Vec<String> = want.into_iter().cloned().collect();
        want.sort();
        assert_eq!(ids_matching(gw, &text).await, want, "filter {text}");
    }
    for bad in [
        "title eq",
        "title eq \"x\" and",
        "(title pr",
        "title zz \"x\"",
        "emails[type eq \"work\"",
    ] {
        let r = gw.scim.get(&format!("/Users?filter={}", enc(bad))).await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
}

/// Point 3: `returned` decides what attributes/excludedAttributes can do.
pub async fn attributes_honour_returned(gw: &Gateway) {
    let run = run_id();
    let mut user = full_user(&run, "ra");
    user["password"] = json!("Secret-123!");
    let id = create(gw, "/Users", &user).await;
    let path = format!("/Users/{id}");
    let only = fetch(gw, &format!("{path}?attributes=displayName")).await;
    assert_eq!(only["id"], json!(id), "id is returned always: {only}");
    assert!(only["schemas"].is_array(), "{only}");
    assert_eq!(only["displayName"], json!("Jamie Doe"));
    assert!(
        only.get("userName").is_none() && only.get("title").is_none(),
        "{only}"
    );
    let sub = fetch(
        gw,
        &format!("{path}?attributes=name.givenName,{ENTERPRISE}:department"),
    )
    .await;
    assert_eq!(sub["name"], json!({"givenName": "Jamie"}), "{sub}");
    assert_eq!(sub[ENTERPRISE], json!({"department": "Support"}), "{sub}");
    let without = fetch(gw, &format!("{path}?excludedAttributes=id,title,emails")).await;
    assert_eq!(without["id"], json!(id), "id cannot be excluded: {without}");
    assert!(
        without.get("title").is_none() && without.get("emails").is_none(),
        "{without}"
    );
    assert_eq!(without["userName"], user["userName"]);
    // password is returned never: not by default, not when asked for, not in lists.
    for query in ["", "?attributes=password", "?attributes=password,userName"] {
        let r = fetch(gw, &format!("{path}{query}")).await;
        assert!(r.get("password").is_none(), "{query}: {r}");
    }
    let listed = filter(
        gw,
        "/Users",
        &format!("userName eq \"{}\"", user["userName"].as_str().unwrap()),
        "&attributes=password,userName",
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let first = &listed.json["Resources"][0];
    assert!(
        first.get("password").is_none() && first["userName"].is_string(),
        "{first}"
    );
}

/// Point 4: path forms, multi-valued semantics, noTarget, and atomicity.
pub async fn patch_paths_and_atomicity(gw: &Gateway) {
    let run = run_id();
    let user = full_user(&run, "pp");
    let id = create(gw, "/Users", &user).await;
    let path = format!("/Users/{id}");
    // Value filter: only the matching element goes.
    patch_ok(
        gw,
        &path,
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}]),
    )
    .await;
    let now = fetch(gw, &path).await;
    assert_eq!(
        now["phoneNumbers"],
        json!([{"type": "work", "value": "+15550100002"}]),
        "{now}"
    );
    // Value filter plus sub-attribute, sub-attribute, URN-qualified attribute.
    patch_ok(
        gw,
        &path,
        json!([
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+15550100009"},
            {"op": "replace", "path": "name.givenName", "value": "Jo"},
            {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Field"}
        ]),
    )
    .await;
    let now = fetch(gw, &path).await;
    assert_eq!(now["phoneNumbers"][0]["value"], json!("+15550100009"));
    assert_eq!(now["name"]["givenName"], json!("Jo"));
    assert_eq!(now["name"]["familyName"], json!("Doe"));
    assert_eq!(now[ENTERPRISE]["department"], json!("Field"));
    // add appends without duplicates: the same work email again leaves one element.
    let email = user["emails"][0].clone();
    patch_ok(
        gw,
        &path,
        json!([{"op": "add", "path": "emails", "value": [email]}]),
    )
    .await;
    assert_eq!(
        fetch(gw, &path).await["emails"].as_array().map(Vec::len),
        Some(1)
    );
    // remove without a filter clears.
    patch_ok(gw, &path, json!([{"op": "remove", "path": "phoneNumbers"}])).await;
    assert!(fetch(gw, &path).await.get("phoneNumbers").is_none());

    // Removing what a filter does not match is a no-op (IdPs re-send removals).
    let before = backend_state(gw).await;
    patch_ok(
        gw,
        &path,
        json!([{"op": "remove", "path": "emails[value eq \"nobody@x\"]"}]),
    )
    .await;
    assert_eq!(backend_state(gw).await, before);
    // A replace whose filter matches nothing and cannot describe a new element (not only
    // `eq` terms), and a remove without a path: 400 noTarget.
    for ops in [
        json!([{"op": "replace", "path": "emails[value co \"nobody\"].value", "value": "a@b"}]),
        json!([{"op": "remove"}]),
    ] {
        refused(gw, "PATCH", &path, &patch(ops), 400, "noTarget").await;
    }
    // Atomic: the valid first operation is not applied when the second is refused.
    let ops = json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": format!("{EXT_8X8}:site"), "value": "Elsewhere"}
    ]);
    refused(gw, "PATCH", &path, &patch(ops), 400, "mutability").await;
    let ops = json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "add", "path": "nickNmae", "value": "x"}
    ]);
    refused(gw, "PATCH", &path, &patch(ops), 400, "invalidPath").await;
    assert_eq!(fetch(gw, &path).await["title"], user["title"]);
}

/// Points 5 and 7: PUT replaces, ignores readOnly input, refuses immutable changes, missing
/// required attributes and wrong types; uniqueness is 409.
pub async fn put_and_schema_enforcement(gw: &Gateway) {
    let run = run_id();
    let user = full_user(&run, "pu");
    let id = create(gw, "/Users", &user).await;
    let path = format!("/Users/{id}");
    let mut body = user.clone();
    body["id"] = json!("not-the-id");
    body["meta"] = json!({"resourceType": "User", "created": "1999-01-01T00:00:00Z"});
    body["title"] = json!("Replaced");
    body.as_object_mut().unwrap().remove("phoneNumbers");
    let r = gw.scim.put(&path, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["id"],
        json!(id),
        "readOnly id is ignored: {}",
        r.text
    );
    assert_ne!(r.json["meta"]["created"], json!("1999-01-01T00:00:00Z"));
    let now = fetch(gw, &path).await;
    assert_eq!(now["title"], json!("Replaced"));
    assert!(now.get("phoneNumbers").is_none(), "PUT replaces: {now}");

    let mut moved = body.clone();
    moved[EXT_8X8]["site"] = json!("Elsewhere");
    refused(gw, "PUT", &path, &moved, 400, "mutability").await;
    let mut nameless = body.clone();
    nameless.as_object_mut().unwrap().remove("userName");
    refused(gw, "PUT", &path, &nameless, 400, "invalidValue").await;
    for (attr, value) in [
        ("active", json!("maybe")),
        ("userName", json!(42)),
        ("name", json!("Jo Doe")),
    ] {
        let mut wrong = body.clone();
        wrong[attr] = value;
        refused(gw, "PUT", &path, &wrong, 400, "invalidValue").await;
        refused(
            gw,
            "PATCH",
            &path,
            &patch(json!([{"op": "replace", "path": attr, "value": wrong[attr]}])),
            400,
            "invalidValue",
        )
        .await;
    }
    // IdP string booleans stay accepted.
    patch_ok(
        gw,
        &path,
        json!([{"op": "replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(fetch(gw, &path).await["active"], json!(false));
    // Another user's userName (differing in case) is 409 uniqueness, by POST, PUT and PATCH.
    let other = create_small_user(gw, &format!("taken-{run}@example.com")).await;
    let taken = json!(format!("TAKEN-{run}@example.com"));
    let mut dup = small_user(taken.as_str().unwrap());
    refused(gw, "POST", "/Users", &dup, 409, "uniqueness").await;
    dup = body.clone();
    dup["userName"] = taken.clone();
    refused(gw, "PUT", &path, &dup, 409, "uniqueness").await;
    refused(
        gw,
        "PATCH",
        &path,
        &patch(json!([{"op": "replace", "path": "userName", "value": taken}])),
        409,
        "uniqueness",
    )
    .await;
    assert_ne!(other, id);
    // A missing resource is 404 and a PUT to it creates nothing.
    let before = backend_state(gw).await;
    let r = gw.scim.put("/Users/999999", &body).await;
    assert_scim_error(&r, 404, None);
    assert_eq!(backend_state(gw).await, before);
}

mod demo {
    scenario_tests!(crate::support::demo, crate::protocol =>
        filter_grammar,
        attributes_honour_returned,
        patch_paths_and_atomicity,
        put_and_schema_enforcement,
    );
}

#[cfg(feature = "real-backends")]
mod json_server {
    scenario_tests!(crate::support::json_server::json_server_gateway, crate::protocol =>
        filter_grammar,
        attributes_honour_returned,
        patch_paths_and_atomicity,
        put_and_schema_enforcement,
    );
}
