//! Versions and conditional requests (RFC 7644 §3.14): `meta.version`, `ETag`, `If-Match`
//! on writes (412 on a stale version, nothing changed) and `If-None-Match` on GET (304).

use serde_json::json;

use crate::support::Gateway;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn rename(name: &str) -> serde_json::Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
}

async fn send_with(
    gw: &Gateway,
    method: &str,
    path: &str,
    header: (&str, &str),
    body: Option<&serde_json::Value>,
) -> crate::support::Reply {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    gw.scim
        .raw(
            method,
            path,
            &[("content-type", "application/scim+json"), header],
            bytes,
        )
        .await
}

#[tokio::test]
async fn get_returns_the_version_as_etag_and_honours_if_none_match() {
    let gw = Gateway::demo().await;
    let r = gw.scim.get("/Users/1001").await;
    assert_eq!(r.status, 200);
    let version = r.json["meta"]["version"].as_str().unwrap().to_owned();
    assert!(version.starts_with("W/\""), "{version}");
    assert_eq!(r.header("etag"), Some(version.as_str()));

    let same = send_with(&gw, "GET", "/Users/1001", ("if-none-match", &version), None).await;
    assert_eq!(same.status, 304, "{}", same.text);
    let other = send_with(
        &gw,
        "GET",
        "/Users/1001",
        ("if-none-match", "W/\"stale\""),
        None,
    )
    .await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn writes_with_a_stale_if_match_get_412_and_change_nothing() {
    let gw = Gateway::demo().await;
    let before = gw.scim.get("/Users/1002").await;
    let version = before.json["meta"]["version"].as_str().unwrap().to_owned();

    let stale = send_with(
        &gw,
        "PATCH",
        "/Users/1002",
        ("if-match", "W/\"0000\""),
        Some(&rename("Stale")),
    )
    .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(stale.json["status"], "412");
    let delete = send_with(
        &gw,
        "DELETE",
        "/Users/1002",
        ("if-match", "W/\"0000\""),
        None,
    )
    .await;
    assert_eq!(delete.status, 412, "{}", delete.text);
    let unchanged = gw.scim.get("/Users/1002").await;
    assert_eq!(unchanged.json["displayName"], before.json["displayName"]);
    assert_eq!(
        unchanged.json["meta"]["version"],
        before.json["meta"]["version"]
    );

    let fresh = send_with(
        &gw,
        "PATCH",
        "/Users/1002",
        ("if-match", &version),
        Some(&rename("Fresh Name")),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(fresh.json["displayName"], "Fresh Name");
    let new_version = fresh.json["meta"]["version"].as_str().unwrap();
    assert_ne!(new_version, version, "a change must change the version");
    assert_eq!(
        gw.scim.get("/Users/1002").await.json["meta"]["version"],
        new_version
    );
}

/// A member change gives the group a new version where the directory stamps the group on it
/// (the demo's updated_at): the next GET (and a 200 PATCH answer) carries it, and a write with
/// that ETag as If-Match goes through (it once got 412 from a stale cached version).
#[tokio::test]
async fn a_member_change_answers_and_caches_the_new_version() {
    let gw = Gateway::demo().await;
    let created = gw
        .scim
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Etag Group"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/Groups/{}", created.json["id"].as_str().unwrap());
    // Warm the cache, then change the members.
    let before = gw.scim.get(&path).await;
    let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": "1001"}]}]});
    let patched = gw.scim.patch(&path, &add).await;
    // 204 for a members-only PATCH (what Entra expects); a 200 carries the new version.
    assert!(matches!(patched.status, 200 | 204), "{}", patched.text);
    let after = gw.scim.get(&path).await;
    let version = after.json["meta"]["version"].as_str().unwrap().to_owned();
    assert_ne!(version, before.json["meta"]["version"].as_str().unwrap());
    if patched.status == 200 {
        assert_eq!(patched.json["meta"]["version"], version.as_str());
    }
    assert_eq!(after.header("etag"), Some(version.as_str()));
    let renamed = send_with(
        &gw,
        "PATCH",
        &path,
        ("if-match", &version),
        Some(&rename("Renamed")),
    )
    .await;
    assert!(matches!(renamed.status, 200 | 204), "{}", renamed.text);
    assert_eq!(gw.scim.get(&path).await.json["displayName"], "Renamed");
}

/// The ETag does not depend on the projection, If-None-Match compares weakly, and a 304
/// names the ETag it stands for.
#[tokio::test]
async fn conditional_get_survives_projection_and_compares_weakly() {
    let gw = Gateway::demo().await;
    let version = gw.scim.get("/Users/1001").await.json["meta"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let projected = gw.scim.get("/Users/1001?attributes=userName").await;
    assert!(projected.json.get("meta").is_none(), "{}", projected.text);
    assert_eq!(projected.header("etag"), Some(version.as_str()));
    let strong = version.trim_start_matches("W/").to_owned();
    for (path, tag) in [
        ("/Users/1001?attributes=userName", version.as_str()),
        ("/Users/1001?excludedAttributes=meta", "*"),
        ("/Users/1001", strong.as_str()),
    ] {
        let r = send_with(&gw, "GET", path, ("if-none-match", tag), None).await;
        assert_eq!(r.status, 304, "{path} with {tag}: {}", r.text);
        assert_eq!(r.header("etag"), Some(version.as_str()), "{path}");
    }
}
