//! Microsoft Entra ID's provisioning sequence, replayed request by request: Test Connection,
//! matching, create, PATCH in both Entra dialects, manager, disable, immutable site, groups
//! and hard delete. Each scenario takes a `&Gateway`, so json_server.rs runs the same ones
//! against a real json-server; `demo` below runs them against the demo directory.

use serde_json::{json, Value};

use crate::support::client::enc;
use crate::support::scim::*;
use crate::support::{Client, Gateway};

mod demo {
    scenario_tests!(crate::support::demo, crate::entra =>
        test_connection,
        match_by_user_name,
        match_by_external_id,
        match_by_work_email,
        create_full_user_reads_back_as_sent,
        patch_default_dialect,
        patch_aad_opt_dialect,
        create_user_without_email,
        remove_work_email,
        replace_emails_without_primary,
        manager_in_four_shapes,
        disable_and_reenable,
        unmapped_attributes_are_ignored,
        immutable_site,
        create_group_without_members,
        add_members_with_null_ref,
        remove_members_in_both_dialects,
        rename_group,
        delete_group_keeps_members,
        hard_delete_user,
    );
}

fn user_path(id: &str) -> String {
    format!("/Users/{id}")
}

fn group_path(id: &str) -> String {
    format!("/Groups/{id}")
}

/// Test Connection and the keep-alive probes: a random GUID on each matching attribute must
/// give Entra's exact empty ListResponse (a 404 here quarantines the job); a wrong token 401.
pub async fn test_connection(gw: &Gateway) {
    let guid = format!("{}-5b7a-4e21-9d3c-7a1b2c3d4e5f", run_id());
    for attr in ["userName", "externalId"] {
        let r = filter(gw, "/Users", &format!("{attr} eq \"{guid}\""), "").await;
        assert_empty_list(&r);
    }
    let r = filter(
        gw,
        "/Groups",
        &format!("displayName eq \"{guid}\""),
        "&excludedAttributes=members",
    )
    .await;
    assert_empty_list(&r);

    let probe = format!("/Users?filter={}", enc(&format!("userName eq \"{guid}\"")));
    for token in [Some("not-the-secret-token"), None] {
        let client = Client::new(gw.base_url.clone(), token.map(str::to_owned));
        let r = client.get(&probe).await;
        assert_scim_error(&r, 401, None);
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "401 without a Bearer challenge: {:?}",
            r.headers
        );
    }
}

/// Matching by userName finds the one full User, with `meta.resourceType`.
pub async fn match_by_user_name(gw: &Gateway) {
    let run = run_id();
    let body = full_user(&run, "e02");
    let id = create(gw, "/Users", &body).await;
    let r = filter(
        gw,
        "/Users",
        &format!("userName eq \"e02-{run}@example.com\""),
        "",
    )
    .await;
    assert_list_of(&r, &[&id]);
    let user = &r.json["Resources"][0];
    assert_has(user, &as_stored(&body));
    assert_eq!(user["meta"]["resourceType"], "User", "{user}");

    // Plus addresses are common userNames; `+` and `.` must match literally.
    let plus = format!("jamie+e02-{run}@example.com");
    let plus_id = create_small_user(gw, &plus).await;
    let r = filter(gw, "/Users", &format!("userName eq \"{plus}\""), "").await;
    assert_list_of(&r, &[&plus_id]);
    let r = filter(
        gw,
        "/Users",
        &format!("userName eq \"jamie e02-{run}@example.com\""),
        "",
    )
    .await;
    assert_empty_list(&r);
    let r = filter(
        gw,
        "/Users",
        &format!("userName eq \"e02-{run}@exampleXcom\""),
        "",
    )
    .await;
    assert_empty_list(&r);
}

