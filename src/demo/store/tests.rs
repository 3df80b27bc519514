//! Unit tests of the store: validation, uniqueness, write semantics, cascades, paging, filters.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use super::*;

const T0: i64 = 1_750_000_000; // 2025-06-15T15:06:40Z

/// A seeded store whose clock the test moves by hand.
fn clocked() -> (Store, Arc<AtomicI64>) {
    let time = Arc::new(AtomicI64::new(T0));
    let clock = Arc::clone(&time);
    let store =
        Store::seeded().with_clock(move || Timestamp::from_unix(clock.load(Ordering::SeqCst)));
    (store, time)
}

fn user_input(body: Value) -> UserInput {
    UserInput::from_json(&body).unwrap()
}

fn group_input(body: Value) -> GroupInput {
    GroupInput::from_json(&body).unwrap()
}

fn validation_message(result: Result<impl fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Validation(message)) => message,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn user_ids(listing: &Listing<&User>) -> Vec<u64> {
    listing.items.iter().map(|u| u.id).collect()
}

// --- timestamps ------------------------------------------------------------------------

#[test]
fn timestamps_format_as_rfc3339_utc() {
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_700_000_000, "2023-11-14T22:13:20Z"),
        (T0, "2025-06-15T15:06:40Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ];
    for (secs, expected) in cases {
        assert_eq!(Timestamp::from_unix(secs).to_string(), expected, "{secs}");
    }
    assert_eq!(
        serde_json::to_value(Timestamp::from_unix(0)).unwrap(),
        json!("1970-01-01T00:00:00Z")
    );
}

#[test]
fn civil_conversion_round_trips_and_handles_leap_years() {
    assert_eq!(
        Timestamp::from_civil(2024, 2, 29, 23, 59, 59).to_string(),
        "2024-02-29T23:59:59Z"
    );
    assert_eq!(
        days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28),
        2
    );
    assert_eq!(
        days_from_civil(2023, 3, 1) - days_from_civil(2023, 2, 28),
        1
    );
    assert_eq!(
        days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
        1
    );
    assert_eq!(
        days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
        2
    );
    let mut previous = civil_from_days(-1_000_001);
    for days in -1_000_000..1_000_000 {
        let date = civil_from_days(days);
        assert_eq!(days_from_civil(date.0, date.1, date.2), days);
        assert!(
            date > previous,
            "dates must increase: {previous:?} then {date:?}"
        );
        previous = date;
    }
}

#[test]
fn system_clock_is_after_this_code_was_written() {
    assert!(Timestamp::now() > Timestamp::from_civil(2025, 1, 1, 0, 0, 0));
}

// --- seed data ---------------------------------------------------------------------------

#[test]
fn seeded_alice_matches_the_documented_record() {
    let store = Store::seeded();
    let alice = serde_json::to_value(store.user(1001).unwrap()).unwrap();
    assert_eq!(
        alice,
        json!({ "id": 1001, "login": "alice@example.com", "external_ref": null,
          "first_name": "Alice", "middle_name": null, "last_name": "Archer", "display_name": "Alice Archer",
          "title": "Engineer", "status": "ENABLED", "locale": "en-US", "timezone": "Europe/Paris", "site": "Paris",
          "contact": { "email": "alice@example.com", "email_primary": true, "mobile": "+15550100001", "phone": null },
          "org": { "department": "R&D", "cost_center": null, "organization": null, "division": null, "employee_no": "E-1001", "manager_id": null },
          "password_set": false, "created_at": "2024-05-01T09:00:00Z", "updated_at": "2024-05-01T09:00:00Z" })
    );
}

#[test]
fn seeded_data_set_is_complete_and_consistent() {
    let store = Store::seeded();
    let all = store.list_users(&UserQuery::default());
    assert_eq!(user_ids(&all), [1001, 1002, 1003, 1004, 1005]);
    for user in &all.items {
        assert!(user.first_name.is_some() && user.last_name.is_some());
        assert!(user.display_name.is_some());
        assert!(user.contact.email.is_some() && user.contact.email_primary);
    }
    let disabled: Vec<u64> = all
        .items
        .iter()
        .filter(|u| u.status == Some(Status::Disabled))
        .map(|u| u.id)
        .collect();
    assert_eq!(disabled, [1004]);
    assert_eq!(store.user(1002).unwrap().org.manager_id, Some(1001));
    assert_eq!(store.reports.get(&1001), Some(&BTreeSet::from([1002])));

    let engineering = store.group_by_name("engineering").unwrap();
    assert_eq!((engineering.id, engineering.member_count()), (501, 2));
    assert!(engineering.has_member(1001) && engineering.has_member(1002));
    let sales = store.group_by_name("Sales").unwrap();
    assert_eq!((sales.id, sales.member_count()), (502, 1));
    assert_eq!(store.memberships.get(&1001), Some(&BTreeSet::from([501])));
    assert_eq!((store.next_user_id, store.next_group_id), (1006, 503));
}

