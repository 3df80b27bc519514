//! Backend shapes the shipped demo mapping does not use, each against the demo directory
//! really answering that way (`DemoShape`), through the gateway's HTTP interface: creates
//! answered by `Location` or by the id alone, envelopes, unpaged lists, next links in the
//! body or in a `Link` header, a cursor in a header, membership held on the user record,
//! refused deletes. Each mapping is `mappings/demo` with the blocks of that shape swapped
//! in; the directory logs its requests, so the tests check the calls that prove a strategy
//! as well as the directory's state.

use scimgate::demo::{
    CreateAnswer, DemoDirectory, DemoShape, ListStyle, MemberHome, NextIn, Store,
};
use serde_json::json;

use crate::support::gateway::{demo_mappings_variant, swap};
use crate::support::scim::*;
use crate::support::snapshot::{snapshot, store_json, with_store};
use crate::support::Gateway;

/// The demo mappings' list block (`records`, `paging`, `total`) with `max_page_size: {max}`.
fn page_block(max: u32) -> String {
    format!(
        "    records: $\n    paging: {{ style: page, page_param: page, size_param: per_page, first_page: 1, max_page_size: {max} }}\n    total: {{ header: X-Total-Count }}"
    )
}

/// `text` without its `sort:` section (the keyset shapes refuse backend sorting).
fn without_sort(text: &str) -> String {
    let start = text.find("\nsort:\n").expect("a sort section");
    let end = text[start..].find("\nerrors:").expect("an errors section") + start;
    format!("{}{}", &text[..start], &text[end..])
}

/// The gateway in front of a seeded demo directory answering in `shape` (and logging its
/// requests), with the demo mappings changed by `edit(file name, text)`.
async fn shaped(shape: DemoShape, edit: impl Fn(&str, String) -> String) -> Gateway {
    let directory = DemoDirectory::new(Store::seeded(), None)
        .with_shape(shape)
        .with_request_log();
    Gateway::demo_directory_with_mappings(directory, &demo_mappings_variant(edit)).await
}

/// The directory collection a mapping file maps.
fn collection(file: &str) -> &'static str {
    if file == "users.yaml" {
        "users"
    } else {
        "groups"
    }
}

/// An edit putting `block` in place of every list's `records`, `paging` and `total` (the
/// users, the groups and the members list).
fn every_list(block: &'static str) -> impl Fn(&str, String) -> String {
    move |name, text| {
        let text = swap(&text, &page_block(100), block);
        if name == "groups.yaml" {
            swap(&text, &page_block(1000), block)
        } else {
            text
        }
    }
}

fn directory(gw: &Gateway) -> &DemoDirectory {
    gw.directory.as_ref().unwrap()
}

/// The directory's requests since `from` (an earlier `calls(gw, 0).len()`).
fn calls(gw: &Gateway, from: usize) -> Vec<String> {
    directory(gw).requests_seen().split_off(from)
}

fn calls_so_far(gw: &Gateway) -> usize {
    directory(gw).requests_seen().len()
}