/// Matching by externalId: a quoted GUID, Microsoft's documented unquoted form, and no match.
pub async fn match_by_external_id(gw: &Gateway) {
    let run = run_id();
    let guid = format!("{run}-aaaa-4bbb-8ccc-123456789abc");
    let mut a = full_user(&run, "e03a");
    a["externalId"] = json!(guid);
    let a = create(gw, "/Users", &a).await;
    let mut b = full_user(&run, "e03b");
    b["externalId"] = json!(format!("jdoe-{run}"));
    let b = create(gw, "/Users", &b).await;

    let r = filter(gw, "/Users", &format!("externalId eq \"{guid}\""), "").await;
    assert_list_of(&r, &[&a]);
    // Not RFC grammar, but Entra sends it: a bare token is read as a string.
    let r = filter(gw, "/Users", &format!("externalId eq jdoe-{run}"), "").await;
    assert_list_of(&r, &[&b]);
    let r = filter(
        gw,
        "/Users",
        &format!("externalId eq \"{run}-0000-4bbb-8ccc-123456789abc\""),
        "",
    )
    .await;
    assert_empty_list(&r);
}

/// Matching by `emails[type eq "work"].value eq …`; the type condition is honoured, and the
/// RFC form `emails[type eq "work" and value eq …]` finds the same user.
pub async fn match_by_work_email(gw: &Gateway) {
    let run = run_id();
    let email = format!("e04-{run}@example.com");
    let id = create(gw, "/Users", &full_user(&run, "e04")).await;
    let r = filter(
        gw,
        "/Users",
        &format!("emails[type eq \"work\"].value eq \"{email}\""),
        "",
    )
    .await;
    assert_list_of(&r, &[&id]);
    // Email values are not case-exact.
    let upper = email.to_uppercase();
    let r = filter(
        gw,
        "/Users",
        &format!("emails[type eq \"work\"].value eq \"{upper}\""),
        "",
    )
    .await;
    assert_list_of(&r, &[&id]);
    let r = filter(
        gw,
        "/Users",
        &format!("emails[type eq \"home\"].value eq \"{email}\""),
        "",
    )
    .await;
    assert_empty_list(&r);
    let r = filter(
        gw,
        "/Users",
        &format!("emails[type eq \"work\" and value eq \"{email}\"]"),
        "",
    )
    .await;
    assert_list_of(&r, &[&id]);
}

/// Create with every attribute of the 8x8 set (manager included): the 201 body and a later GET
/// hold exactly what was sent; `"active": "True"` (Microsoft's Postman collection) is a boolean.
pub async fn create_full_user_reads_back_as_sent(gw: &Gateway) {
    let run = run_id();
    let boss = create_small_user(gw, &format!("e05-boss-{run}@example.com")).await;
    let mut body = full_user(&run, "e05");
    body[ENTERPRISE]["manager"] = json!({"value": boss});

    let r = gw.scim.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_has(&r.json, &as_stored(&body));
    let meta = &r.json["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert!(
        meta["created"].is_string() && meta["lastModified"].is_string(),
        "{meta}"
    );
    let location = meta["location"].as_str().unwrap();
    assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
    assert_eq!(r.header("location"), Some(location));

    let got = fetch(gw, &user_path(&id)).await;
    assert_eq!(got, r.json, "GET differs from the create answer");

    let mut string_bool = full_user(&run, "e05b");
    string_bool["active"] = json!("True");
    let r = gw.scim.post("/Users", &string_bool).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["active"], json!(true), "{}", r.text);
}

