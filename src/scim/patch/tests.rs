use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::scim::attr::testing::{group_schema, user_schema, X8_SCHEMA};
use crate::scim::error::ScimType;
use crate::scim::filter::parse_filter;
use crate::scim::schema::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA};

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Parses and applies `ops` with `options`; returns the result and the rules that fired.
fn run_with(
    resource: &Value,
    ops: Value,
    schema: &ResourceSchema,
    options: &DialectOptions,
) -> Result<(Value, Vec<&'static str>), ScimError> {
    let mut applied = Normalisations::new();
    let parsed = parse_patch_request(&body(ops), schema, options, &mut applied)?;
    let out = apply_patch(resource, &parsed, schema, options, &mut applied)?;
    Ok((out, applied.names().to_vec()))
}

fn run(
    resource: &Value,
    ops: Value,
    schema: &ResourceSchema,
) -> Result<(Value, Vec<&'static str>), ScimError> {
    run_with(resource, ops, schema, &DialectOptions::default())
}

fn ok(resource: &Value, ops: Value, schema: &ResourceSchema) -> Value {
    run(resource, ops, schema)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

fn err(resource: &Value, ops: Value, schema: &ResourceSchema) -> ScimError {
    match run(resource, ops, schema) {
        Ok((out, _)) => panic!("expected an error, got {out}"),
        Err(e) => e,
    }
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, X8_SCHEMA],
        "id": "u-1001",
        "externalId": "e05",
        "userName": "jamie@example.com",
        "displayName": "Jamie Doe",
        "active": true,
        "title": "Support Engineer",
        "name": {"givenName": "Jamie", "familyName": "Doe"},
        "emails": [{"primary": true, "type": "work", "value": "jamie@example.com"}],
        "phoneNumbers": [{"type": "work", "value": "+15550100002"}],
        ENTERPRISE_SCHEMA: {"department": "Support"},
        X8_SCHEMA: {"site": "HQ-East"},
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z"}
    })
}

fn group(members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "g-501",
        "displayName": "Support Team",
        "members": members,
        "meta": {"resourceType": "Group"}
    })
}

fn member_ids(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["value"].as_str()).collect())
        .unwrap_or_default()
}

// ---- PATCH paths ----

#[test]
fn too_many_operations_are_refused_before_any_applies() {
    let one = json!({"op": "add", "path": "emails", "value": [{"type": "work", "value": "a@x"}]});
    let ops = Value::Array(vec![one.clone(); request::MAX_OPERATIONS + 1]);
    let e = err(&user(), ops, &user_schema());
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{e}");
    let ops = Value::Array(vec![one; request::MAX_OPERATIONS]);
    ok(&user(), ops, &user_schema());
}

#[test]
fn a_member_filter_that_matches_nothing_is_no_target_not_an_upsert() {
    let ops = json!([{"op": "replace", "path": "members[value eq \"9\"].value", "value": "2"}]);
    let e = err(&group(&["1"]), ops, &group_schema());
    assert_eq!(e.scim_type, Some(ScimType::NoTarget), "{e}");
}