/// Every user id in the directory, in id order, as SCIM ids.
fn stored_user_ids(gw: &Gateway) -> Vec<String> {
    with_store(gw, |s| {
        store_json(s)["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].to_string())
            .collect()
    })
}

/// Every window of the user list, for several page sizes, is the directory's users in
/// order with the right total; a window in the middle and one past the end too.
async fn every_user_window_is_exact(gw: &Gateway) {
    let stored = stored_user_ids(gw);
    assert!(stored.len() >= 7, "{stored:?}");
    for count in [1, 2, 3, 5] {
        let (ids, total) = ids_in_pages(gw, "/Users", count).await;
        assert_eq!(ids, stored, "count={count}");
        assert_eq!(total, stored.len() as u64, "count={count}");
    }
    let window = fetch(gw, "/Users?startIndex=4&count=3").await;
    assert_eq!(resource_ids(&window), stored[3..6].to_vec());
    assert_eq!(window["totalResults"], json!(stored.len()));
    let past = fetch(
        gw,
        &format!("/Users?startIndex={}&count=3", stored.len() + 5),
    )
    .await;
    assert_eq!(resource_ids(&past), Vec::<String>::new());
    assert_eq!(past["totalResults"], json!(stored.len()));
}

// --- where a created record's id comes from ---------------------------------------------------

/// A create answered without the record (`response: location` / `response: id`): the
/// gateway takes the id from where the mapping says, reads the record back and answers
/// it; a group create then adds its member. A refused create changes nothing.
async fn create_reads_the_record_back(answer: CreateAnswer, response: &str) {
    let gw = shaped(
        DemoShape {
            create: answer,
            ..DemoShape::default()
        },
        |name, text| {
            let path = collection(name);
            swap(
                &text,
                &format!("create: {{ method: POST, path: /api/{path} }}"),
                &format!("create: {{ method: POST, path: /api/{path}, response: {response} }}"),
            )
        },
    )
    .await;
    let run = run_id();
    let body = full_user(&run, "made");
    let from = calls_so_far(&gw);
    let created = gw.scim.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert_has(&created.json, &as_stored(&body));
    assert_eq!(
        calls(&gw, from),
        ["POST /api/users".to_owned(), format!("GET /api/users/{id}")],
        "the create, then the read-back"
    );
    let login = body["userName"].as_str().unwrap();
    let stored = with_store(&gw, |s| {
        s.user_by_login(login).map(|u| (u.id, u.title.clone()))
    });
    assert_eq!(
        stored,
        Some((id.parse().unwrap(), Some("Support Engineer".into())))
    );
    assert_has(
        &fetch(&gw, &format!("/Users/{id}")).await,
        &as_stored(&body),
    );

    let from = calls_so_far(&gw);
    let gid = create(&gw, "/Groups", &group(&format!("made-{run}"), &[&id])).await;
    let seen = calls(&gw, from);
    assert!(
        seen.contains(&format!("GET /api/groups/{gid}")),
        "group read back: {seen:?}"
    );
    assert_eq!(
        seen.last().unwrap(),
        &format!("POST /api/groups/{gid}/members")
    );
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&id]));
    let group_id: u64 = gid.parse().unwrap();
    assert!(with_store(&gw, |s| s
        .group(group_id)
        .unwrap()
        .has_member(id.parse().unwrap())));

    // The directory refuses a second user with the same login: nothing is created.
    let before = snapshot(&gw);
    let again = gw.scim.post("/Users", &small_user(login)).await;
    assert_scim_error(&again, 409, Some("uniqueness"));
    assert_eq!(snapshot(&gw), before);
}

#[tokio::test]
async fn create_answered_by_location_reads_the_record_back() {
    create_reads_the_record_back(CreateAnswer::Location, "location").await;
}

#[tokio::test]
async fn create_answered_by_the_id_alone_reads_the_record_back() {
    create_reads_the_record_back(CreateAnswer::IdOnly, "id").await;
}

// --- envelopes ---------------------------------------------------------------------------------