#[test]
fn seed_bulk_adds_unique_named_users_and_continues_across_calls() {
    let mut store = Store::seeded();
    store.seed_bulk(1000);
    assert_eq!(store.user_count(), 1005);
    let user = store.user_by_login("USER1000@example.com").unwrap();
    assert_eq!(user.contact.email.as_deref(), Some("user1000@example.com"));
    assert!(user.first_name.is_some() && user.last_name.is_some() && user.display_name.is_some());
    assert_eq!(user.org.employee_no, Some(format!("E-{}", user.id)));

    // A login the bulk seeder would produce next is already taken: it is skipped, not clashed.
    store
        .create_user(user_input(json!({"login": "user1001@example.com"})))
        .unwrap();
    store.seed_bulk(10);
    assert_eq!(store.user_count(), 1016);
    assert_eq!(store.logins.len(), store.user_count());
    assert!(store.user_by_login("user1011@example.com").is_some());
}

#[test]
fn seed_bulk_handles_the_benchmark_size() {
    let mut store = Store::new();
    store.seed_bulk(100_000);
    assert_eq!(store.user_count(), 100_000);
    assert_eq!(
        store.user_by_login("user99999@example.com").unwrap().id,
        1000 + 99_999
    );
    let query = UserQuery::from_pairs(&query(&[("login", "User4242@Example.com")])).unwrap();
    let found = store.list_users(&query);
    assert_eq!((user_ids(&found), found.total), (vec![1000 + 4242], 1));
}

// --- create and validation ----------------------------------------------------------------

#[test]
fn create_assigns_sequential_ids_defaults_and_timestamps() {
    let (mut store, time) = clocked();
    let created = store
        .create_user(user_input(
            json!({"login": "frank@example.com", "password": "s3cret!"}),
        ))
        .unwrap();
    assert_eq!(created.id, 1006);
    assert_eq!(created.status, Some(Status::Enabled));
    assert_eq!(created.created_at, Timestamp::from_unix(T0));
    assert_eq!(created.updated_at, Timestamp::from_unix(T0));
    let wire = serde_json::to_value(created).unwrap();
    assert_eq!(wire["password_set"], json!(true));
    assert!(
        !wire.to_string().contains("s3cret!"),
        "password leaked: {wire}"
    );
    assert_eq!(
        wire["contact"],
        json!({"email": null, "email_primary": false, "mobile": null, "phone": null})
    );
    assert_eq!(wire.as_object().unwrap().len(), 17);
    assert!(store.password_matches(1006, "s3cret!"));
    assert!(!store.password_matches(1006, "S3CRET!"));

    time.store(T0 + 5, Ordering::SeqCst);
    let second = store
        .create_user(user_input(json!({"login": "grace@example.com"})))
        .unwrap();
    assert_eq!(
        (second.id, second.created_at),
        (1007, Timestamp::from_unix(T0 + 5))
    );
}

#[test]
fn ids_are_never_reused() {
    let mut store = Store::seeded();
    let id = store
        .create_user(user_input(json!({"login": "tmp@example.com"})))
        .unwrap()
        .id;
    store.delete_user(id).unwrap();
    let next = store
        .create_user(user_input(json!({"login": "tmp@example.com"})))
        .unwrap()
        .id;
    assert_eq!((id, next), (1006, 1007));

    let gid = store
        .create_group(group_input(json!({"name": "Tmp"})))
        .unwrap()
        .id;
    store.delete_group(gid).unwrap();
    let next = store
        .create_group(group_input(json!({"name": "Tmp"})))
        .unwrap()
        .id;
    assert_eq!((gid, next), (503, 504));
}

#[test]
fn user_bodies_are_validated_by_key_and_type() {
    let cases = [
        (json!([]), "request body must be a JSON object"),
        (
            json!({"login": "x", "nickname": "x"}),
            "unknown field 'nickname'",
        ),
        (
            json!({"login": "x", "contact": {"fax": "1"}}),
            "unknown field 'contact.fax'",
        ),
        (
            json!({"login": "x", "org": {"team": "1"}}),
            "unknown field 'org.team'",
        ),
        (
            json!({"login": 7}),
            "field 'login' must be a non-empty string",
        ),
        (
            json!({"login": null}),
            "field 'login' must be a non-empty string",
        ),
        (
            json!({"login": "  "}),
            "field 'login' must be a non-empty string",
        ),
        (
            json!({"login": "x", "first_name": 3}),
            "field 'first_name' must be a string or null",
        ),
        (
            json!({"login": "x", "status": "ACTIVE"}),
            "field 'status' must be \"ENABLED\", \"DISABLED\" or null",
        ),
        (
            json!({"login": "x", "contact": "a@b"}),
            "field 'contact' must be an object or null",
        ),
        (
            json!({"login": "x", "contact": {"email_primary": "yes"}}),
            "field 'contact.email_primary' must be a boolean",
        ),
        (
            json!({"login": "x", "org": {"manager_id": "1001"}}),
            "field 'org.manager_id' must be an integer user id or null",
        ),
        (
            json!({"login": "x", "org": {"manager_id": -4}}),
            "field 'org.manager_id' must be an integer user id or null",
        ),
        (
            json!({"login": "x", "password": ""}),
            "field 'password' must be a non-empty string or null",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            validation_message(UserInput::from_json(&body)),
            expected,
            "{body}"
        );
    }
}

