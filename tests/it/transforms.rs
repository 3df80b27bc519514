//! Every mapping transform (mappings/README.md, "Attributes") through the HTTP interface,
//! against a REAL json-server 0.17.4 that stores whatever JSON it is sent. Each test writes
//! through SCIM and reads the raw record from json-server itself (the exact backend form),
//! puts records into json-server directly and reads them through SCIM (the SCIM form), and
//! checks that a value a transform cannot take gets 400 and leaves the whole db as it was.
//! The mapping is the shipped `mappings/json-server` with the transforms added (see
//! [`TRANSFORMED`]) and an HR extension schema with dateTime attributes.
//! Only with `--features real-backends`.

use serde_json::{json, Value};

use crate::support::json_server::{variant_gateway, JsonServer};
use crate::support::scim::*;
use crate::support::temp::TempDir;
use crate::support::{Client, Gateway};

/// A custom extension with dateTime attributes, one per point-in-time backend type.
const HR: &str = "urn:example:params:scim:schemas:extension:hr:1.0:User";

/// The transformed attributes and the filters that push them down, added to the shipped
/// json-server mapping. The shipped `active` (type boolean) and `manager.value` (type
/// integer) stay as they are.
const TRANSFORMED: &str = r#"
  userType: { path: $.kind, values: { Employee: staff, Contractor: external } }
  nickName: { path: $.nick, case: upper }
  preferredLanguage: { path: $.language, default: en }
  name.formatted: { path: $.full_name, direction: read }
  password: { path: $.password, direction: write }
  HR:hireDate: { path: $.hired_at, type: epoch_seconds }
  HR:lastReview: { path: $.reviewed_ms, type: epoch_millis }
  HR:startDate: { path: $.start_date, type: date }
  HR:badgeIssued: { path: $.badge_issued, type: sql_datetime }
"#;

const PUSHED_DOWN: &str = r#"
  - { attribute: userType, op: eq, query: { kind: "{value}" } }
  - { attribute: nickName, op: eq, query: { nick: "{value}" } }
  - { attribute: "ENT:employeeNumber", op: eq, query: { employee_number: "{value}" } }
  - { attribute: "HR:hireDate", op: ge, query: { hired_at_gte: "{value}" } }
"#;

fn hr_schema() -> Value {
    let attr = |name: &str| {
        json!({
            "name": name, "type": "dateTime", "multiValued": false, "required": false,
            "caseExact": false, "mutability": "readWrite", "returned": "default",
            "uniqueness": "none", "description": name
        })
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": HR,
        "name": "HrUser",
        "description": "dateTime attributes stored in four legacy forms",
        "attributes": [attr("hireDate"), attr("lastReview"), attr("startDate"), attr("badgeIssued")],
        "meta": {"resourceType": "Schema", "location": format!("/v2/Schemas/{HR}")}
    })
}