/// `{"user": {...}}` around single records and request bodies, `{"users": [...]}` around
/// lists (groups and members too), with the user update as a read-merge-write PUT: every
/// operation goes through the envelope, and a refused write changes nothing.
#[tokio::test]
async fn envelopes_around_records_requests_and_lists() {
    let gw = shaped(
        DemoShape {
            envelope: true,
            ..DemoShape::default()
        },
        |name, text| {
            let (noun, plural) = if name == "users.yaml" {
                ("user", "users")
            } else {
                ("group", "groups")
            };
            let text = swap(
                &text,
                "\noperations:\n",
                &format!("\nenvelope: {{ record: $.{noun}, request_key: {noun} }}\noperations:\n"),
            );
            let text = swap(
                &text,
                &page_block(100),
                &page_block(100).replace("records: $", &format!("records: $.{plural}")),
            );
            if name == "users.yaml" {
                swap(
                    &text,
                    r#"update: { method: PATCH, path: "/api/users/{id}", style: merge, idempotent: true }"#,
                    r#"update: { method: PUT, path: "/api/users/{id}", style: replace }"#,
                )
            } else {
                swap(
                    &text,
                    &page_block(1000),
                    &page_block(1000).replace("records: $", "records: $.members"),
                )
            }
        },
    )
    .await;
    let alice = fetch(&gw, "/Users/1001").await;
    assert_eq!(alice["userName"], json!("alice@example.com"));

    let run = run_id();
    let body = full_user(&run, "env");
    let created = gw.scim.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_has(&created.json, &as_stored(&body));
    let id = created.json["id"].as_str().unwrap().to_owned();
    let uid: u64 = id.parse().unwrap();

    let from = calls_so_far(&gw);
    patch_ok(
        &gw,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "title", "value": "Team Lead"}]),
    )
    .await;
    assert_eq!(
        calls(&gw, from),
        [
            format!("GET /api/users/{id}"),
            format!("PUT /api/users/{id}")
        ]
    );
    let (title, email, department) = with_store(&gw, |s| {
        let u = s.user(uid).unwrap();
        (
            u.title.clone(),
            u.contact.email.clone(),
            u.org.department.clone(),
        )
    });
    assert_eq!(title.as_deref(), Some("Team Lead"));
    // The whole-record PUT kept what the PATCH did not touch.
    assert_eq!(email, body["userName"].as_str().map(str::to_owned));
    assert_eq!(department.as_deref(), Some("Support"));

    for i in 0..2 {
        create_small_user(&gw, &format!("env{i}-{run}@example.com")).await;
    }
    every_user_window_is_exact(&gw).await;

    let gid = create(&gw, "/Groups", &group(&format!("env-{run}"), &[&id])).await;
    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": "1001"}]}]),
    )
    .await;
    assert_eq!(member_ids(&gw, &gid).await, sorted(&["1001", &id]));
    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&gw, &gid).await, sorted(&["1001"]));
    let groups = fetch(&gw, "/Groups?count=10").await;
    assert_eq!(groups["totalResults"], json!(3), "{groups}");

    // The directory refuses a manager that does not exist: 400, nothing written.
    let before = snapshot(&gw);
    let bad = gw
        .scim
        .patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "999999"}}])),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    assert_eq!(snapshot(&gw), before);

    assert_eq!(gw.scim.delete(&format!("/Users/{id}")).await.status, 204);
    assert!(with_store(&gw, |s| s.user(uid).is_err()));
}

// --- paging ----------------------------------------------------------------------------------

/// Users, groups and members walked page by page in a shape whose pages follow one another
/// (`paging` is the mapping's block for all three lists, with pages of 2): every window
/// is exact, filters survive the walk, group members span pages, and a delete is seen by
/// the next walk.
async fn pages_are_walked(next_in: NextIn, paging: &'static str) {
    let gw = shaped(
        DemoShape {
            lists: ListStyle::Keyset(next_in),
            ..DemoShape::default()
        },
        move |name, text| without_sort(&every_list(paging)(name, text)),
    )
    .await;
    let run = run_id();
    let mut made = Vec::new();
    for i in 0..4 {
        made.push(create_small_user(&gw, &format!("walk{i}-{run}@example.com")).await);
    }
    every_user_window_is_exact(&gw).await;

    // The filter is pushed down (`login_prefix`) and kept on every later page.
    let from = calls_so_far(&gw);
    let found = filter(&gw, "/Users", "userName sw \"walk\"", "").await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(resource_ids(&found.json), made);
    let seen = calls(&gw, from);
    assert!(
        seen.len() >= 2
            && seen
                .iter()
                .all(|c| c.starts_with("GET /api/users?") && c.contains("login_prefix=walk")),
        "{seen:?}"
    );
    assert!(seen.iter().any(|c| c.contains("after=")), "{seen:?}");

    let members: Vec<&str> = made.iter().map(String::as_str).take(3).collect();
    let gid = create(&gw, "/Groups", &group(&format!("walk-{run}"), &members)).await;
    let from = calls_so_far(&gw);
    assert_eq!(member_ids(&gw, &gid).await, sorted(&members));
    let seen = calls(&gw, from);
    assert!(
        seen.iter().any(
            |c| c.starts_with(&format!("GET /api/groups/{gid}/members?")) && c.contains("after=")
        ),
        "the member list was walked: {seen:?}"
    );
    let (groups, total) = ids_in_pages(&gw, "/Groups", 2).await;
    assert_eq!(groups, ["501", "502", gid.as_str()]);
    assert_eq!(total, 3);

    patch_ok(
        &gw,
        &format!("/Users/{}", made[0]),
        json!([{"op": "replace", "path": "title", "value": "Walker"}]),
    )
    .await;
    let first: u64 = made[0].parse().unwrap();
    assert_eq!(
        with_store(&gw, |s| s.user(first).unwrap().title.clone()).as_deref(),
        Some("Walker")
    );
    assert_eq!(
        gw.scim.delete(&format!("/Users/{}", made[1])).await.status,
        204
    );
    every_user_window_is_exact(&gw).await;
}

