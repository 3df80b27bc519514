use serde_json::json;

use super::*;
use crate::scim::attr::testing::{group_schema, user_schema};
use crate::scim::filter::{parse_filter, FilterLimits};
use crate::scim::schema::ENTERPRISE_SCHEMA;

fn normalise(
    value: serde_json::Value,
    options: &DialectOptions,
) -> (serde_json::Value, Vec<&'static str>) {
    let schema = user_schema();
    let mut applied = Normalisations::new();
    let mut obj = value.as_object().cloned().unwrap();
    resource_object(&mut obj, &schema, &mut Dialect::new(options, &mut applied));
    (serde_json::Value::Object(obj), applied.names().to_vec())
}

#[test]
fn all_rules_are_on_by_default_and_named_consistently() {
    let all = DialectOptions::default();
    let none = DialectOptions::strict();
    assert_eq!(Rule::ALL.len(), ALL_RULES.len());
    for (rule, name) in Rule::ALL.iter().zip(ALL_RULES) {
        assert_eq!(rule.name(), *name);
        assert!(all.enabled(*rule));
        assert!(!none.enabled(*rule));
    }
}

#[test]
fn options_deserialise_from_config_with_defaults() {
    let options: DialectOptions =
        serde_json::from_value(json!({"op_case": false, "dotted_keys": false})).unwrap();
    assert!(!options.op_case && !options.dotted_keys);
    assert!(options.string_booleans && options.value_filter_upsert);
    let empty: DialectOptions = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty, DialectOptions::default());
    let err = serde_json::from_value::<DialectOptions>(json!({"op_cse": true})).unwrap_err();
    assert!(err.to_string().contains("op_cse"));
}

#[test]
fn normalisations_name_each_rule_once_in_firing_order() {
    let mut n = Normalisations::new();
    assert!(n.is_empty());
    n.record(Rule::StringBooleans);
    n.record(Rule::OpCase);
    n.record(Rule::StringBooleans);
    assert_eq!(n.names(), ["string_booleans", "op_case"]);
    assert!(n.contains(Rule::OpCase));
    assert!(!n.contains(Rule::DottedKeys));
}

#[test]
fn op_case_lowercases_known_ops_only() {
    let options = DialectOptions::default();
    let mut applied = Normalisations::new();
    let mut d = Dialect::new(&options, &mut applied);
    assert_eq!(op_name("add", &mut d), "add");
    assert_eq!(op_name("Frobnicate", &mut d), "Frobnicate");
    assert!(!d.applied.contains(Rule::OpCase));
    assert_eq!(op_name("REMOVE", &mut d), "remove");
    assert!(applied.contains(Rule::OpCase));

    let strict = DialectOptions::strict();
    let mut applied = Normalisations::new();
    assert_eq!(
        op_name("Replace", &mut Dialect::new(&strict, &mut applied)),
        "Replace"
    );
    assert!(applied.is_empty());
}

#[test]
fn string_booleans_only_where_the_schema_says_boolean() {
    let (out, fired) = normalise(
        json!({"active": "False", "title": "True", "emails": [{"value": "a", "primary": "TRUE"}]}),
        &DialectOptions::default(),
    );
    assert_eq!(
        out,
        json!({"active": false, "title": "True", "emails": [{"value": "a", "primary": true}]})
    );
    assert_eq!(fired, ["string_booleans"]);

    let (out, fired) = normalise(json!({"active": "maybe"}), &DialectOptions::default());
    assert_eq!(out, json!({"active": "maybe"}));
    assert!(fired.is_empty());

    let (out, _) = normalise(json!({"active": "False"}), &DialectOptions::strict());
    assert_eq!(out, json!({"active": "False"}));
}

#[test]
fn manager_string_and_array_become_the_object() {
    let (out, fired) = normalise(
        json!({ENTERPRISE_SCHEMA: {"manager": "u-1"}}),
        &DialectOptions::default(),
    );
    assert_eq!(
        out,
        json!({ENTERPRISE_SCHEMA: {"manager": {"value": "u-1"}}})
    );
    assert_eq!(fired, ["complex_from_string"]);

    let (out, _) = normalise(
        json!({"manager": [{"$ref": "https://x/Users/u-2", "value": "u-2"}]}),
        &DialectOptions::default(),
    );
    assert_eq!(
        out,
        json!({"manager": {"$ref": "https://x/Users/u-2", "value": "u-2"}})
    );

    let (out, fired) = normalise(
        json!({"manager": [{"value": "a"}, {"value": "b"}]}),
        &DialectOptions::default(),
    );
    assert_eq!(out, json!({"manager": [{"value": "a"}, {"value": "b"}]}));
    assert!(fired.is_empty());

    let (out, _) = normalise(json!({"manager": "u-1"}), &DialectOptions::strict());
    assert_eq!(out, json!({"manager": "u-1"}));
}

