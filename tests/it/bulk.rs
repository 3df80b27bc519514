//! `POST /Bulk` (RFC 7644 §3.7) and root `POST /.search` (§3.4.3) over HTTP. The scenarios
//! are written once and run against the demo directory here and against a real json-server
//! in `json_server.rs`; each checks the statuses, the scimType and what the backend holds.

use serde_json::{json, Value};

use crate::support::scim::*;
use crate::support::snapshot::snapshot;
use crate::support::{Gateway, Reply};

pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// One test per scenario against the backend `$setup` starts (listed once for both).
macro_rules! bulk_scenarios {
    ($setup:path) => {
        scenario_tests!($setup, crate::bulk =>
            user_and_group_with_member_reference,
            fail_on_errors_stops_after_the_first_error,
            too_many_operations_is_413_and_changes_nothing,
            too_large_payload_is_413_and_changes_nothing,
            a_failure_in_the_middle_keeps_earlier_and_later_writes,
            references_to_failed_or_unknown_operations,
            circular_references_fail_without_hanging,
            malformed_requests_and_operations,
            versions_are_if_match_per_operation,
            root_search_returns_both_types,
        );
    };
}

mod demo {
    bulk_scenarios!(crate::support::demo);
}

/// Everything the backend holds: the demo directory's store, or json-server's collections.
pub async fn backend_state(gw: &Gateway) -> Value {
    if gw.directory.is_some() {
        return snapshot(gw);
    }
    let js = gw.backend();
    let mut state = serde_json::Map::new();
    for collection in ["users", "groups", "group_members"] {
        let r = js.get(&format!("/{collection}")).await;
        assert_eq!(r.status, 200, "json-server /{collection}: {}", r.text);
        state.insert(collection.into(), r.json);
    }
    Value::Object(state)
}

/// POSTs a BulkRequest with these operations (and `failOnErrors` when given).
pub async fn bulk(gw: &Gateway, operations: Value, fail_on_errors: Option<u64>) -> Reply {
    let mut body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    gw.scim.post("/Bulk", &body).await
}

/// The `Operations` of a 200 BulkResponse.
fn results(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["schemas"], json!([BULK_RESPONSE]), "{}", r.text);
    r.json["Operations"]
        .as_array()
        .unwrap_or_else(|| panic!("no Operations in {}", r.text))
        .clone()
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|op| {
            op["status"]
                .as_str()
                .unwrap_or_else(|| panic!("status is not a string: {op}"))
        })
        .collect()
}

/// Asserts a failed operation's result: status, and a SCIM error `response` with the same
/// status as a string and exactly `scim_type`.
fn assert_failed(op: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(op["status"], json!(status.to_string()), "{op}");
    let response = &op["response"];
    assert_eq!(response["schemas"], json!([ERROR]), "{op}");
    assert_eq!(response["status"], json!(status.to_string()), "{op}");
    assert!(
        response["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{op}"
    );
    assert_eq!(
        response.get("scimType").and_then(Value::as_str),
        scim_type,
        "{op}"
    );
}

/// The id at the end of a result's `location`, which must be under `endpoint`.
fn created_id(gw: &Gateway, op: &Value, endpoint: &str) -> String {
    let location = op["location"]
        .as_str()
        .unwrap_or_else(|| panic!("no location in {op}"));
    let prefix = format!("{}{endpoint}/", gw.base_url);
    location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location} is not under {prefix}"))
        .to_owned()
}

fn post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": small_user(user_name)})
}

/// The RFC's own example, group first: the group names the user created in the same request
/// by its bulkId, so the user's POST runs first; results stay in request order.
pub async fn user_and_group_with_member_reference(gw: &Gateway) {
    let run = run_id();
    let user_name = format!("bulk-{run}@example.com");
    let r = bulk(
        gw,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "team", "data": {
                "schemas": [GROUP], "displayName": format!("Bulk Team {run}"),
                "members": [{"type": "User", "value": "bulkId:alice"}]
            }},
            post_user("alice", &user_name),
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["201", "201"], "{}", r.text);
    assert_eq!(ops[0]["bulkId"], "team");
    assert_eq!(ops[0]["method"], "POST");
    assert_eq!(ops[1]["bulkId"], "alice");
    for op in &ops {
        assert!(
            op["version"]
                .as_str()
                .is_some_and(|v| v.starts_with("W/\"")),
            "{op}"
        );
        assert!(op.get("response").is_none(), "{op}");
    }
    let group = created_id(gw, &ops[0], "/Groups");
    let user = created_id(gw, &ops[1], "/Users");
    assert_eq!(member_ids(gw, &group).await, sorted(&[&user]));
    let stored = fetch(gw, &format!("/Users/{user}")).await;
    assert_eq!(stored["userName"], json!(user_name));
    assert_eq!(ops[1]["version"], stored["meta"]["version"]);
}