#[tokio::test]
async fn next_link_in_the_body_is_followed() {
    pages_are_walked(
        NextIn::BodyLink,
        "    records: $.data\n    paging: { style: next_link, next: $.links.next, size_param: limit, max_page_size: 2 }\n    total: { body: $.total }",
    )
    .await;
}

#[tokio::test]
async fn next_link_in_a_link_header_is_followed_and_counted() {
    pages_are_walked(
        NextIn::LinkHeader,
        "    records: $\n    paging: { style: next_link, next_header: Link, size_param: limit, max_page_size: 2 }",
    )
    .await;
}

#[tokio::test]
async fn cursor_in_a_header_is_sent_back() {
    pages_are_walked(
        NextIn::CursorHeader,
        "    records: $\n    paging: { style: cursor, cursor_param: after, next_header: X-Next-Cursor, size_param: limit, max_page_size: 2 }",
    )
    .await;
}

/// A directory that lists everything in one answer (`paging: { style: none }`, records
/// counted): one call per SCIM list, whatever the window.
#[tokio::test]
async fn unpaged_lists_take_one_call() {
    let gw = shaped(
        DemoShape {
            lists: ListStyle::Unpaged,
            ..DemoShape::default()
        },
        every_list("    records: $\n    paging: { style: none }"),
    )
    .await;
    let run = run_id();
    for i in 0..3 {
        create_small_user(&gw, &format!("all{i}-{run}@example.com")).await;
    }
    every_user_window_is_exact(&gw).await;
    let from = calls_so_far(&gw);
    let window = fetch(&gw, "/Users?startIndex=3&count=2").await;
    assert_eq!(resource_ids(&window), stored_user_ids(&gw)[2..4].to_vec());
    assert_eq!(calls(&gw, from), ["GET /api/users"]);
    let from = calls_so_far(&gw);
    assert_eq!(member_ids(&gw, "501").await, sorted(&["1001", "1002"]));
    assert!(
        calls(&gw, from).contains(&"GET /api/groups/501/members".to_owned()),
        "{:?}",
        calls(&gw, from)
    );
}

// --- membership --------------------------------------------------------------------------------

