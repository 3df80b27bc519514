//! The gateway in front of a REAL OpenStack Keystone (identity API v3, python3-keystone on
//! SQLite, started by tests/backends/keystone/start.sh) through the shipped
//! config/keystone.yaml and mappings/keystone. Keystone takes seconds to start, so each test
//! starts one and runs a sequence of named scenarios on it; every scenario checks what
//! Keystone really holds through Keystone's own API with an admin token, and that a refused
//! request changed nothing there. The shared Entra and Okta sequences run on it too. Only
//! with `--features real-backends`.

use serde_json::json;

use crate::support::fault_proxy::FaultProxy;
use crate::support::keystone::Keystone;
use crate::support::scim::*;
use crate::support::temp::TempDir;
use crate::support::Gateway;
use crate::{entra, okta};

/// Names the scenario a panic happened in: the panic message alone does not say which step
/// of the sequence failed.
struct Scenario(&'static str);

impl Drop for Scenario {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("Keystone scenario `{}` failed", self.0);
        }
    }
}

/// Runs each named scenario `name(&context)` in turn.
macro_rules! scenarios {
    ($context:expr => $($name:path),+ $(,)?) => {
        $(
            {
                let _running = Scenario(stringify!($name));
                $name($context).await;
            }
        )+
    };
}

/// A Keystone and the gateway with the shipped config in front of it.
struct Setup {
    ks: Keystone,
    gw: Gateway,
}

/// Users, groups and membership as Entra provisions them, the errors Keystone answers, the
/// accounts outside the `scim` domain that the gateway must never offer, then the shared
/// Entra and Okta sequences.
#[tokio::test]
async fn keystone_provisioning() {
    let ks = Keystone::start().await;
    let gw = ks.gateway().await;
    let setup = Setup { ks, gw };
    scenarios!(&setup =>
        entra_user_lifecycle,
        keystone_records_read_back,
        group_membership,
        duplicate_name_is_409_uniqueness,
        unknown_hex_id_is_404,
        malformed_id_is_404,
        bootstrap_admin_is_never_offered,
    );
    // The Entra and Okta request sequences of tests/it/entra.rs and okta.rs, written once
    // for every backend, on the same Keystone. Okta's first-page check reads whichever user
    // Keystone lists first and wants its names and email: it runs before Entra creates a
    // user without email (every user the scenarios above leave has them).
    scenarios!(&setup.gw =>
        okta::first_page_spec_test,
        entra::test_connection,
        entra::match_by_user_name,
        entra::match_by_external_id,
        entra::match_by_work_email,
        entra::create_full_user_reads_back_as_sent,
        entra::patch_default_dialect,
        entra::patch_aad_opt_dialect,
        entra::create_user_without_email,
        entra::remove_work_email,
        entra::replace_emails_without_primary,
        entra::manager_in_four_shapes,
        entra::disable_and_reenable,
        entra::immutable_site,
        entra::create_group_without_members,
        entra::add_members_with_null_ref,
        entra::remove_members_in_both_dialects,
        entra::rename_group,
        entra::delete_group_keeps_members,
        entra::hard_delete_user,
        okta::existence_check,
        okta::upper_cased_user_name_lookup,
        okta::create_with_password,
        okta::unknown_id_is_404,
        okta::put_full_replace,
        okta::pathless_patch_active_and_password,
        okta::push_group,
        okta::membership_delta_and_rename,
        okta::full_membership_replace,
        okta::import_paging,
        okta::unlink_group,
    );
}

/// A Keystone and the gateway in front of it through a proxy that records every call, to
/// see the logins and the tokens the gateway sends.
struct Watched {
    ks: Keystone,
    gw: Gateway,
    proxy: FaultProxy,
}

/// The token login: one login reused, a new one after Keystone revoked the token, and a
/// refused login that leaks no password.
#[tokio::test]
async fn keystone_login() {
    let ks = Keystone::start().await;
    let proxy = FaultProxy::start(ks.api_url.trim_end_matches("/v3")).await;
    let config = ks.config(&ks.password, None);
    let gw = ks.gateway_with(&config, &format!("{}/v3", proxy.url)).await;
    let watched = Watched { ks, gw, proxy };
    scenarios!(&watched =>
        logs_in_once_and_reuses_the_token,
        logs_in_again_after_revocation,
        wrong_password_is_502_without_the_password,
    );
}

