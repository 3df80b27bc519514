//! Test fixtures: the User and Group resource types the acceptance cases use.

use serde_json::json;

use crate::scim::schema::{
    core_group_schema, core_user_schema, enterprise_user_schema, schema_from_json, ResourceSchema,
};

/// URN of the acceptance cases' 8x8-style extension (its `site` is immutable).
pub(crate) const X8_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User";

/// User with the enterprise and 8x8 extensions.
pub(crate) fn user_schema() -> ResourceSchema {
    let x8 = schema_from_json(&json!({
        "id": X8_SCHEMA,
        "name": "8x8User",
        "attributes": [{
            "name": "site", "type": "string", "multiValued": false, "required": false,
            "caseExact": false, "mutability": "immutable", "returned": "default", "uniqueness": "none"
        }]
    }))
    .unwrap();
    ResourceSchema {
        name: "User".into(),
        endpoint: "/Users".into(),
        core: core_user_schema(),
        extensions: vec![enterprise_user_schema(), x8],
        whole: None,
    }
}

/// Group without extensions.
pub(crate) fn group_schema() -> ResourceSchema {
    ResourceSchema {
        name: "Group".into(),
        endpoint: "/Groups".into(),
        core: core_group_schema(),
        extensions: vec![],
        whole: None,
    }
}
