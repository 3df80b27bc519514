//! Okta's provisioning sequence (OIN SCIM 2.0 app and its Runscope spec test): existence
//! check, create with password, PUT updates, path-less PATCH, group push and membership,
//! import paging and unlink. Generic over the backend like entra.rs; `demo` runs them against
//! the demo directory, where a few extra tests also look at what the directory stored.

use serde_json::{json, Value};

use crate::support::client::enc;
use crate::support::scim::*;
use crate::support::snapshot::with_store;
use crate::support::{Client, Gateway, Reply};

mod demo {
    scenario_tests!(crate::support::demo, crate::okta =>
        existence_check,
        upper_cased_user_name_lookup,
        create_with_password,
        first_page_spec_test,
        unknown_id_is_404,
        put_full_replace,
        pathless_patch_active_and_password,
        push_group,
        membership_delta_and_rename,
        full_membership_replace,
        import_paging,
        unlink_group,
    );
}

/// Sends a request with the headers Okta's SCIM client sends.
async fn okta(gw: &Gateway, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let mut headers = vec![
        ("user-agent", "Okta SCIM Client 1.0.0"),
        ("accept", "application/scim+json"),
    ];
    if body.is_some() {
        headers.push(("content-type", "application/scim+json; charset=utf-8"));
    }
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    gw.scim.raw(method, path, &headers, bytes).await
}

/// What Okta POSTs for a new app user (`externalId` is the Okta user id).
fn okta_user(run: &str, tag: &str) -> Value {
    let login = format!("{tag}-{run}@example.com");
    json!({
        "schemas": [USER],
        "userName": login,
        "name": {"givenName": "Jamie", "familyName": "Doe"},
        "emails": [{"primary": true, "value": login, "type": "work"}],
        "displayName": "Jamie Doe",
        "locale": "en-US",
        "externalId": format!("00u{tag}{run}"),
        "groups": [],
        "password": "Tmp-Example-1",
        "active": true
    })
}

fn assert_no_password(resource: &Value) {
    assert!(
        !resource.to_string().contains("Tmp-Example"),
        "password echoed: {resource}"
    );
    assert!(resource.get("password").is_none(), "{resource}");
}

fn assert_integer_paging(list: &Value) {
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(list[key].is_u64(), "{key} is not a JSON integer: {list}");
    }
}

/// `GET /Users?filter=userName eq …&startIndex=1&count=100`: found, or 200 empty, with the
/// paging numbers as JSON integers.
pub async fn existence_check(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &okta_user(&run, "o01")).await;
    let query = |name: &str| {
        format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc(&format!("userName eq \"{name}\""))
        )
    };
    let r = okta(gw, "GET", &query(&format!("o01-{run}@example.com")), None).await;
    assert_list_of(&r, &[&id]);
    assert_integer_paging(&r.json);
    assert_eq!(r.json["startIndex"], 1);

    let r = okta(
        gw,
        "GET",
        &query(&format!("o01-nobody-{run}@example.com")),
        None,
    )
    .await;
    assert_empty_list(&r);
}

/// userName is case-insensitive: the upper-cased value finds the same user.
pub async fn upper_cased_user_name_lookup(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &okta_user(&run, "o02")).await;
    let upper = format!("O02-{run}@EXAMPLE.COM").to_uppercase();
    let r = filter(gw, "/Users", &format!("userName eq \"{upper}\""), "").await;
    assert_list_of(&r, &[&id]);
    assert_eq!(
        r.json["Resources"][0]["userName"],
        json!(format!("o02-{run}@example.com"))
    );
}

