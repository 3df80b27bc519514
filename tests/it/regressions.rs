//! Behaviours a new-user review found missing: each test names what an IdP would have hit.

use serde_json::json;

use crate::support::client::enc;
use crate::support::Gateway;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const X8: &str = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User";

#[tokio::test]
async fn a_filter_on_an_attribute_that_is_not_mapped_is_invalid_not_empty() {
    let gw = Gateway::demo().await;
    for filter in [
        "nosuchattr eq \"x\"",
        "urn:bogus:thing eq \"1\"",
        "emails[nosub eq \"x\"]",
    ] {
        let r = gw.scim.get(&format!("/Users?filter={}", enc(filter))).await;
        assert_eq!(r.status, 400, "{filter}: {}", r.text);
        assert_eq!(r.scim_type(), Some("invalidFilter"), "{filter}");
    }
    // Mapped attributes, Entra's value-path form and common attributes still work.
    for filter in [
        "userName eq \"nobody\"",
        "emails[type eq \"work\"].value eq \"x\"",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
    ] {
        let r = gw.scim.get(&format!("/Users?filter={}", enc(filter))).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.text);
    }
}

#[tokio::test]
async fn non_canonical_numeric_ids_do_not_alias_another_user() {
    let gw = Gateway::demo().await;
    assert_eq!(gw.scim.get("/Users/1001").await.status, 200);
    for alias in ["01001", "+1001", "1001.0"] {
        let r = gw.scim.get(&format!("/Users/{}", enc(alias))).await;
        assert_eq!(r.status, 404, "{alias}: {}", r.text);
    }
}

#[tokio::test]
async fn a_put_that_leaves_out_the_immutable_site_keeps_it() {
    let gw = Gateway::demo().await;
    let created = gw
        .scim
        .post(
            "/Users",
            &json!({"schemas": [USER, X8], "userName": "put-site@example.com", X8: {"site": "Oslo"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap();
    let put = gw
        .scim
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER], "userName": "put-site@example.com", "title": "Okta push"}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json[X8]["site"], "Oslo");
    assert_eq!(put.json["title"], "Okta push");
    // A different site is still refused.
    let changed = gw
        .scim
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER, X8], "userName": "put-site@example.com", X8: {"site": "Bergen"}}),
        )
        .await;
    assert_eq!(changed.status, 400, "{}", changed.text);
    assert_eq!(changed.scim_type(), Some("mutability"));
}

#[tokio::test]
async fn a_member_without_an_id_is_refused_and_changes_nothing() {
    let gw = Gateway::demo().await;
    let before = gw.scim.get("/Groups/501").await;
    for members in [
        json!([{}]),
        json!([{"value": null}]),
        json!([{"value": "1001"}, {"display": "x"}]),
    ] {
        let r = gw
            .scim
            .patch(
                "/Groups/501",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": members}]}),
            )
            .await;
        assert_eq!(r.status, 400, "{members}: {}", r.text);
        assert_eq!(r.scim_type(), Some("invalidValue"));
    }
    assert_eq!(
        gw.scim.get("/Groups/501").await.json["members"],
        before.json["members"]
    );
}
