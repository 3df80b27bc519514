//! The Entra, Okta and `/Bulk` scenarios against a REAL json-server 0.17.4 (one process per
//! test, fresh db.json), through `config/json-server.yaml`, plus what only json-server shows:
//! the gateway's own uniqueness checks, `group_members` records, and the seeded users' mapping.
//! Only with `--features real-backends` (needs scripts/install-json-server.sh).

use serde_json::{json, Value};

use crate::support::json_server::json_server_gateway;
use crate::support::scim::*;
use crate::support::Client;

mod entra {
    scenario_tests!(crate::support::json_server::json_server_gateway, crate::entra =>
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

mod okta {
    scenario_tests!(crate::support::json_server::json_server_gateway, crate::okta =>
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

mod bulk {
    bulk_scenarios!(crate::support::json_server::json_server_gateway);
}

/// GETs a json-server collection (e.g. `/users`), asserting 200.
async fn raw_get(js: &Client, path: &str) -> Value {
    let r = js.get(path).await;
    assert_eq!(r.status, 200, "json-server {path}: {}", r.text);
    r.json
}

/// json-server has no uniqueness: the gateway finds the duplicate userName (also in another
/// case) itself, answers 409, and json-server's `/users` stays as it was.
#[tokio::test]
async fn gateway_enforces_unique_user_name() {
    let (server, gw) = json_server_gateway().await;
    let js = server.client();
    let run = run_id();
    create(&gw, "/Users", &full_user(&run, "uniq")).await;
    let before = raw_get(&js, "/users").await;

    let mut same = full_user(&run, "uniq");
    same["externalId"] = json!("another");
    let mut upper = same.clone();
    upper["userName"] = json!(format!("UNIQ-{run}@EXAMPLE.COM"));
    let seeded = small_user("Alice");
    for body in [&same, &upper, &seeded] {
        let r = gw.scim.post("/Users", body).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
    }
    // Renaming bob to alice by PATCH is refused the same way.
    let rename = patch(json!([{"op": "replace", "path": "userName", "value": "ALICE"}]));
    assert_scim_error(
        &gw.scim.patch("/Users/2", &rename).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(raw_get(&js, "/users").await, before);
}

/// Group displayName is unique too (`unique: true` in the mapping).
#[tokio::test]
async fn gateway_enforces_unique_group_name() {
    let (server, gw) = json_server_gateway().await;
    let js = server.client();
    let before = raw_get(&js, "/groups").await;
    for name in ["engineering", "Sales"] {
        let r = gw.scim.post("/Groups", &group(name, &[])).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
    }
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "sales"}]));
    assert_scim_error(
        &gw.scim.patch("/Groups/grp-1", &rename).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(raw_get(&js, "/groups").await, before);
}

fn member_records(records: &Value) -> Vec<u64> {
    let mut users: Vec<u64> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_u64().unwrap())
        .collect();
    users.sort_unstable();
    users
}

/// Membership lives in `group_members`: adding members creates records for the group,
/// removing one deletes exactly its record, deleting the users' group leaves other groups'.
#[tokio::test]
async fn members_are_group_members_records() {
    let (server, gw) = json_server_gateway().await;
    let js = server.client();
    let run = run_id();
    let u1 = create_small_user(&gw, &format!("gm1-{run}@example.com")).await;
    let u2 = create_small_user(&gw, &format!("gm2-{run}@example.com")).await;
    let g = create(&gw, "/Groups", &group(&format!("GM Team {run}"), &[])).await;
    let records = |g: &str| format!("/group_members?groupId={g}");
    assert_eq!(raw_get(&js, &records(&g)).await, json!([]));

    patch_ok(
        &gw,
        &format!("/Groups/{g}"),
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]}]),
    )
    .await;
    let (n1, n2): (u64, u64) = (u1.parse().unwrap(), u2.parse().unwrap());
    assert_eq!(member_records(&raw_get(&js, &records(&g)).await), [n1, n2]);

    // Re-adding creates no second record.
    patch_ok(
        &gw,
        &format!("/Groups/{g}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(member_records(&raw_get(&js, &records(&g)).await), [n1, n2]);

    patch_ok(
        &gw,
        &format!("/Groups/{g}"),
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(member_records(&raw_get(&js, &records(&g)).await), [n2]);

    // The seeded groups' records are untouched throughout.
    assert_eq!(
        member_records(&raw_get(&js, "/group_members?groupId=grp-1").await),
        [1, 3]
    );
    assert_eq!(
        member_records(&raw_get(&js, "/group_members?groupId=grp-2").await),
        [2]
    );
    assert_eq!(member_ids(&gw, "grp-1").await, sorted(&["1", "3"]));
}

/// The seeded users and groups are served with their fields mapped (nulls left out).
#[tokio::test]
async fn seeded_records_are_mapped() {
    let (_server, gw) = json_server_gateway().await;
    let r = filter(&gw, "/Users", "userName eq \"alice\"", "").await;
    assert_list_of(&r, &["1"]);
    assert_has(
        &r.json["Resources"][0],
        &json!({
            "userName": "alice",
            "active": true,
            "title": "Engineer",
            "locale": "fr_FR",
            "timezone": "Europe/Paris",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "emails": [{"type": "work", "value": "alice@example.test"}],
            "phoneNumbers": [
                {"type": "mobile", "value": "+15550100001"},
                {"type": "work", "value": "+15550200001"}
            ],
            ENTERPRISE: {"department": "R&D"},
            EXT_8X8: {"site": "Paris"},
            "meta": {"resourceType": "User"}
        }),
    );
    assert!(
        r.json["Resources"][0].get("externalId").is_none(),
        "null external_ref served"
    );

    let bob = fetch(&gw, "/Users/2").await;
    assert_eq!(
        bob["phoneNumbers"],
        json!([{"type": "mobile", "value": "+15550100002"}])
    );
    let carol = fetch(&gw, "/Users/3").await;
    assert_eq!(carol["active"], false);
    assert_eq!(
        carol["phoneNumbers"],
        json!([{"type": "work", "value": "+15550200003"}])
    );

    let all = fetch(&gw, "/Users").await;
    assert_eq!(all["totalResults"], 3);
    assert_eq!(resource_ids(&all), ["1", "2", "3"]);
    let groups = fetch(&gw, "/Groups").await;
    assert_eq!(resource_ids(&groups), ["grp-1", "grp-2"]);
    assert_eq!(groups["Resources"][0]["displayName"], "engineering");
}

/// The real json-server restarts mid-run: while it is down the IdP gets 502/503 (never a
/// hang, never a false success), the gateway keeps serving discovery, it recovers once
/// json-server is back, and every acknowledged write is in json-server's data afterwards.
#[tokio::test]
async fn a_backend_restart_mid_run_loses_no_acknowledged_write() {
    use crate::faults::{quick, wait_serves, Ledger};
    let mut server = crate::support::json_server::JsonServer::start().await;
    let gw = crate::support::Gateway::start_tuned(
        Some(&crate::support::gateway::repo_path(
            "config/json-server.yaml",
        )),
        &server.url,
        scimgate::config::Overrides::default(),
        quick,
    )
    .await;
    let mut ledger = Ledger::default();
    for i in 0..3 {
        assert_eq!(
            ledger
                .set_title(&gw.scim, "1", &format!("before-{i}"))
                .await,
            200
        );
        assert_eq!(
            ledger.create_user(&gw.scim, &format!("restart-{i}")).await,
            201
        );
    }
    server
        .wait_persisted(&["\"before-2\"", "\"restart-2\""])
        .await;
    server.stop();
    for i in 0..3 {
        let status = ledger.set_title(&gw.scim, "2", &format!("down-{i}")).await;
        assert!(matches!(status, 502 | 503), "PATCH while down: {status}");
        let r = gw.scim.get("/Users/1").await;
        assert!(matches!(r.status, 502 | 503), "{} {}", r.status, r.text);
        assert_eq!(
            r.json["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    assert_eq!(gw.scim.get("/ServiceProviderConfig").await.status, 200);
    server.restart().await;
    wait_serves(&gw.scim, "/Users/1").await;
    assert_eq!(ledger.set_title(&gw.scim, "2", "after").await, 200);
    let js = server.client();
    ledger
        .verify(
            |id| {
                let js = js.clone();
                async move { js.get(&format!("/users/{id}")).await.json }
            },
            "title",
            "login",
        )
        .await;
}
