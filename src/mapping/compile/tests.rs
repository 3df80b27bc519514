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

    // Written fresh, every mapped field comes back as the backend had it.
    let back = set.users.to_record(&scim, None).unwrap();
    assert_eq!(back["status"], json!("DISABLED"));
    assert_eq!(back["org"]["manager_id"], json!(1002));
    assert_eq!(back["contact"]["email"], json!("alice@example.com"));
    assert_eq!(set.users.changed_fields(&record, &back), json!({}));
    // As an update with nothing changed, it writes nothing, even where the backend holds a
    // value the mapping cannot read (a status outside the value map).
    let mut locked = record.clone();
    locked["status"] = json!("LOCKED");
    let (_, locked_scim) = set.users.to_scim(&locked, "http://gw/scim/v2").unwrap();
    assert!(locked_scim.get("active").is_none(), "{locked_scim}");
    let current = crate::mapping::Current {
        record: &locked,
        resource: &locked_scim,
    };
    let mut edited = locked_scim.clone();
    edited["title"] = json!("Boss");
    let written = set.users.to_record(&edited, Some(current)).unwrap();
    assert_eq!(
        set.users.changed_fields(&locked, &written),
        json!({"title": "Boss"})
    );
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
fn pushdown_rules_on_unmapped_attributes_are_problems_at_their_entry() {
    let text = format!(
        "{MINIMAL}filters:\n  - {{ attribute: userName, op: eq, query: {{ login: \"{{value}}\" }} }}\n  \
         - {{ attribute: nickName, op: eq, query: {{ nick: \"{{value}}\" }} }}\nsort:\n  \
         - {{ attribute: title, query: {{ sort: title }} }}\n"
    );
    let problems = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    assert_eq!(problems.len(), 2, "{rendered:?}");
    assert_eq!(problems[0].key.as_deref(), Some("filters[1]"));
    assert_eq!(problems[0].line, line_of("nickName"), "{rendered:?}");
    assert!(
        rendered[0].contains("`nickName` is not mapped"),
        "{rendered:?}"
    );
    assert_eq!(problems[1].key.as_deref(), Some("sort[0]"));
    assert_eq!(problems[1].line, line_of("sort: title"), "{rendered:?}");

    // Block-style entries: a bare `-` with the keys on the lines below it.
    let text = format!(
        "{MINIMAL}filters:\n  -\n    attribute: userName\n    op: eq\n    query: {{ login: \"{{value}}\" }}\n  \
         -\n    attribute: nickName\n    op: eq\n    query: {{ nick: \"{{value}}\" }}\n"
    );
    let problems = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap_err();
    let second_entry = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "-")
        .nth(1)
        .map(|(i, _)| i + 1);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, second_entry, "{problems:?}");
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

fn compile_user(text: &str) -> Result<ResourceMapping, Vec<MappingProblem>> {
    compile_mapping(Path::new("u.yaml"), text, ResourceKind::User)
}

fn problem_keys(text: &str, kind: ResourceKind) -> Vec<String> {
    compile_mapping(Path::new("x.yaml"), text, kind)
        .err()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.key)
        .collect()
}

#[test]
fn sequential_paging_styles_compile_and_need_a_next_source() {
    let cursor = MINIMAL.replace(
        "list: { method: GET, path: /u }",
        "list: { method: GET, path: /u, records: $.data, paging: { style: cursor, cursor_param: after, next: $.meta.next, size_param: limit } }",
    );
    let m = compile_user(&cursor).unwrap();
    assert!(
        matches!(&m.list.paging, Paging::Cursor { cursor_param, next: NextPage::Body(_), .. } if cursor_param == "after")
    );
    let link = MINIMAL.replace(
        "list: { method: GET, path: /u }",
        "list: { method: GET, path: /u, paging: { style: next_link, next_header: Link } }",
    );
    let m = compile_user(&link).unwrap();
    assert!(
        matches!(&m.list.paging, Paging::NextLink { next: NextPage::Header(h), .. } if h == "Link")
    );
    let neither = MINIMAL.replace(
        "list: { method: GET, path: /u }",
        "list: { method: GET, path: /u, paging: { style: cursor } }",
    );
    let keys = problem_keys(&neither, ResourceKind::User);
    assert!(
        keys.contains(&"operations.list.paging.cursor_param".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"operations.list.paging".to_owned()),
        "{keys:?}"
    );
}

