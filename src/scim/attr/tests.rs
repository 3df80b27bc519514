use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::scim::attr::testing::{user_schema, X8_SCHEMA};
use crate::scim::schema::{ENTERPRISE_SCHEMA, USER_SCHEMA};

fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

#[test]
fn parses_plain_dotted_and_urn_paths() {
    assert_eq!(
        AttrPath::parse("userName").unwrap(),
        path(None, "userName", None)
    );
    assert_eq!(
        AttrPath::parse("name.givenName").unwrap(),
        path(None, "name", Some("givenName"))
    );
    assert_eq!(
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap(),
        path(Some(ENTERPRISE_SCHEMA), "manager", Some("value"))
    );
    assert_eq!(
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:8x8:1.1:User:site").unwrap(),
        path(Some(X8_SCHEMA), "site", None)
    );
    assert_eq!(
        AttrPath::parse("members.$ref").unwrap(),
        path(None, "members", Some("$ref"))
    );
    assert_eq!(AttrPath::parse("$ref").unwrap(), path(None, "$ref", None));
}

#[test]
fn an_extension_urn_alone_parses_with_its_last_segment_as_name() {
    assert_eq!(
        AttrPath::parse(ENTERPRISE_SCHEMA).unwrap(),
        path(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "User",
            None
        )
    );
}

#[test]
fn rejects_bad_paths_with_positions() {
    let cases = [
        ("", 0, "expected an attribute name"),
        ("1abc", 0, "must start with a letter"),
        ("user name", 4, "invalid character ' '"),
        ("name.", 5, "after '.'"),
        ("name.givenName.x", 14, "only one level"),
        ("urn:x:", 6, "after ':'"),
        (":name", 0, "expected a schema URN"),
        ("urn:x y:name", 5, "invalid character ' ' in schema URN"),
        ("emails.vä", 8, "invalid character 'ä'"),
    ];
    for (input, position, fragment) in cases {
        let err = AttrPath::parse(input).unwrap_err();
        assert_eq!(err.position, position, "{input}: {err}");
        assert!(err.message.contains(fragment), "{input}: {err}");
    }
}

#[test]
fn parse_error_display_names_the_position() {
    let err = AttrPath::parse("name.").unwrap_err();
    assert_eq!(
        err.to_string(),
        "at position 5: expected an attribute name after '.'"
    );
    let scim = err.to_invalid_filter();
    assert_eq!(scim.status, 400);
    assert_eq!(
        scim.scim_type,
        Some(crate::scim::error::ScimType::InvalidFilter)
    );
}

#[test]
fn display_round_trips() {
    for input in [
        "userName",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:emails",
    ] {
        let parsed = AttrPath::parse(input).unwrap();
        assert_eq!(parsed.to_string(), input);
    }
}

#[test]
fn eq_ignore_case_compares_every_part() {
    let a = AttrPath::parse("urn:A:b:Name.Sub").unwrap();
    assert!(a.eq_ignore_case(&AttrPath::parse("URN:a:B:name.sub").unwrap()));
    assert!(!a.eq_ignore_case(&AttrPath::parse("urn:a:b:name").unwrap()));
    assert!(!a.eq_ignore_case(&AttrPath::parse("name.sub").unwrap()));
}

fn resolve_attr(
    schema: &ResourceSchema,
    input: &str,
) -> Option<(Option<String>, String, Option<String>)> {
    match schema.resolve(&AttrPath::parse(input).unwrap())? {
        Resolved::Attribute(at) => Some((
            at.extension.map(|e| e.id.clone()),
            at.attr.name.clone(),
            at.sub.map(|s| s.name.clone()),
        )),
        Resolved::Extension(_) => None,
    }
}

#[test]
fn resolves_case_insensitively_to_canonical_names() {
    let schema = user_schema();
    assert_eq!(
        resolve_attr(&schema, "USERNAME"),
        Some((None, "userName".into(), None))
    );
    assert_eq!(
        resolve_attr(&schema, "Name.GivenName"),
        Some((None, "name".into(), Some("givenName".into())))
    );
    assert_eq!(
        resolve_attr(&schema, &format!("{}:userName", USER_SCHEMA.to_uppercase())),
        Some((None, "userName".into(), None))
    );
}

#[test]
fn resolves_extension_attributes_qualified_and_bare() {
    let schema = user_schema();
    let ent = Some(ENTERPRISE_SCHEMA.to_owned());
    assert_eq!(
        resolve_attr(&schema, &format!("{ENTERPRISE_SCHEMA}:employeeNumber")),
        Some((ent.clone(), "employeeNumber".into(), None))
    );
    // Entra sends a bare `manager` for the enterprise manager.
    assert_eq!(
        resolve_attr(&schema, "manager"),
        Some((ent.clone(), "manager".into(), None))
    );
    assert_eq!(
        resolve_attr(&schema, &format!("{ENTERPRISE_SCHEMA}:manager.value")),
        Some((ent, "manager".into(), Some("value".into())))
    );
    assert_eq!(
        resolve_attr(&schema, &format!("{X8_SCHEMA}:site")),
        Some((Some(X8_SCHEMA.to_owned()), "site".into(), None))
    );
}