/// `failOnErrors: 1`: the first failure ends the request; later operations neither run nor
/// appear in the response.
pub async fn fail_on_errors_stops_after_the_first_error(gw: &Gateway) {
    let run = run_id();
    let before = backend_state(gw).await;
    let nameless = json!({"schemas": [USER], "name": {"givenName": "No"}});
    let r = bulk(
        gw,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": nameless},
            post_user("good", &format!("never-{run}@example.com")),
        ]),
        Some(1),
    )
    .await;
    let ops = results(&r);
    assert_eq!(ops.len(), 1, "{}", r.text);
    assert_failed(&ops[0], 400, Some("invalidValue"));
    assert_eq!(ops[0]["bulkId"], "bad");
    assert!(
        ops[0].get("location").is_none(),
        "a failed POST has no location"
    );
    assert_eq!(backend_state(gw).await, before);

    // failOnErrors: 2 lets the second operation run after the first failure.
    let r = bulk(
        gw,
        json!([
            {"method": "DELETE", "path": "/Users/999999999"},
            post_user("good", &format!("second-{run}@example.com")),
            {"method": "DELETE", "path": "/Users/999999998"},
            post_user("never", &format!("third-{run}@example.com")),
        ]),
        Some(2),
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["404", "201", "404"], "{}", r.text);
    let found = filter(
        gw,
        "/Users",
        &format!("userName ew \"-{run}@example.com\""),
        "",
    )
    .await;
    assert_eq!(found.json["totalResults"], 1, "{}", found.text);
}

pub async fn too_many_operations_is_413_and_changes_nothing(gw: &Gateway) {
    let run = run_id();
    let spc = fetch(gw, "/ServiceProviderConfig").await;
    let max = spc["bulk"]["maxOperations"].as_u64().unwrap();
    assert_eq!(max, 1000);
    let before = backend_state(gw).await;
    let operations: Vec<Value> = (0..=max)
        .map(|i| post_user(&format!("u{i}"), &format!("many{i}-{run}@example.com")))
        .collect();
    let r = bulk(gw, Value::Array(operations), None).await;
    assert_scim_error(&r, 413, Some("tooLarge"));
    assert!(
        r.json["detail"].as_str().unwrap().contains("1000"),
        "{}",
        r.text
    );
    assert_eq!(backend_state(gw).await, before);
}