#[test]
fn soft_delete_needs_a_marker_that_hides_marked_records() {
    let soft = MINIMAL.replace(
        r#"delete: { method: DELETE, path: "/u/{id}" }"#,
        r#"delete: { style: soft, method: PATCH, path: "/u/{id}", body: { gone: true } }"#,
    );
    assert_eq!(
        problem_keys(&soft, ResourceKind::User),
        ["operations.delete"]
    );
    let marked = soft.replace(
        "body: { gone: true } }",
        "body: { gone: true }, marker: { path: $.gone } }",
    );
    let m = compile_user(&marked).unwrap();
    let gone = m.list.gone.as_ref().unwrap();
    assert!(gone.marks(&json!({"gone": true})));
    assert!(gone.marks(&json!({"gone": "2024-01-01"})));
    assert!(!gone.marks(&json!({"gone": false})));
    assert!(!gone.marks(&json!({"gone": null})));
    assert!(!gone.marks(&json!({})));
    // Without `exclude` the backend's totals count deleted records: lists are scanned.
    assert!(!m.list.backend_counts());
    let valued = soft.replace(
        "body: { gone: true } }",
        r#"body: { state: DELETED }, marker: { path: $.state, value: DELETED }, exclude: { "state:ne": DELETED } }"#,
    );
    let m = compile_user(&valued).unwrap();
    let gone = m.list.gone.as_ref().unwrap();
    assert!(gone.marks(&json!({"state": "DELETED"})));
    assert!(!gone.marks(&json!({"state": "ACTIVE"})));
    assert!(m.list.call.query.iter().any(|(k, _)| k == "state:ne"));
    let hard_with_marker = MINIMAL.replace(
        r#"delete: { method: DELETE, path: "/u/{id}" }"#,
        r#"delete: { method: DELETE, path: "/u/{id}", marker: { path: $.gone } }"#,
    );
    assert_eq!(
        problem_keys(&hard_with_marker, ResourceKind::User),
        ["operations.delete.marker"]
    );
}

#[test]
fn scope_hides_records_with_another_value() {
    let scoped = format!("{MINIMAL}scope: {{ path: $.domain_id, value: d1 }}\n");
    let m = compile_user(&scoped).unwrap();
    assert!(!m.list.hides(&json!({"id": 1, "domain_id": "d1"})));
    assert!(m.list.hides(&json!({"id": 1, "domain_id": "default"})));
    assert!(m.list.hides(&json!({"id": 1})));
    // The backend's totals may count records outside the scope: lists are scanned.
    assert!(!m.list.backend_counts());
    let bad = format!("{MINIMAL}scope: {{ path: \"$.[\", value: d1 }}\n");
    assert_eq!(problem_keys(&bad, ResourceKind::User), ["scope.path"]);
    let no_value = format!("{MINIMAL}scope: {{ path: $.domain_id }}\n");
    assert!(compile_user(&no_value).is_err());
}

const GROUP: &str = r#"
resource: Group
id: { path: $.id }
operations:
  get: { method: GET, path: "/g/{id}" }
  list: { method: GET, path: /g }
  create: { method: POST, path: /g }
  update: { method: PATCH, path: "/g/{id}", style: merge }
  delete: { method: DELETE, path: "/g/{id}" }
attributes:
  displayName: $.name
"#;