/// Entra without `aadOptscim062020`: capitalised ops, `"False"`, filtered paths, a URN path;
/// the missing mobile element is created next to the work phone.
pub async fn patch_default_dialect(gw: &Gateway) {
    let run = run_id();
    let mut body = full_user(&run, "e07");
    body["phoneNumbers"] = json!([{"type": "work", "value": "+15550100002"}]);
    let id = create(gw, "/Users", &body).await;
    let new_email = format!("e07-new-{run}@example.com");

    let r = patch_ok(
        gw,
        &user_path(&id),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": new_email},
            {"op": "Replace", "path": "name.familyName", "value": "Doe-Smith"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+15550100009"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Remove", "path": format!("{ENTERPRISE}:costCenter")},
            {"op": "Remove", "path": "title"}
        ]),
    )
    .await;
    let got = fetch(gw, &user_path(&id)).await;
    assert_has(
        &got,
        &json!({
            "active": false,
            "emails": [{"primary": true, "type": "work", "value": new_email}],
            "name": {"givenName": "Jamie", "familyName": "Doe-Smith"},
            "phoneNumbers": [
                {"type": "mobile", "value": "+15550100009"},
                {"type": "work", "value": "+15550100002"}
            ],
            ENTERPRISE: {"department": "Sales", "employeeNumber": format!("E-{run}")},
            EXT_8X8: {"site": "HQ-East"}
        }),
    );
    for stray in ["department", "value", "type", "familyName"] {
        assert!(got.get(stray).is_none(), "stray top-level {stray}: {got}");
    }
    assert!(got.get("title").is_none(), "title not removed: {got}");
    assert!(
        got[ENTERPRISE].get("costCenter").is_none(),
        "costCenter not removed: {got}"
    );
    assert_eq!(got[ENTERPRISE]["division"], "Customer Care", "{got}");
    if r.status == 200 {
        assert_eq!(r.json, got, "PATCH answer differs from a GET");
    }
}

/// Entra with `aadOptscim062020`: lowercase ops and a path-less replace whose keys are dotted
/// sub-attribute paths or URN-qualified extension attributes; `add` works the same way.
pub async fn patch_aad_opt_dialect(gw: &Gateway) {
    let run = run_id();
    let mut body = full_user(&run, "e08");
    body["name"] = json!({"givenName": "Old", "familyName": "Name"});
    let id = create(gw, "/Users", &body).await;
    let new_email = format!("e08-new-{run}@example.com");

    patch_ok(
        gw,
        &user_path(&id),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": new_email},
            {"op": "replace", "value": {
                "displayName": format!("Jamie Doe {run}"),
                "name.givenName": "Jamie",
                "name.familyName": "Doe",
                format!("{ENTERPRISE}:employeeNumber"): format!("E-new-{run}"),
                "active": false
            }}
        ]),
    )
    .await;
    let got = fetch(gw, &user_path(&id)).await;
    assert_has(
        &got,
        &json!({
            "displayName": format!("Jamie Doe {run}"),
            "active": false,
            "name": {"givenName": "Jamie", "familyName": "Doe"},
            "emails": [{"type": "work", "value": new_email, "primary": true}],
            ENTERPRISE: {"employeeNumber": format!("E-new-{run}"), "department": "Support"},
            EXT_8X8: {"site": "HQ-East"}
        }),
    );
    for key in got.as_object().unwrap().keys() {
        let schema_urn = key == ENTERPRISE || key == EXT_8X8;
        assert!(
            schema_urn || !key.contains(['.', ':']),
            "literal key {key} stored: {got}"
        );
    }
    assert!(got.get("employeeNumber").is_none() && got.get("givenName").is_none());

    patch_ok(
        gw,
        &user_path(&id),
        json!([{"op": "add", "value": {"name.givenName": "Kirsten"}}]),
    )
    .await;
    let got = fetch(gw, &user_path(&id)).await;
    assert_eq!(
        got["name"],
        json!({"givenName": "Kirsten", "familyName": "Doe"})
    );
}

fn assert_no_emails(user: &Value) {
    let emails = user.get("emails").and_then(Value::as_array);
    assert!(
        emails.is_none_or(Vec::is_empty),
        "emails without a value: {user}"
    );
}