/// json-server, the gateway with the transformed mapping in front of it, and the folder
/// holding the HR schema file (all dropped together).
struct Fixture {
    server: JsonServer,
    gw: Gateway,
    _schemas: TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        let server = JsonServer::start().await;
        let schemas = TempDir::new();
        let hr_file = schemas.write("hr-user.json", &hr_schema().to_string());
        let gw = variant_gateway(&server, "json-server", |name, text| {
            if name != "users.yaml" {
                return text;
            }
            let text = replace_once(
                &text,
                "8x8-user.json\n",
                &format!("8x8-user.json\n  - file: {}\n", hr_file.display()),
            );
            // The gateway stamps both timestamps itself; stored as epoch seconds here.
            let text = replace_once(&text, "  maintain: true\n", "  maintain: true\n  type: epoch_seconds\n");
            let text = replace_once(
                &text,
                "  displayName: $.display_name\n",
                "  displayName: { path: $.display_name, template: \"{name.givenName} {name.familyName}\" }\n",
            );
            let text = replace_once(
                &text,
                "  'emails[type eq \"work\"].value': $.email\n",
                "  'emails[type eq \"work\"].value': { path: $.email, case: lower }\n",
            );
            let text = replace_once(
                &text,
                "  'emails[type eq \"work\"].primary': $.email_primary\n",
                "  'emails[type eq \"work\"].primary': { path: $.email_primary, type: string }\n",
            );
            let text = replace_once(
                &text,
                "employeeNumber: $.employee_number\n",
                "employeeNumber: { path: $.employee_number, type: integer }\n",
            );
            let text = replace_once(
                &text,
                "costCenter: $.cost_center\n",
                "costCenter: { path: $.cost_center, type: number }\n",
            );
            let text = replace_once(
                &text,
                "organization: $.organization\n",
                "organization: { path: $.organization, constant: Example Corp }\n",
            );
            let text = replace_once(
                &text,
                "division: $.division\n",
                "division: { path: $.division, direction: write }\n",
            );
            let text = replace_once(
                &text,
                "    mutability: immutable\n",
                &format!("    mutability: immutable\n{}", TRANSFORMED.replace("HR:", &format!("{HR}:")).trim_start_matches('\n')),
            );
            let filters = PUSHED_DOWN
                .replace("HR:", &format!("{HR}:"))
                .replace("ENT:", &format!("{ENTERPRISE}:"));
            replace_once(&text, "\nsort:", &format!("{}\nsort:", filters.trim_end()))
        })
        .await;
        Fixture {
            server,
            gw,
            _schemas: schemas,
        }
    }

    fn js(&self) -> Client {
        self.server.client()
    }

    /// json-server's whole database.
    async fn db(&self) -> Value {
        let r = self.js().get("/db").await;
        assert_eq!(r.status, 200, "json-server /db: {}", r.text);
        r.json
    }

    /// The raw record json-server holds for `id`.
    async fn stored(&self, id: &str) -> Value {
        let r = self.js().get(&format!("/users/{id}")).await;
        assert_eq!(r.status, 200, "json-server /users/{id}: {}", r.text);
        r.json
    }

    /// Sends `body` to json-server as `application/json` (it ignores SCIM's media type).
    async fn send_json(&self, method: &str, path: &str, body: &Value) -> crate::support::Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        self.js()
            .raw(
                method,
                path,
                &[("content-type", "application/json")],
                Some(bytes),
            )
            .await
    }

    /// Puts a record into json-server behind the gateway's back; returns its id.
    async fn insert(&self, record: Value) -> String {
        let r = self.send_json("POST", "/users", &record).await;
        assert_eq!(r.status, 201, "json-server POST /users: {}", r.text);
        r.json["id"].to_string()
    }

    /// Changes fields of a json-server record behind the gateway's back.
    async fn change(&self, id: &str, fields: Value) {
        let r = self
            .send_json("PATCH", &format!("/users/{id}"), &fields)
            .await;
        assert_eq!(r.status, 200, "json-server PATCH /users/{id}: {}", r.text);
    }

    /// Creates [`user_with`]`(run, extra)` through SCIM; returns its id.
    async fn create(&self, run: &str, extra: Value) -> String {
        create(&self.gw, "/Users", &user_with(run, extra)).await
    }

    /// The SCIM resource `id`.
    async fn user(&self, id: &str) -> Value {
        fetch(&self.gw, &format!("/Users/{id}")).await
    }

    /// The resources a filter lists, asserting 200.
    async fn filtered(&self, expr: &str) -> Vec<Value> {
        let r = filter(&self.gw, "/Users", expr, "").await;
        assert_eq!(r.status, 200, "filter {expr}: {}", r.text);
        r.json["Resources"].as_array().cloned().unwrap_or_default()
    }

    /// Asserts that each body, POSTed or sent as PATCH operations to `/Users/{id}`, gets 400
    /// with `scim_type` and that json-server's db is exactly as before.
    async fn refused(&self, id: &str, posts: &[Value], patches: &[Value], scim_type: &str) {
        let before = self.db().await;
        for body in posts {
            let r = self.gw.scim.post("/Users", body).await;
            assert_scim_error(&r, 400, Some(scim_type));
        }
        for ops in patches {
            let r = self
                .gw
                .scim
                .patch(&format!("/Users/{id}"), &patch(ops.clone()))
                .await;
            assert_scim_error(&r, 400, Some(scim_type));
        }
        assert_eq!(
            self.db().await,
            before,
            "a refused request changed json-server"
        );
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} in the shipped mapping"
    );
    text.replacen(from, to, 1)
}