/// Create with a password: 201 with the full resource, the password never returned (nor by
/// a GET); the same POST again is 409 uniqueness.
pub async fn create_with_password(gw: &Gateway) {
    let run = run_id();
    let body = okta_user(&run, "o03");
    let r = okta(gw, "POST", "/Users", Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_has(
        &r.json,
        &json!({
            "userName": body["userName"],
            "externalId": body["externalId"],
            "displayName": "Jamie Doe",
            "locale": "en-US",
            "active": true,
            "name": body["name"],
            "emails": body["emails"],
        }),
    );
    assert_no_password(&r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let got = fetch(gw, &format!("/Users/{id}")).await;
    assert_no_password(&got);
    assert_eq!(got["userName"], body["userName"]);

    let r = okta(gw, "POST", "/Users", Some(&body)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
}

/// The spec test's first page: one user with id, userName, given and family name, active and
/// a first email.
pub async fn first_page_spec_test(gw: &Gateway) {
    let r = okta(gw, "GET", "/Users?count=1&startIndex=1", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_integer_paging(&r.json);
    assert_eq!(r.json["itemsPerPage"], 1, "{}", r.text);
    assert!(r.json["totalResults"].as_u64().unwrap() >= 1);
    let resources = r.json["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "{}", r.text);
    let user = &resources[0];
    for pointer in [
        "/id",
        "/userName",
        "/name/givenName",
        "/name/familyName",
        "/emails/0/value",
    ] {
        assert!(
            user.pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            "{pointer} missing in {user}"
        );
    }
    assert!(user["active"].is_boolean(), "{user}");
}

/// Unknown ids (Okta's own test ids among them): 404 SCIM error with a detail; a
/// non-bearer Authorization is 401.
pub async fn unknown_id_is_404(gw: &Gateway) {
    let run = run_id();
    for id in [
        format!("does-not-exist-{run}"),
        "010101001010101011001010101011".to_owned(),
        "00919288221112222".to_owned(),
    ] {
        let r = okta(gw, "GET", &format!("/Users/{id}"), None).await;
        assert_scim_error(&r, 404, None);
    }
    let client = Client::new(gw.base_url.clone(), None);
    let r = client
        .raw(
            "GET",
            "/Users?count=1&startIndex=1",
            &[("authorization", "non-token")],
            None,
        )
        .await;
    assert_scim_error(&r, 401, None);
}

/// Profile update by PUT of the whole resource as read (id and meta included), with
/// `name.middleName` added and the title changed.
pub async fn put_full_replace(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &full_user(&run, "o06")).await;
    let path = format!("/Users/{id}");
    let mut body = fetch(gw, &path).await;
    body["name"]["middleName"] = json!("Quinn");
    body["title"] = json!("Senior Support Engineer");

    let r = okta(gw, "PUT", &path, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], json!(id));
    let got = fetch(gw, &path).await;
    let mut expected = body.clone();
    expected.as_object_mut().unwrap().remove("meta");
    assert_has(&got, &expected);
    assert_eq!(got["name"]["middleName"], "Quinn");
}

/// Deactivate, reactivate and password sync as path-less PATCHes (OIN apps).
pub async fn pathless_patch_active_and_password(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &okta_user(&run, "o07")).await;
    let path = format!("/Users/{id}");
    for active in [false, true] {
        let r = okta(
            gw,
            "PATCH",
            &path,
            Some(&patch(
                json!([{"op": "replace", "value": {"active": active}}]),
            )),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["active"], json!(active));
        assert_eq!(fetch(gw, &path).await["active"], json!(active));
    }
    let r = okta(
        gw,
        "PATCH",
        &path,
        Some(&patch(
            json!([{"op": "replace", "value": {"password": "Tmp-Example-2"}}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_password(&r.json);
    let got = fetch(gw, &path).await;
    assert_no_password(&got);
    assert_eq!(got["active"], true);
}

/// Push Groups: POST with `members: []`, then the displayName lookup finds it.
pub async fn push_group(gw: &Gateway) {
    let run = run_id();
    let name = format!("Support Team {run}");
    let r = okta(gw, "POST", "/Groups", Some(&group(&name, &[]))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["displayName"], json!(name));
    let r = filter(gw, "/Groups", &format!("displayName eq \"{name}\""), "").await;
    assert_list_of(&r, &[&id]);
    assert_eq!(r.json["Resources"][0]["displayName"], json!(name));
}

/// A membership delta (remove by filter + add) in one PATCH, then the path-less rename Okta
/// re-sends with `id` inside the value: unchanged id accepted, a real rename applied.
pub async fn membership_delta_and_rename(gw: &Gateway) {
    let run = run_id();
    let u1 = create_small_user(gw, &format!("o09a-{run}@example.com")).await;
    let u2 = create_small_user(gw, &format!("o09b-{run}@example.com")).await;
    let name = format!("Support Team {run}");
    let g = create(gw, "/Groups", &group(&name, &[&u2])).await;
    let path = format!("/Groups/{g}");

    let delta = json!([
        {"op": "remove", "path": format!("members[value eq \"{u2}\"]")},
        {"op": "add", "path": "members", "value": [{"value": u1, "display": format!("o09a-{run}@example.com")}]}
    ]);
    let r = okta(gw, "PATCH", &path, Some(&patch(delta))).await;
    assert!(matches!(r.status, 200 | 204), "{}", r.text);
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1]));

    let same = json!([{"op": "replace", "value": {"id": g, "displayName": name}}]);
    let r = okta(gw, "PATCH", &path, Some(&patch(same))).await;
    assert!(matches!(r.status, 200 | 204), "{}", r.text);
    let got = fetch(gw, &path).await;
    assert_eq!(got["displayName"], json!(name));
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1]));

    let renamed = format!("Support Team Renamed {run}");
    let rename = json!([{"op": "replace", "value": {"id": g, "displayName": renamed}}]);
    let r = okta(gw, "PATCH", &path, Some(&patch(rename))).await;
    assert!(matches!(r.status, 200 | 204), "{}", r.text);
    assert_eq!(fetch(gw, &path).await["displayName"], json!(renamed));
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1]));
}