fn user_path(id: &str) -> String {
    format!("/Users/{id}")
}

fn group_path(id: &str) -> String {
    format!("/Groups/{id}")
}

/// Keystone's ids: 32 lower-case hex characters.
fn is_hex_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An id in Keystone's format that no record has.
fn unknown_hex_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Entra's whole life of a user: create with the full attribute set, match by filter,
/// PATCH in Entra's dialect (capitalised ops, `"False"`/`"True"` strings), deactivate,
/// delete; Keystone's record follows each step.
async fn entra_user_lifecycle(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let body = full_user(&run, "ks01");
    let user_name = format!("ks01-{run}@example.com");
    let id = create(gw, "/Users", &body).await;
    assert!(is_hex_id(&id), "Keystone id {id:?}");
    let stored = ks.user(&id).await.expect("the created user is in Keystone");
    assert_has(
        &stored,
        &json!({
            "name": user_name,
            "enabled": true,
            "domain_id": ks.scim_domain,
            "external_id": format!("ks01-{run}"),
            "display_name": "Jamie Doe",
            "given_name": "Jamie",
            "family_name": "Doe",
            "title": "Support Engineer",
            "email": user_name,
            "mobile": "+15550100001",
            "work_phone": "+15550100002",
            "employee_number": format!("E-{run}"),
            "department": "Support",
            "site": "HQ-East",
        }),
    );
    assert_has(&fetch(gw, &user_path(&id)).await, &as_stored(&body));

    // Matching: Entra's exact userName, another case (userName is caseExact false), the
    // externalId (not filterable in Keystone: the gateway scans), and a near miss that
    // Keystone's substring filter returns but `eq` must not match.
    for f in [
        format!("userName eq \"{user_name}\""),
        format!("userName eq \"{}\"", user_name.to_uppercase()),
        format!("externalId eq \"ks01-{run}\""),
    ] {
        assert_list_of(&filter(gw, "/Users", &f, "").await, &[&id]);
    }
    assert_empty_list(&filter(gw, "/Users", &format!("userName eq \"ks01-{run}\""), "").await);

    // Entra's update: capitalised ops, a filtered path and an extension URN path.
    patch_ok(
        gw,
        &user_path(&id),
        json!([
            {"op": "Replace", "path": "title", "value": "Team Lead"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("lead-{run}@example.com")},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Operations"},
        ]),
    )
    .await;
    let stored = ks.user(&id).await.unwrap();
    assert_eq!(stored["title"], "Team Lead", "{stored}");
    assert_eq!(stored["email"], json!(format!("lead-{run}@example.com")));
    assert_eq!(stored["department"], "Operations", "{stored}");
    assert_eq!(stored["name"], json!(user_name), "the name is untouched");

    // Deactivate with Entra's string boolean, re-enable the same way: Keystone's `enabled`
    // is a real JSON boolean each time.
    for (value, enabled) in [("False", false), ("True", true), ("False", false)] {
        patch_ok(
            gw,
            &user_path(&id),
            json!([{"op": "Replace", "path": "active", "value": value}]),
        )
        .await;
        let stored = ks.user(&id).await.unwrap();
        assert_eq!(stored["enabled"], json!(enabled), "after {value}: {stored}");
        assert_eq!(fetch(gw, &user_path(&id)).await["active"], json!(enabled));
    }
    // A deactivated user is still matched (Entra reads it back before deleting).
    let r = filter(gw, "/Users", &format!("userName eq \"{user_name}\""), "").await;
    assert_list_of(&r, &[&id]);
    assert_eq!(r.json["Resources"][0]["active"], json!(false));

    let r = gw.scim.delete(&user_path(&id)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(ks.user(&id).await, None, "deleted in Keystone");
    assert_scim_error(&gw.scim.get(&user_path(&id)).await, 404, None);
    assert_empty_list(&filter(gw, "/Users", &format!("userName eq \"{user_name}\""), "").await);
}

/// Records made in Keystone itself (by its admin, not through the gateway) are served in
/// SCIM form: native fields mapped, extra properties Keystone keeps returned.
async fn keystone_records_read_back(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let name = format!("native-{run}@example.com");
    let r = ks
        .call(
            "POST",
            "/users",
            &[],
            Some(&json!({"user": {
                "name": name, "domain_id": ks.scim_domain, "enabled": false,
                "title": "Auditor", "email": name, "given_name": "Nat", "family_name": "Ive"
            }})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["user"]["id"].as_str().unwrap().to_owned();
    let user = fetch(gw, &user_path(&id)).await;
    assert_has(
        &user,
        &json!({
            "id": id, "userName": name, "active": false, "title": "Auditor",
            "name": {"givenName": "Nat", "familyName": "Ive"},
            "emails": [{"type": "work", "value": name}],
            "meta": {"resourceType": "User"}
        }),
    );
    assert_list_of(
        &filter(gw, "/Users", &format!("userName eq \"{name}\""), "").await,
        &[&id],
    );

    let group_name = format!("Native Team {run}");
    let r = ks
        .call(
            "POST",
            "/groups",
            &[],
            Some(&json!({"group": {"name": group_name, "domain_id": ks.scim_domain}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.json["group"]["id"].as_str().unwrap().to_owned();
    let r = ks
        .call("PUT", &format!("/groups/{gid}/users/{id}"), &[], None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let group = fetch(gw, &group_path(&gid)).await;
    assert_eq!(group["displayName"], json!(group_name), "{group}");
    assert_eq!(member_ids(gw, &gid).await, sorted(&[&id]));
}

/// A group with a member, another member added and the first removed by Entra's PATCH
/// (Keystone's PUT and DELETE /v3/groups/{gid}/users/{uid}), read back through both APIs,
/// renamed, and deleted without touching its members.
async fn group_membership(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let u1 = create_small_user(gw, &format!("ks03a-{run}@example.com")).await;
    let u2 = create_small_user(gw, &format!("ks03b-{run}@example.com")).await;
    let name = format!("KS03 Team {run}");
    let g = create(gw, "/Groups", &group(&name, &[&u1])).await;
    assert!(is_hex_id(&g), "Keystone id {g:?}");
    let stored = ks
        .group(&g)
        .await
        .expect("the created group is in Keystone");
    assert_has(&stored, &json!({"name": name, "domain_id": ks.scim_domain}));
    assert_eq!(ks.member_ids(&g).await, sorted(&[&u1]));

    let r = patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u2}]}]),
    )
    .await;
    assert_eq!(r.status, 204, "Entra expects 204 for a group PATCH");
    assert_eq!(ks.member_ids(&g).await, sorted(&[&u1, &u2]));
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u1, &u2]));

    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(ks.member_ids(&g).await, sorted(&[&u2]));
    assert_eq!(member_ids(gw, &g).await, sorted(&[&u2]));
    // Keystone's own membership check agrees.
    let head = |u: &str| format!("/groups/{g}/users/{u}");
    assert_eq!(ks.call("HEAD", &head(&u1), &[], None).await.status, 404);
    assert_eq!(ks.call("HEAD", &head(&u2), &[], None).await.status, 204);

    let renamed = format!("KS03 Ops & Support {run}");
    patch_ok(
        gw,
        &group_path(&g),
        json!([{"op": "Replace", "path": "displayName", "value": renamed}]),
    )
    .await;
    assert_eq!(ks.group(&g).await.unwrap()["name"], json!(renamed));
    assert_list_of(
        &filter(
            gw,
            "/Groups",
            &format!("displayName eq \"{}\"", renamed.to_lowercase()),
            "",
        )
        .await,
        &[&g],
    );

    let r = gw.scim.delete(&group_path(&g)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(ks.group(&g).await, None, "deleted in Keystone");
    for u in [&u1, &u2] {
        assert!(ks.user(u).await.is_some(), "member {u} survives its group");
    }
}