#[test]
fn parses_patch_paths() {
    let limits = FilterLimits::default();
    let typed = parse_patch_path(r#"emails[type eq "work"].value"#, &limits).unwrap();
    assert_eq!(typed.attr, AttrPath::simple("emails"));
    assert_eq!(
        typed.filter,
        Some(parse_filter(r#"type eq "work""#, &limits).unwrap())
    );
    assert_eq!(typed.sub.as_deref(), Some("value"));

    let dotted = parse_patch_path("name.givenName", &limits).unwrap();
    assert_eq!(dotted.attr, AttrPath::parse("name.givenName").unwrap());
    assert_eq!((dotted.filter, dotted.sub), (None, None));

    let urn = parse_patch_path(&format!("{ENTERPRISE_SCHEMA}:manager"), &limits).unwrap();
    assert_eq!(urn.attr.urn.as_deref(), Some(ENTERPRISE_SCHEMA));
    assert_eq!(urn.attr.name, "manager");

    let members = parse_patch_path(r#" members[value eq "u-1"] "#, &limits).unwrap();
    assert_eq!(members.to_string(), r#"members[value eq "u-1"]"#);
}

#[test]
fn bad_patch_paths_report_positions() {
    let limits = FilterLimits::default();
    let cases = [
        (r#"emails[type eq "work""#, 6, "unclosed '['"),
        (r#"emails[type eq "work"]."#, 23, "after '.'"),
        ("name.givenName[x pr]", 14, "must follow an attribute name"),
        ("title x", 6, "unexpected 'x' after the path"),
        ("", 0, "expected an attribute name"),
        (
            r#"emails[type eq]"#,
            12,
            "expected a comparison value after 'eq'",
        ),
    ];
    for (input, position, fragment) in cases {
        let e = parse_patch_path(input, &limits).unwrap_err();
        assert_eq!(e.position, position, "{input}: {e}");
        assert!(e.message.contains(fragment), "{input}: {e}");
    }
}

// ---- request errors ----

#[test]
fn rejects_bodies_that_are_not_patch_ops() {
    let schema = user_schema();
    let options = DialectOptions::default();
    let parse = |b: Value| parse_patch_request(&b, &schema, &options, &mut Normalisations::new());
    let kind = |b: Value| parse(b).unwrap_err().scim_type;
    assert_eq!(kind(json!([])), Some(ScimType::InvalidSyntax));
    assert_eq!(
        kind(json!({"schemas": [PATCH_OP]})),
        Some(ScimType::InvalidSyntax)
    );
    assert_eq!(
        kind(json!({"schemas": [PATCH_OP], "Operations": {}})),
        Some(ScimType::InvalidSyntax)
    );
    assert_eq!(
        kind(
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "title", "value": "t"}]})
        ),
        Some(ScimType::InvalidSyntax)
    );
    assert_eq!(
        kind(json!({"schemas": [PATCH_OP], "Operations": []})),
        Some(ScimType::InvalidValue)
    );
    assert_eq!(
        kind(body(json!([{"op": "frob", "path": "title"}]))),
        Some(ScimType::InvalidSyntax)
    );
    assert_eq!(
        kind(body(json!([{"path": "title", "value": "x"}]))),
        Some(ScimType::InvalidSyntax)
    );
    assert_eq!(kind(body(json!(["add"]))), Some(ScimType::InvalidSyntax));
    assert_eq!(
        kind(body(json!([{"op": "remove"}]))),
        Some(ScimType::NoTarget)
    );
}

#[test]
fn a_missing_schemas_member_is_tolerated_but_recorded() {
    let schema = user_schema();
    let lenient = DialectOptions::default();
    let mut applied = Normalisations::new();
    let b = json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    assert_eq!(
        parse_patch_request(&b, &schema, &lenient, &mut applied)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(applied.names(), ["patch_schemas_optional"]);
    let strict = DialectOptions::strict();
    let e = parse_patch_request(&b, &schema, &strict, &mut Normalisations::new()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn bad_and_unknown_paths_are_invalid_path() {
    let schema = user_schema();
    let e = err(
        &user(),
        json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    assert!(e.detail.contains("Operations[0]"), "{}", e.detail);
    assert!(e.detail.contains("emails[type eq]"), "{}", e.detail);
    assert!(e.detail.contains("at position 12"), "{}", e.detail);

    for path in [
        "nosuch",
        "name.nosuch",
        "title[value eq \"x\"]",
        "emails[nosuch eq \"x\"]",
        "emails[type eq \"work\"].nosuch",
        "urn:example:nope:1.0:User:site",
    ] {
        let e = err(
            &user(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
            &schema,
        );
        assert_eq!(
            e.scim_type,
            Some(ScimType::InvalidPath),
            "{path}: {}",
            e.detail
        );
    }
    let e = err(
        &user(),
        json!([{"op": "add", "path": "emails.value", "value": "x"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
}

#[test]
fn wrong_value_types_are_invalid_value() {
    let schema = user_schema();
    for (path, value) in [
        ("title", json!({"a": 1})),
        ("userName", json!(42)),
        ("active", json!("maybe")),
        ("emails", json!([{"value": 5}])),
        ("name", json!("Jamie")),
        ("meta.lastModified", json!("yesterday")),
    ] {
        let e = err(
            &user(),
            json!([{"op": "replace", "path": path, "value": value}]),
            &schema,
        );
        assert_eq!(
            e.scim_type,
            Some(ScimType::InvalidValue),
            "{path}: {}",
            e.detail
        );
    }
    let e = err(
        &user(),
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        &schema,
    );
    assert!(
        e.detail.contains("'active' must be a boolean"),
        "{}",
        e.detail
    );
    let e = err(
        &user(),
        json!([{"op": "replace", "path": "title"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

// ---- Entra ----

#[test]
fn entra_07_default_dialect_update() {
    let (out, fired) = run(
        &user(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jamie.d@example.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Doe-Smith"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+15550100009"},
            {"op": "Replace", "path": format!("{ENTERPRISE_SCHEMA}:department"), "value": "Sales"}
        ]),
        &user_schema(),
    )
    .unwrap();
    assert_eq!(
        out["emails"],
        json!([{"primary": true, "type": "work", "value": "jamie.d@example.com"}])
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Jamie", "familyName": "Doe-Smith"})
    );
    assert_eq!(
        out["phoneNumbers"],
        json!([{"type": "work", "value": "+15550100002"}, {"type": "mobile", "value": "+15550100009"}])
    );
    assert_eq!(out[ENTERPRISE_SCHEMA], json!({"department": "Sales"}));
    assert_eq!(fired, ["op_case", "value_filter_upsert"]);
}

#[test]
fn entra_08_pathless_dotted_keys() {
    let schema = user_schema();
    let ops = json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "e08@example.com"},
        {"op": "replace", "value": {
            "displayName": "Jamie Doe X",
            "name.givenName": "Jamie",
            "name.familyName": "Doe",
            format!("{ENTERPRISE_SCHEMA}:employeeNumber"): "E-1"
        }}
    ]);
    let mut applied = Normalisations::new();
    let parsed = parse_patch_request(
        &body(ops.clone()),
        &schema,
        &DialectOptions::default(),
        &mut applied,
    )
    .unwrap();
    assert_eq!(parsed.len(), 5, "one operation per key");
    assert!(parsed.iter().all(|op| op.path.is_some()));
    assert_eq!(applied.names(), ["dotted_keys"]);

    let (out, _) = run(&user(), ops.clone(), &schema).unwrap();
    assert_eq!(out["displayName"], "Jamie Doe X");
    assert_eq!(
        out["name"],
        json!({"givenName": "Jamie", "familyName": "Doe"})
    );
    assert_eq!(
        out[ENTERPRISE_SCHEMA],
        json!({"department": "Support", "employeeNumber": "E-1"})
    );
    assert_eq!(out["emails"][0]["value"], "e08@example.com");
    let obj = out.as_object().unwrap();
    assert!(!obj.contains_key("name.givenName") && !obj.contains_key("name.familyName"));
    assert!(!obj.contains_key(&format!("{ENTERPRISE_SCHEMA}:employeeNumber")));

    // With the rule off the operation stays path-less and the core still reads the keys as paths.
    let no_split = DialectOptions {
        dotted_keys: false,
        ..DialectOptions::default()
    };
    let (same, fired) = run_with(&user(), ops, &schema, &no_split).unwrap();
    assert_eq!(same, out);
    assert!(!fired.contains(&"dotted_keys"));
}

#[test]
fn br_14_add_with_a_dotted_key_merges_into_name() {
    let out = ok(
        &user(),
        json!([{"op": "Add", "value": {"name.givenName": "Kirsten"}}]),
        &user_schema(),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Kirsten", "familyName": "Doe"})
    );
}

#[test]
fn entra_09_string_booleans() {
    let schema = user_schema();
    let (off, fired) = run(
        &user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(off["active"], json!(false));
    assert_eq!(fired, ["op_case", "string_booleans"]);
    let on = ok(
        &off,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
        &schema,
    );
    assert_eq!(on["active"], json!(true));
    let off = ok(
        &on,
        json!([{"op": "replace", "path": "active", "value": false}]),
        &schema,
    );
    assert_eq!(off["active"], json!(false));

    let strict = DialectOptions::strict();
    let e = run_with(
        &user(),
        json!([{"op": "replace", "path": "active", "value": "False"}]),
        &schema,
        &strict,
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn entra_10_immutable_site() {
    let schema = user_schema();
    let path = format!("{X8_SCHEMA}:site");
    let e = err(
        &user(),
        json!([{"op": "Replace", "path": path, "value": "HQ-West"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(e.detail.contains("site"), "{}", e.detail);
    assert_eq!(
        ok(
            &user(),
            json!([{"op": "replace", "path": path, "value": "HQ-East"}]),
            &schema
        ),
        user()
    );
    let e = err(&user(), json!([{"op": "remove", "path": path}]), &schema);
    assert_eq!(e.scim_type, Some(ScimType::Mutability));

    let mut fresh = user();
    fresh.as_object_mut().unwrap().remove(X8_SCHEMA);
    let set = ok(
        &fresh,
        json!([{"op": "add", "path": path, "value": "HQ-West"}]),
        &schema,
    );
    assert_eq!(set[X8_SCHEMA]["site"], "HQ-West");
}

#[test]
fn entra_11_manager_in_all_shapes() {
    let schema = user_schema();
    let manager_path = format!("{ENTERPRISE_SCHEMA}:manager");
    let manager = |v: &Value| v[ENTERPRISE_SCHEMA].get("manager").cloned();

    let (set, fired) = run(
        &user(),
        json!([{"op": "Add", "path": manager_path, "value": "m-1"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(manager(&set), Some(json!({"value": "m-1"})));
    assert!(fired.contains(&"complex_from_string"));

    let legacy = ok(
        &set,
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": "https://gw/Users/m-2", "value": "m-2"}]}]),
        &schema,
    );
    assert_eq!(
        manager(&legacy),
        Some(json!({"$ref": "https://gw/Users/m-2", "value": "m-2"}))
    );

    // A filter naming another manager neither removes nor replaces.
    assert_eq!(
        ok(
            &legacy,
            json!([{"op": "remove", "path": "manager[value eq \"m-9\"]"}]),
            &schema
        ),
        legacy
    );
    let e = err(
        &legacy,
        json!([{"op": "replace", "path": "manager[value eq \"m-9\"]", "value": {"value": "m-3"}}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));

    let removed = ok(
        &legacy,
        json!([{"op": "remove", "path": "manager[value eq \"m-2\"]"}]),
        &schema,
    );
    assert_eq!(manager(&removed), None);
    assert_eq!(removed[ENTERPRISE_SCHEMA]["department"], "Support");

    let object = ok(
        &removed,
        json!([{"op": "replace", "path": manager_path, "value": {"value": "m-1"}}]),
        &schema,
    );
    assert_eq!(manager(&object), Some(json!({"value": "m-1"})));

    let (cleared, fired) = run(
        &object,
        json!([{"op": "Replace", "path": manager_path, "value": ""}]),
        &schema,
    )
    .unwrap();
    assert_eq!(manager(&cleared), None);
    assert!(fired.contains(&"empty_clears"));
    let cleared = ok(
        &object,
        json!([{"op": "replace", "path": manager_path, "value": null}]),
        &schema,
    );
    assert_eq!(manager(&cleared), None);
}

#[test]
fn a_new_manager_value_drops_the_old_managers_details() {
    let schema = user_schema();
    let mut with_ref = user();
    with_ref[ENTERPRISE_SCHEMA]["manager"] =
        json!({"value": "m-1", "$ref": "https://gw/Users/m-1", "displayName": "Boss"});
    let out = ok(
        &with_ref,
        json!([{"op": "replace", "path": "manager.value", "value": "m-2"}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m-2"}));
    let out = ok(
        &with_ref,
        json!([{"op": "replace", "path": "manager", "value": {"value": "m-2"}}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m-2"}));
    let out = ok(
        &with_ref,
        json!([{"op": "replace", "path": "manager", "value": {"value": "m-1", "$ref": "r"}}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA]["manager"]["displayName"], "Boss");
    assert_eq!(out[ENTERPRISE_SCHEMA]["manager"]["$ref"], "r");
}

#[test]
fn br_12_and_br_15_simple_and_extension_paths() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([
            {"op": "Replace", "path": "active", "value": false},
            {"op": "Add", "path": "displayName", "value": "After"},
            {"op": "Replace", "path": format!("{ENTERPRISE_SCHEMA}:department"), "value": "Finance"},
            {"op": "Add", "path": format!("{ENTERPRISE_SCHEMA}:costCenter"), "value": "CC-200"}
        ]),
        &schema,
    );
    assert_eq!(
        (out["active"].clone(), out["displayName"].clone()),
        (json!(false), json!("After"))
    );
    assert_eq!(
        out[ENTERPRISE_SCHEMA],
        json!({"department": "Finance", "costCenter": "CC-200"})
    );
    let out = ok(
        &out,
        json!([{"op": "Remove", "path": format!("{ENTERPRISE_SCHEMA}:costCenter")}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA], json!({"department": "Finance"}));
}

#[test]
fn br_18_add_creates_the_typed_email_then_replace_updates_it() {
    let schema = user_schema();
    let mut bare = user();
    bare.as_object_mut().unwrap().remove("emails");
    let added = ok(
        &bare,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@example.org"}]),
        &schema,
    );
    assert_eq!(
        added["emails"],
        json!([{"type": "work", "value": "a@example.org"}])
    );
    let replaced = ok(
        &added,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.org"}]),
        &schema,
    );
    assert_eq!(
        replaced["emails"],
        json!([{"type": "work", "value": "b@example.org"}])
    );
}

#[test]
fn upsert_needs_the_rule_and_an_eq_filter() {
    let schema = user_schema();
    let add_mobile =
        json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1"}]);
    let strict = DialectOptions::strict();
    let e = run_with(&user(), add_mobile, &schema, &strict).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = err(
        &user(),
        json!([{"op": "replace", "path": "phoneNumbers[type ne \"work\"].value", "value": "+1"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let out = ok(
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"value": "h@example.com", "primary": true}}]),
        &schema,
    );
    assert_eq!(
        out["emails"],
        json!([
            {"primary": false, "type": "work", "value": "jamie@example.com"},
            {"primary": true, "type": "home", "value": "h@example.com"}
        ])
    );
}

#[test]
fn entra_15_add_members_twice_is_a_no_op() {
    let schema = group_schema();
    let add = json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u-1"}, {"$ref": null, "value": "u-2"}]}]);
    let once = ok(&group(&[]), add.clone(), &schema);
    assert_eq!(once["members"], json!([{"value": "u-1"}, {"value": "u-2"}]));
    assert_eq!(ok(&once, add, &schema), once);
    let again = ok(
        &once,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u-1"}]}]),
        &schema,
    );
    assert_eq!(again, once);
    // members.value is caseExact: another spelling is another member.
    let other = ok(
        &once,
        json!([{"op": "add", "path": "members", "value": [{"value": "U-1"}]}]),
        &schema,
    );
    assert_eq!(member_ids(&other), ["u-1", "u-2", "U-1"]);
}

#[test]
fn add_skips_elements_already_there_by_the_attributes_own_equality() {
    let schema = user_schema();
    // emails.value is not caseExact: another spelling of an existing or just-added address
    // is the same element.
    let out = ok(
        &user(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "JAMIE@example.com", "type": "work"},
            {"value": "b@example.com", "type": "home"},
            {"value": "B@EXAMPLE.COM", "type": "home"}
        ]}]),
        &schema,
    );
    let values: Vec<&str> = out["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(values, ["jamie@example.com", "b@example.com"]);
}

#[test]
fn entra_16_member_removal_in_both_dialects() {
    let schema = group_schema();
    let (out, fired) = run(
        &group(&["u-1", "u-2", "u-3"]),
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u-2"}]}]),
        &schema,
    )
    .unwrap();
    assert_eq!(member_ids(&out), ["u-1", "u-3"]);
    assert!(fired.contains(&"remove_value_array"));
    let out = ok(
        &out,
        json!([{"op": "remove", "path": "members[value eq \"u-3\"]"}]),
        &schema,
    );
    assert_eq!(member_ids(&out), ["u-1"]);
    let out = ok(&out, json!([{"op": "remove", "path": "members"}]), &schema);
    assert!(out.get("members").is_none());

    // BR-17: removing several listed members, one of them absent, never clears the group.
    let out = ok(
        &group(&["u-1", "u-2", "u-3"]),
        json!([{"op": "Remove", "path": "members", "value": [{"value": "u-1"}, {"value": "u-9"}, {"value": "u-3"}]}]),
        &schema,
    );
    assert_eq!(member_ids(&out), ["u-2"]);

    // Strict mode refuses rather than wiping the group.
    let strict = DialectOptions::strict();
    let e = run_with(
        &group(&["u-1", "u-2"]),
        json!([{"op": "remove", "path": "members", "value": [{"value": "u-2"}]}]),
        &schema,
        &strict,
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn the_value_array_form_works_for_any_multi_valued_attribute() {
    let mut u = user();
    u["emails"] = json!([{"type": "work", "value": "a@x"}, {"type": "home", "value": "b@x"}]);
    let out = ok(
        &u,
        json!([{"op": "Remove", "path": "emails", "value": [{"value": "B@X"}]}]),
        &user_schema(),
    );
    assert_eq!(out["emails"], json!([{"type": "work", "value": "a@x"}]));
}

#[test]
fn okta_07_pathless_active_and_password() {
    let schema = user_schema();
    let off = ok(
        &user(),
        json!([{"op": "replace", "value": {"active": false}}]),
        &schema,
    );
    assert_eq!(off["active"], json!(false));
    let on = ok(
        &off,
        json!([{"op": "replace", "value": {"active": true}}]),
        &schema,
    );
    assert_eq!(on["active"], json!(true));
    let pw = ok(
        &on,
        json!([{"op": "replace", "value": {"password": "Tmp-Example-2"}}]),
        &schema,
    );
    assert_eq!(pw["password"], "Tmp-Example-2");
    let (string, fired) = run(
        &user(),
        json!([{"op": "replace", "value": {"active": "False"}}]),
        &schema,
    )
    .unwrap();
    assert_eq!(string["active"], json!(false));
    assert_eq!(fired, ["string_booleans"]);
}

#[test]
fn okta_09_membership_delta_and_rename_with_id() {
    let schema = group_schema();
    let out = ok(
        &group(&["u-2"]),
        json!([
            {"op": "remove", "path": "members[value eq \"u-2\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u-1", "display": "o09a@example.com"}]}
        ]),
        &schema,
    );
    // members.display is readOnly: dropped from client input.
    assert_eq!(out["members"], json!([{"value": "u-1"}]));

    let renamed = ok(
        &out,
        json!([{"op": "replace", "value": {"id": "g-501", "displayName": "Support Team EMEA"}}]),
        &schema,
    );
    assert_eq!(renamed["displayName"], "Support Team EMEA");
    assert_eq!(renamed["id"], "g-501");
    assert_eq!(renamed["members"], out["members"]);

    let e = err(
        &out,
        json!([{"op": "replace", "value": {"id": "g-999", "displayName": "X"}}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

#[test]
fn okta_10_and_entra_17_replace_members_and_rename() {
    let schema = group_schema();
    let out = ok(
        &group(&["u-1", "u-2"]),
        json!([{"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-3"}]}]),
        &schema,
    );
    assert_eq!(member_ids(&out), ["u-1", "u-3"]);
    let out = ok(
        &out,
        json!([{"op": "Replace", "path": "displayName", "value": "Support Team EMEA"}]),
        &schema,
    );
    assert_eq!(out["displayName"], "Support Team EMEA");
    let out = ok(
        &out,
        json!([{"op": "replace", "path": "members", "value": []}]),
        &schema,
    );
    assert!(out.get("members").is_none());
}

#[test]
fn read_only_attributes_accept_only_their_current_value() {
    let schema = user_schema();
    assert_eq!(
        ok(
            &user(),
            json!([{"op": "replace", "path": "id", "value": "u-1001"}]),
            &schema
        ),
        user()
    );
    assert_eq!(
        ok(
            &user(),
            json!([{"op": "replace", "path": "meta", "value": {"resourceType": "User"}}]),
            &schema
        ),
        user()
    );
    for (path, value) in [
        ("id", json!("u-2")),
        ("meta.resourceType", json!("Group")),
        ("groups", json!([{"value": "g-1"}])),
    ] {
        let e = err(
            &user(),
            json!([{"op": "replace", "path": path, "value": value}]),
            &schema,
        );
        assert_eq!(e.scim_type, Some(ScimType::Mutability), "{path}");
    }
    let e = err(&user(), json!([{"op": "remove", "path": "id"}]), &schema);
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

#[test]
fn primary_true_is_unique() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "h@x", "type": "home", "primary": "True"}]}]),
        &schema,
    );
    assert_eq!(out["emails"][0]["primary"], json!(false));
    assert_eq!(out["emails"][1]["primary"], json!(true));
    let back = ok(
        &out,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}]),
        &schema,
    );
    assert_eq!(back["emails"][0]["primary"], json!(true));
    assert_eq!(back["emails"][1]["primary"], json!(false));
    let e = err(
        &user(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn a_failing_operation_applies_nothing() {
    let schema = user_schema();
    let original = user();
    let ops = json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "active", "value": "maybe"}
    ]);
    let mut applied = Normalisations::new();
    let options = DialectOptions::default();
    let parsed = parse_patch_request(&body(ops), &schema, &options, &mut applied).unwrap();
    let e = apply_patch(&original, &parsed, &schema, &options, &mut applied).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert_eq!(original, user());
    // The first two operations alone do change the resource.
    let partial = apply_patch(&original, &parsed[..2], &schema, &options, &mut applied).unwrap();
    assert_eq!(partial["title"], "Changed");
    assert!(partial.get("emails").is_none());
}

#[test]
fn removal_of_sub_attributes_and_last_elements() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": "name.givenName"}]),
        &schema,
    );
    assert_eq!(out["name"], json!({"familyName": "Doe"}));
    let out = ok(
        &out,
        json!([{"op": "remove", "path": "name.familyName"}]),
        &schema,
    );
    assert!(out.get("name").is_none());
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        &schema,
    );
    assert!(out.get("emails").is_none(), "no empty array left behind");
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": "emails.primary"}]),
        &schema,
    );
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "value": "jamie@example.com"}])
    );
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        &schema,
    );
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "value": "jamie@example.com"}])
    );
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": ENTERPRISE_SCHEMA}]),
        &schema,
    );
    assert!(out.get(ENTERPRISE_SCHEMA).is_none());
    let out = ok(
        &user(),
        json!([{"op": "remove", "path": format!("{ENTERPRISE_SCHEMA}:department")}]),
        &schema,
    );
    assert!(
        out.get(ENTERPRISE_SCHEMA).is_none(),
        "an emptied extension object is dropped"
    );
}

#[test]
fn null_and_empty_string_clear_simple_attributes() {
    let schema = user_schema();
    for value in [json!(null), json!("")] {
        for op in ["replace", "add"] {
            let out = ok(
                &user(),
                json!([{"op": op, "path": "title", "value": value}]),
                &schema,
            );
            assert!(out.get("title").is_none(), "{op} {value}");
        }
    }
    let out = ok(
        &user(),
        json!([{"op": "replace", "path": "name.givenName", "value": ""}]),
        &schema,
    );
    assert_eq!(out["name"], json!({"familyName": "Doe"}));
    let out = ok(
        &user(),
        json!([{"op": "replace", "value": {"title": null, "displayName": ""}}]),
        &schema,
    );
    assert!(out.get("title").is_none() && out.get("displayName").is_none());
}

#[test]
fn add_on_single_valued_sets_and_replace_on_lists_replaces() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"op": "add", "path": "title", "value": "Lead"}]),
        &schema,
    );
    assert_eq!(out["title"], "Lead");
    let out = ok(
        &user(),
        json!([{"op": "replace", "path": "phoneNumbers", "value": [{"type": "home", "value": "+2"}]}]),
        &schema,
    );
    assert_eq!(
        out["phoneNumbers"],
        json!([{"type": "home", "value": "+2"}])
    );
    let out = ok(
        &user(),
        json!([{"op": "add", "path": "name", "value": {"middleName": "Q", "GIVENNAME": "J"}}]),
        &schema,
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "J", "familyName": "Doe", "middleName": "Q"})
    );
    // Values are stored exactly as sent.
    let out = ok(
        &user(),
        json!([{"op": "replace", "path": "displayName", "value": "  Mixed CASE  "}]),
        &schema,
    );
    assert_eq!(out["displayName"], "  Mixed CASE  ");
}