/// Entra users without `mail` are created without `emails` (null source values are not
/// sent): no email element may appear, or Entra sees a difference and re-PATCHes every cycle.
/// The first `Add` on the typed path creates it.
pub async fn create_user_without_email(gw: &Gateway) {
    let run = run_id();
    let mut body = full_user(&run, "nomail");
    body.as_object_mut().unwrap().remove("emails");
    let r = gw.scim.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_no_emails(&r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_no_emails(&fetch(gw, &user_path(&id)).await);

    let email = format!("nomail-{run}@example.org");
    patch_ok(
        gw,
        &user_path(&id),
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": email}]),
    )
    .await;
    let got = fetch(gw, &user_path(&id)).await;
    assert_has(&got, &json!({"emails": [{"type": "work", "value": email}]}));
}

/// The user's mail is cleared in Entra: removing the typed value leaves no email element.
pub async fn remove_work_email(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &full_user(&run, "rmmail")).await;
    patch_ok(
        gw,
        &user_path(&id),
        json!([{"op": "Remove", "path": "emails[type eq \"work\"].value"}]),
    )
    .await;
    assert_no_emails(&fetch(gw, &user_path(&id)).await);
}

/// `replace emails` with elements that carry no `primary` (it is optional in RFC 7643).
pub async fn replace_emails_without_primary(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &full_user(&run, "noprim")).await;
    let email = format!("noprim-new-{run}@example.com");
    let r = gw
        .scim
        .patch(
            &user_path(&id),
            &patch(json!([{"op": "replace", "path": "emails", "value": [{"type": "work", "value": email}]}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = fetch(gw, &user_path(&id)).await;
    assert_has(&got, &json!({"emails": [{"type": "work", "value": email}]}));
    assert_ne!(got["emails"][0]["primary"], json!(true), "{got}");
}

/// The manager id under the enterprise extension; its `$ref` must point at that user.
fn manager_of(user: &Value) -> Option<String> {
    assert!(
        user.get("manager").is_none(),
        "manager outside the extension: {user}"
    );
    let manager = user.get(ENTERPRISE)?.get("manager")?;
    let id = manager.get("value")?.as_str()?.to_owned();
    let reference = manager["$ref"].as_str().unwrap_or_default();
    assert!(
        reference.ends_with(&format!("/Users/{id}")),
        "manager $ref: {manager}"
    );
    Some(id)
}

/// Manager set as a bare id on the URN path, changed through the legacy `manager` array with
/// `$ref`, removed by `manager[value eq …]`, set as `{value}`, cleared by replace with "".
/// It is always returned as `{"value": id}` under the enterprise extension.
pub async fn manager_in_four_shapes(gw: &Gateway) {
    let run = run_id();
    let m1 = create_small_user(gw, &format!("e11-boss1-{run}@example.com")).await;
    let m2 = create_small_user(gw, &format!("e11-boss2-{run}@example.com")).await;
    let id = create(gw, "/Users", &full_user(&run, "e11")).await;
    let path = user_path(&id);
    let manager_path = format!("{ENTERPRISE}:manager");

    patch_ok(
        gw,
        &path,
        json!([{"op": "Add", "path": manager_path, "value": m1}]),
    )
    .await;
    let got = fetch(gw, &path).await;
    assert_eq!(manager_of(&got).as_deref(), Some(m1.as_str()), "{got}");
    assert_eq!(got[ENTERPRISE]["department"], "Support");

    let reference = format!("https://gw.example.com/scim/v2/Users/{m2}");
    patch_ok(
        gw,
        &path,
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": reference, "value": m2}]}]),
    )
    .await;
    let got = fetch(gw, &path).await;
    assert_eq!(manager_of(&got).as_deref(), Some(m2.as_str()), "{got}");

    patch_ok(
        gw,
        &path,
        json!([{"op": "remove", "path": format!("manager[value eq \"{m2}\"]")}]),
    )
    .await;
    let got = fetch(gw, &path).await;
    assert_eq!(manager_of(&got), None, "{got}");
    assert_eq!(got[ENTERPRISE]["department"], "Support", "{got}");

    patch_ok(
        gw,
        &path,
        json!([{"op": "replace", "path": manager_path, "value": {"value": m1}}]),
    )
    .await;
    let got = fetch(gw, &path).await;
    assert_eq!(manager_of(&got).as_deref(), Some(m1.as_str()), "{got}");

    // Microsoft's validator clears the manager with an empty replace.
    patch_ok(
        gw,
        &path,
        json!([{"op": "Replace", "path": manager_path, "value": ""}]),
    )
    .await;
    let got = fetch(gw, &path).await;
    assert_eq!(manager_of(&got), None, "{got}");
}

async fn assert_active(gw: &Gateway, id: &str, user_name: &str, active: bool) {
    let got = fetch(gw, &user_path(id)).await;
    assert_eq!(got["active"], json!(active), "{got}");
    // A disabled user is still found by the matching query (or Entra would re-create it).
    let r = filter(gw, "/Users", &format!("userName eq \"{user_name}\""), "").await;
    assert_list_of(&r, &[id]);
    assert_eq!(r.json["Resources"][0]["active"], json!(active));
}

/// Disable and re-enable: `"False"`/`"True"` strings (default dialect), then real booleans.
pub async fn disable_and_reenable(gw: &Gateway) {
    let run = run_id();
    let user_name = format!("e09-{run}@example.com");
    let id = create(gw, "/Users", &full_user(&run, "e09")).await;
    for (op, value, active) in [
        ("Replace", json!("False"), false),
        ("Replace", json!("True"), true),
        ("replace", json!(false), false),
        ("replace", json!(true), true),
    ] {
        patch_ok(
            gw,
            &user_path(&id),
            json!([{"op": op, "path": "active", "value": value}]),
        )
        .await;
        assert_active(gw, &id, &user_name, active).await;
    }
}

/// Attributes the mapping does not map are ignored in a PATCH, as they are in POST and PUT:
/// Entra sends every changed attribute of its own mapping in one PATCH, and one the
/// directory cannot store must not block the rest (a deprovisioning among them). A name no
/// schema has is still 400 invalidPath, and that PATCH changes nothing.
pub async fn unmapped_attributes_are_ignored(gw: &Gateway) {
    const ACME: &str = "urn:example:scim:schemas:extension:acme:2.0:User";
    let run = run_id();
    let user_name = format!("e20-{run}@example.com");
    let mut body = full_user(&run, "e20");
    body["nickName"] = json!("Bobby");
    body["schemas"].as_array_mut().unwrap().push(json!(ACME));
    body[ACME] = json!({"badge": "B-7"});
    let id = create(gw, "/Users", &body).await;
    let r = patch_ok(
        gw,
        &user_path(&id),
        json!([
            {"op": "Add", "path": "nickName", "value": "Bob"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": format!("{ACME}:badge"), "value": "B-8"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Remove", "path": "profileUrl"},
        ]),
    )
    .await;
    if r.status == 200 {
        assert_eq!(r.json["active"], json!(false), "{}", r.text);
        assert!(r.json.get("nickName").is_none(), "{}", r.text);
    }
    assert_active(gw, &id, &user_name, false).await;
    let unused = gw
        .metric(
            r#"scimgate_dialect_normalisations_total{rule="unmapped_ignored",tenant="default"}"#,
        )
        .await;
    assert!(
        unused >= 2.0,
        "the POST and the PATCH each count once: {unused}"
    );

    let before = fetch(gw, &user_path(&id)).await;
    let r = gw
        .scim
        .patch(
            &user_path(&id),
            &patch(json!([
                {"op": "Replace", "path": "active", "value": true},
                {"op": "Add", "path": "nickNmae", "value": "typo"},
            ])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidPath"));
    assert_eq!(fetch(gw, &user_path(&id)).await, before);
}

/// The 8x8 `site` is immutable: a different value by PATCH (path or path-less URN key) or PUT
/// is 400 mutability and changes nothing; a PUT repeating the same site is fine.
pub async fn immutable_site(gw: &Gateway) {
    let run = run_id();
    let body = full_user(&run, "e10");
    let id = create(gw, "/Users", &body).await;
    let path = user_path(&id);
    let site_path = format!("{EXT_8X8}:site");
    let before = fetch(gw, &path).await;

    for operations in [
        json!([{"op": "Replace", "path": site_path, "value": "HQ-West"}]),
        json!([{"op": "replace", "value": {site_path.clone(): "HQ-West"}}]),
    ] {
        let r = gw.scim.patch(&path, &patch(operations)).await;
        assert_scim_error(&r, 400, Some("mutability"));
        assert_eq!(
            fetch(gw, &path).await,
            before,
            "a refused PATCH changed the user"
        );
    }

    let mut moved = body.clone();
    moved["id"] = json!(id);
    moved["title"] = json!("Senior Support Engineer");
    moved[EXT_8X8]["site"] = json!("HQ-West");
    let r = gw.scim.put(&path, &moved).await;
    assert_scim_error(&r, 400, Some("mutability"));
    assert_eq!(
        fetch(gw, &path).await,
        before,
        "a refused PUT changed the user"
    );

    moved[EXT_8X8]["site"] = json!("HQ-East");
    let r = gw.scim.put(&path, &moved).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["title"], "Senior Support Engineer");
    let got = fetch(gw, &path).await;
    assert_eq!(got["title"], "Senior Support Engineer");
    assert_eq!(got[EXT_8X8], json!({"site": "HQ-East"}));
}

fn members_of(group: &Value) -> usize {
    group
        .get("members")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Groups are created empty; the lookup uses `excludedAttributes=members`; a second group
/// with the same displayName is 409 uniqueness (Entra's requirement).
pub async fn create_group_without_members(gw: &Gateway) {
    let run = run_id();
    let name = format!("Support Team {run}");
    let body = json!({
        "schemas": [GROUP],
        "externalId": format!("0b9c-{run}"),
        "displayName": name,
        "meta": {"resourceType": "Group"}
    });
    let r = gw.scim.post("/Groups", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_has(&r.json, &as_stored(&body));
    assert_eq!(members_of(&r.json), 0, "{}", r.text);
    assert_eq!(r.json["meta"]["resourceType"], "Group");
    let got = fetch(gw, &group_path(&id)).await;
    assert_eq!(got["displayName"], json!(name));
    assert_eq!(got["externalId"], json!(format!("0b9c-{run}")));

    let r = filter(
        gw,
        "/Groups",
        &format!("displayName eq \"{name}\""),
        "&excludedAttributes=members",
    )
    .await;
    assert_list_of(&r, &[&id]);
    assert!(
        r.json["Resources"][0].get("members").is_none(),
        "{}",
        r.text
    );

    let duplicate =
        json!({"schemas": [GROUP], "externalId": format!("0b9d-{run}"), "displayName": name});
    let r = gw.scim.post("/Groups", &duplicate).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let r = filter(gw, "/Groups", &format!("displayName eq \"{name}\""), "").await;
    assert_list_of(&r, &[&id]);
}

/// Two members added in one `Add` with `"$ref": null`; adding one again is a no-op.
pub async fn add_members_with_null_ref(gw: &Gateway) {
    let run = run_id();
    let u1 = create_small_user(gw, &format!("e15a-{run}@example.com")).await;
    let u2 = create_small_user(gw, &format!("e15b-{run}@example.com")).await;
    let g = create(
        gw,
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": format!("E15 Team {run}")}),
    )
    .await;

    let add = json!([{"op": "Add", "path": "members", "value": [
        {"$ref": null, "value": u1}, {"$ref": null, "value": u2}
    ]}]);
    let r = patch_ok(gw, &group_path(&g), add).await;
    assert_eq!(r.status, 204, "Entra expects 204 for a group PATCH");
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u2]));

    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}]}]),
    )
    .await;
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u2]));
}