/// A user with a unique userName and `extra` laid over it.
fn user_with(run: &str, extra: Value) -> Value {
    let mut body = json!({
        "schemas": [USER, ENTERPRISE, HR],
        "userName": format!("tx-{run}@example.com"),
        "name": {"givenName": "Jane", "familyName": "Doe"},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// `resources` hold exactly the ids `ids` (any order).
fn ids_of(resources: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn value_map_stores_the_backend_value_and_reads_the_scim_one() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({"userType": "Employee"})).await;
    assert_eq!(f.stored(&id).await["kind"], "staff");
    assert_eq!(f.user(&id).await["userType"], "Employee");

    // Entra's capitalised op; the map matches the SCIM value case-insensitively.
    let ops = json!([{"op": "Replace", "path": "userType", "value": "contractor"}]);
    patch_ok(&f.gw, &format!("/Users/{id}"), ops).await;
    assert_eq!(f.stored(&id).await["kind"], "external");
    assert_eq!(f.user(&id).await["userType"], "Contractor");

    // Stored directly: the reverse map, on a read by id, in a list and in a filter that is
    // pushed down as `?kind=staff` (the stored form, not the SCIM one).
    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "kind": "staff"}))
        .await;
    assert_eq!(f.user(&direct).await["userType"], "Employee");
    let found = f.filtered(r#"userType eq "Employee""#).await;
    assert_eq!(ids_of(&found), vec![direct.clone()]);
    assert_eq!(found[0]["userType"], "Employee");
    let found = f.filtered(r#"userType eq "Contractor""#).await;
    assert_eq!(ids_of(&found), vec![id.clone()]);

    // A backend value outside the map is not a SCIM value: the attribute is absent.
    let robot = f
        .insert(json!({"login": format!("robot-{run}"), "kind": "robot"}))
        .await;
    assert!(f.user(&robot).await.get("userType").is_none());
}

#[tokio::test]
async fn value_outside_the_map_is_invalid_value_and_changes_nothing() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({"userType": "Employee"})).await;
    let other = run_id();
    f.refused(
        &id,
        &[user_with(&other, json!({"userType": "Intern"}))],
        &[
            json!([{"op": "replace", "path": "userType", "value": "Intern"}]),
            json!([{"op": "replace", "value": {"userType": "staff"}}]),
        ],
        "invalidValue",
    )
    .await;
    // A filter on a value no record can hold is not pushed down and matches nothing.
    assert!(f.filtered(r#"userType eq "Intern""#).await.is_empty());
}

#[tokio::test]
async fn integer_and_number_types_coerce_both_ways() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f
        .create(
            &run,
            json!({ENTERPRISE: {"employeeNumber": "1234", "costCenter": "4100.5"}}),
        )
        .await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["employee_number"], json!(1234));
    assert_eq!(stored["cost_center"], json!(4100.5));
    let user = f.user(&id).await;
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "1234");
    assert_eq!(user[ENTERPRISE]["costCenter"], "4100.5");

    let path = format!("{ENTERPRISE}:employeeNumber");
    patch_ok(
        &f.gw,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": path, "value": "1235"}]),
    )
    .await;
    assert_eq!(f.stored(&id).await["employee_number"], json!(1235));

    // Backend numbers read as SCIM strings; the filter is pushed down as `employee_number=77`.
    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "employee_number": 77, "cost_center": 12}))
        .await;
    let user = f.user(&direct).await;
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "77");
    assert_eq!(user[ENTERPRISE]["costCenter"], "12");
    let found = f
        .filtered(&format!(r#"{ENTERPRISE}:employeeNumber eq "77""#))
        .await;
    assert_eq!(ids_of(&found), vec![direct]);
    assert_eq!(found[0][ENTERPRISE]["employeeNumber"], "77");
}

#[tokio::test]
async fn non_numbers_for_numeric_types_are_invalid_value() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({})).await;
    let other = run_id();
    f.refused(
        &id,
        &[
            user_with(&other, json!({ENTERPRISE: {"employeeNumber": "abc"}})),
            user_with(&other, json!({ENTERPRISE: {"employeeNumber": "12.5"}})),
            user_with(&other, json!({ENTERPRISE: {"costCenter": "CC-4100"}})),
        ],
        &[
            json!([{"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "abc"}]),
            json!([{"op": "add", "path": format!("{ENTERPRISE}:costCenter"), "value": "n/a"}]),
        ],
        "invalidValue",
    )
    .await;
}

#[tokio::test]
async fn booleans_coerce_both_ways_including_entra_strings() {
    let f = Fixture::start().await;
    let run = run_id();
    let login = format!("tx-{run}@example.com");
    let id = f
        .create(
            &run,
            json!({"active": true, "emails": [{"type": "work", "value": login, "primary": true}]}),
        )
        .await;
    let stored = f.stored(&id).await;
    // `active` has type boolean, the primary flag type string.
    assert_eq!(stored["enabled"], json!(true));
    assert_eq!(stored["email_primary"], json!("true"));

    // Entra (without aadOptscim062020) sends booleans as "False" strings.
    let ops = json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "False"}
    ]);
    patch_ok(&f.gw, &format!("/Users/{id}"), ops).await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["enabled"], json!(false));
    assert_eq!(stored["email_primary"], json!("false"));
    let user = f.user(&id).await;
    assert_eq!(user["active"], json!(false));
    assert_eq!(user["emails"][0]["primary"], json!(false));

    // Backend strings and booleans read as SCIM booleans, in a filter too.
    let direct = f
        .insert(json!({
            "login": format!("direct-{run}"), "enabled": "true",
            "email": format!("direct-{run}@example.com"), "email_primary": "true"
        }))
        .await;
    let user = f.user(&direct).await;
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["emails"][0]["primary"], json!(true));
    let expr = format!(r#"userName sw "direct-{run}" and emails[primary eq true]"#);
    assert_eq!(ids_of(&f.filtered(&expr).await), vec![direct]);

    f.refused(
        &id,
        &[user_with(&run_id(), json!({"active": "maybe"}))],
        &[json!([{"op": "replace", "path": "active", "value": "sometimes"}])],
        "invalidValue",
    )
    .await;
}