#[test]
fn whole_extension_objects_merge() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"costCenter": "C1"}}]),
        &schema,
    );
    assert_eq!(
        out[ENTERPRISE_SCHEMA],
        json!({"department": "Support", "costCenter": "C1"})
    );
    let out = ok(
        &user(),
        json!([{"op": "replace", "value": {ENTERPRISE_SCHEMA: {"manager": "m-1"}}}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m-1"}));
    let e = err(
        &user(),
        json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": "x"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));

    let mut core_only = user();
    let obj = core_only.as_object_mut().unwrap();
    obj.remove(ENTERPRISE_SCHEMA);
    obj.remove(X8_SCHEMA);
    obj.insert("schemas".into(), json!([USER_SCHEMA]));
    let out = ok(
        &core_only,
        json!([{"op": "add", "path": "department", "value": "D"}]),
        &schema,
    );
    assert_eq!(out[ENTERPRISE_SCHEMA], json!({"department": "D"}));
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
}

#[test]
fn unknown_pathless_keys_are_ignored_and_roles_unpacked() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"op": "replace", "value": {"nosuch": 1, "schemas": ["x"], "title": "T"}}]),
        &schema,
    );
    assert_eq!(out["title"], "T");
    assert!(out.get("nosuch").is_none());
    assert_eq!(out["schemas"], user()["schemas"]);

    let (out, fired) = run(
        &user(),
        json!([{"op": "Add", "path": "roles", "value": [{"value": "{\"id\":\"r1\",\"value\":\"25\",\"displayName\":\"Role25\"}"}]}]),
        &schema,
    )
    .unwrap();
    assert_eq!(out["roles"], json!([{"value": "25", "display": "Role25"}]));
    assert!(fired.contains(&"roles_json_string"));
}

