use serde_json::{json, Value};

use super::*;
use crate::scim::attr::testing::{group_schema, user_schema, X8_SCHEMA};
use crate::scim::attr::AttrPath;
use crate::scim::error::ScimType;
use crate::scim::filter::parse_attr_list;
use crate::scim::schema::{schema_from_json, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

fn canon(body: Value, schema: &ResourceSchema) -> Result<(Value, Vec<&'static str>), ScimError> {
    let mut applied = Normalisations::new();
    let out = canonicalize(&body, schema, &DialectOptions::default(), &mut applied)?;
    Ok((out, applied.names().to_vec()))
}

fn entra_create_body() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, X8_SCHEMA],
        "externalId": "e05",
        "userName": "e05@example.com",
        "active": "True",
        "title": "Support Engineer",
        "locale": "en-US",
        "timezone": "Europe/Oslo",
        "name": {"givenName": "Jamie", "familyName": "Doe"},
        "emails": [{"primary": true, "type": "work", "value": "e05@example.com"}],
        "phoneNumbers": [{"type": "mobile", "value": "+15550100001"}, {"type": "work", "value": "+15550100002"}],
        ENTERPRISE_SCHEMA: {"department": "Support"},
        X8_SCHEMA: {"site": "HQ-East"},
        "meta": {"resourceType": "User"}
    })
}

#[test]
fn canonicalize_keeps_values_as_sent_and_fixes_the_dialect() {
    let (out, fired) = canon(entra_create_body(), &user_schema()).unwrap();
    let mut expected = entra_create_body();
    let obj = expected.as_object_mut().unwrap();
    obj.remove("meta");
    obj.insert("active".into(), json!(true));
    assert_eq!(out, expected);
    assert_eq!(fired, ["string_booleans"]);
}

#[test]
fn canonicalize_uses_schema_spelling() {
    let (out, _) = canon(
        json!({
            "Schemas": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
            "UserName": "a",
            "NAME": {"GivenName": "G"},
            "emails": [{"Value": "a@x", "TYPE": "work"}],
            ENTERPRISE_SCHEMA.to_uppercase(): {"EMPLOYEENUMBER": "7"}
        }),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": "a",
            "name": {"givenName": "G"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "7"}
        })
    );
}

#[test]
fn canonicalize_drops_read_only_unknown_and_null() {
    let (out, _) = canon(
        json!({
            "schemas": [USER_SCHEMA],
            "id": "client-id",
            "userName": "a",
            "groups": [],
            "password": "Tmp-Example-1",
            "nickName": null,
            "favouriteColour": "blue",
            "name": {"givenName": "G", "nosuch": 1, "familyName": null},
            "meta": {"resourceType": "User"}
        }),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "a", "password": "Tmp-Example-1", "name": {"givenName": "G"}})
    );

    let (group, _) = canon(
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "u-1", "display": "A", "$ref": null}]}),
        &group_schema(),
    )
    .unwrap();
    assert_eq!(
        group,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "u-1"}]})
    );
    let (empty, _) = canon(
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": []}),
        &group_schema(),
    )
    .unwrap();
    assert_eq!(empty["members"], json!([]));
}

