//! The Entra and Okta scenarios against a REAL json-server 1.0.0-beta.15 through
//! `config/json-server-1.yaml` (string ids, `_page`/`_per_page` envelopes, soft deletes,
//! members embedded in the group record, cursor-paged groups), plus the backend shapes that
//! json-server really has: each checked through SCIM and in what json-server stored.
//! Mapping variants (smaller pages, membership on the user, Link-header paging on 0.17.4)
//! are the shipped files with one block changed. Only with `--features real-backends`.

use serde_json::{json, Value};

use crate::support::json_server::{json_server_1_gateway, variant_gateway, JsonServer};
use crate::support::scim::*;
use crate::support::Client;

mod entra {
    scenario_tests!(crate::support::json_server::json_server_1_gateway, crate::entra =>
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
    scenario_tests!(crate::support::json_server::json_server_1_gateway, crate::okta =>
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
    bulk_scenarios!(crate::support::json_server::json_server_1_gateway);
}

/// GETs a json-server path, asserting 200.
async fn raw_get(js: &Client, path: &str) -> Value {
    let r = js.get(path).await;
    assert_eq!(r.status, 200, "json-server {path}: {}", r.text);
    r.json
}

/// Soft delete: json-server keeps the record with `deleted: true`; SCIM shows it as gone:
/// GET 404, not listed, not matched by a filter, a second DELETE 404, and its userName free.
#[tokio::test]
async fn soft_deleted_user_reads_as_gone() {
    let (server, gw) = json_server_1_gateway().await;
    let js = server.client();
    let run = run_id();
    let name = format!("soft-{run}@example.com");
    let id = create_small_user(&gw, &name).await;
    assert_eq!(gw.scim.delete(&format!("/Users/{id}")).await.status, 204);

    let stored = raw_get(&js, &format!("/users/{id}")).await;
    assert_eq!(stored["deleted"], json!(true), "{stored}");
    assert_eq!(stored["login"], json!(name));
    assert_scim_error(&gw.scim.get(&format!("/Users/{id}")).await, 404, None);
    assert_empty_list(&filter(&gw, "/Users", &format!("userName eq \"{name}\""), "").await);
    let all = fetch(&gw, "/Users?count=200").await;
    assert!(!resource_ids(&all).contains(&id), "{all}");
    assert_eq!(
        all["totalResults"],
        json!(3),
        "only the three seeded users remain"
    );
    assert_scim_error(&gw.scim.delete(&format!("/Users/{id}")).await, 404, None);
    assert_scim_error(
        &gw.scim
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op": "replace", "path": "title", "value": "x"}])),
            )
            .await,
        404,
        None,
    );
    let again = create_small_user(&gw, &name).await;
    assert_ne!(again, id);
}

/// Membership embedded in the group record: adds and removes rewrite the group's
/// `members` array with one PATCH; a bad member changes nothing; deleting a user takes it
/// out of the arrays (json-server itself keeps them as they are).
#[tokio::test]
async fn members_embedded_in_the_group_record() {
    let (server, gw) = json_server_1_gateway().await;
    let js = server.client();
    let run = run_id();
    let u1 = create_small_user(&gw, &format!("emb1-{run}")).await;
    let u2 = create_small_user(&gw, &format!("emb2-{run}")).await;
    let gid = create(&gw, "/Groups", &group(&format!("emb-{run}"), &[&u1])).await;
    let stored = |g: Value| g["members"].clone();
    assert_eq!(
        stored(raw_get(&js, &format!("/groups/{gid}")).await),
        json!([u1])
    );

    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": u2}]}]),
    )
    .await;
    assert_eq!(
        stored(raw_get(&js, &format!("/groups/{gid}")).await),
        json!([u1, u2])
    );
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u1, &u2]));

    let before = raw_get(&js, &format!("/groups/{gid}")).await;
    let bad = gw
        .scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}])),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    assert_eq!(raw_get(&js, &format!("/groups/{gid}")).await, before);

    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]),
    )
    .await;
    assert_eq!(
        stored(raw_get(&js, &format!("/groups/{gid}")).await),
        json!([u2])
    );

    assert_eq!(gw.scim.delete(&format!("/Users/{u2}")).await.status, 204);
    assert_eq!(
        stored(raw_get(&js, &format!("/groups/{gid}")).await),
        json!([])
    );
    assert_eq!(member_ids(&gw, &gid).await, Vec::<String>::new());
}

/// Cursor paging (json-server 1.0's `next` sent back as `_page`), with two groups per
/// backend page: every SCIM window is exact, in backend order, with the backend's total.
#[tokio::test]
async fn cursor_paging_answers_every_window() {
    let server = JsonServer::start_v1().await;
    let gw = variant_gateway(&server, "json-server-1", |name, text| {
        if name == "groups.yaml" {
            text.replace("max_page_size: 100", "max_page_size: 2")
        } else {
            text
        }
    })
    .await;
    let run = run_id();
    for i in 0..5 {
        create(&gw, "/Groups", &group(&format!("cur-{i}-{run}"), &[])).await;
    }
    let backend: Vec<String> = raw_get(&server.client(), "/groups")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(backend.len(), 7);
    for count in [1, 2, 3, 7] {
        let (ids, total) = ids_in_pages(&gw, "/Groups", count).await;
        assert_eq!(ids, backend, "count={count}");
        assert_eq!(total, 7);
    }
    let window = fetch(&gw, "/Groups?startIndex=4&count=3").await;
    assert_eq!(resource_ids(&window), backend[3..6].to_vec());
    let past = fetch(&gw, "/Groups?startIndex=20&count=3").await;
    assert_eq!(resource_ids(&past), Vec::<String>::new());
    assert_eq!(past["totalResults"], json!(7));
}