#[test]
fn client_key_spelling_is_canonicalised() {
    let schema = user_schema();
    let out = ok(
        &user(),
        json!([{"OP": "replace", "PATH": "Emails[Type eq \"work\"].Value", "VALUE": "x@y"}, {"op": "add", "path": "USERNAME", "value": "New"}]),
        &schema,
    );
    assert_eq!(out["emails"][0]["value"], "x@y");
    assert_eq!(out["userName"], "New");
    let mut odd = user();
    let obj = odd.as_object_mut().unwrap();
    let title = obj.remove("title").unwrap();
    obj.insert("TITLE".into(), title);
    let out = ok(
        &odd,
        json!([{"op": "replace", "path": "title", "value": "Z"}]),
        &schema,
    );
    assert_eq!(out["title"], "Z");
    assert!(out.get("TITLE").is_none());
}

// ---- properties ----

fn patch_path_input() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("emails"),
        Just("members"),
        Just("name.givenName"),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        Just("["),
        Just("]"),
        Just("("),
        Just(")"),
        Just(".value"),
        Just(" type eq "),
        Just("\"work\""),
        Just(" and "),
        Just(" not "),
        Just("pr"),
    ];
    prop_oneof![
        proptest::collection::vec(token, 0..20).prop_map(|t| t.concat()),
        "\\PC{0,80}",
        (0usize..10_000).prop_map(|n| format!("emails{}", "[(".repeat(n))),
    ]
}