/// A second user or group with a taken name is 409 uniqueness and changes nothing: found by
/// the gateway itself (also in another case, which Keystone on SQLite would accept), and,
/// with the gateway's check taken out of the mapping (as a second gateway replica racing
/// this one meets it), Keystone's own 409 body mapped by the `errors:` rule.
async fn duplicate_name_is_409_uniqueness(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let user_name = format!("ks04-{run}@example.com");
    let group_name = format!("KS04 Team {run}");
    create_small_user(gw, &user_name).await;
    create(gw, "/Groups", &group(&group_name, &[])).await;
    let before = ks.state().await;
    for body in [
        small_user(&user_name),
        small_user(&user_name.to_uppercase()),
    ] {
        assert_scim_error(
            &gw.scim.post("/Users", &body).await,
            409,
            Some("uniqueness"),
        );
    }
    for name in [group_name.clone(), group_name.to_lowercase()] {
        assert_scim_error(
            &gw.scim.post("/Groups", &group(&name, &[])).await,
            409,
            Some("uniqueness"),
        );
    }
    assert_eq!(ks.state().await, before);

    let files = TempDir::new();
    let mappings = files.shipped_mappings("keystone", "keystone-unchecked", |file, text| {
        let edited = text.replace("{ path: $.name, unique: true }", "$.name");
        assert_ne!(edited, text, "{file} marks the name unique");
        edited
    });
    let config = ks.config(&ks.password, Some(&mappings));
    let unchecked = ks.gateway_with(&config, &ks.api_url).await;
    for (endpoint, body) in [
        ("/Users", small_user(&user_name)),
        ("/Groups", group(&group_name, &[])),
    ] {
        let r = unchecked.scim.post(endpoint, &body).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
        // Keystone's own message (`detail_from: $.error.message`).
        assert!(
            r.json["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Duplicate entry")),
            "{}",
            r.text
        );
    }
    assert_eq!(ks.state().await, before);
}