/// Removal with `path: members` and a value array removes only the listed member (never the
/// whole group); `members[value eq …]` likewise; a bare `remove members` clears the group.
pub async fn remove_members_in_both_dialects(gw: &Gateway) {
    let run = run_id();
    let u1 = create_small_user(gw, &format!("e16a-{run}@example.com")).await;
    let u2 = create_small_user(gw, &format!("e16b-{run}@example.com")).await;
    let u3 = create_small_user(gw, &format!("e16c-{run}@example.com")).await;
    let g = create(
        gw,
        "/Groups",
        &group(&format!("E16 Team {run}"), &[&u1, &u2, &u3]),
    )
    .await;
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u2, &u3]));

    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u2}]}]),
    )
    .await;
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u3]));

    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "remove", "path": format!("members[value eq \"{u3}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1]));

    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "remove", "path": "members"}]),
    )
    .await;
    assert_eq!(member_ids(gw, &g).await, Vec::<String>::new());
    // The users themselves are untouched.
    for u in [&u1, &u2, &u3] {
        fetch(gw, &user_path(u)).await;
    }
}

/// Rename by `Replace displayName`: found by the new name (in any case), not by the old one.
pub async fn rename_group(gw: &Gateway) {
    let run = run_id();
    let old = format!("Support Team {run}");
    // Characters that must survive the backend's query string and any pattern matching.
    let new = format!("Support & Ops+EMEA (Tier 1.5) {run}");
    let g = create(gw, "/Groups", &group(&old, &[])).await;
    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Replace", "path": "displayName", "value": new}]),
    )
    .await;
    assert_eq!(fetch(gw, &group_path(&g)).await["displayName"], json!(new));
    assert_list_of(
        &filter(gw, "/Groups", &format!("displayName eq \"{new}\""), "").await,
        &[&g],
    );
    let lower = new.to_lowercase();
    assert_list_of(
        &filter(gw, "/Groups", &format!("displayName eq \"{lower}\""), "").await,
        &[&g],
    );
    let near_miss = new.replace("1.5", "105");
    assert_empty_list(
        &filter(
            gw,
            "/Groups",
            &format!("displayName eq \"{near_miss}\""),
            "",
        )
        .await,
    );
    assert_empty_list(&filter(gw, "/Groups", &format!("displayName eq \"{old}\""), "").await);
}