fn op_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!("")),
        Just(json!("x")),
        Just(json!("True")),
        Just(json!(3)),
        Just(json!([{"value": "u-1"}])),
        Just(json!([{"value": "u-1", "primary": true}, "junk", null])),
        Just(json!({"value": "v", "type": "work"})),
        Just(json!({"name.givenName": "g", "active": "false", "id": "u-1001"})),
        Just(json!({ENTERPRISE_SCHEMA: {"manager": "m"}})),
    ]
}

proptest! {
    #[test]
    fn patch_path_parser_never_panics_and_round_trips(input in patch_path_input()) {
        if let Ok(path) = parse_patch_path(&input, &FilterLimits::default()) {
            let big = FilterLimits { max_length: usize::MAX, max_depth: 64 };
            prop_assert_eq!(parse_patch_path(&path.to_string(), &big), Ok(path));
        }
    }

    #[test]
    fn patch_engine_never_panics_and_is_atomic(
        ops in proptest::collection::vec(
            (
                prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("move")],
                proptest::option::of(patch_path_input()),
                proptest::option::of(op_value()),
            ),
            1..6,
        ),
        is_group in any::<bool>(),
    ) {
        let (schema, resource) = if is_group {
            (group_schema(), group(&["u-1", "u-2"]))
        } else {
            (user_schema(), user())
        };
        let ops: Vec<Value> = ops
            .into_iter()
            .map(|(op, path, value)| {
                let mut o = json!({"op": op});
                if let Some(p) = path { o["path"] = json!(p); }
                if let Some(v) = value { o["value"] = v; }
                o
            })
            .collect();
        let options = DialectOptions::default();
        let mut applied = Normalisations::new();
        if let Ok(parsed) = parse_patch_request(&body(Value::Array(ops)), &schema, &options, &mut applied) {
            if let Ok(out) = apply_patch(&resource, &parsed, &schema, &options, &mut applied) {
                prop_assert!(out.is_object());
                // `id` is readOnly: no operation list can change it.
                prop_assert_eq!(out.get("id"), resource.get("id"));
            }
        }
    }
}