/// `replace members` with the full list: exactly that list afterwards.
pub async fn full_membership_replace(gw: &Gateway) {
    let run = run_id();
    let u1 = create_small_user(gw, &format!("o10a-{run}@example.com")).await;
    let u2 = create_small_user(gw, &format!("o10b-{run}@example.com")).await;
    let u3 = create_small_user(gw, &format!("o10c-{run}@example.com")).await;
    let g = create(
        gw,
        "/Groups",
        &group(&format!("O10 Team {run}"), &[&u1, &u2]),
    )
    .await;
    let replace = json!([{"op": "replace", "path": "members", "value": member_refs(&[&u1, &u3])}]);
    let r = okta(gw, "PATCH", &format!("/Groups/{g}"), Some(&patch(replace))).await;
    assert!(matches!(r.status, 200 | 204), "{}", r.text);
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u3]));
}

/// Import: `startIndex=101&count=100` is answered with consistent numbers, a walk in pages
/// of two sees every user exactly once, a filtered page starts at the right item, and
/// `/Groups?startIndex=1&count=100` lists the groups.
pub async fn import_paging(gw: &Gateway) {
    let run = run_id();
    let mut created = Vec::new();
    for i in 1..=3 {
        created.push(create_small_user(gw, &format!("o11-{run}-{i}@example.com")).await);
    }
    let g = create(gw, "/Groups", &group(&format!("O11 Team {run}"), &[])).await;

    let all = fetch(gw, "/Users?startIndex=1&count=100").await;
    let total = all["totalResults"].as_u64().unwrap();
    assert!(total < 100, "seed too large for this test: {total}");
    let r = okta(gw, "GET", "/Users?startIndex=101&count=100", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_integer_paging(&r.json);
    assert_eq!(r.json["startIndex"], 101);
    assert_eq!(r.json["totalResults"], total);
    assert_eq!(r.json["itemsPerPage"], 0);
    assert_eq!(r.json["Resources"], json!([]));

    // Walk the whole list two at a time: same ids, same order, none twice.
    let mut walked = Vec::new();
    let mut start = 1;
    while start <= total {
        let page = fetch(gw, &format!("/Users?startIndex={start}&count=2")).await;
        assert_eq!(page["totalResults"], total);
        assert_eq!(page["startIndex"], start);
        let ids = resource_ids(&page);
        assert!(!ids.is_empty() && ids.len() <= 2, "{page}");
        assert_eq!(page["itemsPerPage"], ids.len());
        walked.extend(ids);
        start += 2;
    }
    assert_eq!(walked, resource_ids(&all));
    for id in &created {
        assert!(walked.contains(id), "{id} not imported");
    }

    let r = filter(
        gw,
        "/Users",
        &format!("userName sw \"o11-{run}-\""),
        "&startIndex=2&count=100",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["totalResults"], 3);
    assert_eq!(r.json["startIndex"], 2);
    assert_eq!(r.json["itemsPerPage"], 2);
    assert_eq!(resource_ids(&r.json), created[1..]);

    let r = okta(gw, "GET", "/Groups?startIndex=1&count=100", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_integer_paging(&r.json);
    let ids = resource_ids(&r.json);
    assert!(ids.len() <= 100 && ids.contains(&g), "{}", r.text);
    assert_eq!(r.json["itemsPerPage"], ids.len());
    assert_eq!(r.json["totalResults"], ids.len());
}

/// Unlinking a pushed group deletes it (204, then 404, not found by name); its member stays.
pub async fn unlink_group(gw: &Gateway) {
    let run = run_id();
    let u = create_small_user(gw, &format!("o12-{run}@example.com")).await;
    let name = format!("O12 Team {run}");
    let g = create(gw, "/Groups", &group(&name, &[&u])).await;
    let r = okta(gw, "DELETE", &format!("/Groups/{g}"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_scim_error(&gw.scim.get(&format!("/Groups/{g}")).await, 404, None);
    assert_empty_list(&filter(gw, "/Groups", &format!("displayName eq \"{name}\""), "").await);
    assert_eq!(fetch(gw, &format!("/Users/{u}")).await["id"], json!(u));
}

// --- demo directory only: what reached the backend ----------------------------------------

/// The password Okta sends on create and by path-less PATCH is stored by the directory
/// (which only ever reports `password_set`), while SCIM never returns it.
#[tokio::test]
async fn password_reaches_the_directory() {
    let gw = Gateway::demo().await;
    let run = run_id();
    let body = okta_user(&run, "o03d");
    let id = create(&gw, "/Users", &body).await;
    let numeric: u64 = id.parse().unwrap();
    with_store(&gw, |s| {
        assert!(s.user(numeric).unwrap().password_set());
        assert!(s.password_matches(numeric, "Tmp-Example-1"));
    });
    patch_ok(
        &gw,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"password": "Tmp-Example-2"}}]),
    )
    .await;
    with_store(&gw, |s| {
        assert!(s.password_matches(numeric, "Tmp-Example-2"));
        assert!(!s.password_matches(numeric, "Tmp-Example-1"));
    });
}

/// PUT maps onto the directory record: the middle name lands in `middle_name`.
#[tokio::test]
async fn put_reaches_the_directory() {
    let gw = Gateway::demo().await;
    let run = run_id();
    let id = create(&gw, "/Users", &full_user(&run, "o06d")).await;
    let mut body = fetch(&gw, &format!("/Users/{id}")).await;
    body["name"]["middleName"] = json!("Quinn");
    let r = gw.scim.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let numeric: u64 = id.parse().unwrap();
    with_store(&gw, |s| {
        let user = s.user(numeric).unwrap();
        assert_eq!(user.middle_name.as_deref(), Some("Quinn"));
        assert_eq!(user.site.as_deref(), Some("HQ-East"));
    });
}