/// An id in Keystone's format that no user or group has: 404 on every method, and a member
/// that does not exist is refused before anything is written.
async fn unknown_hex_id_is_404(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let g = create(gw, "/Groups", &group(&format!("KS05 Team {run}"), &[])).await;
    let before = ks.state().await;
    let unknown = unknown_hex_id();
    for path in [user_path(&unknown), group_path(&unknown)] {
        assert_scim_error(&gw.scim.get(&path).await, 404, None);
        let rename = patch(json!([{"op": "Replace", "path": "displayName", "value": "X"}]));
        assert_scim_error(&gw.scim.patch(&path, &rename).await, 404, None);
        assert_scim_error(&gw.scim.delete(&path).await, 404, None);
    }
    let put = small_user(&format!("ks05-{run}@example.com"));
    assert_scim_error(&gw.scim.put(&user_path(&unknown), &put).await, 404, None);

    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": unknown}]}]));
    let r = gw.scim.patch(&group_path(&g), &add).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let with_unknown = group(&format!("KS05 Other {run}"), &[&unknown]);
    let r = gw.scim.post("/Groups", &with_unknown).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(ks.state().await, before);
}

/// Ids Keystone never issues (not hex, dot segments, an encoded slash, a space): 404 and
/// nothing changed; none of them reaches another Keystone resource.
async fn malformed_id_is_404(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let before = ks.state().await;
    for id in [
        "not-a-hex-id",
        "..",
        "%2E%2E",
        "..%2F..%2Fgroups",
        "x%2Fusers",
        "%20",
        "0123456789abcdef0123456789abcdef0",
    ] {
        for path in [user_path(id), group_path(id)] {
            assert_scim_error(&gw.scim.get(&path).await, 404, None);
            let op = patch(json!([{"op": "Replace", "path": "displayName", "value": "X"}]));
            assert_scim_error(&gw.scim.patch(&path, &op).await, 404, None);
            assert_scim_error(&gw.scim.delete(&path).await, 404, None);
        }
    }
    assert_eq!(ks.state().await, before);
}