#[test]
fn read_only_keys_are_ignored_so_a_fetched_record_can_be_put_back() {
    let mut store = Store::seeded();
    let before = store.user(1002).unwrap().clone();
    let mut body = serde_json::to_value(&before).unwrap();
    body["id"] = json!(9999);
    body["created_at"] = json!("1999-01-01T00:00:00Z");
    body["password_set"] = json!(true);
    let after = store.replace_user(1002, user_input(body)).unwrap();
    assert_eq!(after.id, 1002);
    assert_eq!(after.created_at, before.created_at);
    assert!(!after.password_set());
    assert_eq!(
        (&after.login, &after.contact, &after.org),
        (&before.login, &before.contact, &before.org)
    );
}

#[test]
fn create_requires_login_and_an_existing_manager() {
    let mut store = Store::seeded();
    assert_eq!(
        validation_message(store.create_user(user_input(json!({"first_name": "X"})))),
        "field 'login' is required"
    );
    assert_eq!(
        validation_message(
            store.create_user(user_input(json!({"login": "x", "org": {"manager_id": 99}})))
        ),
        "field 'org.manager_id': user 99 does not exist"
    );
    // The id the new user would get is not an existing user either.
    assert!(store
        .create_user(user_input(
            json!({"login": "x", "org": {"manager_id": 1006}})
        ))
        .is_err());
    assert_eq!(store.user_count(), 5);
    let created = store
        .create_user(user_input(
            json!({"login": "x", "org": {"manager_id": 1003}}),
        ))
        .unwrap();
    assert_eq!(created.org.manager_id, Some(1003));
}