#[test]
fn empty_string_for_a_complex_attribute_becomes_null() {
    let (out, fired) = normalise(
        json!({"manager": "", "title": ""}),
        &DialectOptions::default(),
    );
    assert_eq!(out, json!({"manager": null, "title": ""}));
    assert_eq!(fired, ["empty_clears"]);
}

#[test]
fn roles_in_a_json_string_are_unpacked() {
    let (out, fired) = normalise(
        json!({"roles": [
            {"primary": false, "value": "{\"id\":\"06b0\",\"value\":\"25\",\"displayName\":\"Role1234\"}"},
            {"value": "Admin", "display": "Admin"}
        ]}),
        &DialectOptions::default(),
    );
    assert_eq!(
        out,
        json!({"roles": [
            {"primary": false, "value": "25", "display": "Role1234"},
            {"value": "Admin", "display": "Admin"}
        ]})
    );
    assert_eq!(fired, ["roles_json_string"]);

    let (out, fired) = normalise(
        json!({"roles": [{"value": "{not json"}]}),
        &DialectOptions::default(),
    );
    assert_eq!(out, json!({"roles": [{"value": "{not json"}]}));
    assert!(fired.is_empty());
}

#[test]
fn path_keys_are_recognised() {
    let schema = user_schema();
    assert!(is_path_key("name.givenName", &schema));
    assert!(is_path_key(
        &format!("{ENTERPRISE_SCHEMA}:employeeNumber"),
        &schema
    ));
    assert!(!is_path_key(ENTERPRISE_SCHEMA, &schema));
    assert!(!is_path_key("displayName", &schema));
}

#[test]
fn removal_filters_match_listed_elements() {
    let schema = group_schema();
    let members = schema.core.attribute("members").unwrap();
    let filters = removal_filters(
        &json!([{"$ref": null, "value": "u-1"}, {"value": "u-2"}]),
        members,
        "members",
    )
    .unwrap();
    let expected: Vec<_> = [r#"value eq "u-1""#, r#"value eq "u-2""#]
        .iter()
        .map(|f| parse_filter(f, &FilterLimits::default()).unwrap())
        .collect();
    assert_eq!(filters, expected);

    let user = user_schema();
    let emails = user.core.attribute("emails").unwrap();
    let filters =
        removal_filters(&json!({"type": "work", "display": "W"}), emails, "emails").unwrap();
    assert_eq!(
        filters,
        vec![parse_filter(
            r#"display eq "W" and type eq "work""#,
            &FilterLimits::default()
        )
        .unwrap()]
    );
    let err = removal_filters(&json!([{"nosuch": 1}]), emails, "emails").unwrap_err();
    assert_eq!(
        err.scim_type,
        Some(crate::scim::error::ScimType::InvalidValue)
    );
}

#[test]
fn upsert_elements_come_from_eq_and_filters_only() {
    let schema = user_schema();
    let phones = schema.core.attribute("phoneNumbers").unwrap();
    let f = |text: &str| parse_filter(text, &FilterLimits::default()).unwrap();
    assert_eq!(
        upsert_element(&f(r#"TYPE eq "mobile""#), phones).map(serde_json::Value::Object),
        Some(json!({"type": "mobile"}))
    );
    assert_eq!(
        upsert_element(&f(r#"type eq "work" and primary eq true"#), phones)
            .map(serde_json::Value::Object),
        Some(json!({"type": "work", "primary": true}))
    );
    for other in [
        r#"type ne "x""#,
        r#"type eq "a" or type eq "b""#,
        "type pr",
        r#"nosuch eq "x""#,
        "type eq null",
        // No `type`: the filter names an element that must exist (members[value eq "1"]).
        r#"value eq "+1555""#,
    ] {
        assert!(upsert_element(&f(other), phones).is_none(), "{other}");
    }
}