/// Page-numbered paging with the total in the body: json-server 1.0 answers a page past
/// the end with the last page again; the gateway must answer an empty window.
#[tokio::test]
async fn page_paging_past_the_end_is_empty() {
    let server = JsonServer::start_v1().await;
    let gw = variant_gateway(&server, "json-server-1", |name, text| {
        if name != "users.yaml" {
            return text;
        }
        let start = text.find("  delete:\n").unwrap();
        let end = text.find("\nattributes:").unwrap();
        format!(
            "{}  delete: {{ method: DELETE, path: \"/users/{{id}}\" }}\n{}",
            &text[..start],
            &text[end..]
        )
    })
    .await;
    let (ids, total) = ids_in_pages(&gw, "/Users", 2).await;
    assert_eq!(ids, ["user-1", "user-2", "user-3"]);
    assert_eq!(total, 3);
    let past = fetch(&gw, "/Users?startIndex=5&count=2").await;
    assert_eq!(resource_ids(&past), Vec::<String>::new());
    assert_eq!(past["totalResults"], json!(3));
    let odd = fetch(&gw, "/Users?startIndex=2&count=2").await;
    assert_eq!(resource_ids(&odd), ["user-2", "user-3"]);
}

/// Membership held on the user record (`groups: [...]` in each json-server user): adding a
/// member updates that user, removing one updates it again, and the group lists exactly
/// the users whose array names it.
#[tokio::test]
async fn members_held_on_the_user_record() {
    let server = JsonServer::start_v1().await;
    let gw = variant_gateway(&server, "json-server-1", |name, text| {
        if name == "groups.yaml" {
            text.replace(
                "  style: embedded\n  path: $.members",
                "  style: on_user\n  path: $.groups",
            )
        } else {
            text
        }
    })
    .await;
    let js = server.client();
    let run = run_id();
    let u1 = create_small_user(&gw, &format!("onu1-{run}")).await;
    let u2 = create_small_user(&gw, &format!("onu2-{run}")).await;
    let gid = create(&gw, "/Groups", &group(&format!("onu-{run}"), &[&u1])).await;
    let groups_of = |u: Value| u["groups"].clone();
    assert_eq!(
        groups_of(raw_get(&js, &format!("/users/{u1}")).await),
        json!([gid])
    );
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u1]));

    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": u2}]}]),
    )
    .await;
    assert_eq!(
        groups_of(raw_get(&js, &format!("/users/{u2}")).await),
        json!([gid])
    );
    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]),
    )
    .await;
    assert_eq!(
        groups_of(raw_get(&js, &format!("/users/{u1}")).await),
        json!([])
    );
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u2]));
    // The user's other fields are untouched by membership writes.
    assert_eq!(
        raw_get(&js, &format!("/users/{u2}")).await["login"],
        json!(format!("onu2-{run}"))
    );
}

/// Next-link paging from json-server 0.17.4's `Link: <...>; rel="next"` header, with two
/// users per backend page: every SCIM window is exact.
#[tokio::test]
async fn link_header_paging_answers_every_window() {
    let server = JsonServer::start().await;
    let gw = variant_gateway(&server, "json-server", |name, text| {
        let paging = "    paging: { style: offset, offset_param: _start, size_param: _limit, max_page_size: 500 }";
        if name == "users.yaml" {
            assert!(text.contains(paging));
            text.replace(
                paging,
                "    query: { _page: \"1\" }\n    paging: { style: next_link, next_header: Link, size_param: _limit, max_page_size: 2 }",
            )
        } else {
            text
        }
    })
    .await;
    let run = run_id();
    for i in 0..4 {
        create_small_user(&gw, &format!("link{i}-{run}")).await;
    }
    let backend: Vec<String> = raw_get(&server.client(), "/users")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].to_string())
        .collect();
    assert_eq!(backend.len(), 7);
    for count in [1, 2, 3, 5] {
        let (ids, total) = ids_in_pages(&gw, "/Users", count).await;
        assert_eq!(ids, backend, "count={count}");
        assert_eq!(total, 7);
    }
}

/// `.` and `..` are no ids: they would be dot segments in the backend path
/// (`/groups/..`), which a normalising backend or proxy resolves to another resource.
#[tokio::test]
async fn dot_segment_ids_are_not_found_and_reach_no_backend() {
    let (server, gw) = json_server_1_gateway().await;
    let before = raw_get(&server.client(), "/users").await;
    let patch_body = patch(json!([{"op": "replace", "path": "title", "value": "x"}]));
    for id in ["%2e%2e", "%2E", "."] {
        for r in [
            gw.scim.get(&format!("/Users/{id}")).await,
            gw.scim.get(&format!("/Groups/{id}")).await,
            gw.scim.patch(&format!("/Users/{id}"), &patch_body).await,
            gw.scim.delete(&format!("/Groups/{id}")).await,
        ] {
            assert_scim_error(&r, 404, None);
        }
    }
    assert_eq!(raw_get(&server.client(), "/users").await, before);
}