#[test]
fn a_filtered_path_without_sub_attribute_takes_an_object() {
    let schema = user_schema();
    let e = err(
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": "h@x"}]),
        &schema,
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let out = ok(
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"display": "Work"}}]),
        &schema,
    );
    // Matching elements are updated sub-attribute-wise; `type` and `value` stay.
    assert_eq!(
        out["emails"],
        json!([{"primary": true, "type": "work", "value": "jamie@example.com", "display": "Work"}])
    );
}

/// A valid PATCH path: `attr`, `attr.sub`, URN-qualified, or `attr[filter]` with an optional `.sub`.
fn gen_patch_path() -> impl Strategy<Value = PatchPath> {
    use crate::scim::filter::tests::{gen_filter, gen_name, gen_path};
    prop_oneof![
        gen_path().prop_map(|attr| PatchPath {
            attr,
            filter: None,
            sub: None,
        }),
        (
            proptest::option::of(Just(ENTERPRISE_SCHEMA.to_owned())),
            gen_name(),
            gen_filter(gen_name().prop_map(AttrPath::simple).boxed(), false),
            proptest::option::of(gen_name()),
        )
            .prop_map(|(urn, name, filter, sub)| PatchPath {
                attr: AttrPath {
                    urn,
                    name,
                    sub: None
                },
                filter: Some(filter),
                sub,
            }),
    ]
}