#[tokio::test]
async fn epoch_seconds_and_millis_store_numbers_and_read_rfc3339() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({HR: {"hireDate": "2024-05-01T11:00:00+02:00", "lastReview": "2024-05-01T09:00:00.250Z"}})).await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["hired_at"], json!(1_714_554_000));
    assert_eq!(stored["reviewed_ms"], json!(1_714_554_000_250_i64));
    let user = f.user(&id).await;
    assert_eq!(user[HR]["hireDate"], "2024-05-01T09:00:00Z");
    assert_eq!(user[HR]["lastReview"], "2024-05-01T09:00:00.250Z");

    let ops = json!([{"op": "replace", "path": format!("{HR}:lastReview"), "value": "2024-06-01T00:00:00Z"}]);
    patch_ok(&f.gw, &format!("/Users/{id}"), ops).await;
    assert_eq!(
        f.stored(&id).await["reviewed_ms"],
        json!(1_717_200_000_000_i64)
    );

    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "hired_at": 1_700_000_000, "reviewed_ms": 1_700_000_000_001_i64}))
        .await;
    let user = f.user(&direct).await;
    assert_eq!(user[HR]["hireDate"], "2023-11-14T22:13:20Z");
    assert_eq!(user[HR]["lastReview"], "2023-11-14T22:13:20.001Z");

    // Pushed down as `hired_at_gte=1704067200`, an epoch json-server compares as a number.
    let found = f
        .filtered(&format!(r#"{HR}:hireDate ge "2024-01-01T00:00:00Z""#))
        .await;
    assert_eq!(ids_of(&found), vec![id.clone()]);
    assert_eq!(found[0][HR]["hireDate"], "2024-05-01T09:00:00Z");
    // The same instant in another offset; lastReview is compared in the gateway.
    let found = f
        .filtered(&format!(r#"{HR}:hireDate ge "2023-11-14T23:13:20+01:00""#))
        .await;
    assert_eq!(ids_of(&found), {
        let mut v = vec![id.clone(), direct.clone()];
        v.sort();
        v
    });
    let found = f
        .filtered(&format!(r#"{HR}:lastReview lt "2024-01-01T00:00:00Z""#))
        .await;
    assert_eq!(ids_of(&found), vec![direct]);
}

#[tokio::test]
async fn date_and_sql_datetime_store_their_text_forms_in_utc() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({HR: {"startDate": "2024-05-01T23:30:00-05:00", "badgeIssued": "2024-05-01T11:00:00+02:00"}})).await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["start_date"], "2024-05-02");
    assert_eq!(stored["badge_issued"], "2024-05-01 09:00:00");
    let user = f.user(&id).await;
    assert_eq!(user[HR]["startDate"], "2024-05-02T00:00:00Z");
    assert_eq!(user[HR]["badgeIssued"], "2024-05-01T09:00:00Z");

    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "start_date": "2023-01-15", "badge_issued": "2023-01-15 08:30:00"}))
        .await;
    let user = f.user(&direct).await;
    assert_eq!(user[HR]["startDate"], "2023-01-15T00:00:00Z");
    assert_eq!(user[HR]["badgeIssued"], "2023-01-15T08:30:00Z");
    let found = f
        .filtered(&format!(r#"{HR}:startDate lt "2024-01-01T00:00:00Z""#))
        .await;
    assert_eq!(ids_of(&found), vec![direct]);
}

#[tokio::test]
async fn datetimes_that_are_not_rfc3339_are_invalid_value() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f
        .create(&run, json!({HR: {"hireDate": "2024-05-01T09:00:00Z"}}))
        .await;
    let mut posts = Vec::new();
    let mut patches = Vec::new();
    for attr in ["hireDate", "lastReview", "startDate", "badgeIssued"] {
        for bad in [
            json!("2024-05-01"),
            json!("yesterday"),
            json!("2024-13-01T00:00:00Z"),
            json!(1_714_554_000),
        ] {
            posts.push(user_with(&run_id(), json!({HR: {attr: bad.clone()}})));
            patches.push(json!([{"op": "replace", "path": format!("{HR}:{attr}"), "value": bad}]));
        }
    }
    f.refused(&id, &posts, &patches, "invalidValue").await;
}