#[test]
fn logins_are_unique_case_insensitively() {
    let mut store = Store::seeded();
    let err = store
        .create_user(user_input(json!({"login": "ALICE@Example.com"})))
        .unwrap_err();
    assert_eq!(err, StoreError::LoginTaken("ALICE@Example.com".into()));
    assert_eq!(
        err.to_string(),
        "login 'ALICE@Example.com' is already taken"
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);

    // Changing only the case of one's own login is fine, and the index follows it.
    store
        .patch_user(1001, user_input(json!({"login": "Alice@Example.COM"})))
        .unwrap();
    assert_eq!(
        store.user_by_login("alice@example.com").unwrap().login,
        "Alice@Example.COM"
    );

    // A refused write changes nothing.
    let before = store.user(1002).unwrap().clone();
    let err = store
        .patch_user(
            1002,
            user_input(json!({"login": "alice@EXAMPLE.com", "title": "CTO"})),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(store.user(1002).unwrap(), &before);
    assert!(store
        .replace_user(1002, user_input(json!({"login": "carol@example.com"})))
        .is_err());

    // Renaming frees the old login.
    store
        .patch_user(1002, user_input(json!({"login": "robert@example.com"})))
        .unwrap();
    assert!(store.user_by_login("bob@example.com").is_none());
    store
        .create_user(user_input(json!({"login": "bob@example.com"})))
        .unwrap();
    assert_eq!(store.logins.len(), store.user_count());
}

// --- replace vs merge ------------------------------------------------------------------------

#[test]
fn put_replaces_every_writable_field_but_keeps_the_password() {
    let (mut store, time) = clocked();
    store
        .patch_user(1002, user_input(json!({"password": "hunter22"})))
        .unwrap();
    time.store(T0 + 60, Ordering::SeqCst);
    let user = store
        .replace_user(
            1002,
            user_input(json!({"login": "bob@example.com", "contact": {"mobile": "+1555"}})),
        )
        .unwrap();
    assert_eq!(user.first_name, None);
    assert_eq!(user.display_name, None);
    assert_eq!(user.external_ref, None);
    assert_eq!(user.status, Some(Status::Enabled));
    assert_eq!(
        user.contact,
        Contact {
            mobile: Some("+1555".into()),
            ..Contact::default()
        }
    );
    assert_eq!(user.org, Org::default());
    assert!(user.password_set());
    assert_eq!(
        user.created_at,
        Timestamp::from_civil(2024, 5, 2, 10, 15, 0)
    );
    assert_eq!(user.updated_at, Timestamp::from_unix(T0 + 60));
    assert!(store.password_matches(1002, "hunter22"));
    // manager_id went away with the rest of `org`, and so did the reports index entry.
    assert_eq!(store.reports.get(&1001), None);

    assert_eq!(
        validation_message(store.replace_user(1002, user_input(json!({"title": "x"})))),
        "field 'login' is required"
    );
    assert_eq!(
        store
            .replace_user(4242, user_input(json!({"login": "x"})))
            .unwrap_err(),
        StoreError::UserNotFound(4242)
    );
    // An explicit null does clear the password on PUT.
    store
        .replace_user(
            1002,
            user_input(json!({"login": "bob@example.com", "password": null})),
        )
        .unwrap();
    assert!(!store.user(1002).unwrap().password_set());
}

#[test]
fn patch_merges_keys_and_blocks_and_null_clears() {
    let (mut store, time) = clocked();
    let before = store.user(1002).unwrap().clone();
    time.store(T0 + 1, Ordering::SeqCst);
    let user = store
        .patch_user(
            1002,
            user_input(json!({
                "title": "Staff Engineer",
                "middle_name": "James",
                "site": null,
                "status": "DISABLED",
                "contact": {"phone": null, "email": "bob.brennan@example.com"},
                "org": {"division": "Platform"}
            })),
        )
        .unwrap();
    assert_eq!(user.title.as_deref(), Some("Staff Engineer"));
    assert_eq!(user.middle_name.as_deref(), Some("James"));
    assert_eq!(user.site, None);
    assert_eq!(user.status, Some(Status::Disabled));
    assert_eq!(user.first_name, before.first_name);
    assert_eq!(
        user.contact.email.as_deref(),
        Some("bob.brennan@example.com")
    );
    assert_eq!(user.contact.phone, None);
    assert_eq!(user.contact.mobile, before.contact.mobile);
    assert!(user.contact.email_primary);
    assert_eq!(user.org.division.as_deref(), Some("Platform"));
    assert_eq!(user.org.cost_center, before.org.cost_center);
    assert_eq!(user.org.manager_id, Some(1001));
    assert_eq!(user.created_at, before.created_at);
    assert_eq!(user.updated_at, Timestamp::from_unix(T0 + 1));

    // `null` for a whole block resets it; the reports index follows the manager change.
    let user = store
        .patch_user(1002, user_input(json!({"org": null})))
        .unwrap();
    assert_eq!(user.org, Org::default());
    assert!(!store.reports.contains_key(&1001));
    store
        .patch_user(1002, user_input(json!({"org": {"manager_id": 1003}})))
        .unwrap();
    assert_eq!(store.reports.get(&1003), Some(&BTreeSet::from([1002])));
    store
        .patch_user(1002, user_input(json!({"org": {"manager_id": null}})))
        .unwrap();
    assert!(store.reports.is_empty());

    // `null` clears the status, and a `status` query no longer matches the user.
    let user = store
        .patch_user(1002, user_input(json!({"status": null})))
        .unwrap();
    assert_eq!(user.status, None);
    assert_eq!(serde_json::to_value(user).unwrap()["status"], Value::Null);

    // An empty patch is still a write.
    time.store(T0 + 2, Ordering::SeqCst);
    assert_eq!(
        store
            .patch_user(1002, user_input(json!({})))
            .unwrap()
            .updated_at,
        Timestamp::from_unix(T0 + 2)
    );
    assert_eq!(
        store.patch_user(7, user_input(json!({}))).unwrap_err(),
        StoreError::UserNotFound(7)
    );
}

#[test]
fn a_user_may_be_made_their_own_manager_and_deleted_cleanly() {
    let mut store = Store::seeded();
    store
        .patch_user(1003, user_input(json!({"org": {"manager_id": 1003}})))
        .unwrap();
    store.delete_user(1003).unwrap();
    assert!(!store.reports.contains_key(&1003));
}

// --- deletes ---------------------------------------------------------------------------------

#[test]
fn deleting_a_user_cascades_to_groups_and_reports() {
    let (mut store, time) = clocked();
    time.store(T0 + 30, Ordering::SeqCst);
    store.delete_user(1001).unwrap();
    assert_eq!(
        store.user(1001).unwrap_err(),
        StoreError::UserNotFound(1001)
    );
    assert!(store.user_by_login("alice@example.com").is_none());

    let engineering = store.group(501).unwrap();
    assert_eq!(
        engineering.members().map(|m| m.user_id).collect::<Vec<_>>(),
        [1002]
    );
    assert_eq!(engineering.updated_at, Timestamp::from_unix(T0 + 30));
    assert!(!store.memberships.contains_key(&1001));

    let bob = store.user(1002).unwrap();
    assert_eq!(bob.org.manager_id, None);
    assert_eq!(bob.updated_at, Timestamp::from_unix(T0 + 30));
    assert!(store.reports.is_empty());

    // Untouched records keep their stamps.
    assert_eq!(
        store.group(502).unwrap().updated_at,
        Timestamp::from_civil(2024, 5, 1, 9, 35, 0)
    );
    assert_eq!(store.delete_user(1001), Err(StoreError::UserNotFound(1001)));
}

#[test]
fn deleting_a_group_removes_memberships_not_users() {
    let mut store = Store::seeded();
    store.delete_group(501).unwrap();
    assert_eq!(
        store.group(501).unwrap_err(),
        StoreError::GroupNotFound(501)
    );
    assert!(store.group_by_name("Engineering").is_none());
    assert_eq!(store.user_count(), 5);
    assert!(!store.memberships.contains_key(&1001));
    assert!(!store.memberships.contains_key(&1002));
    assert_eq!(store.memberships.get(&1003), Some(&BTreeSet::from([502])));
    // The name is free again.
    store
        .create_group(group_input(json!({"name": "ENGINEERING"})))
        .unwrap();
    assert_eq!(store.delete_group(501), Err(StoreError::GroupNotFound(501)));
}

// --- paging ----------------------------------------------------------------------------------

#[test]
fn page_parameters_are_positive_integers_and_clamped() {
    let limits = USER_PAGING;
    assert_eq!(
        Page::parse(None, None, limits).unwrap(),
        Page {
            number: 1,
            size: 20
        }
    );
    assert_eq!(
        Page::parse(Some("3"), Some("50"), limits).unwrap(),
        Page {
            number: 3,
            size: 50
        }
    );
    assert_eq!(Page::parse(None, Some("500"), limits).unwrap().size, 100);
    assert_eq!(
        Page::parse(None, Some("5000"), MEMBER_PAGING).unwrap().size,
        1000
    );
    assert_eq!(Page::parse(None, None, MEMBER_PAGING).unwrap().size, 100);
    for bad in ["0", "-1", "+1", "abc", "", "1.5", "99999999999999999999999"] {
        assert_eq!(
            validation_message(Page::parse(Some(bad), None, limits)),
            "query parameter 'page' must be a positive integer",
            "{bad:?}"
        );
        assert_eq!(
            validation_message(Page::parse(None, Some(bad), limits)),
            "query parameter 'per_page' must be a positive integer",
            "{bad:?}"
        );
    }
}

#[test]
fn pages_slice_the_ordered_list_and_count_everything() {
    let page = |number, size| Page { number, size };
    let slice = |p: Page| p.slice(1..=7);
    assert_eq!(
        slice(page(1, 3)),
        Listing {
            items: vec![1, 2, 3],
            total: 7
        }
    );
    assert_eq!(
        slice(page(3, 3)),
        Listing {
            items: vec![7],
            total: 7
        }
    );
    assert_eq!(
        slice(page(4, 3)),
        Listing {
            items: vec![],
            total: 7
        }
    );
    assert_eq!(slice(page(1, 100)).items.len(), 7);
    assert_eq!(
        slice(page(u64::MAX, u64::MAX)),
        Listing {
            items: vec![],
            total: 7
        }
    );

    let mut store = Store::seeded();
    store.seed_bulk(45);
    let pairs = query(&[("page", "3"), ("per_page", "20")]);
    let listing = store.list_users(&UserQuery::from_pairs(&pairs).unwrap());
    assert_eq!(listing.total, 50);
    assert_eq!(user_ids(&listing), (1041..=1050).collect::<Vec<_>>());
}

// --- filters ---------------------------------------------------------------------------------

#[test]
fn user_filters_match_as_documented_and_combine() {
    let mut store = Store::seeded();
    store
        .create_user(user_input(
            json!({"login": "alina@example.com", "external_ref": "hris-000412",
            "contact": {"email": "Bob@Example.com"}, "status": "DISABLED"}),
        ))
        .unwrap();
    let ids = |pairs: &[(&str, &str)]| {
        let listing = store.list_users(&UserQuery::from_pairs(&query(pairs)).unwrap());
        assert_eq!(listing.total, listing.items.len());
        user_ids(&listing)
    };
    assert_eq!(ids(&[("login", "ALICE@example.com")]), [1001]);
    assert_eq!(ids(&[("login", "alice")]), Vec::<u64>::new());
    assert_eq!(ids(&[("login_prefix", "AL")]), [1001, 1006]);
    assert_eq!(
        ids(&[("login_prefix", "")]),
        [1001, 1002, 1003, 1004, 1005, 1006]
    );
    assert_eq!(ids(&[("external_ref", "HRIS-000412")]), [1002]);
    assert_eq!(ids(&[("external_ref", "hris-000412")]), [1006]);
    assert_eq!(ids(&[("email", "bob@example.COM")]), [1002, 1006]);
    assert_eq!(ids(&[("status", "DISABLED")]), [1004, 1006]);
    assert_eq!(
        ids(&[("status", "DISABLED"), ("login_prefix", "al")]),
        [1006]
    );
    assert_eq!(
        ids(&[("email", "bob@example.com"), ("status", "ENABLED")]),
        [1002]
    );
    assert_eq!(
        ids(&[("login", "alice@example.com"), ("status", "DISABLED")]),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&[("login", "alina@example.com"), ("login_prefix", "bo")]),
        Vec::<u64>::new()
    );
}