proptest! {
    #[test]
    fn a_generated_patch_path_prints_as_text_that_parses_back_to_it(path in gen_patch_path()) {
        let text = path.to_string();
        let limits = FilterLimits { max_length: usize::MAX, max_depth: 1024 };
        prop_assert_eq!(parse_patch_path(&text, &limits), Ok(path), "{}", text);
    }
}

#[test]
fn deeply_nested_patch_paths_fail_fast_without_overflow() {
    let unlimited = FilterLimits {
        max_length: usize::MAX,
        max_depth: usize::MAX,
    };
    for open in ["(", "not(", "not (", "[", "x["] {
        let input = format!(
            "emails[{}type pr{}].value",
            open.repeat(100_000),
            ")".repeat(100_000)
        );
        let started = std::time::Instant::now();
        let err = parse_patch_path(&input, &unlimited).unwrap_err();
        assert!(err.position < input.len(), "{open}: {err}");
        assert!(parse_patch_path(&input, &FilterLimits::default()).is_err());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{open}"
        );
    }
}

/// `user_schema()` cut down to `userName`, `active` and `emails`, remembering the whole.
fn cut_down_user_schema() -> ResourceSchema {
    let whole = user_schema();
    let mut cut = whole.clone();
    cut.core
        .attributes
        .retain(|a| matches!(a.name.as_str(), "userName" | "active" | "emails"));
    cut.extensions.clear();
    cut.whole = Some(std::sync::Arc::new(whole));
    cut
}