#[tokio::test]
async fn meta_timestamps_stored_as_epoch_seconds() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f.create(&run, json!({})).await;
    let stored = f.stored(&id).await;
    let created = stored["created_at"]
        .as_i64()
        .expect("created_at is epoch seconds");
    assert!(stored["updated_at"].as_i64().is_some(), "{stored}");
    let user = f.user(&id).await;
    assert_eq!(
        user["meta"]["created"],
        scimgate::mapping::transform::epoch_to_rfc3339(created)
    );

    // meta filters compare instants; seeded records have no epoch stamps and never match.
    let since = scimgate::mapping::transform::epoch_to_rfc3339(created - 1);
    let found = f.filtered(&format!(r#"meta.created ge "{since}""#)).await;
    assert_eq!(ids_of(&found), vec![id]);

    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "created_at": 1_700_000_000, "updated_at": 1_700_000_060}))
        .await;
    let user = f.user(&direct).await;
    assert_eq!(user["meta"]["created"], "2023-11-14T22:13:20Z");
    assert_eq!(user["meta"]["lastModified"], "2023-11-14T22:14:20Z");
}

#[tokio::test]
async fn template_builds_display_name_and_follows_a_patched_part() {
    let f = Fixture::start().await;
    let run = run_id();
    // A displayName the client sends is replaced by the template.
    let id = f.create(&run, json!({"displayName": "JD"})).await;
    assert_eq!(f.stored(&id).await["display_name"], "Jane Doe");
    assert_eq!(f.user(&id).await["displayName"], "Jane Doe");

    let path = format!("/Users/{id}");
    patch_ok(
        &f.gw,
        &path,
        json!([{"op": "replace", "path": "name.familyName", "value": "Smith"}]),
    )
    .await;
    assert_eq!(f.stored(&id).await["display_name"], "Jane Smith");
    assert_eq!(f.user(&id).await["displayName"], "Jane Smith");
    assert_eq!(
        ids_of(&f.filtered(r#"displayName eq "Jane Smith""#).await),
        vec![id.clone()]
    );

    // A part missing: the displayName is stored as it is, never half-built ("Jane ").
    patch_ok(
        &f.gw,
        &path,
        json!([{"op": "remove", "path": "name.familyName"}]),
    )
    .await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["display_name"], "Jane Smith");
    assert!(stored["last_name"].is_null(), "{stored}");
    patch_ok(
        &f.gw,
        &path,
        json!([{"op": "replace", "path": "displayName", "value": "Jane"}]),
    )
    .await;
    assert_eq!(f.stored(&id).await["display_name"], "Jane");

    let only_given = json!({"schemas": [USER], "userName": format!("given-{run}"), "name": {"givenName": "Prince"}});
    let given = create(&f.gw, "/Users", &only_given).await;
    assert!(f.stored(&given).await.get("display_name").is_none());
    let mut named = only_given.clone();
    named["userName"] = json!(format!("named-{run}"));
    named["displayName"] = json!("The Artist");
    let named = create(&f.gw, "/Users", &named).await;
    assert_eq!(f.stored(&named).await["display_name"], "The Artist");
}

#[tokio::test]
async fn case_folding_applies_only_where_the_mapping_says() {
    let f = Fixture::start().await;
    let run = run_id();
    let login = format!("Jane.Doe-{run}@Example.COM");
    let id = f
        .create(
            &run,
            json!({
                "userName": login,
                "nickName": "jd",
                "title": "  Senior  Engineer ",
                "emails": [{"type": "work", "value": login}]
            }),
        )
        .await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["email"], login.to_lowercase());
    assert_eq!(stored["nick"], "JD");
    // Without a transform, values are stored exactly as sent.
    assert_eq!(stored["login"], login);
    assert_eq!(stored["title"], "  Senior  Engineer ");
    let user = f.user(&id).await;
    assert_eq!(user["emails"][0]["value"], login.to_lowercase());
    assert_eq!(user["nickName"], "JD");
    assert_eq!(user["userName"], login);
    assert_eq!(user["title"], "  Senior  Engineer ");

    // Pushed down as `nick=JD`: the filter value is folded like a stored one.
    assert_eq!(
        ids_of(&f.filtered(r#"nickName eq "jd""#).await),
        vec![id.clone()]
    );
    patch_ok(
        &f.gw,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "nickName", "value": "Jay"}]),
    )
    .await;
    assert_eq!(f.stored(&id).await["nick"], "JAY");
    let by_email = format!(r#"emails[type eq "work"].value eq "{login}""#);
    assert_eq!(ids_of(&f.filtered(&by_email).await), vec![id]);
}

