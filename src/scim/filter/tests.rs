use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::scim::attr::testing::{group_schema, user_schema};
use crate::scim::schema::{schema_from_json, ENTERPRISE_SCHEMA, USER_SCHEMA};

fn parse(input: &str) -> Filter {
    parse_filter(input, &FilterLimits::default()).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn parse_err(input: &str) -> ParseError {
    match parse_filter(input, &FilterLimits::default()) {
        Ok(f) => panic!("{input} parsed as {f:?}"),
        Err(e) => e,
    }
}

fn p(text: &str) -> AttrPath {
    AttrPath::parse(text).unwrap()
}

fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: p(path),
        op,
        value,
    }
}

fn s(text: &str) -> CompValue {
    CompValue::Str(text.to_owned())
}

fn num(text: &str) -> CompValue {
    CompValue::Number(serde_json::from_str(text).unwrap())
}

// ---- parsing ----

#[test]
fn parses_the_acceptance_case_filters() {
    assert_eq!(
        parse(r#"userName eq "x""#),
        cmp("userName", CompareOp::Eq, s("x"))
    );
    assert_eq!(
        parse(r#"UserName EQ "X""#),
        cmp("UserName", CompareOp::Eq, s("X"))
    );
    assert_eq!(
        parse("externalId eq jdoe-abc"),
        cmp("externalId", CompareOp::Eq, s("jdoe-abc"))
    );
    assert_eq!(
        parse(r#"displayName eq "EDU All personal x""#),
        cmp("displayName", CompareOp::Eq, s("EDU All personal x"))
    );
    assert_eq!(
        parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E07""#
        ),
        cmp(
            &format!("{ENTERPRISE_SCHEMA}:employeeNumber"),
            CompareOp::Eq,
            s("E07")
        )
    );
    assert_eq!(
        parse(r#"userName eq "x" AND displayName eq "y""#),
        Filter::And(vec![
            cmp("userName", CompareOp::Eq, s("x")),
            cmp("displayName", CompareOp::Eq, s("y")),
        ])
    );
    assert_eq!(
        parse(r#"not (userName sw "bj")"#),
        Filter::Not(Box::new(cmp("userName", CompareOp::Sw, s("bj"))))
    );
    assert_eq!(
        parse(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        cmp(
            "meta.lastModified",
            CompareOp::Gt,
            s("2011-05-13T04:42:34Z")
        )
    );
    assert_eq!(
        parse(r#"userName sw "e20-abc-""#),
        cmp("userName", CompareOp::Sw, s("e20-abc-"))
    );
}

#[test]
fn entra_value_path_with_sub_attribute_is_a_same_element_and() {
    let expected = Filter::ValuePath {
        attr: p("emails"),
        filter: Box::new(Filter::And(vec![
            cmp("type", CompareOp::Eq, s("work")),
            cmp("value", CompareOp::Eq, s("a@b")),
        ])),
    };
    assert_eq!(parse(r#"emails[type eq "work"].value eq "a@b""#), expected);
    assert_eq!(
        parse(r#"emails[type eq "work" and value eq "a@b"]"#),
        expected
    );
    assert_eq!(
        parse(r#"emails[type eq "work"].value pr"#),
        Filter::ValuePath {
            attr: p("emails"),
            filter: Box::new(Filter::And(vec![
                cmp("type", CompareOp::Eq, s("work")),
                Filter::Present(p("value")),
            ])),
        }
    );
    assert_eq!(
        parse(r#"emails[type eq "work" or type eq "home"].value co "@example.com""#),
        Filter::ValuePath {
            attr: p("emails"),
            filter: Box::new(Filter::And(vec![
                Filter::Or(vec![
                    cmp("type", CompareOp::Eq, s("work")),
                    cmp("type", CompareOp::Eq, s("home")),
                ]),
                cmp("value", CompareOp::Co, s("@example.com")),
            ])),
        }
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    assert_eq!(
        parse("a eq 1 or b eq 2 and c eq 3"),
        Filter::Or(vec![
            cmp("a", CompareOp::Eq, num("1")),
            Filter::And(vec![
                cmp("b", CompareOp::Eq, num("2")),
                cmp("c", CompareOp::Eq, num("3"))
            ]),
        ])
    );
    assert_eq!(
        parse("(a eq 1 or b eq 2) and c eq 3"),
        Filter::And(vec![
            Filter::Or(vec![
                cmp("a", CompareOp::Eq, num("1")),
                cmp("b", CompareOp::Eq, num("2"))
            ]),
            cmp("c", CompareOp::Eq, num("3")),
        ])
    );
    assert_eq!(
        parse("not(a pr) and b pr or c pr"),
        Filter::Or(vec![
            Filter::And(vec![
                Filter::Not(Box::new(Filter::Present(p("a")))),
                Filter::Present(p("b"))
            ]),
            Filter::Present(p("c")),
        ])
    );
    assert_eq!(
        parse("a pr and b pr and (c pr and d pr)"),
        Filter::And(
            ["a", "b", "c", "d"]
                .iter()
                .map(|n| Filter::Present(p(n)))
                .collect()
        )
    );
}

#[test]
fn every_operator_in_any_case() {
    for op in CompareOp::ALL {
        let upper = op.as_str().to_uppercase();
        assert_eq!(
            parse(&format!("title {upper} \"x\"")),
            cmp("title", op, s("x"))
        );
    }
    assert_eq!(parse("title PR"), Filter::Present(p("title")));
    assert_eq!(
        parse("title pr Or nickName Pr"),
        Filter::Or(vec![
            Filter::Present(p("title")),
            Filter::Present(p("nickName"))
        ])
    );
    assert_eq!(
        parse("NOT (title pr)"),
        Filter::Not(Box::new(Filter::Present(p("title"))))
    );
}

#[test]
fn json_values_and_bare_values() {
    assert_eq!(parse("x eq 42"), cmp("x", CompareOp::Eq, num("42")));
    assert_eq!(parse("x eq -1.5e3"), cmp("x", CompareOp::Eq, num("-1.5e3")));
    assert_eq!(
        parse("x eq true"),
        cmp("x", CompareOp::Eq, CompValue::Bool(true))
    );
    assert_eq!(
        parse("x eq False"),
        cmp("x", CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(parse("x eq null"), cmp("x", CompareOp::Eq, CompValue::Null));
    assert_eq!(parse("x eq 007"), cmp("x", CompareOp::Eq, s("007")));
    assert_eq!(
        parse("x eq jdoe@example.com"),
        cmp("x", CompareOp::Eq, s("jdoe@example.com"))
    );
    assert_eq!(parse("x eq \"42\""), cmp("x", CompareOp::Eq, s("42")));
    // A bare value ends at a blank, `)` or `]`.
    assert_eq!(
        parse("(x eq abc) and emails[type eq work]"),
        Filter::And(vec![
            cmp("x", CompareOp::Eq, s("abc")),
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(cmp("type", CompareOp::Eq, s("work"))),
            },
        ])
    );
}

#[test]
fn string_escapes_and_awkward_characters() {
    assert_eq!(
        parse(r#"x eq "a\"b\\c\u00e9\/\n""#),
        cmp("x", CompareOp::Eq, s("a\"b\\cé/\n"))
    );
    assert_eq!(
        parse(r#"x eq "\ud83d\ude00""#),
        cmp("x", CompareOp::Eq, s("😀"))
    );
    assert_eq!(
        parse(r#"x eq "+1 (555) 01]00 ünï""#),
        cmp("x", CompareOp::Eq, s("+1 (555) 01]00 ünï"))
    );
    assert_eq!(parse(r#"x eq """#), cmp("x", CompareOp::Eq, s("")));
}

#[test]
fn blanks_are_flexible_and_not_can_be_a_name() {
    assert_eq!(
        parse("\t userName  eq\t\"x\"  and(title pr) "),
        Filter::And(vec![
            cmp("userName", CompareOp::Eq, s("x")),
            Filter::Present(p("title"))
        ])
    );
    assert_eq!(parse("not pr"), Filter::Present(p("not")));
    assert_eq!(parse("not eq 1"), cmp("not", CompareOp::Eq, num("1")));
    assert_eq!(
        parse("and pr and or pr"),
        Filter::And(vec![Filter::Present(p("and")), Filter::Present(p("or"))])
    );
}

#[test]
fn invalid_filters_report_where_and_why() {
    let cases = [
        ("userName eq", 9, "expected a comparison value after 'eq'"),
        (r#"userName zz "x""#, 9, "unknown operator 'zz'"),
        (
            r#"userName eq "x" and"#,
            16,
            "expected a filter expression after 'and'",
        ),
        (
            r#"userName eq "x" or "#,
            16,
            "expected a filter expression after 'or'",
        ),
        (r#"(userName eq "x""#, 0, "unclosed '('"),
        (r#"userName eq "x")"#, 15, "unexpected ')'"),
        (r#"userName eq "x"#, 12, "unterminated string"),
        (r#"x eq "a\q""#, 7, "invalid escape '\\q'"),
        (r#"x eq "\u12g4""#, 6, "invalid \\u escape"),
        (r#"x eq "\ud83d""#, 6, "unpaired UTF-16 surrogate"),
        ("userName", 8, "expected an operator"),
        (
            r#"userName eq "x" title pr"#,
            16,
            "expected 'and', 'or' or the end of the filter, found 'title'",
        ),
        (r#"not userName eq "x""#, 0, "expected '(' after 'not'"),
        (
            "",
            0,
            "expected a filter expression, found the end of the input",
        ),
        ("()", 0, "expected a filter expression after '('"),
        (r#"emails[type eq "work""#, 6, "unclosed '['"),
        (r#"emails[type eq "work"]]"#, 22, "unexpected ']'"),
        (r#"emails[value[type eq "x"]]"#, 12, "cannot be nested"),
        ("name.givenName[x pr]", 14, "must follow an attribute name"),
        (
            r#"emails[type eq "work"]. eq "x""#,
            23,
            "expected an attribute name after '.'",
        ),
        (r#""x" eq 1"#, 0, "expected an attribute name"),
        ("1abc eq 1", 0, "must start with a letter"),
        (r#"(a pr) (b pr)"#, 7, "expected 'and', 'or'"),
    ];
    for (input, position, fragment) in cases {
        let err = parse_err(input);
        assert_eq!(err.position, position, "{input}: {err}");
        assert!(err.message.contains(fragment), "{input}: {err}");
    }
    assert_eq!(
        parse_err("userName eq").to_string(),
        "at position 9: expected a comparison value after 'eq'"
    );
}

#[test]
fn length_and_depth_limits() {
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    let err = parse_err(&long);
    assert_eq!(err.position, 4096);
    assert!(err.message.contains("at most 4096 bytes"));

    let deep = format!("{}a pr{}", "(".repeat(33), ")".repeat(33));
    let err = parse_err(&deep);
    assert_eq!(err.position, 32);
    assert!(err.message.contains("nested more than 32 levels"));
    let ok = format!("{}a pr{}", "(".repeat(32), ")".repeat(32));
    assert_eq!(parse(&ok), Filter::Present(p("a")));

    let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
    assert!(parse_err(&nots).message.contains("nested"));

    let tight = FilterLimits {
        max_length: 100,
        max_depth: 1,
    };
    assert!(parse_filter(r#"emails[type eq "work"]"#, &tight).is_ok());
    assert!(parse_filter(r#"(emails[type eq "work"])"#, &tight).is_err());
}

#[test]
fn a_million_open_parentheses_fail_fast_without_overflow() {
    let input = "(".repeat(1_000_000);
    let unlimited = FilterLimits {
        max_length: usize::MAX,
        max_depth: usize::MAX,
    };
    let started = Instant::now();
    let err = parse_filter(&input, &unlimited).unwrap_err();
    assert!(err.message.contains("nested"), "{err}");
    assert!(parse_filter(&input, &FilterLimits::default()).is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn display_prints_a_filter_that_parses_back() {
    for input in [
        r#"userName eq "x""#,
        "a eq 1 or b eq 2 and c eq 3",
        "(a eq 1 or b eq 2) and not (c pr)",
        r#"emails[type eq "work" and value co "@example.com"]"#,
        r#"x eq "quote \" and \\ backslash""#,
        "x eq null and y eq true and z ge 1.5",
    ] {
        let filter = parse(input);
        assert_eq!(parse(&filter.to_string()), filter, "{input}");
    }
    assert_eq!(
        parse("A Eq 1 OR (b pr And not(c pr))").to_string(),
        "A eq 1 or b pr and not (c pr)"
    );
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq jdoe"#).to_string(),
        r#"emails[type eq "work" and value eq "jdoe"]"#
    );
}

#[test]
fn attribute_lists() {
    let list = parse_attr_list(&format!(
        " userName, emails.value ,{ENTERPRISE_SCHEMA}:employeeNumber,"
    ))
    .unwrap();
    assert_eq!(
        list,
        vec![
            p("userName"),
            p("emails.value"),
            p(&format!("{ENTERPRISE_SCHEMA}:employeeNumber"))
        ]
    );
    assert_eq!(parse_attr_list("").unwrap(), vec![]);
    assert_eq!(parse_attr_list("a,,b").unwrap(), vec![p("a"), p("b")]);
    let err = parse_attr_list("a, b c").unwrap_err();
    assert_eq!(err.position, 4);
}

// ---- evaluation ----

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "jdoe-abc",
        "userName": "Bjensen@example.com",
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": ""},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "ims": [],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        ENTERPRISE_SCHEMA: {"employeeNumber": "E07", "department": "Research", "manager": {"value": "m-1"}}
    })
}

fn check(resource: &Value, schema: &ResourceSchema, cases: &[(&str, bool)]) {
    for (input, expected) in cases {
        assert_eq!(parse(input).matches(resource, schema), *expected, "{input}");
    }
}

#[test]
fn evaluates_strings_by_case_exactness() {
    check(
        &user(),
        &user_schema(),
        &[
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"UserName EQ "BJENSEN@EXAMPLE.COM""#, true),
            (r#"displayName eq "babs jensen""#, true),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            ("externalId eq jdoe-abc", true),
            ("externalId eq JDOE-ABC", false),
            (r#"displayName co "JENS""#, true),
            (r#"displayName sw "babs""#, true),
            (r#"displayName ew "SEN""#, true),
            (r#"displayName ew "Babs""#, false),
            (r#"title gt "Tour""#, true),
            (r#"title lt "tour guide""#, false),
            (r#"title le "tour guide""#, true),
            (r#"title ne "tour guide""#, false),
            (r#"title ne "Other""#, true),
            (r#"name.givenName eq "barbara""#, true),
        ],
    );
}

#[test]
fn evaluates_multi_valued_and_value_paths() {
    check(
        &user(),
        &user_schema(),
        &[
            (
                r#"emails[type eq "work"].value eq "bjensen@example.com""#,
                true,
            ),
            (
                r#"emails[type eq "home"].value eq "bjensen@example.com""#,
                false,
            ),
            (
                r#"emails[type eq "work" and value eq "BJENSEN@example.com"]"#,
                true,
            ),
            // Both conditions must hold on the same element...
            (
                r#"emails[type eq "work" and value eq "babs@jensen.org"]"#,
                false,
            ),
            // ...unlike two separate conditions on the attribute.
            (
                r#"emails.type eq "work" and emails.value eq "babs@jensen.org""#,
                true,
            ),
            (r#"emails eq "babs@jensen.org""#, true),
            (r#"emails.value co "jensen""#, true),
            (r#"emails.value ne "babs@jensen.org""#, false),
            (r#"emails[type eq "work"]"#, true),
            (r#"emails[not (type eq "work")]"#, true),
            (r#"phoneNumbers[type eq "home"]"#, false),
            (r#"emails[primary eq true].value sw "bjensen""#, true),
            (r#"emails[primary eq "True"].type eq "work""#, true),
        ],
    );
}

#[test]
fn evaluates_extensions_logic_and_dates() {
    check(
        &user(),
        &user_schema(),
        &[
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E07""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E08""#,
                false,
            ),
            (r#"department eq "research""#, true),
            (r#"manager eq "m-1""#, true),
            (r#"manager.value eq "m-1""#, true),
            (
                r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "m-2""#,
                false,
            ),
            (r#"userName eq "x" AND displayName eq "y""#, false),
            (
                r#"userName eq "bjensen@example.com" and displayName eq "Babs Jensen""#,
                true,
            ),
            (r#"not (userName sw "bj")"#, false),
            (r#"not (userName sw "zz")"#, true),
            (r#"title eq "x" or userName pr and active eq false"#, false),
            (
                r#"title eq "Tour Guide" or userName pr and active eq false"#,
                true,
            ),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-14T00:00:00Z""#, true),
            (r#"meta.created sw "2010-01""#, true),
            (r#"meta.resourceType eq "User""#, true),
            (&format!("{ENTERPRISE_SCHEMA} pr"), true),
        ],
    );
}

#[test]
fn evaluates_booleans_presence_and_missing_values() {
    check(
        &user(),
        &user_schema(),
        &[
            ("active eq true", true),
            (r#"active eq "True""#, true),
            (r#"active eq "false""#, false),
            ("active ne false", true),
            ("active gt false", false),
            ("active co true", false),
            ("name pr", true),
            ("emails pr", true),
            ("ims pr", false),
            ("name.middleName pr", false),
            ("nickName pr", false),
            (r#"nickName eq "x""#, false),
            (r#"nickName ne "x""#, true),
            ("nickName eq null", true),
            ("userName eq null", false),
            ("userName ne null", true),
            (r#"nosuch eq "x""#, false),
            (r#"nosuch ne "x""#, true),
            ("nosuch pr", false),
            (r#"name gt "a""#, false),
        ],
    );
}

#[test]
fn numbers_compare_numerically_and_as_text_against_strings() {
    let mut schema = user_schema();
    schema.extensions.push(
        schema_from_json(&json!({
            "id": "urn:example:scim:1.0:Ext",
            "attributes": [
                {"name": "level", "type": "integer"},
                {"name": "score", "type": "decimal"},
                {"name": "code", "type": "string", "caseExact": true}
            ]
        }))
        .unwrap(),
    );
    let resource = json!({
        "userName": "n",
        "title": "42",
        "urn:example:scim:1.0:Ext": {"level": 7, "score": 2.25, "code": "true"}
    });
    check(
        &resource,
        &schema,
        &[
            ("level eq 7", true),
            ("level gt 5", true),
            ("level lt 7", false),
            ("level le 7.0", true),
            (r#"level eq "7""#, true),
            ("score lt 2.5", true),
            ("score ge 3", false),
            ("level co 7", false),
            ("title eq 42", true),
            ("code eq true", true),
            ("title gt 41", true),
        ],
    );
}

#[test]
fn evaluates_group_members() {
    let group = json!({
        "displayName": "EDU All personal x",
        "members": [{"value": "u-1", "display": "A"}, {"value": "u-2"}]
    });
    check(
        &group,
        &group_schema(),
        &[
            (r#"displayName eq "EDU All personal x""#, true),
            (r#"displayName eq "edu all personal X""#, true),
            (r#"members eq "u-2""#, true),
            (r#"members eq "U-2""#, false),
            (r#"members[value eq "u-1"]"#, true),
            (r#"members.value eq "u-3""#, false),
        ],
    );
}

#[test]
fn non_objects_and_odd_json_do_not_match() {
    let schema = user_schema();
    let filter = parse(r#"userName eq "a""#);
    assert!(!filter.matches(&json!("a"), &schema));
    // A single-valued attribute stored as an array is read element-wise.
    assert!(filter.matches(&json!({"userName": ["b", "A"]}), &schema));
    assert!(!parse("emails.value pr").matches(&json!({"emails": "x"}), &schema));
    assert!(
        !parse(r#"emails[type eq "work"]"#).matches(&json!({"emails": {"type": "home"}}), &schema)
    );
    assert!(
        parse(r#"emails[type eq "work"]"#).matches(&json!({"Emails": {"TYPE": "work"}}), &schema)
    );
}

// ---- properties ----

/// Filter-ish inputs: vocabulary tokens, joined with or without blanks.
fn filterish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("userName".to_owned()),
        Just("emails".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned()),
        Just("eq".to_owned()),
        Just("Pr".to_owned()),
        Just("and".to_owned()),
        Just("OR".to_owned()),
        Just("not".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(".value".to_owned()),
        Just("\"x\\u00e9 \\\"y\"".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("42".to_owned()),
        Just("true".to_owned()),
        Just("jdoe-1".to_owned()),
        "[a-z]{1,6}",
    ];
    (proptest::collection::vec((token, any::<bool>()), 0..40)).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(t, space)| if space { format!("{t} ") } else { t })
            .collect()
    })
}

/// Deep nesting of every bracket kind.
fn nested() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("("),
            Just("not ("),
            Just("not("),
            Just("a["),
            Just("[")
        ],
        0usize..20_000,
        proptest::option::of(Just(" a pr ) ] ")),
    )
        .prop_map(|(open, depth, tail)| format!("{}{}", open.repeat(depth), tail.unwrap_or("")))
}

fn limits() -> impl Strategy<Value = FilterLimits> {
    prop_oneof![
        Just(FilterLimits::default()),
        Just(FilterLimits {
            max_length: usize::MAX,
            max_depth: usize::MAX
        }),
        (0usize..64, 0usize..8).prop_map(|(max_length, max_depth)| FilterLimits {
            max_length,
            max_depth
        }),
    ]
}

fn reparse_limits() -> FilterLimits {
    FilterLimits {
        max_length: usize::MAX,
        max_depth: 1024,
    }
}

proptest! {
    #[test]
    fn filter_parser_never_panics_and_is_fast(
        input in prop_oneof![filterish(), nested(), "\\PC{0,200}"],
        limits in limits(),
    ) {
        let started = Instant::now();
        let parsed = parse_filter(&input, &limits);
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        if let Ok(filter) = parsed {
            // What parses prints as a filter that parses back to the same tree.
            prop_assert_eq!(parse_filter(&filter.to_string(), &reparse_limits()), Ok(filter));
        }
    }

    #[test]
    fn errors_point_inside_the_input(input in prop_oneof![filterish(), "\\PC{0,100}"]) {
        if let Err(e) = parse_filter(&input, &FilterLimits::default()) {
            prop_assert!(e.position <= input.len(), "{} for {:?}", e, input);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn evaluation_never_panics(input in filterish(), resource in prop_oneof![
        Just(json!({})),
        Just(json!({"userName": 1, "emails": "x", "name": [1, {"givenName": null}]})),
        Just(json!({"userName": "a", "emails": [{"value": "a", "type": "work"}, null, 3]})),
    ]) {
        if let Ok(filter) = parse_filter(&input, &FilterLimits::default()) {
            let _ = filter.matches(&resource, &user_schema());
        }
    }
}

// ---- generated trees ----

pub(crate) fn gen_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
        1 => Just("not".to_owned()),
        1 => Just("and".to_owned()),
        1 => Just("pr".to_owned()),
        1 => Just("$ref".to_owned()),
    ]
}

/// An attribute path as a top-level filter names it: optional URN, optional sub-attribute.
pub(crate) fn gen_path() -> impl Strategy<Value = AttrPath> {
    (
        proptest::option::of(prop_oneof![
            Just(ENTERPRISE_SCHEMA.to_owned()),
            Just("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
        ]),
        gen_name(),
        proptest::option::of(gen_name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn gen_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        "\\PC{0,12}".prop_map(CompValue::Str),
        Just(CompValue::Str("a \"q\" \\ ) ] + é".to_owned())),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

/// Filters over paths of `path`: comparisons and presence, combined by and/or/not, with the
/// flattening the parser performs (no `And` directly in an `And`, no `Or` in an `Or`).
pub(crate) fn gen_filter(
    path: BoxedStrategy<AttrPath>,
    value_paths: bool,
) -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        (
            path.clone(),
            proptest::sample::select(CompareOp::ALL.to_vec()),
            gen_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        path.prop_map(Filter::Present),
    ];
    let leaf = if value_paths {
        let inner = gen_filter(gen_name().prop_map(AttrPath::simple).boxed(), false);
        prop_oneof![
            4 => leaf,
            1 => (gen_name(), inner).prop_map(|(attr, filter)| Filter::ValuePath {
                attr: AttrPath::simple(attr),
                filter: Box::new(filter),
            }),
        ]
        .boxed()
    } else {
        leaf.boxed()
    };
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|items| flattened(items, true)),
            proptest::collection::vec(inner.clone(), 2..4)
                .prop_map(|items| flattened(items, false)),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// `And` (or `Or`) of `items`, with nested terms of the same kind lifted as the parser does.
fn flattened(items: Vec<Filter>, and: bool) -> Filter {
    let terms = items.into_iter().flat_map(|f| match (f, and) {
        (Filter::And(nested), true) | (Filter::Or(nested), false) => nested,
        (other, _) => vec![other],
    });
    if and {
        Filter::And(terms.collect())
    } else {
        Filter::Or(terms.collect())
    }
}

proptest! {
    #[test]
    fn a_generated_filter_prints_as_text_that_parses_back_to_it(
        filter in gen_filter(gen_path().boxed(), true),
    ) {
        let text = filter.to_string();
        prop_assert_eq!(parse_filter(&text, &reparse_limits()), Ok(filter), "{}", text);
    }
}

#[test]
fn a_hundred_thousand_nots_fail_fast_without_overflow() {
    let unlimited = FilterLimits {
        max_length: usize::MAX,
        max_depth: usize::MAX,
    };
    for open in ["not(", "not (", "NOT(", "(not (", "a[", "a[not("] {
        let input = format!("{}a pr{}", open.repeat(100_000), ")".repeat(100_000));
        let started = Instant::now();
        let err = parse_filter(&input, &unlimited).unwrap_err();
        assert!(err.message.contains("nested"), "{open}: {err}");
        assert!(err.position < input.len());
        assert!(parse_filter(&input, &FilterLimits::default()).is_err());
        assert!(started.elapsed() < Duration::from_secs(2), "{open}");
    }
}
