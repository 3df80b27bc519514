//! `POST /{Resources}/.search` (RFC 7644 §3.4.3): the same query as GET, sent as a body.

use serde_json::json;

use crate::support::Gateway;

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[tokio::test]
async fn search_request_filters_pages_and_selects_attributes() {
    let gw = Gateway::demo().await;
    let body = json!({
        "schemas": [SEARCH],
        "filter": "userName sw \"a\" or userName sw \"b\"",
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 1,
    });
    let r = gw.scim.post("/Users/.search", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["totalResults"], 2, "{}", r.text);
    assert_eq!(r.json["itemsPerPage"], 1);
    let user = &r.json["Resources"][0];
    assert!(user["userName"].is_string(), "{user}");
    assert!(
        user.get("name").is_none(),
        "attributes=userName must leave name out: {user}"
    );
}

#[tokio::test]
async fn search_request_errors_are_scim_errors() {
    let gw = Gateway::demo().await;
    let bad_filter = gw
        .scim
        .post(
            "/Groups/.search",
            &json!({"schemas": [SEARCH], "filter": "displayName eq"}),
        )
        .await;
    assert_eq!(bad_filter.status, 400, "{}", bad_filter.text);
    assert_eq!(bad_filter.scim_type(), Some("invalidFilter"));
    let wrong_schema = gw
        .scim
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:x"], "filter": "userName pr"}),
        )
        .await;
    assert_eq!(wrong_schema.status, 400, "{}", wrong_schema.text);
    assert_eq!(wrong_schema.scim_type(), Some("invalidSyntax"));
}