#[test]
fn lists_sort_by_a_field_case_insensitively_with_missing_values_last() {
    let mut store = Store::seeded();
    for (login, title) in [("Zed@example.com", None), ("ann@example.com", Some("zoo"))] {
        store
            .create_user(user_input(json!({"login": login, "title": title})))
            .unwrap();
    }
    let logins = |pairs: &[(&str, &str)]| -> Vec<String> {
        let listing = store.list_users(&UserQuery::from_pairs(&query(pairs)).unwrap());
        listing.items.iter().map(|u| u.login.clone()).collect()
    };
    let ascending = logins(&[("sort", "login")]);
    assert_eq!(
        ascending,
        [
            "alice@example.com",
            "ann@example.com",
            "bob@example.com",
            "carol@example.com",
            "dmitri@example.com",
            "eunji@example.com",
            "Zed@example.com"
        ]
    );
    let mut descending = logins(&[("sort", "login"), ("order", "desc")]);
    descending.reverse();
    assert_eq!(descending, ascending);
    // Pages cut the sorted list; the total still counts every match.
    let page = store.list_users(
        &UserQuery::from_pairs(&query(&[
            ("sort", "login"),
            ("page", "2"),
            ("per_page", "3"),
        ]))
        .unwrap(),
    );
    assert_eq!(page.total, 7);
    let page_logins: Vec<&str> = page.items.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(page_logins, &ascending[3..6]);
    // A user without the field sorts after every user with it; ties go by id.
    let by_title = logins(&[("sort", "title")]);
    assert_eq!(by_title.last().map(String::as_str), Some("Zed@example.com"));
    assert_eq!(
        logins(&[("sort", "title"), ("order", "desc")])
            .first()
            .map(String::as_str),
        Some("Zed@example.com")
    );
    // Filters still apply, and groups sort by name the same way.
    assert_eq!(
        logins(&[("sort", "login"), ("order", "desc"), ("login_prefix", "a")]),
        ["ann@example.com", "alice@example.com"]
    );
    let groups = store.list_groups(
        &GroupQuery::from_pairs(&query(&[("sort", "name"), ("order", "desc")])).unwrap(),
    );
    let names: Vec<&str> = groups.items.iter().map(|g| g.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, sorted);
}