#[tokio::test]
async fn default_is_written_only_when_absent() {
    let f = Fixture::start().await;
    let run = run_id();
    let absent = f.create(&run, json!({})).await;
    assert_eq!(f.stored(&absent).await["language"], "en");
    assert_eq!(f.user(&absent).await["preferredLanguage"], "en");
    let sent = f
        .create(&run_id(), json!({"preferredLanguage": "nb"}))
        .await;
    assert_eq!(f.stored(&sent).await["language"], "nb");
    assert_eq!(f.user(&sent).await["preferredLanguage"], "nb");

    // Clearing it later writes the default again (for backends that refuse nulls).
    patch_ok(
        &f.gw,
        &format!("/Users/{sent}"),
        json!([{"op": "remove", "path": "preferredLanguage"}]),
    )
    .await;
    assert_eq!(f.stored(&sent).await["language"], "en");
}

/// An update writes only what the client changed: a backend value the mapping cannot read
/// (outside the value map) survives an unrelated PATCH, and a `default` is not back-filled
/// into a record created behind the gateway's back.
#[tokio::test]
async fn an_unrelated_update_keeps_unreadable_values_and_back_fills_no_default() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f
        .insert(json!({"login": format!("locked-{run}"), "kind": "robot", "enabled": true}))
        .await;
    assert!(f.user(&id).await.get("userType").is_none());
    patch_ok(
        &f.gw,
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "title", "value": "Operator"}]),
    )
    .await;
    let stored = f.stored(&id).await;
    assert_eq!(stored["title"], "Operator");
    assert_eq!(
        stored["kind"], "robot",
        "an unrelated PATCH reset it: {stored}"
    );
    assert!(
        stored.get("language").is_none(),
        "the default was back-filled: {stored}"
    );
    // Changing the attribute itself still writes it.
    patch_ok(
        &f.gw,
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "userType", "value": "Employee"}]),
    )
    .await;
    assert_eq!(f.stored(&id).await["kind"], "staff");
}

#[tokio::test]
async fn constant_is_always_written_and_read_only_to_clients() {
    let f = Fixture::start().await;
    let run = run_id();
    let id = f
        .create(&run, json!({ENTERPRISE: {"organization": "Other Corp"}}))
        .await;
    assert_eq!(f.stored(&id).await["organization"], "Example Corp");
    let user = f.user(&id).await;
    assert_eq!(user[ENTERPRISE]["organization"], "Example Corp");

    // PUT: a readOnly value sent is ignored (RFC 7644 §3.5.1).
    let mut replaced = user.clone();
    replaced[ENTERPRISE]["organization"] = json!("Other Corp");
    let r = f.gw.scim.put(&format!("/Users/{id}"), &replaced).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json[ENTERPRISE]["organization"], "Example Corp");
    assert_eq!(f.stored(&id).await["organization"], "Example Corp");

    // PATCH: changing it is a mutability error; "changing" it to itself is a no-op.
    let path = format!("{ENTERPRISE}:organization");
    f.refused(
        &id,
        &[],
        &[json!([{"op": "replace", "path": path, "value": "Other Corp"}])],
        "mutability",
    )
    .await;
    patch_ok(
        &f.gw,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": path, "value": "Example Corp"}]),
    )
    .await;

    // Whatever the backend holds, reads return the constant; /Schemas says readOnly.
    let direct = f
        .insert(json!({"login": format!("direct-{run}"), "organization": "Legacy Inc"}))
        .await;
    assert_eq!(
        f.user(&direct).await[ENTERPRISE]["organization"],
        "Example Corp"
    );
    let schema = fetch(&f.gw, &format!("/Schemas/{ENTERPRISE}")).await;
    let org = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "organization")
        .unwrap()
        .clone();
    assert_eq!(org["mutability"], "readOnly", "{org}");
}