/// The bootstrap admin (domain `default`) and a group of that domain are never listed,
/// matched or served by the gateway, and cannot be changed or deleted through it.
async fn bootstrap_admin_is_never_offered(s: &Setup) {
    let (ks, gw) = (&s.ks, &s.gw);
    let run = run_id();
    let r = ks
        .call(
            "POST",
            "/groups",
            &[],
            Some(&json!({"group": {"name": format!("default-{run}"), "domain_id": "default"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let default_group = r.json["group"]["id"].as_str().unwrap().to_owned();
    let admin = ks.user(&ks.admin_id).await.expect("the bootstrap admin");
    assert_eq!(admin["domain_id"], "default", "{admin}");
    let g = create(gw, "/Groups", &group(&format!("KS07 Team {run}"), &[])).await;
    let before = ks.state().await;

    let users = fetch(gw, "/Users?count=1000").await;
    let listed = resource_ids(&users);
    assert!(!listed.contains(&ks.admin_id), "admin listed: {users}");
    assert!(
        users["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u["userName"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&ks.user)),
        "{users}"
    );
    assert_empty_list(&filter(gw, "/Users", &format!("userName eq \"{}\"", ks.user), "").await);
    let groups = fetch(gw, "/Groups?count=1000").await;
    assert!(
        !resource_ids(&groups).contains(&default_group),
        "group of the default domain listed: {groups}"
    );
    assert_empty_list(
        &filter(
            gw,
            "/Groups",
            &format!("displayName eq \"default-{run}\""),
            "",
        )
        .await,
    );

    // Not served by id, so it cannot be changed, deleted or made a member either.
    let disable = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let rename = patch(json!([{"op": "Replace", "path": "displayName", "value": "X"}]));
    for (path, op) in [
        (user_path(&ks.admin_id), &disable),
        (group_path(&default_group), &rename),
    ] {
        assert_scim_error(&gw.scim.get(&path).await, 404, None);
        assert_scim_error(&gw.scim.patch(&path, op).await, 404, None);
        assert_scim_error(&gw.scim.delete(&path).await, 404, None);
    }
    let put = small_user(&ks.user);
    assert_scim_error(
        &gw.scim.put(&user_path(&ks.admin_id), &put).await,
        404,
        None,
    );
    let add = patch(json!([{"op": "Add", "path": "members", "value": [{"value": ks.admin_id}]}]));
    let r = gw.scim.patch(&group_path(&g), &add).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(ks.state().await, before);
}

/// The value of header `name` in a recorded request head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn is_login(head: &str) -> bool {
    head.starts_with("POST /v3/auth/tokens ")
}

/// The token each recorded call carried (logins carry none).
fn tokens_sent(heads: &[String]) -> Vec<String> {
    heads
        .iter()
        .filter(|h| !is_login(h))
        .map(|h| header(h, "x-auth-token").unwrap_or_else(|| panic!("no token in {h}")))
        .collect()
}

/// The token the gateway uses now: the one on its last recorded call.
fn current_token(w: &Watched) -> String {
    tokens_sent(&w.proxy.heads())
        .pop()
        .expect("the gateway has called Keystone")
}

/// A run of provisioning calls needs one login: the token is reused, it is scoped to the
/// `scim` domain, and no credential travels on the other calls.
async fn logs_in_once_and_reuses_the_token(w: &Watched) {
    let (ks, gw) = (&w.ks, &w.gw);
    let run = run_id();
    let id = create(gw, "/Users", &full_user(&run, "ks10")).await;
    fetch(gw, &user_path(&id)).await;
    assert_list_of(
        &filter(
            gw,
            "/Users",
            &format!("userName eq \"ks10-{run}@example.com\""),
            "",
        )
        .await,
        &[&id],
    );
    patch_ok(
        gw,
        &user_path(&id),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    let g = create(gw, "/Groups", &group(&format!("KS10 Team {run}"), &[&id])).await;
    assert_eq!(gw.scim.delete(&group_path(&g)).await.status, 204);

    let heads = w.proxy.heads();
    let logins = heads.iter().filter(|h| is_login(h)).count();
    assert_eq!(logins, 1, "{heads:#?}");
    assert!(is_login(&heads[0]), "the first call logs in: {heads:#?}");
    let tokens = tokens_sent(&heads);
    assert!(tokens.len() >= 6, "{heads:#?}");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{heads:#?}");
    let password = ks.password.as_str();
    assert!(
        heads[1..].iter().all(|h| !h.contains(password)),
        "{heads:#?}"
    );
    let token = ks
        .token(&tokens[0])
        .await
        .expect("the gateway's token is valid");
    assert_eq!(token["domain"]["name"], "scim", "{token}");
    assert_eq!(token["user"]["id"], json!(ks.admin_id), "{token}");
}

/// Keystone revokes the gateway's token: the next call gets 401, the gateway logs in once
/// more and repeats the call with the new token, and the SCIM request succeeds (a create
/// too, stored exactly once).
async fn logs_in_again_after_revocation(w: &Watched) {
    let (ks, gw) = (&w.ks, &w.gw);
    let run = run_id();
    create_small_user(gw, &format!("ks11-{run}@example.com")).await;
    // A user the gateway has never read, so its GET below is not answered from the cache.
    let r = ks
        .call(
            "POST",
            "/users",
            &[],
            Some(&json!({"user": {"name": format!("ks11n-{run}"), "domain_id": ks.scim_domain}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["user"]["id"].as_str().unwrap().to_owned();

    let old = current_token(w);
    ks.revoke(&old).await;
    assert_eq!(ks.token(&old).await, None, "Keystone revoked the token");
    let seen = w.proxy.heads().len();
    let user = fetch(gw, &user_path(&id)).await;
    assert_eq!(user["id"], json!(id));
    let calls = w.proxy.heads()[seen..].to_vec();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(
        calls[0].starts_with(&format!("GET /v3/users/{id} ")),
        "{calls:#?}"
    );
    assert_eq!(header(&calls[0], "x-auth-token"), Some(old.clone()));
    assert!(is_login(&calls[1]), "{calls:#?}");
    assert!(
        calls[2].starts_with(&format!("GET /v3/users/{id} ")),
        "{calls:#?}"
    );
    let new = header(&calls[2], "x-auth-token").unwrap();
    assert_ne!(new, old);
    assert!(ks.token(&new).await.is_some());

    // Revoked again just before a create: stored once, with the name asked for.
    ks.revoke(&new).await;
    let user_name = format!("ks11b-{run}@example.com");
    let created = create_small_user(gw, &user_name).await;
    let found = ks.get(&format!("/users?name={user_name}")).await;
    let ids: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [created.as_str()], "{found}");
    let heads = w.proxy.heads();
    assert_eq!(
        heads.iter().filter(|h| is_login(h)).count(),
        3,
        "{heads:#?}"
    );
}

/// A gateway with a wrong password: Keystone refuses the login (401), every SCIM request
/// gets 502 with a detail naming the login call and none of the secrets, Keystone holds
/// what it held, and the gateway with the right password keeps working.
async fn wrong_password_is_502_without_the_password(w: &Watched) {
    let (ks, gw) = (&w.ks, &w.gw);
    let run = run_id();
    // The real password as a prefix: a detail quoting either would be caught.
    let wrong = format!("{}-wrong-{run}", ks.password);
    let refused = ks.gateway_with(&ks.config(&wrong, None), &ks.api_url).await;
    let before = ks.state().await;
    let user_name = format!("ks12-{run}@example.com");
    let replies = [
        refused.scim.get("/Users").await,
        filter(
            &refused,
            "/Users",
            &format!("userName eq \"{user_name}\""),
            "",
        )
        .await,
        refused.scim.post("/Users", &small_user(&user_name)).await,
        refused
            .scim
            .post("/Groups", &group(&format!("KS12 Team {run}"), &[]))
            .await,
    ];
    for r in &replies {
        assert_scim_error(r, 502, None);
        let detail = r.json["detail"].as_str().unwrap();
        assert!(
            detail.contains("/auth/tokens") && detail.contains("401"),
            "{detail}"
        );
        assert!(
            !r.text.contains(&ks.password),
            "password leaked: {}",
            r.text
        );
        assert!(
            r.headers
                .values()
                .all(|v| !String::from_utf8_lossy(v.as_bytes()).contains(&ks.password)),
            "{:?}",
            r.headers
        );
    }
    assert_eq!(ks.state().await, before);
    // Keystone did not lock the account: the gateway with the right password still works.
    create_small_user(gw, &user_name).await;
}