#[test]
fn sort_parameters_are_validated() {
    assert_eq!(
        validation_message(UserQuery::from_pairs(&query(&[("sort", "password")]))),
        "query parameter 'sort' must be one of login, external_ref, first_name, last_name, display_name, title"
    );
    assert_eq!(
        validation_message(UserQuery::from_pairs(&query(&[
            ("sort", "login"),
            ("order", "up")
        ]))),
        "query parameter 'order' must be \"asc\" or \"desc\""
    );
    assert_eq!(
        validation_message(GroupQuery::from_pairs(&query(&[("order", "desc")]))),
        "query parameter 'order' needs 'sort'"
    );
}

#[test]
fn list_queries_reject_unknown_duplicate_and_invalid_parameters() {
    assert_eq!(
        validation_message(UserQuery::from_pairs(&query(&[("logn", "x")]))),
        "unknown query parameter 'logn'"
    );
    assert_eq!(
        validation_message(UserQuery::from_pairs(&query(&[
            ("login", "a"),
            ("login", "b")
        ]))),
        "query parameter 'login' is given more than once"
    );
    assert_eq!(
        validation_message(UserQuery::from_pairs(&query(&[("status", "enabled")]))),
        "query parameter 'status' must be \"ENABLED\" or \"DISABLED\""
    );
    assert!(GroupQuery::from_pairs(&query(&[("login", "x")])).is_err());
    assert!(member_page(&query(&[("name", "x")])).is_err());
    assert_eq!(
        member_page(&query(&[("per_page", "250")])).unwrap(),
        Page {
            number: 1,
            size: 250
        }
    );
}

#[test]
fn case_folding_covers_non_ascii() {
    let mut store = Store::new();
    store
        .create_user(user_input(json!({"login": "Élodie@Example.fr"})))
        .unwrap();
    assert!(store.user_by_login("élodie@example.FR").is_some());
    assert!(store
        .create_user(user_input(json!({"login": "ÉLODIE@example.fr"})))
        .is_err());
    let listing =
        store.list_users(&UserQuery::from_pairs(&query(&[("login_prefix", "éL")])).unwrap());
    assert_eq!(listing.total, 1);
    assert!(starts_with_fold("Straße", "STRA"));
    assert!(!starts_with_fold("ab", "abc"));
    assert!(eq_fold("ΣΊΣΥΦΟΣ", "σίσυφοσ"));
}

// --- groups ----------------------------------------------------------------------------------

#[test]
fn group_names_are_required_and_unique_case_insensitively() {
    let (mut store, time) = clocked();
    assert_eq!(
        validation_message(store.create_group(group_input(json!({"description": "x"})))),
        "field 'name' is required"
    );
    assert_eq!(
        validation_message(GroupInput::from_json(&json!({"name": "x", "members": []}))),
        "unknown field 'members'"
    );
    assert_eq!(
        validation_message(GroupInput::from_json(
            &json!({"name": "x", "description": 1})
        )),
        "field 'description' must be a string or null"
    );
    let err = store
        .create_group(group_input(json!({"name": "sales"})))
        .unwrap_err();
    assert_eq!(err.to_string(), "group name 'sales' is already taken");
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let group = store
        .create_group(group_input(
            json!({"name": "Support", "external_ref": "okta-42", "member_count": 9}),
        ))
        .unwrap();
    assert_eq!((group.id, group.member_count()), (503, 0));
    assert_eq!(group.created_at, Timestamp::from_unix(T0));
    let wire = serde_json::to_value(group).unwrap();
    assert_eq!(
        wire,
        json!({"id": 503, "name": "Support", "description": null, "external_ref": "okta-42",
               "member_count": 0, "created_at": "2025-06-15T15:06:40Z", "updated_at": "2025-06-15T15:06:40Z"})
    );

    time.store(T0 + 10, Ordering::SeqCst);
    assert!(store
        .patch_group(503, group_input(json!({"name": "ENGINEERING"})))
        .is_err());
    let renamed = store
        .patch_group(503, group_input(json!({"name": "Customer Support"})))
        .unwrap();
    assert_eq!(renamed.external_ref.as_deref(), Some("okta-42"));
    assert_eq!(renamed.updated_at, Timestamp::from_unix(T0 + 10));
    assert!(store.group_by_name("support").is_none());
    assert_eq!(store.group_by_name("customer SUPPORT").unwrap().id, 503);
    assert_eq!(store.group_names.len(), store.group_count());
}

