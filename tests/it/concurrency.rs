//! Concurrent writes to one resource through the gateway all land: the per-resource write
//! lock serialises read-merge-write, so no PATCH loses another's change.

use serde_json::{json, Value};

use scimgate::demo::{DemoDirectory, Store};

use crate::support::gateway::{demo_mappings_variant, swap};
use crate::support::snapshot::{store_json, with_store};
use crate::support::Gateway;

/// Attribute paths of a demo User that each PATCH may set, with where the directory keeps
/// them.
const ATTRIBUTES: [(&str, &str); 10] = [
    ("title", "/title"),
    ("displayName", "/display_name"),
    ("name.givenName", "/first_name"),
    ("name.middleName", "/middle_name"),
    ("name.familyName", "/last_name"),
    ("locale", "/locale"),
    ("timezone", "/timezone"),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "/org/department",
    ),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
        "/org/cost_center",
    ),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
        "/org/division",
    ),
];

/// The demo mappings with the user update as a whole-record PUT (read-merge-write), the
/// style where unserialised concurrent PATCHes would overwrite each other.
fn replace_style_mappings() -> std::path::PathBuf {
    demo_mappings_variant(|name, text| match name {
        "users.yaml" => swap(
            &text,
            r#"update: { method: PATCH, path: "/api/users/{id}", style: merge, idempotent: true }"#,
            r#"update: { method: PUT, path: "/api/users/{id}", style: replace }"#,
        ),
        _ => text,
    })
}

/// 50 simultaneous PATCHes to one user, each setting one of ten attributes, with the
/// shipped (partial PATCH) and a whole-record PUT mapping: every one is acknowledged, and
/// every attribute ends with a value one of its PATCHes sent (a lost update would leave one
/// at its seed value).
#[tokio::test]
async fn fifty_simultaneous_patches_to_one_user_all_land() {
    let gw = Gateway::demo().await;
    fifty_patches(&gw).await;
    let mappings = replace_style_mappings();
    let directory = DemoDirectory::new(Store::seeded(), None).with_request_log();
    let gw = Gateway::demo_directory_with_mappings(directory.clone(), &mappings).await;
    fifty_patches(&gw).await;
    // The variant really was in use: the writes were whole-record PUTs.
    let puts = directory
        .requests_seen()
        .iter()
        .filter(|r| *r == "PUT /api/users/1001")
        .count();
    assert_eq!(puts, 50);
    let _ = std::fs::remove_dir_all(mappings.parent().unwrap());
}

async fn fifty_patches(gw: &Gateway) {
    let patches: Vec<_> = (0..50)
        .map(|i| {
            let scim = gw.scim.clone();
            let (path, _) = ATTRIBUTES[i % ATTRIBUTES.len()];
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": path, "value": format!("v{i}")}]
            });
            tokio::spawn(async move { scim.patch("/Users/1001", &body).await })
        })
        .collect();
    for p in patches {
        let r = p.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let record = with_store(gw, |s| {
        store_json(s)["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == 1001)
            .unwrap()
            .clone()
    });
    for (k, (path, pointer)) in ATTRIBUTES.iter().enumerate() {
        let sent: Vec<String> = (k..50)
            .step_by(ATTRIBUTES.len())
            .map(|i| format!("v{i}"))
            .collect();
        let stored = record
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            sent.iter().any(|v| v == stored),
            "{path}: directory has {stored:?}, PATCHes sent {sent:?}"
        );
    }
}

/// 50 simultaneous member adds to one group (each its own new user): all 50 are members.
#[tokio::test]
async fn fifty_simultaneous_member_adds_to_one_group_all_land() {
    let gw = Gateway::demo().await;
    let mut ids = Vec::new();
    for i in 0..50 {
        let r = gw
            .scim
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("member{i}@example.com"),
                    "name": {"givenName": "M", "familyName": format!("{i}")},
                    "urn:ietf:params:scim:schemas:extension:8x8:1.1:User": {"site": "Paris"}
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json["id"].as_str().unwrap().to_owned());
    }
    let adds: Vec<_> = ids
        .iter()
        .map(|id| {
            let scim = gw.scim.clone();
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]
            });
            tokio::spawn(async move { scim.patch("/Groups/502", &body).await })
        })
        .collect();
    for a in adds {
        let r = a.await.unwrap();
        assert!(matches!(r.status, 200 | 204), "{} {}", r.status, r.text);
    }
    let members = with_store(&gw, |s| {
        store_json(s)["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == 502)
            .unwrap()["users"]
            .clone()
    });
    for id in &ids {
        let n: u64 = id.parse().unwrap();
        assert!(
            members.as_array().unwrap().contains(&json!(n)),
            "member {id} missing from {members}"
        );
    }
    // The seed member is still there too.
    assert!(members.as_array().unwrap().contains(&json!(1003)));
}