#[tokio::test]
async fn read_direction_returns_backend_values_and_ignores_client_writes() {
    let f = Fixture::start().await;
    let run = run_id();
    let mut body = user_with(&run, json!({}));
    body["name"]["formatted"] = json!("Client Formatted");
    let id = create(&f.gw, "/Users", &body).await;
    assert!(f.stored(&id).await.get("full_name").is_none());

    f.change(&id, json!({"full_name": "Dr. Jane Doe"})).await;
    let user = f.user(&id).await;
    assert_eq!(user["name"]["formatted"], "Dr. Jane Doe");
    let found = f.filtered(r#"name.formatted eq "Dr. Jane Doe""#).await;
    assert_eq!(ids_of(&found), vec![id.clone()]);
    assert_eq!(found[0]["name"]["formatted"], "Dr. Jane Doe");

    let mut replaced = user.clone();
    replaced["name"]["formatted"] = json!("Someone Else");
    replaced["title"] = json!("Lead");
    let r = f.gw.scim.put(&format!("/Users/{id}"), &replaced).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = f.stored(&id).await;
    assert_eq!(stored["full_name"], "Dr. Jane Doe");
    assert_eq!(stored["title"], "Lead");

    f.refused(
        &id,
        &[],
        &[json!([{"op": "replace", "path": "name.formatted", "value": "Someone Else"}])],
        "mutability",
    )
    .await;
}

#[tokio::test]
async fn write_direction_is_stored_but_never_returned_or_filtered() {
    let f = Fixture::start().await;
    let run = run_id();
    let body = user_with(
        &run,
        json!({"password": "Secret-1!", ENTERPRISE: {"division": "R&D"}}),
    );
    let r = f.gw.scim.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let never_shown = |resource: &Value| {
        assert!(resource.get("password").is_none(), "{resource}");
        assert!(resource[ENTERPRISE].get("division").is_none(), "{resource}");
    };
    never_shown(&r.json);
    let stored = f.stored(&id).await;
    assert_eq!(stored["password"], "Secret-1!");
    assert_eq!(stored["division"], "R&D");
    never_shown(&f.user(&id).await);
    let asked = fetch(
        &f.gw,
        &format!("/Users/{id}?attributes=password,{ENTERPRISE}:division"),
    )
    .await;
    never_shown(&asked);
    let listed = f
        .filtered(&format!(r#"userName eq "tx-{run}@example.com""#))
        .await;
    assert_eq!(listed.len(), 1);
    never_shown(&listed[0]);

    // A filter on it could only answer wrongly (or let a client probe a secret).
    for expr in [
        r#"password eq "Secret-1!""#.to_owned(),
        "password pr".to_owned(),
        format!(r#"{ENTERPRISE}:division eq "R&D""#),
    ] {
        let r = filter(&f.gw, "/Users", &expr, "").await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }

    // Written on PATCH; a PUT that leaves it out does not clear it.
    let path = format!("/Users/{id}");
    let ops = json!([{"op": "replace", "path": format!("{ENTERPRISE}:division"), "value": "Ops"}]);
    never_shown(&patch_ok(&f.gw, &path, ops).await.json);
    assert_eq!(f.stored(&id).await["division"], "Ops");
    let mut replaced = f.user(&id).await;
    replaced["title"] = json!("Lead");
    let r = f.gw.scim.put(&path, &replaced).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = f.stored(&id).await;
    assert_eq!(
        (stored["division"].clone(), stored["password"].clone()),
        (json!("Ops"), json!("Secret-1!"))
    );
    assert_eq!(stored["title"], "Lead");
}