#[test]
fn group_put_resets_fields_and_keeps_members_patch_merges() {
    let mut store = Store::seeded();
    let group = store
        .replace_group(
            501,
            group_input(json!({"name": "Engineering", "external_ref": "x-1"})),
        )
        .unwrap();
    assert_eq!(group.description, None);
    assert_eq!(group.external_ref.as_deref(), Some("x-1"));
    assert_eq!(group.member_count(), 2);
    assert_eq!(
        validation_message(store.replace_group(501, group_input(json!({"description": "d"})))),
        "field 'name' is required"
    );
    let group = store
        .patch_group(501, group_input(json!({"description": "Builders"})))
        .unwrap();
    assert_eq!(
        (
            group.name.as_str(),
            group.description.as_deref(),
            group.external_ref.as_deref()
        ),
        ("Engineering", Some("Builders"), Some("x-1"))
    );
    let group = store
        .patch_group(501, group_input(json!({"external_ref": null})))
        .unwrap();
    assert_eq!(group.external_ref, None);
    assert_eq!(
        store.patch_group(9, group_input(json!({}))).unwrap_err(),
        StoreError::GroupNotFound(9)
    );
    assert_eq!(
        store
            .replace_group(9, group_input(json!({"name": "n"})))
            .unwrap_err(),
        StoreError::GroupNotFound(9)
    );
}

#[test]
fn group_filters_match_as_documented() {
    let mut store = Store::seeded();
    store
        .create_group(group_input(
            json!({"name": "Sales EMEA", "external_ref": "EXT-1"}),
        ))
        .unwrap();
    let ids = |pairs: &[(&str, &str)]| {
        let listing = store.list_groups(&GroupQuery::from_pairs(&query(pairs)).unwrap());
        assert_eq!(listing.total, listing.items.len());
        listing.items.iter().map(|g| g.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&[]), [501, 502, 503]);
    assert_eq!(ids(&[("name", "SALES")]), [502]);
    assert_eq!(ids(&[("name_prefix", "sales")]), [502, 503]);
    assert_eq!(ids(&[("external_ref", "EXT-1")]), [503]);
    assert_eq!(ids(&[("external_ref", "ext-1")]), Vec::<u64>::new());
    assert_eq!(
        ids(&[("name_prefix", "sales"), ("external_ref", "EXT-1")]),
        [503]
    );
    let paged = store
        .list_groups(&GroupQuery::from_pairs(&query(&[("per_page", "2"), ("page", "2")])).unwrap());
    assert_eq!((paged.items.len(), paged.total), (1, 3));
}

// --- members ---------------------------------------------------------------------------------

#[test]
fn members_are_added_listed_and_removed() {
    let (mut store, time) = clocked();
    time.store(T0 + 7, Ordering::SeqCst);
    let member = store.add_member(502, 1005).unwrap();
    assert_eq!(
        member,
        Member {
            user_id: 1005,
            added_at: Timestamp::from_unix(T0 + 7)
        }
    );
    assert_eq!(
        serde_json::to_value(member).unwrap(),
        json!({"user_id": 1005, "added_at": "2025-06-15T15:06:47Z"})
    );
    store.add_member(502, 1001).unwrap();
    let sales = store.group(502).unwrap();
    assert_eq!(sales.updated_at, Timestamp::from_unix(T0 + 7));
    assert_eq!(
        serde_json::to_value(sales).unwrap()["member_count"],
        json!(3)
    );

    let listing = store.list_members(502, Page::first(MEMBER_PAGING)).unwrap();
    assert_eq!(
        listing.items.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        [1001, 1003, 1005]
    );
    assert_eq!(listing.total, 3);
    let second = store
        .list_members(502, Page { number: 2, size: 2 })
        .unwrap();
    assert_eq!(
        (second.items.len(), second.items[0].user_id, second.total),
        (1, 1005, 3)
    );
    assert_eq!(
        store.memberships.get(&1001),
        Some(&BTreeSet::from([501, 502]))
    );

    assert_eq!(
        store.add_member(502, 1005).unwrap_err(),
        StoreError::AlreadyMember {
            group_id: 502,
            user_id: 1005
        }
    );
    let err = store.add_member(502, 99).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (ErrorKind::Validation, "user 99 does not exist".into())
    );
    assert_eq!(
        store.add_member(9, 99).unwrap_err(),
        StoreError::GroupNotFound(9)
    );
    assert_eq!(
        store
            .list_members(9, Page::first(MEMBER_PAGING))
            .unwrap_err(),
        StoreError::GroupNotFound(9)
    );

    time.store(T0 + 8, Ordering::SeqCst);
    store.remove_member(502, 1001).unwrap();
    assert_eq!(
        store.group(502).unwrap().updated_at,
        Timestamp::from_unix(T0 + 8)
    );
    assert_eq!(store.memberships.get(&1001), Some(&BTreeSet::from([501])));
    let err = store.remove_member(502, 1001).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (
            ErrorKind::NotFound,
            "user 1001 is not a member of group 502".into()
        )
    );
    assert_eq!(
        store.remove_member(9, 1001).unwrap_err(),
        StoreError::GroupNotFound(9)
    );
}