/// Membership held on the user record (`groups: [501]`, integer group ids, found with
/// `?group={id}`), with the user update a read-merge-write PUT: adds and removes rewrite
/// the users, a PUT of the user keeps its groups, the members sub-resource is never
/// called, and a bad member changes nothing.
#[tokio::test]
async fn membership_held_on_the_user_record() {
    let gw = shaped(
        DemoShape {
            members: MemberHome::OnUser,
            ..DemoShape::default()
        },
        |name, text| {
            if name == "users.yaml" {
                return swap(
                    &text,
                    r#"update: { method: PATCH, path: "/api/users/{id}", style: merge, idempotent: true }"#,
                    r#"update: { method: PUT, path: "/api/users/{id}", style: replace }"#,
                );
            }
            let start = text.find("\nmembers:\n").unwrap();
            let end = text.find("\nfilters:\n").unwrap();
            format!(
                "{}\nmembers:\n  style: on_user\n  path: $.groups\n  member_type: integer\n  find: {{ group: \"{{id}}\" }}\n{}",
                &text[..start],
                &text[end..]
            )
        },
    )
    .await;
    let groups_of = |gw: &Gateway, id: &str| {
        let id: u64 = id.parse().unwrap();
        with_store(gw, |s| s.groups_of(id))
    };
    assert_eq!(member_ids(&gw, "501").await, sorted(&["1001", "1002"]));

    let run = run_id();
    let u1 = create_small_user(&gw, &format!("on1-{run}@example.com")).await;
    let u2 = create_small_user(&gw, &format!("on2-{run}@example.com")).await;
    let from = calls_so_far(&gw);
    let gid = create(&gw, "/Groups", &group(&format!("on-{run}"), &[&u1])).await;
    let g: u64 = gid.parse().unwrap();
    assert_eq!(groups_of(&gw, &u1), [g]);
    let seen = calls(&gw, from);
    assert!(seen.contains(&format!("PUT /api/users/{u1}")), "{seen:?}");

    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": u2}, {"value": "1001"}]}]),
    )
    .await;
    assert_eq!(groups_of(&gw, &u2), [g]);
    // Alice keeps her seeded group beside the new one.
    assert_eq!(groups_of(&gw, "1001"), [501, g]);
    patch_ok(
        &gw,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]),
    )
    .await;
    assert_eq!(groups_of(&gw, &u1), Vec::<u64>::new());
    let from = calls_so_far(&gw);
    assert_eq!(member_ids(&gw, &gid).await, sorted(&["1001", &u2]));
    let seen = calls(&gw, from);
    assert!(
        seen.iter()
            .any(|c| c.starts_with("GET /api/users?") && c.contains(&format!("group={gid}"))),
        "members found with `find`: {seen:?}"
    );

    // A SCIM PUT of the user is a whole-record PUT that still carries its groups.
    let mut replacement = small_user(&format!("on2-{run}@example.com"));
    replacement["title"] = json!("Replaced");
    let put = gw.scim.put(&format!("/Users/{u2}"), &replacement).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(groups_of(&gw, &u2), [g]);

    let before = snapshot(&gw);
    let bad = gw
        .scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "add", "path": "members", "value": [{"value": "999999"}]}])),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    assert_eq!(snapshot(&gw), before);

    let all = directory(&gw).requests_seen();
    assert!(
        !all.iter().any(|c| c.contains("/members")),
        "no membership sub-resource call: {all:?}"
    );
}

// --- deletes -------------------------------------------------------------------------------------

/// A directory without DELETE, mapped with `delete: { style: refuse }`: 405 at once, no
/// call to the directory, nothing changed. Mapped as if it could delete, the directory's
/// own 405 is a 502 for the operator (unmapped status) and still changes nothing.
#[tokio::test]
async fn refused_deletes_change_nothing() {
    let refusing = DemoShape {
        refuse_deletes: true,
        ..DemoShape::default()
    };
    let gw = shaped(refusing, |name, text| {
        let path = collection(name);
        swap(
            &text,
            &format!(r#"delete: {{ method: DELETE, path: "/api/{path}/{{id}}" }}"#),
            "delete: { style: refuse }",
        )
    })
    .await;
    let before = snapshot(&gw);
    let from = calls_so_far(&gw);
    for path in ["/Users/1001", "/Groups/501"] {
        let r = gw.scim.delete(path).await;
        assert_scim_error(&r, 405, None);
    }
    assert_eq!(calls(&gw, from), Vec::<String>::new());
    assert_eq!(snapshot(&gw), before);
    fetch(&gw, "/Users/1001").await;

    let mismapped = shaped(refusing, |_, text| text).await;
    let before = snapshot(&mismapped);
    let r = mismapped.scim.delete("/Users/1002").await;
    assert_scim_error(&r, 502, None);
    assert!(
        r.json["detail"].as_str().unwrap().contains("405"),
        "{}",
        r.text
    );
    assert_eq!(snapshot(&mismapped), before);
}

/// The shapes' own check: a request body without the envelope is refused by the
/// directory, so the envelope test above cannot pass with an unwrapped mapping.
#[tokio::test]
async fn an_unwrapped_body_is_refused_by_the_enveloping_directory() {
    let gw = shaped(
        DemoShape {
            envelope: true,
            ..DemoShape::default()
        },
        |_, text| text,
    )
    .await;
    let before = snapshot(&gw);
    let r = gw
        .scim
        .post("/Users", &small_user("bare@example.com"))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(snapshot(&gw), before);
}