pub async fn too_large_payload_is_413_and_changes_nothing(gw: &Gateway) {
    let run = run_id();
    let spc = fetch(gw, "/ServiceProviderConfig").await;
    let max = spc["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    assert_eq!(max, 1_048_576);
    let before = backend_state(gw).await;
    let mut user = small_user(&format!("big-{run}@example.com"));
    user["displayName"] = json!("x".repeat(max));
    let r = bulk(
        gw,
        json!([{"method": "POST", "path": "/Users", "bulkId": "big", "data": user}]),
        None,
    )
    .await;
    assert_scim_error(&r, 413, Some("tooLarge"));
    assert_eq!(backend_state(gw).await, before);
    // Just under the limit is accepted.
    let mut user = small_user(&format!("fits-{run}@example.com"));
    user["displayName"] = json!("Fits");
    let r = bulk(
        gw,
        json!([{"method": "POST", "path": "/Users", "bulkId": "fits", "data": user}]),
        None,
    )
    .await;
    assert_eq!(statuses(&results(&r)), ["201"], "{}", r.text);
}

/// Bulk is not atomic (RFC 7644 §3.7): a failing operation between two good ones is reported
/// with its own status and location, and both others are carried out.
pub async fn a_failure_in_the_middle_keeps_earlier_and_later_writes(gw: &Gateway) {
    let run = run_id();
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "X"}]));
    let r = bulk(
        gw,
        json!([
            post_user("first", &format!("first-{run}@example.com")),
            {"method": "PATCH", "path": "/Users/999999999", "data": rename},
            post_user("last", &format!("last-{run}@example.com")),
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["201", "404", "201"], "{}", r.text);
    assert_failed(&ops[1], 404, None);
    assert_eq!(ops[1]["method"], "PATCH");
    assert_eq!(
        ops[1]["location"],
        json!(format!("{}/Users/999999999", gw.base_url)),
        "a failed non-POST keeps its location"
    );
    for (op, tag) in [(&ops[0], "first"), (&ops[2], "last")] {
        let id = created_id(gw, op, "/Users");
        let user = fetch(gw, &format!("/Users/{id}")).await;
        assert_eq!(user["userName"], json!(format!("{tag}-{run}@example.com")));
    }
    // The same PATCH and a DELETE, through bulkId references, on the user just created.
    let r = bulk(
        gw,
        json!([
            post_user("temp", &format!("temp-{run}@example.com")),
            {"method": "PATCH", "path": "/Users/bulkId:temp", "data": patch(json!([{"op": "replace", "path": "title", "value": "Temp"}]))},
            {"method": "DELETE", "path": "/Users/bulkId:temp"},
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["201", "200", "204"], "{}", r.text);
    let id = created_id(gw, &ops[0], "/Users");
    assert_eq!(ops[1]["location"], ops[0]["location"]);
    assert_eq!(ops[2]["location"], ops[0]["location"]);
    assert_scim_error(&gw.scim.get(&format!("/Users/{id}")).await, 404, None);
}

/// A reference to a POST that failed is 409; to a bulkId no POST carries, 400 invalidValue.
/// Neither operation runs, so no group is created.
pub async fn references_to_failed_or_unknown_operations(gw: &Gateway) {
    let run = run_id();
    let taken = format!("taken-{run}@example.com");
    create_small_user(gw, &taken).await;
    let before = backend_state(gw).await;
    let r = bulk(
        gw,
        json!([
            post_user("dup", &taken),
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": group(&format!("G1 {run}"), &["bulkId:dup"])},
            {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": group(&format!("G2 {run}"), &["bulkId:nobody"])},
            {"method": "PUT", "path": "/Groups/bulkId:g1", "data": group(&format!("G1 {run}"), &[])},
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["409", "409", "400", "409"], "{}", r.text);
    assert_failed(&ops[0], 409, Some("uniqueness"));
    assert_failed(&ops[1], 409, None);
    assert_failed(&ops[2], 400, Some("invalidValue"));
    assert_failed(&ops[3], 409, None);
    assert_eq!(backend_state(gw).await, before);
}

/// Two users naming each other as manager, and a user naming itself: 409 each (RFC 7644
/// §3.7.1 lets the service provider stop at cycles), nothing created, no hang.
pub async fn circular_references_fail_without_hanging(gw: &Gateway) {
    let run = run_id();
    let before = backend_state(gw).await;
    let managed_by = |name: &str, manager: &str| {
        let mut user = small_user(&format!("{name}-{run}@example.com"));
        user["schemas"] = json!([USER, ENTERPRISE]);
        user[ENTERPRISE] = json!({"manager": {"value": format!("bulkId:{manager}")}});
        json!({"method": "POST", "path": "/Users", "bulkId": name, "data": user})
    };
    let r = bulk(
        gw,
        json!([
            managed_by("a", "b"),
            managed_by("b", "a"),
            managed_by("c", "c")
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(ops.len(), 3, "{}", r.text);
    for op in &ops {
        assert_failed(op, 409, None);
    }
    assert_eq!(backend_state(gw).await, before);
}

/// Whole-request problems are 400 invalidSyntax and run nothing; problems of one operation
/// fail only that operation, with what the single endpoint would answer.
pub async fn malformed_requests_and_operations(gw: &Gateway) {
    let run = run_id();
    let before = backend_state(gw).await;
    let good = post_user("u", &format!("ok-{run}@example.com"));
    let wrong_schema = json!({"schemas": [SEARCH], "Operations": [good.clone()]});
    let missing_schema = json!({"Operations": [good.clone()]});
    let no_operations = json!({"schemas": [BULK_REQUEST]});
    for body in [wrong_schema, missing_schema, no_operations] {
        assert_scim_error(
            &gw.scim.post("/Bulk", &body).await,
            400,
            Some("invalidSyntax"),
        );
    }
    let not_json = gw
        .scim
        .raw(
            "POST",
            "/Bulk",
            &[("content-type", "application/scim+json")],
            Some(b"{\"schemas\":".to_vec()),
        )
        .await;
    assert_scim_error(&not_json, 400, Some("invalidSyntax"));
    let duplicate = bulk(gw, json!([good.clone(), good.clone()]), None).await;
    assert_scim_error(&duplicate, 400, Some("invalidValue"));
    assert_scim_error(&gw.scim.get("/Bulk").await, 405, None);
    assert_eq!(backend_state(gw).await, before);

    let r = bulk(
        gw,
        json!([
            {"path": "/Users", "bulkId": "m", "data": small_user("m@example.com")},
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "bulkId": "p", "data": small_user("p@example.com")},
            {"method": "POST", "path": "/Foo", "bulkId": "f", "data": {}},
            {"method": "POST", "path": "/Users", "data": small_user("n@example.com")},
            {"method": "PUT", "path": "/Users", "data": small_user("n@example.com")},
            {"method": "PUT", "path": "/Users/1"},
        ]),
        None,
    )
    .await;
    let ops = results(&r);
    let expected: [(u16, Option<&str>); 7] = [
        (400, Some("invalidSyntax")),
        (400, Some("invalidSyntax")),
        (400, Some("invalidSyntax")),
        (404, None),
        (400, Some("invalidSyntax")),
        (405, None),
        (400, Some("invalidSyntax")),
    ];
    assert_eq!(ops.len(), expected.len(), "{}", r.text);
    for (op, (status, scim_type)) in ops.iter().zip(expected) {
        assert_failed(op, status, scim_type);
    }
    assert!(ops[0].get("method").is_none(), "{}", ops[0]);
    assert_eq!(ops[1]["method"], "GET");
    assert_eq!(backend_state(gw).await, before);
}

/// `version` is the operation's If-Match: a stale one is 412 and changes nothing, the
/// current one is honoured and the result carries the new version.
pub async fn versions_are_if_match_per_operation(gw: &Gateway) {
    let run = run_id();
    let id = create_small_user(gw, &format!("ver-{run}@example.com")).await;
    let path = format!("/Users/{id}");
    let current = fetch(gw, &path).await["meta"]["version"].clone();
    let retitle = |title: &str| patch(json!([{"op": "replace", "path": "title", "value": title}]));
    let before = backend_state(gw).await;
    let r = bulk(
        gw,
        json!([{"method": "PATCH", "path": path, "version": "W/\"stale\"", "data": retitle("Stale")}]),
        None,
    )
    .await;
    assert_failed(&results(&r)[0], 412, None);
    assert_eq!(backend_state(gw).await, before);

    let r = bulk(
        gw,
        json!([{"method": "PATCH", "path": path, "version": current, "data": retitle("Fresh")}]),
        None,
    )
    .await;
    let ops = results(&r);
    assert_eq!(statuses(&ops), ["200"], "{}", r.text);
    let stored = fetch(gw, &path).await;
    assert_eq!(stored["title"], "Fresh");
    assert_eq!(ops[0]["version"], stored["meta"]["version"]);
    assert_ne!(ops[0]["version"], current);
    let r = bulk(
        gw,
        json!([{"method": "DELETE", "path": path, "version": current}]),
        None,
    )
    .await;
    assert_failed(&results(&r)[0], 412, None);
    let r = bulk(
        gw,
        json!([{"method": "DELETE", "path": path, "version": stored["meta"]["version"]}]),
        None,
    )
    .await;
    assert_eq!(statuses(&results(&r)), ["204"], "{}", r.text);
    assert_scim_error(&gw.scim.get(&path).await, 404, None);
}

async fn root_search(gw: &Gateway, body: Value) -> Reply {
    let mut body = body;
    body["schemas"] = json!([SEARCH]);
    gw.scim.post("/.search", &body).await
}

fn types(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap().to_owned())
        .collect()
}

/// Root `/.search`: every User then every Group; a filter on an attribute only one type
/// has finds that type only; paging and sorting cover the concatenation.
pub async fn root_search_returns_both_types(gw: &Gateway) {
    let run = run_id();
    let user_name = format!("root-{run}@example.com");
    let mut body = small_user(&user_name);
    body["displayName"] = json!(format!("Root {run} user"));
    let user = create(gw, "/Users", &body).await;
    let team = create(gw, "/Groups", &group(&format!("Root {run}"), &[&user])).await;
    let users = fetch(gw, "/Users?count=200").await;
    let groups = fetch(gw, "/Groups?count=200").await;
    let (n_users, n_groups) = (
        users["totalResults"].as_u64().unwrap(),
        groups["totalResults"].as_u64().unwrap(),
    );

    let all = root_search(gw, json!({"count": 200})).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.json["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(
        all.json["totalResults"],
        json!(n_users + n_groups),
        "{}",
        all.text
    );
    let mut expected = resource_ids(&users);
    expected.extend(resource_ids(&groups));
    assert_eq!(resource_ids(&all.json), expected);
    let kinds = types(&all.json);
    assert_eq!(
        kinds.iter().filter(|k| *k == "User").count() as u64,
        n_users
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "Group").count() as u64,
        n_groups
    );
    for r in all.json["Resources"].as_array().unwrap() {
        let schema = if r["meta"]["resourceType"] == "User" {
            USER
        } else {
            GROUP
        };
        assert!(
            r["schemas"].as_array().unwrap().contains(&json!(schema)),
            "{r}"
        );
    }

    // Two pages of the concatenation are the whole, in the same order.
    let first = root_search(gw, json!({"startIndex": 1, "count": n_users})).await;
    let rest = root_search(gw, json!({"startIndex": n_users + 1, "count": 200})).await;
    let mut paged = resource_ids(&first.json);
    paged.extend(resource_ids(&rest.json));
    assert_eq!(paged, expected);
    assert_eq!(types(&rest.json), vec!["Group"; n_groups as usize]);

    // userName only Users have; members only Groups have.
    let by_name = root_search(
        gw,
        json!({"filter": format!("userName eq \"{user_name}\"")}),
    )
    .await;
    assert_list_of(&by_name, &[&user]);
    let by_member = root_search(
        gw,
        json!({"filter": format!("members[value eq \"{user}\"]"), "attributes": ["displayName"]}),
    )
    .await;
    assert_list_of(&by_member, &[&team]);
    let found = &by_member.json["Resources"][0];
    assert_eq!(found["displayName"], json!(format!("Root {run}")));
    assert!(found.get("members").is_none(), "{found}");
    // displayName both have: the user first (Users come first), unless sorted.
    let named = |sort: Value| {
        let mut body = json!({"filter": format!("displayName co \"{run}\"")});
        if let (Some(b), Some(s)) = (body.as_object_mut(), sort.as_object()) {
            b.extend(s.clone());
        }
        root_search(gw, body)
    };
    let plain = named(json!({})).await;
    assert_list_of(&plain, &[&user, &team]);
    let ascending = named(json!({"sortBy": "displayName"})).await;
    assert_list_of(&ascending, &[&team, &user]);
    let descending = named(json!({"sortBy": "displayName", "sortOrder": "descending"})).await;
    assert_list_of(&descending, &[&user, &team]);
    let second = named(json!({"sortBy": "displayName", "startIndex": 2, "count": 1})).await;
    assert_eq!(
        resource_ids(&second.json),
        sorted(&[&user]),
        "{}",
        second.text
    );
    assert_eq!(second.json["totalResults"], 2);

    let nobody_has = root_search(gw, json!({"filter": "nosuchAttribute eq \"x\""})).await;
    assert_scim_error(&nobody_has, 400, Some("invalidFilter"));
    let bad = root_search(gw, json!({"filter": "userName eq"})).await;
    assert_scim_error(&bad, 400, Some("invalidFilter"));
}

/// Each bulk operation is counted as the single request it stands for.
#[tokio::test]
async fn bulk_operations_are_counted_like_single_requests() {
    let gw = Gateway::demo().await;
    let created = r#"scimgate_scim_requests_total{operation="create",resource="Users",status_class="2xx",tenant="default"}"#;
    let refused = r#"scimgate_scim_requests_total{operation="delete",resource="Users",status_class="4xx",tenant="default"}"#;
    let whole = r#"scimgate_scim_requests_total{operation="bulk",resource="Bulk",status_class="2xx",tenant="default"}"#;
    let run = run_id();
    let r = bulk(
        &gw,
        json!([
            post_user("a", &format!("ma-{run}@example.com")),
            post_user("b", &format!("mb-{run}@example.com")),
            {"method": "DELETE", "path": "/Users/999999999"},
        ]),
        None,
    )
    .await;
    assert_eq!(statuses(&results(&r)), ["201", "201", "404"]);
    assert_eq!(gw.metric(created).await, 2.0);
    assert_eq!(gw.metric(refused).await, 1.0);
    assert_eq!(gw.metric(whole).await, 1.0);
}
