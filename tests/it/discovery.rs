//! Discovery endpoints (RFC 7644 §4) as Entra's gallery checks read them: ServiceProviderConfig,
//! ResourceTypes, and Schemas generated from what the mapping files really map.

use serde_json::{json, Value};

use crate::support::scim::*;
use crate::support::{Gateway, Reply};

async fn scim_get(gw: &Gateway, path: &str) -> Value {
    let r = gw.scim.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    assert_scim_media_type(&r);
    r.json
}

fn assert_scim_media_type(r: &Reply) {
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "content type {:?}",
        r.header("content-type")
    );
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no resource with {key} {value} in {list}"))
}

fn attribute<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
}

fn assert_no_nulls(value: &Value, at: &str) {
    match value {
        Value::Null => panic!("null at {at}"),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| assert_no_nulls(v, &format!("{at}/{i}"))),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, v)| assert_no_nulls(v, &format!("{at}/{k}"))),
        _ => {}
    }
}

#[tokio::test]
async fn service_provider_config() {
    let gw = Gateway::demo().await;
    let spc = scim_get(&gw, "/ServiceProviderConfig").await;
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert!(
        spc["filter"]["maxResults"].as_u64().is_some_and(|n| n > 0),
        "{spc}"
    );
    for key in ["bulk", "etag", "sort", "changePassword"] {
        assert!(spc[key]["supported"].is_boolean(), "{key}: {spc}");
    }
    // The configured limits (config/default.yaml), advertised as enforced (tests/it/bulk.rs).
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576})
    );
    // The demo mapping maps a write-only password.
    assert_eq!(spc["changePassword"]["supported"], true);
    let schemes = spc["authenticationSchemes"].as_array().unwrap();
    assert!(
        schemes
            .iter()
            .any(|s| s["type"] == "oauthbearertoken" && s["name"].is_string()),
        "{spc}"
    );
    assert_no_nulls(&spc, "");
}

#[tokio::test]
async fn resource_types() {
    let gw = Gateway::demo().await;
    let list = scim_get(&gw, "/ResourceTypes").await;
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(list["totalResults"], 2);
    let user = find(&list, "name", "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER);
    let extensions: Vec<&str> = user["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert_eq!(extensions, [ENTERPRISE, EXT_8X8]);
    let group = find(&list, "name", "Group");
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP);

    assert_eq!(&scim_get(&gw, "/ResourceTypes/User").await, user);
    assert_scim_error(&gw.scim.get("/ResourceTypes/Device").await, 404, None);
}

#[tokio::test]
async fn schemas_list_only_mapped_attributes() {
    let gw = Gateway::demo().await;
    let list = scim_get(&gw, "/Schemas").await;
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
    assert_no_nulls(&list, "");
    let ids: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in [USER, GROUP, ENTERPRISE, EXT_8X8] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }

    let user = find(&list, "id", USER);
    for mapped in [
        "userName",
        "name",
        "emails",
        "phoneNumbers",
        "active",
        "title",
        "locale",
        "timezone",
    ] {
        assert!(attribute(user, mapped).is_some(), "{mapped} missing");
    }
    // Core attributes the demo directory has no field for are not advertised.
    for unmapped in ["nickName", "profileUrl", "addresses", "x509Certificates"] {
        assert!(attribute(user, unmapped).is_none(), "{unmapped} advertised");
    }
    let user_name = attribute(user, "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    assert_eq!(attribute(user, "password").unwrap()["returned"], "never");

    let ext = find(&list, "id", EXT_8X8);
    let site = attribute(ext, "site").unwrap();
    assert_eq!(site["mutability"], "immutable");
    assert_eq!(site["type"], "string");

    let enterprise = find(&list, "id", ENTERPRISE);
    let manager = attribute(enterprise, "manager").unwrap();
    assert_eq!(manager["type"], "complex");
}

#[tokio::test]
async fn schema_by_urn() {
    let gw = Gateway::demo().await;
    let ext = scim_get(&gw, &format!("/Schemas/{EXT_8X8}")).await;
    assert_eq!(ext["id"], EXT_8X8);
    assert_eq!(
        ext["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
    );
    assert_eq!(attribute(&ext, "site").unwrap()["mutability"], "immutable");
    assert!(
        ext["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Schemas/{EXT_8X8}")),
        "{ext}"
    );
    let user = scim_get(&gw, &format!("/Schemas/{USER}")).await;
    assert_eq!(user["id"], USER);
    assert_scim_error(
        &gw.scim
            .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Device")
            .await,
        404,
        None,
    );
}
