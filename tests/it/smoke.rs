use serde_json::json;

use crate::support::Gateway;

#[tokio::test]
async fn seeded_users_are_served() {
    let gw = Gateway::demo().await;
    let r = gw.scim.get("/Users?count=1&startIndex=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["Resources"].as_array().unwrap().len(), 1);
    let created = gw
        .scim
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "smoke@example.com"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
}