#[test]
fn membership_styles_take_only_their_own_keys() {
    let group = |members: &str| format!("{GROUP}members:\n{members}");
    let embedded = group("  style: embedded\n  path: $.members\n  member: $.user.id\n");
    let m = compile_mapping(Path::new("g.yaml"), &embedded, ResourceKind::Group).unwrap();
    let Some(MembersMapping::Embedded(array)) = &m.members else {
        panic!("{:?}", m.members)
    };
    let record =
        json!({"members": [{"user": {"id": "u1"}, "role": "owner"}, {"user": {"id": "u2"}}]});
    assert_eq!(array.ids(&record), ["u1", "u2"]);
    // Kept members keep their element as it was; new ones get a fresh element.
    assert_eq!(
        array.with_ids(&record, &["u1".into(), "u3".into()]),
        json!([{"user": {"id": "u1"}, "role": "owner"}, {"user": {"id": "u3"}}])
    );
    let on_user = group(
        "  style: on_user\n  path: $.groups\n  member_type: integer\n  find: { group: \"{id}\" }\n",
    );
    let m = compile_mapping(Path::new("g.yaml"), &on_user, ResourceKind::Group).unwrap();
    let Some(MembersMapping::OnUser { array, find }) = &m.members else {
        panic!("{:?}", m.members)
    };
    assert_eq!(find.len(), 1);
    assert_eq!(array.with_ids(&json!({}), &["7".into()]), json!([7]));

    let keys = problem_keys(
        &group("  style: embedded\n  list: { method: GET, path: /m }\n"),
        ResourceKind::Group,
    );
    assert!(keys.contains(&"members.list".to_owned()), "{keys:?}");
    assert!(keys.contains(&"members.path".to_owned()), "{keys:?}");
    let keys = problem_keys(
        &group("  style: on_user\n  path: $.groups\n  find: { g: \"{member}\" }\n"),
        ResourceKind::Group,
    );
    assert_eq!(keys, ["members.find"]);
    let keys = problem_keys(&group("  style: sideways\n"), ResourceKind::Group);
    assert_eq!(keys, ["members.style"]);
}

#[test]
fn shipped_json_server_1_mappings_compile() {
    let set =
        MappingSet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/json-server-1"))
            .unwrap();
    assert!(matches!(set.groups.list.paging, Paging::Cursor { .. }));
    assert!(matches!(
        set.groups.members,
        Some(MembersMapping::Embedded(_))
    ));
    assert!(set.users.list.gone.is_some());
}

#[test]
fn meta_type_reads_and_stamps_timestamps_in_the_backend_form() {
    let text = MINIMAL.replace(
        "attributes:",
        "meta: { created: $.c, last_modified: $.m, maintain: true, type: epoch_millis }\nattributes:",
    );
    let users = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap();
    let mut record = serde_json::json!({"id": "1", "login": "a"});
    users.stamp(&mut record, true);
    assert!(
        record["c"]
            .as_i64()
            .is_some_and(|ms| ms > 1_700_000_000_000),
        "{record}"
    );
    record["c"] = serde_json::json!(1_714_554_000_250_i64);
    let (_, scim) = users.to_scim(&record, "http://x").unwrap();
    assert_eq!(scim["meta"]["created"], "2024-05-01T09:00:00.250Z");

    let bad = MINIMAL.replace(
        "attributes:",
        "meta: { created: $.c, type: integer }\nattributes:",
    );
    let problems = compile_mapping(Path::new("u.yaml"), &bad, ResourceKind::User).unwrap_err();
    assert!(
        problems.iter().any(|p| p.to_string().contains("meta.type")),
        "{problems:?}"
    );
}

#[test]
fn pushdown_sends_the_stored_form_of_the_filter_value() {
    let text = MINIMAL.replace(
        "userName: $.login",
        "userName: { path: $.login, case: lower }\n  userType: { path: $.kind, values: { Employee: staff } }\nfilters:\n  - { attribute: userType, op: eq, query: { kind: \"{value}\" } }\n  - { attribute: userName, op: eq, query: { login: \"{value}\" } }",
    );
    let users = compile_mapping(Path::new("u.yaml"), &text, ResourceKind::User).unwrap();
    let pushed = |filter: &str| {
        let limits = crate::scim::filter::FilterLimits::default();
        let parsed = crate::scim::filter::parse_filter(filter, &limits).unwrap();
        users.pushdown(&parsed)
    };
    let both = pushed(r#"userType eq "employee" and userName eq "Jane@X.COM""#);
    assert_eq!(
        both.params,
        [
            ("kind".into(), "staff".into()),
            ("login".into(), "jane@x.com".into())
        ]
    );
    assert!(both.complete);
    // No record holds a value outside the map: that term is left to the gateway.
    let outside = pushed(r#"userType eq "Intern""#);
    assert!(outside.params.is_empty() && !outside.complete);
}
