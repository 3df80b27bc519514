use serde_json::json;

use super::*;

const LIMITS: BulkLimits = BulkLimits {
    max_operations: 3,
    max_payload_bytes: 1 << 20,
};

fn request(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

fn post(bulk_id: &str, data: Value) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data})
}

fn parsed(operations: Value) -> BulkRequest {
    match parse(&request(operations), &LIMITS) {
        Ok(r) => r,
        Err(e) => panic!("refused: {e}"),
    }
}

fn refusal(body: &Value) -> ScimError {
    match parse(body, &LIMITS) {
        Ok(_) => panic!("accepted {body}"),
        Err(e) => e,
    }
}

fn order(request: &BulkRequest) -> Vec<(usize, bool)> {
    plan(&request.operations)
        .iter()
        .map(|s| (s.index, s.cyclic))
        .collect()
}

#[test]
fn whole_request_problems_are_refused_before_anything_runs() {
    let no_schema = json!({"Operations": []});
    assert_eq!(refusal(&no_schema).scim_type, Some(ScimType::InvalidSyntax));
    let no_operations = json!({"schemas": [BULK_REQUEST]});
    assert_eq!(
        refusal(&no_operations).scim_type,
        Some(ScimType::InvalidSyntax)
    );
    let too_many = request(json!([{}, {}, {}, {}]));
    let e = refusal(&too_many);
    assert_eq!((e.status, e.scim_type), (413, Some(ScimType::TooLarge)));
    let duplicate = request(json!([post("a", json!({})), post("a", json!({}))]));
    assert_eq!(refusal(&duplicate).scim_type, Some(ScimType::InvalidValue));
    let zero = json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": []});
    assert_eq!(refusal(&zero).scim_type, Some(ScimType::InvalidValue));
    let not_object = request(json!(["POST /Users"]));
    assert_eq!(
        refusal(&not_object).scim_type,
        Some(ScimType::InvalidSyntax)
    );
}

#[test]
fn operation_problems_stay_with_the_operation() {
    let r = parsed(json!([
        {"path": "/Users"},
        {"method": "GET", "path": "/Users/1"},
        {"method": "POST", "path": "/Foo", "bulkId": "x", "data": {}},
    ]));
    let problems: Vec<(u16, Option<ScimType>)> = r
        .operations
        .iter()
        .map(|op| {
            let p = op.problem.as_ref().expect("a problem");
            (p.status, p.scim_type)
        })
        .collect();
    assert_eq!(
        problems,
        [
            (400, Some(ScimType::InvalidSyntax)),
            (400, Some(ScimType::InvalidSyntax)),
            (404, None)
        ]
    );
    let r = parsed(json!([
        {"method": "POST", "path": "/Users/1", "bulkId": "x", "data": {}},
        {"method": "POST", "path": "/Users", "data": {}},
        {"method": "PUT", "path": "/Users/1"},
    ]));
    let statuses: Vec<u16> = r
        .operations
        .iter()
        .map(|op| op.problem.as_ref().map_or(0, |p| p.status))
        .collect();
    assert_eq!(statuses, [405, 400, 400]);
    let r = parsed(json!([
        {"method": "POST", "path": "/Users", "bulkId": " ", "data": {}},
        {"method": "DELETE", "path": "/Users/1", "bulkId": ""},
        {"method": "POST", "path": "/Users", "bulkId": "y", "data": {}},
    ]));
    let statuses: Vec<u16> = r
        .operations
        .iter()
        .map(|op| op.problem.as_ref().map_or(0, |p| p.status))
        .collect();
    assert_eq!(statuses, [400, 400, 0], "an empty bulkId is refused");
}

#[test]
fn references_are_found_in_paths_and_nested_data() {
    let r = parsed(json!([
        post("u", json!({"userName": "a"})),
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [{"op": "add", "value": [{"value": "bulkId:u"}]}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"members": [{"value": "bulkId:u"}, {"value": "bulkId:u"}]}},
    ]));
    assert_eq!(r.operations[1].references, ["g", "u"]);
    assert_eq!(r.operations[2].references, ["u"]);
    assert!(r.operations.iter().all(|op| op.problem.is_none()));
    // The group's POST runs before the PATCH that names it.
    assert_eq!(order(&r), [(0, false), (2, false), (1, false)]);
}

#[test]
fn an_undefined_reference_is_invalid_value() {
    let r = parsed(json!([post(
        "u",
        json!({"manager": {"value": "bulkId:nobody"}})
    )]));
    let p = r.operations[0].problem.as_ref().expect("a problem");
    assert_eq!((p.status, p.scim_type), (400, Some(ScimType::InvalidValue)));
}

#[test]
fn cycles_are_marked_not_followed() {
    let r = parsed(json!([
        post("a", json!({"x": "bulkId:b"})),
        post("b", json!({"x": "bulkId:a"})),
        post("c", json!({"x": "bulkId:c"})),
    ]));
    let steps = order(&r);
    assert_eq!(steps.len(), 3, "every operation is planned once");
    assert!(steps.iter().all(|&(_, cyclic)| cyclic), "{steps:?}");
}

#[test]
fn a_long_chain_of_references_does_not_recurse() {
    let n = 50_000;
    let operations: Vec<Value> = (0..n)
        .map(|i| post(&format!("u{i}"), json!({"x": format!("bulkId:u{}", i + 1)})))
        .chain(std::iter::once(post(&format!("u{n}"), json!({}))))
        .collect();
    let limits = BulkLimits {
        max_operations: n + 1,
        ..LIMITS
    };
    let r = match parse(&request(Value::Array(operations)), &limits) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let steps = plan(&r.operations);
    assert_eq!(steps.first().map(|s| s.index), Some(n));
    assert_eq!(steps.last().map(|s| s.index), Some(0));
}

#[test]
fn substitution_replaces_references_and_names_unresolved_ones() {
    let created: HashMap<String, String> = [("u".to_owned(), "42".to_owned())].into();
    let mut data = json!({"members": [{"value": "bulkId:u"}], "displayName": "bulkId:u team"});
    assert_eq!(substitute(&mut data, &created), Err("u team".to_owned()));
    let mut data = json!({"members": [{"value": "bulkId:u"}], "note": ["keep"]});
    assert_eq!(substitute(&mut data, &created), Ok(()));
    assert_eq!(
        data,
        json!({"members": [{"value": "42"}], "note": ["keep"]})
    );
}
