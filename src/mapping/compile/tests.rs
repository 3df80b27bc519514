use std::path::Path;

use serde_json::json;

use super::*;
use crate::mapping::MappingSet;

fn demo_set() -> MappingSet {
    MappingSet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/demo")).unwrap()
}

const MINIMAL: &str = r#"
resource: User
id: { path: $.id }
operations:
  get: { method: GET, path: "/u/{id}" }
  list: { method: GET, path: /u }
  create: { method: POST, path: /u }
  update: { method: PUT, path: "/u/{id}" }
  delete: { method: DELETE, path: "/u/{id}" }
attributes:
  userName: $.login
"#;

#[test]
fn shipped_demo_mappings_compile() {
    let set = demo_set();
    assert!(set.users.attributes.len() >= 20);
    assert!(set.groups.members.is_some());
    // Only mapped attributes are published; site keeps its immutability.
    let ext = set
        .users
        .schema
        .extension("urn:ietf:params:scim:schemas:extension:8x8:1.1:User")
        .unwrap();
    assert_eq!(
        ext.attribute("site").unwrap().mutability,
        Mutability::Immutable
    );
    assert!(set.users.schema.core.attribute("nickName").is_none());
    assert!(set.users.schema.core.attribute("userName").is_some());
    let emails = set.users.schema.core.attribute("emails").unwrap();
    assert_eq!(
        emails.sub("type").unwrap().canonical_values,
        vec!["work".to_string()]
    );
    let password = set.users.schema.core.attribute("password").unwrap();
    assert_eq!(password.returned, Returned::Never);
}

#[test]
fn record_round_trips_through_the_demo_user_mapping() {
    let set = demo_set();
    let record = json!({
        "id": 1001, "login": "alice@example.com", "status": "DISABLED",
        "first_name": "Alice", "last_name": "Archer",
        "contact": {"email": "alice@example.com", "email_primary": true, "mobile": "+1555"},
        "org": {"manager_id": 1002, "department": "R&D"}, "site": "Paris",
        "created_at": "2024-05-01T09:00:00Z", "updated_at": "2024-05-02T09:00:00Z"
    });
    let (id, scim) = set.users.to_scim(&record, "http://gw/scim/v2").unwrap();
    assert_eq!(id, "1001");
    assert_eq!(scim["active"], json!(false));
    assert_eq!(
        scim["emails"],
        json!([{"type": "work", "value": "alice@example.com", "primary": true}])
    );
    assert_eq!(
        scim["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1555"}])
    );
    let ent = &scim["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(
        ent["manager"],
        json!({"value": "1002", "$ref": "http://gw/scim/v2/Users/1002"})
    );
    assert_eq!(
        scim["meta"]["location"],
        json!("http://gw/scim/v2/Users/1001")
    );
    assert_eq!(scim["meta"]["lastModified"], json!("2024-05-02T09:00:00Z"));

    let back = set.users.to_record(&scim, Some(&record)).unwrap();
    assert_eq!(back["status"], json!("DISABLED"));
    assert_eq!(back["org"]["manager_id"], json!(1002));
    assert_eq!(back["contact"]["email"], json!("alice@example.com"));
    assert_eq!(set.users.changed_fields(&record, &back), json!({}));
}

#[test]
fn problems_name_file_line_and_key_and_are_all_reported() {
    let text = MINIMAL
        .replace(
            "userName: $.login",
            "userName: $.login\n  nosuch: $.x\n  title: '$.a[?(@.x == )]'",
        )
        .replace("method: PUT", "method: FETCH");
    let problems = compile_mapping(Path::new("users.yaml"), &text, ResourceKind::User).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("nosuch") && p.contains("unknown attribute")),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("users.yaml:") && p.contains("title")),
        "{rendered:?}"
    );
    assert!(rendered.iter().any(|p| p.contains("FETCH")), "{rendered:?}");
    assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
}

#[test]
fn yaml_syntax_errors_carry_a_line() {
    let problems =
        compile_mapping(Path::new("u.yaml"), "resource: [", ResourceKind::User).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].line.is_some());
}

#[test]
fn wrong_resource_and_unknown_keys_are_rejected() {
    let problems = compile_mapping(Path::new("u.yaml"), MINIMAL, ResourceKind::Group).unwrap_err();
    assert!(problems[0].message.contains("Group"));
    let extra = format!("{MINIMAL}\nsurprise: 1\n");
    let problems = compile_mapping(Path::new("u.yaml"), &extra, ResourceKind::User).unwrap_err();
    assert!(problems[0].message.contains("surprise"), "{problems:?}");
}

#[test]
fn multi_valued_attributes_need_an_element_selector() {
    let text = MINIMAL.replace(
        "userName: $.login",
        "userName: $.login\n  emails.value: $.mail",
    );
    let problems = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap_err();
    assert!(problems[0].message.contains("multi-valued"), "{problems:?}");
}

#[test]
fn unknown_placeholders_and_unstorable_defaults_are_problems() {
    let text = MINIMAL
        .replace("path: \"/u/{id}\" }\n  list", "path: \"/u/{idd}\" }\n  list")
        .replace("userName: $.login", "userName: $.login\n  active: { path: $.on, values: { true: Y, false: N }, default: maybe }");
    let problems = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("{idd}") && p.contains("operations.get")),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("default cannot be stored")),
        "{rendered:?}"
    );
}

#[test]
fn sort_rules_render_the_order_and_report_bad_attributes_and_placeholders() {
    let text = format!(
        "{MINIMAL}sort:\n  - {{ attribute: userName, query: {{ by: login, dir: \"{{order}}\" }}, descending: DOWN }}\n"
    );
    let users = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap();
    let by = crate::scim::attr::AttrPath::parse("USERNAME").unwrap();
    let params = |descending| users.sort_params(&by, descending).unwrap();
    assert_eq!(
        params(false),
        [
            ("by".to_string(), "login".to_string()),
            ("dir".into(), "asc".into())
        ]
    );
    assert_eq!(params(true)[1], ("dir".into(), "DOWN".into()));
    let other = crate::scim::attr::AttrPath::parse("displayName").unwrap();
    assert_eq!(users.sort_params(&other, false), None);

    let bad = format!(
        "{MINIMAL}sort:\n  - {{ attribute: nosuch, query: {{ by: x }} }}\n  - {{ attribute: userName, query: {{ by: \"{{value}}\" }} }}\n"
    );
    let problems = compile_mapping(Path::new("u.yaml"), &bad, ResourceKind::User).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered.iter().any(|p| p.contains("sort[0]")),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("sort[1]") && p.contains("{value}")),
        "{rendered:?}"
    );
}