#[test]
fn operations_on_unmapped_attributes_are_ignored_and_recorded() {
    let schema = cut_down_user_schema();
    let user = json!({"schemas": [USER_SCHEMA], "userName": "a", "active": true});
    let (out, rules) = run(
        &user,
        json!([
            {"op": "add", "path": "nickName", "value": "Al"},
            {"op": "replace", "path": "name.givenName", "value": "Al"},
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"},
            {"op": "add", "path": format!("{ENTERPRISE_SCHEMA}:department"), "value": "Ops"},
            {"op": "add", "path": "urn:example:undeclared:2.0:User:badge", "value": "7"},
            {"op": "remove", "path": X8_SCHEMA},
            {"op": "replace", "path": "active", "value": false},
        ]),
        &schema,
    )
    .unwrap();
    assert_eq!(out["active"], json!(false));
    assert_eq!(out["userName"], json!("a"));
    assert!(
        out.get("nickName").is_none() && out.get("name").is_none(),
        "{out}"
    );
    assert_eq!(rules, ["unmapped_ignored"]);

    // What no schema has is still refused, and so is everything when the rule is off.
    for (path, options) in [
        ("nickNmae", DialectOptions::default()),
        ("emails[type eq \"work\"].valu", DialectOptions::default()),
        // A typo inside the value filter of a mapped or unmapped attribute.
        ("emails[tpye eq \"work\"].value", DialectOptions::default()),
        (
            "addresses[tpye eq \"work\"].locality",
            DialectOptions::default(),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:nickNmae",
            DialectOptions::default(),
        ),
        ("nickName", DialectOptions::strict()),
    ] {
        let e = run_with(
            &user,
            json!([{"op": "add", "path": path, "value": "x"}]),
            &schema,
            &options,
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{path}: {e}");
    }
}