/// Deleting a group: 204, then 404 and not found by name; its member is untouched.
pub async fn delete_group_keeps_members(gw: &Gateway) {
    let run = run_id();
    let u = create_small_user(gw, &format!("e18-{run}@example.com")).await;
    let name = format!("E18 Team {run}");
    let g = create(gw, "/Groups", &group(&name, &[&u])).await;
    let before = fetch(gw, &user_path(&u)).await;

    let r = gw.scim.delete(&group_path(&g)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_scim_error(&gw.scim.get(&group_path(&g)).await, 404, None);
    assert_empty_list(&filter(gw, "/Groups", &format!("displayName eq \"{name}\""), "").await);
    assert_eq!(fetch(gw, &user_path(&u)).await, before);
}

/// Hard delete (30 days after soft delete): 204, then 404, not matched, not listed, and gone
/// from the group it was a member of.
pub async fn hard_delete_user(gw: &Gateway) {
    let run = run_id();
    let id = create(gw, "/Users", &full_user(&run, "e12")).await;
    let other = create_small_user(gw, &format!("e12-other-{run}@example.com")).await;
    let g = create(
        gw,
        "/Groups",
        &group(&format!("E12 Team {run}"), &[&id, &other]),
    )
    .await;
    let r = gw.scim.delete(&user_path(&id)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty(), "204 with a body: {}", r.text);

    assert_scim_error(&gw.scim.get(&user_path(&id)).await, 404, None);
    let r = filter(
        gw,
        "/Users",
        &format!("userName eq \"e12-{run}@example.com\""),
        "",
    )
    .await;
    assert_empty_list(&r);
    let all = fetch(gw, "/Users?startIndex=1&count=200").await;
    assert!(
        all["totalResults"].as_u64().unwrap() <= 200,
        "the store grew beyond one page; page through it"
    );
    assert!(
        !resource_ids(&all).contains(&id),
        "deleted user still listed"
    );
    // A second delete finds nothing.
    assert_scim_error(&gw.scim.delete(&user_path(&id)).await, 404, None);
    // The group it was in no longer lists it; the other member stays.
    assert_eq!(member_ids(gw, &g).await, sorted(&[&other]));
}