#[test]
fn canonicalize_accepts_manager_shapes_and_lists_the_extension() {
    let (out, fired) = canon(
        json!({"schemas": [USER_SCHEMA], "userName": "a", ENTERPRISE_SCHEMA: {"manager": "m-1"}}),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(out[ENTERPRISE_SCHEMA], json!({"manager": {"value": "m-1"}}));
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
    assert_eq!(fired, ["complex_from_string"]);

    let (out, _) = canon(
        json!({"schemas": [USER_SCHEMA], "userName": "a", "manager": [{"value": "m-2", "$ref": "r"}]}),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(
        out[ENTERPRISE_SCHEMA],
        json!({"manager": {"value": "m-2", "$ref": "r"}})
    );

    let (out, _) = canon(
        json!({"schemas": [USER_SCHEMA], "userName": "a", "manager": ""}),
        &user_schema(),
    )
    .unwrap();
    assert!(out.get(ENTERPRISE_SCHEMA).is_none());
}

#[test]
fn canonicalize_checks_schemas() {
    let schema = user_schema();
    for body in [
        json!({"userName": "a"}),
        json!({"schemas": [], "userName": "a"}),
        json!({"schemas": [ENTERPRISE_SCHEMA], "userName": "a"}),
        json!({"schemas": [USER_SCHEMA, 7], "userName": "a"}),
    ] {
        let e = canon(body.clone(), &schema).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{body}");
        assert!(e.detail.contains("schema"), "{}", e.detail);
    }
    // A schema this resource type does not declare: its data is ignored like any unmapped
    // attribute, and recorded; the strict core refuses it.
    let undeclared = json!({
        "schemas": [USER_SCHEMA, "urn:example:unknown"],
        "userName": "a",
        "urn:example:unknown": {"badge": "7"},
    });
    let (out, fired) = canon(undeclared.clone(), &schema).unwrap();
    assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
    assert_eq!(fired, ["unmapped_ignored"]);
    let strict = canonicalize(
        &undeclared,
        &schema,
        &DialectOptions::strict(),
        &mut Normalisations::new(),
    )
    .unwrap_err();
    assert_eq!(strict.scim_type, Some(ScimType::InvalidValue));
    let e = canon(json!({"userName": "a"}), &schema).unwrap_err();
    assert!(e.detail.contains(USER_SCHEMA), "{}", e.detail);
    let (out, _) = canon(json!({"schemas": USER_SCHEMA, "userName": "a"}), &schema).unwrap();
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    assert_eq!(
        canon(json!("user"), &schema).unwrap_err().scim_type,
        Some(ScimType::InvalidSyntax)
    );
}

#[test]
fn canonicalize_type_checks_and_names_the_attribute() {
    let schema = user_schema();
    for (key, value, name) in [
        ("title", json!({"a": 1}), "'title'"),
        ("userName", json!(42), "'userName'"),
        ("active", json!("maybe"), "'active'"),
        ("emails", json!([{"value": true}]), "'emails.value'"),
        (ENTERPRISE_SCHEMA, json!("x"), ENTERPRISE_SCHEMA),
    ] {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": "a"});
        body[key] = value;
        let e = canon(body, &schema).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{key}");
        assert!(e.detail.contains(name), "{key}: {}", e.detail);
    }
    let e = canon(
        json!({"schemas": [USER_SCHEMA], "userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        &schema,
    )
    .unwrap_err();
    assert!(e.detail.contains("primary"), "{}", e.detail);
}

#[test]
fn immutable_attributes_may_be_set_once() {
    let schema = user_schema();
    let old = json!({"userName": "a", X8_SCHEMA: {"site": "HQ-East"}});
    assert!(check_immutable(
        &old,
        &json!({"userName": "b", X8_SCHEMA: {"site": "HQ-East"}}),
        &schema
    )
    .is_ok());
    assert!(check_immutable(
        &old,
        &json!({"userName": "b", X8_SCHEMA: {"SITE": "hq-east"}}),
        &schema
    )
    .is_ok());
    let e = check_immutable(
        &old,
        &json!({"userName": "a", X8_SCHEMA: {"site": "HQ-West"}}),
        &schema,
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(e.detail.contains("site"));
    assert!(check_immutable(&old, &json!({"userName": "a"}), &schema).is_err());
    assert!(check_immutable(&json!({"userName": "a"}), &old, &schema).is_ok());
    // readOnly attributes are not this check's business.
    assert!(check_immutable(&json!({"id": "1"}), &json!({"id": "2"}), &schema).is_ok());
    // Group membership changes are not changes of the immutable members.value.
    let groups = group_schema();
    assert!(check_immutable(
        &json!({"members": [{"value": "u-1"}]}),
        &json!({"members": [{"value": "u-2"}]}),
        &groups
    )
    .is_ok());
}

#[test]
fn immutable_sub_attributes_of_single_valued_complex_attributes() {
    let mut schema = user_schema();
    schema.extensions.push(
        schema_from_json(&json!({
            "id": "urn:example:scim:1.0:Badge",
            "attributes": [{"name": "badge", "type": "complex", "subAttributes": [
                {"name": "serial", "type": "string", "mutability": "immutable", "caseExact": true},
                {"name": "colour", "type": "string"}
            ]}]
        }))
        .unwrap(),
    );
    let old = json!({"urn:example:scim:1.0:Badge": {"badge": {"serial": "S1", "colour": "red"}}});
    let recoloured =
        json!({"urn:example:scim:1.0:Badge": {"badge": {"serial": "S1", "colour": "blue"}}});
    let reissued =
        json!({"urn:example:scim:1.0:Badge": {"badge": {"serial": "s1", "colour": "red"}}});
    assert!(check_immutable(&old, &recoloured, &schema).is_ok());
    let e = check_immutable(&old, &reissued, &schema).unwrap_err();
    assert!(e.detail.contains("badge.serial"), "{}", e.detail);
}

#[test]
fn required_attributes() {
    let users = user_schema();
    assert!(check_required(&json!({"userName": "a"}), &users).is_ok());
    for bad in [
        json!({}),
        json!({"userName": null}),
        json!({"userName": ""}),
        json!({"userName": "  "}),
    ] {
        let e = check_required(&bad, &users).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("userName"), "{}", e.detail);
    }
    let groups = group_schema();
    assert!(check_required(&json!({"displayName": "G", "members": []}), &groups).is_ok());
    assert!(check_required(&json!({"members": []}), &groups)
        .unwrap_err()
        .detail
        .contains("displayName"));
}

fn stored_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "u-1",
        "userName": "a",
        "password": "secret",
        "name": {"givenName": "G", "familyName": "F"},
        "emails": [{"value": "a@x", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
        ENTERPRISE_SCHEMA: {"employeeNumber": "E07", "department": "R"}
    })
}

fn list(text: &str) -> Vec<AttrPath> {
    parse_attr_list(text).unwrap()
}

#[test]
fn project_by_default_hides_never_returned_attributes() {
    let out = project(stored_user(), &[], &[], &user_schema());
    let mut expected = stored_user();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expected);
}

#[test]
fn project_attributes_selects_with_always_returned_kept() {
    let schema = user_schema();
    let out = project(
        stored_user(),
        &list(&format!("{ENTERPRISE_SCHEMA}:employeeNumber")),
        &[],
        &schema,
    );
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "id": "u-1", ENTERPRISE_SCHEMA: {"employeeNumber": "E07"}})
    );
    let out = project(
        stored_user(),
        &list("name.givenName,emails.value,password"),
        &[],
        &schema,
    );
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "id": "u-1", "name": {"givenName": "G"}, "emails": [{"value": "a@x"}]})
    );
    let out = project(
        stored_user(),
        &list(&format!("userName,meta,{ENTERPRISE_SCHEMA}")),
        &[],
        &schema,
    );
    assert_eq!(out["meta"], stored_user()["meta"]);
    assert_eq!(out[ENTERPRISE_SCHEMA], stored_user()[ENTERPRISE_SCHEMA]);
    assert!(out.get("name").is_none());
    let out = project(stored_user(), &list("id"), &[], &schema);
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "id": "u-1"})
    );
}