#[test]
fn large_groups_stay_consistent() {
    let mut store = Store::new();
    store.seed_bulk(12_000);
    let group = store
        .create_group(group_input(json!({"name": "Everyone"})))
        .unwrap()
        .id;
    for id in FIRST_USER_ID..FIRST_USER_ID + 12_000 {
        store.add_member(group, id).unwrap();
    }
    assert_eq!(store.group(group).unwrap().member_count(), 12_000);
    let last = store
        .list_members(
            group,
            Page {
                number: 12,
                size: 1000,
            },
        )
        .unwrap();
    assert_eq!((last.items.len(), last.total), (1000, 12_000));
    assert_eq!(
        last.items.last().map(|m| m.user_id),
        Some(FIRST_USER_ID + 11_999)
    );
    store.delete_user(FIRST_USER_ID + 5).unwrap();
    store.remove_member(group, FIRST_USER_ID + 6).unwrap();
    assert_eq!(store.group(group).unwrap().member_count(), 11_998);
    store.delete_group(group).unwrap();
    assert!(store.memberships.is_empty());
}

#[test]
fn member_bodies_are_validated() {
    assert_eq!(
        MemberInput::from_json(&json!({"user_id": 1001}))
            .unwrap()
            .user_id,
        1001
    );
    for (body, expected) in [
        (json!({}), "field 'user_id' is required"),
        (
            json!({"user_id": "1001"}),
            "field 'user_id' must be an integer user id",
        ),
        (
            json!({"user_id": 1001.5}),
            "field 'user_id' must be an integer user id",
        ),
        (
            json!({"user_id": 1, "role": "owner"}),
            "unknown field 'role'",
        ),
        (json!(1001), "request body must be a JSON object"),
    ] {
        assert_eq!(
            validation_message(MemberInput::from_json(&body)),
            expected,
            "{body}"
        );
    }
}

#[test]
fn errors_have_a_kind_and_a_message() {
    let cases = [
        (
            StoreError::UserNotFound(5),
            ErrorKind::NotFound,
            "user 5 not found",
        ),
        (
            StoreError::GroupNotFound(6),
            ErrorKind::NotFound,
            "group 6 not found",
        ),
        (
            StoreError::Validation("bad".into()),
            ErrorKind::Validation,
            "bad",
        ),
        (
            StoreError::AlreadyMember {
                group_id: 1,
                user_id: 2,
            },
            ErrorKind::Conflict,
            "user 2 is already a member of group 1",
        ),
    ];
    for (err, kind, message) in cases {
        assert_eq!((err.kind(), err.to_string()), (kind, message.to_owned()));
    }
    assert_eq!(format!("{:?}", Secret::new("pw")), "Secret(<redacted>)");
}

// --- membership written on the user ----------------------------------------------------------

#[test]
fn set_groups_makes_a_users_groups_exactly_the_given_ones() {
    let (mut store, time) = clocked();
    assert_eq!(store.groups_of(1001), [501]);
    let ops = store
        .create_group(group_input(json!({"name": "Ops"})))
        .unwrap()
        .id;
    time.store(T0 + 60, Ordering::SeqCst);
    store.set_groups(1001, &BTreeSet::from([ops])).unwrap();
    assert_eq!(store.groups_of(1001), [ops]);
    assert!(!store.group(501).unwrap().has_member(1001));
    assert!(store.group(ops).unwrap().has_member(1001));
    // Both groups' membership changed, so both were written.
    assert_eq!(
        store.group(501).unwrap().updated_at,
        Timestamp::from_unix(T0 + 60)
    );
    assert_eq!(
        store.group(ops).unwrap().updated_at,
        Timestamp::from_unix(T0 + 60)
    );
    store.set_groups(1001, &BTreeSet::new()).unwrap();
    assert_eq!(store.groups_of(1001), Vec::<u64>::new());
    assert_eq!(store.group(ops).unwrap().member_count(), 0);
}

#[test]
fn set_groups_refuses_unknown_groups_and_users_and_changes_nothing() {
    let mut store = Store::seeded();
    let message = validation_message(store.set_groups(1001, &BTreeSet::from([502, 999])));
    assert_eq!(message, "field 'groups': group 999 does not exist");
    assert_eq!(store.groups_of(1001), [501]);
    assert!(!store.group(502).unwrap().has_member(1001));
    assert_eq!(
        store.set_groups(4242, &BTreeSet::from([501])),
        Err(StoreError::UserNotFound(4242))
    );
    assert!(store.check_groups(&BTreeSet::from([501, 502])).is_ok());
    assert!(store.check_groups(&BTreeSet::from([7])).is_err());
}

#[test]
fn the_group_filter_lists_a_groups_members() {
    let store = Store::seeded();
    let in_group = |raw: &str| {
        let query = UserQuery::from_pairs(&query(&[("group", raw)])).unwrap();
        user_ids(&store.list_users(&query))
    };
    assert_eq!(in_group("501"), [1001, 1002]);
    assert_eq!(in_group("502"), [1003]);
    assert_eq!(in_group("999"), Vec::<u64>::new());
    let both =
        UserQuery::from_pairs(&query(&[("group", "501"), ("login", "BOB@example.com")])).unwrap();
    assert_eq!(user_ids(&store.list_users(&both)), [1002]);
    for bad in ["0", "x", "-1"] {
        let message = validation_message(UserQuery::from_pairs(&query(&[("group", bad)])));
        assert!(message.contains("'group'"), "{message}");
    }
}