#[test]
fn resolves_common_attributes_and_whole_extensions() {
    let schema = user_schema();
    assert_eq!(resolve_attr(&schema, "id"), Some((None, "id".into(), None)));
    assert_eq!(
        resolve_attr(&schema, "externalid"),
        Some((None, "externalId".into(), None))
    );
    assert_eq!(
        resolve_attr(&schema, "meta.lastModified"),
        Some((None, "meta".into(), Some("lastModified".into())))
    );
    let whole = schema.resolve(&AttrPath::parse(&ENTERPRISE_SCHEMA.to_lowercase()).unwrap());
    assert!(matches!(whole, Some(Resolved::Extension(ext)) if ext.id == ENTERPRISE_SCHEMA));
}

#[test]
fn unknown_names_and_schemas_do_not_resolve() {
    let schema = user_schema();
    for input in [
        "nosuch",
        "name.nosuch",
        "userName.sub",
        "urn:example:unknown:1.0:User:userName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName",
    ] {
        assert!(
            schema.resolve(&AttrPath::parse(input).unwrap()).is_none(),
            "{input}"
        );
    }
}

#[test]
fn attr_ref_reads_and_creates_containers() {
    let schema = user_schema();
    let Some(Resolved::Attribute(dept)) = schema.resolve(&AttrPath::simple("department")) else {
        panic!("department must resolve");
    };
    let mut resource =
        json!({"userName": "a", ENTERPRISE_SCHEMA.to_lowercase(): {"Department": "x"}});
    assert_eq!(dept.get(&resource), Some(&json!("x")));
    assert_eq!(dept.schema_urn(&schema), ENTERPRISE_SCHEMA);
    assert_eq!(
        dept.canonical_path().to_string(),
        format!("{ENTERPRISE_SCHEMA}:department")
    );

    let Some(Resolved::Attribute(site)) = schema.resolve(&AttrPath::simple("site")) else {
        panic!("site must resolve");
    };
    assert!(site.get(&resource).is_none());
    site.container_mut(&mut resource)
        .unwrap()
        .insert("site".into(), json!("HQ"));
    assert_eq!(resource[X8_SCHEMA]["site"], json!("HQ"));
}

#[test]
fn json_helpers_are_case_insensitive() {
    let mut obj = json!({"UserName": "a", "userName": "b", "title": "t"})
        .as_object()
        .cloned()
        .unwrap();
    assert_eq!(get_ci(&obj, "userName"), Some(&json!("b")));
    assert_eq!(get_ci(&obj, "TITLE"), Some(&json!("t")));
    *get_ci_mut(&mut obj, "Title").unwrap() = json!("u");
    assert_eq!(obj["title"], json!("u"));
    insert_ci(&mut obj, "username", json!("c"));
    assert_eq!(obj.len(), 2);
    assert_eq!(obj["username"], json!("c"));
    assert_eq!(remove_ci(&mut obj, "USERNAME"), Some(json!("c")));
    assert_eq!(obj.len(), 1);
}

#[test]
fn element_resolution_is_relative_to_the_parent() {
    let schema = user_schema();
    let emails = schema.core.attribute("emails").unwrap();
    assert_eq!(
        resolve_in_element(emails, &AttrPath::simple("TYPE")).map(|d| d.name.as_str()),
        Some("type")
    );
    assert!(resolve_in_element(emails, &AttrPath::parse("type.x").unwrap()).is_none());
    assert!(resolve_in_element(emails, &AttrPath::simple("nosuch")).is_none());
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z][a-zA-Z0-9_-]{0,12}", Just("$ref".to_owned()),]
}

proptest! {
    #[test]
    fn display_of_a_path_reparses_to_the_same_path(
        urn in proptest::option::of("[a-zA-Z][a-zA-Z0-9:._-]{0,30}"),
        name in name_strategy(),
        sub in proptest::option::of(name_strategy()),
    ) {
        let p = AttrPath { urn, name, sub };
        prop_assert_eq!(AttrPath::parse(&p.to_string()), Ok(p));
    }

    #[test]
    fn parse_never_panics_and_what_parses_round_trips(input in "\\PC{0,40}") {
        if let Ok(p) = AttrPath::parse(&input) {
            prop_assert_eq!(AttrPath::parse(&p.to_string()), Ok(p));
        }
    }
}