#[test]
fn project_excluded_attributes() {
    let groups = group_schema();
    let group = json!({"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "G", "members": [{"value": "u-1"}]});
    assert_eq!(
        project(group.clone(), &[], &list("members"), &groups),
        json!({"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "G"})
    );
    assert_eq!(
        project(group.clone(), &[], &list("id,displayName"), &groups),
        json!({"schemas": [GROUP_SCHEMA], "id": "g-1", "members": [{"value": "u-1"}]})
    );

    let users = user_schema();
    let out = project(
        stored_user(),
        &[],
        &list(&format!(
            "name.familyName,emails.primary,{ENTERPRISE_SCHEMA}"
        )),
        &users,
    );
    assert_eq!(out["name"], json!({"givenName": "G"}));
    assert_eq!(out["emails"], json!([{"value": "a@x", "type": "work"}]));
    assert!(out.get(ENTERPRISE_SCHEMA).is_none());
    let out = project(stored_user(), &[], &list("manager"), &users);
    assert_eq!(out[ENTERPRISE_SCHEMA], stored_user()[ENTERPRISE_SCHEMA]);
}

#[test]
fn project_request_returned_attributes_only_when_asked() {
    let mut schema = user_schema();
    schema.extensions.push(
        schema_from_json(&json!({
            "id": "urn:example:scim:1.0:Audit",
            "attributes": [{"name": "trail", "type": "string", "returned": "request"}, {"name": "note", "type": "string"}]
        }))
        .unwrap(),
    );
    let mut resource = stored_user();
    resource["urn:example:scim:1.0:Audit"] = json!({"trail": "t", "note": "n"});
    let out = project(resource.clone(), &[], &[], &schema);
    assert_eq!(out["urn:example:scim:1.0:Audit"], json!({"note": "n"}));
    let out = project(resource.clone(), &list("trail"), &[], &schema);
    assert_eq!(out["urn:example:scim:1.0:Audit"], json!({"trail": "t"}));
}
