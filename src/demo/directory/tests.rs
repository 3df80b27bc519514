//! HTTP tests: the directory served on a loopback port, driven by a real HTTP client.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request as HttpRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;

/// A directory served on `127.0.0.1:0` plus a client for it.
struct Server {
    addr: SocketAddr,
    dir: DemoDirectory,
    client: Client<HttpConnector, Full<Bytes>>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

/// A response with its body parsed as JSON (`Value::Null` when empty).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    raw: Bytes,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn total(&self) -> u64 {
        self.header("x-total-count").unwrap().parse().unwrap()
    }

    fn ids(&self, key: &str) -> Vec<u64> {
        self.json
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[key].as_u64().unwrap())
            .collect()
    }

    /// Asserts the JSON error shape and returns the message.
    #[track_caller]
    fn error(&self, status: StatusCode, code: &str) -> &str {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.json["error"], code, "{self:?}");
        assert_eq!(self.json.as_object().unwrap().len(), 2, "{self:?}");
        self.json["message"].as_str().unwrap()
    }
}

impl Server {
    async fn start(store: Store, api_key: Option<&str>) -> Self {
        Self::serving(DemoDirectory::new(store, api_key.map(str::to_owned))).await
    }

    /// The seeded directory answering in `shape`.
    async fn shaped(shape: DemoShape) -> Self {
        Self::serving(DemoDirectory::new(Store::seeded(), None).with_shape(shape)).await
    }

    async fn serving(dir: DemoDirectory) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dir.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            addr,
            dir,
            client,
            shutdown,
            task,
        }
    }

    async fn seeded() -> Self {
        Self::start(Store::seeded(), None).await
    }

    async fn raw(&self, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = HttpRequest::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let (parts, body) = self.client.request(request).await.unwrap().into_parts();
        let raw = body.collect().await.unwrap().to_bytes();
        let json = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("non-JSON body {raw:?}: {e}"))
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            raw,
            json,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, path, &body, &[("content-type", "application/json")])
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    /// Stops the server and checks that it shut down cleanly.
    async fn stop(self) {
        drop(self.client);
        self.shutdown.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

// --- users -----------------------------------------------------------------------------------

#[tokio::test]
async fn list_users_pages_in_id_order_with_total_count() {
    let server = Server::seeded().await;
    let all = server.get("/api/users").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.header("content-type"), Some("application/json"));
    assert_eq!(all.total(), 5);
    assert_eq!(all.ids("id"), [1001, 1002, 1003, 1004, 1005]);
    assert_eq!(
        all.json[0],
        serde_json::to_value(Store::seeded().user(1001).unwrap()).unwrap()
    );

    let page = server.get("/api/users?page=2&per_page=2").await;
    assert_eq!((page.ids("id"), page.total()), (vec![1003, 1004], 5));
    let past = server.get("/api/users?page=9&per_page=2").await;
    assert_eq!(
        (past.status, past.json.clone(), past.total()),
        (StatusCode::OK, json!([]), 5)
    );

    server.dir.with_store_mut(|store| store.seed_bulk(150));
    let clamped = server.get("/api/users?per_page=500").await;
    assert_eq!((clamped.ids("id").len(), clamped.total()), (100, 155));
    let default = server.get("/api/users?page=3").await;
    assert_eq!(default.ids("id"), (1041..=1060).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test]
async fn list_users_filters_and_rejects_bad_queries() {
    let server = Server::seeded().await;
    let ids = |reply: Reply| (reply.ids("id"), reply.total());
    assert_eq!(
        ids(server.get("/api/users?login=BOB%40example.com").await),
        (vec![1002], 1)
    );
    assert_eq!(
        ids(server.get("/api/users?login_prefix=C").await),
        (vec![1003], 1)
    );
    assert_eq!(
        ids(server.get("/api/users?external_ref=HRIS-000412").await),
        (vec![1002], 1)
    );
    assert_eq!(
        ids(server.get("/api/users?external_ref=hris-000412").await),
        (vec![], 0)
    );
    assert_eq!(
        ids(server.get("/api/users?email=Eunji@Example.com").await),
        (vec![1005], 1)
    );
    assert_eq!(
        ids(server.get("/api/users?status=DISABLED").await),
        (vec![1004], 1)
    );
    assert_eq!(
        ids(server.get("/api/users?status=ENABLED&login_prefix=d").await),
        (vec![], 0)
    );

    for (query, message) in [
        (
            "page=0",
            "query parameter 'page' must be a positive integer",
        ),
        (
            "per_page=ten",
            "query parameter 'per_page' must be a positive integer",
        ),
        (
            "per_page=-5",
            "query parameter 'per_page' must be a positive integer",
        ),
        (
            "status=enabled",
            "query parameter 'status' must be \"ENABLED\" or \"DISABLED\"",
        ),
        ("username=alice", "unknown query parameter 'username'"),
    ] {
        let reply = server.get(&format!("/api/users?{query}")).await;
        assert_eq!(
            reply.error(StatusCode::BAD_REQUEST, "validation"),
            message,
            "{query}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn get_user_by_id_and_404s() {
    let server = Server::seeded().await;
    let bob = server.get("/api/users/1002").await;
    assert_eq!(bob.status, StatusCode::OK);
    assert_eq!(bob.json["login"], "bob@example.com");
    assert_eq!(bob.json["org"]["manager_id"], 1001);
    assert_eq!(bob.json["password_set"], false);

    let missing = server.get("/api/users/4242").await;
    assert_eq!(
        missing.error(StatusCode::NOT_FOUND, "not_found"),
        "user 4242 not found"
    );
    for id in ["abc", "+1002", "1002.0", "-1"] {
        let reply = server.get(&format!("/api/users/{id}")).await;
        assert_eq!(
            reply.error(StatusCode::NOT_FOUND, "not_found"),
            format!("user '{id}' not found")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn create_user_returns_201_location_and_the_record() {
    let server = Server::seeded().await;
    let body = json!({
        "login": "frank@example.com",
        "first_name": "Frank",
        "last_name": "Ocean",
        "contact": {"email": "frank@example.com", "email_primary": true},
        "org": {"manager_id": 1001, "department": "R&D"},
        "password": "Tr0ub4dor&3",
        "id": 1,
    });
    let created = server.call("POST", "/api/users", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("location"), Some("/api/users/1006"));
    assert_eq!(created.json["id"], 1006);
    assert_eq!(created.json["status"], "ENABLED");
    assert_eq!(created.json["middle_name"], Value::Null);
    assert_eq!(created.json["password_set"], true);
    assert!(created.json.get("password").is_none());
    assert_eq!(created.json["created_at"], created.json["updated_at"]);

    let fetched = server.get("/api/users/1006").await;
    assert_eq!(fetched.json, created.json);
    assert!(server
        .dir
        .with_store(|s| s.password_matches(1006, "Tr0ub4dor&3")));
    let engineering_reports = server.get("/api/users?login=frank@example.com").await;
    assert_eq!(engineering_reports.json[0]["org"]["manager_id"], 1001);
    server.stop().await;
}

#[tokio::test]
async fn create_user_errors_are_json_with_codes() {
    let server = Server::seeded().await;
    let conflict = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"login": "Alice@Example.com"})),
        )
        .await;
    assert_eq!(
        conflict.error(StatusCode::CONFLICT, "conflict"),
        "login 'Alice@Example.com' is already taken"
    );

    for (body, message) in [
        (
            json!({"login": "x", "nickname": "x"}),
            "unknown field 'nickname'",
        ),
        (
            json!({"login": "x", "org": {"boss": 1}}),
            "unknown field 'org.boss'",
        ),
        (
            json!({"login": "x", "contact": {"email_primary": 1}}),
            "field 'contact.email_primary' must be a boolean",
        ),
        (
            json!({"login": "x", "last_name": ["a"]}),
            "field 'last_name' must be a string or null",
        ),
        (
            json!({"login": "x", "org": {"manager_id": 99}}),
            "field 'org.manager_id': user 99 does not exist",
        ),
        (json!({"first_name": "x"}), "field 'login' is required"),
        (json!("login"), "request body must be a JSON object"),
    ] {
        let reply = server.call("POST", "/api/users", Some(body.clone())).await;
        assert_eq!(
            reply.error(StatusCode::BAD_REQUEST, "validation"),
            message,
            "{body}"
        );
    }

    for raw in [r#"{"login": "#, "", "login=x"] {
        let reply = server.raw("POST", "/api/users", raw, &[]).await;
        let message = reply.error(StatusCode::BAD_REQUEST, "bad_json");
        assert!(message.starts_with("malformed JSON body"), "{message}");
    }
    assert_eq!(server.dir.with_store(Store::user_count), 5);
    server.stop().await;
}

#[tokio::test]
async fn put_user_replaces_and_reports_404_and_409() {
    let server = Server::seeded().await;
    server
        .call(
            "PATCH",
            "/api/users/1002",
            Some(json!({"password": "p4ss"})),
        )
        .await;
    let replaced = server
        .call(
            "PUT",
            "/api/users/1002",
            Some(json!({"login": "bob@example.com", "title": "Architect"})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json["title"], "Architect");
    assert_eq!(replaced.json["first_name"], Value::Null);
    assert_eq!(replaced.json["org"]["manager_id"], Value::Null);
    assert_eq!(replaced.json["contact"]["email"], Value::Null);
    assert_eq!(replaced.json["password_set"], true);
    assert_eq!(replaced.json["created_at"], "2024-05-02T10:15:00Z");
    assert_ne!(replaced.json["updated_at"], "2024-09-12T14:02:37Z");
    assert_eq!(server.get("/api/users/1002").await.json, replaced.json);

    let missing = server
        .call("PUT", "/api/users/4242", Some(json!({"login": "x"})))
        .await;
    assert_eq!(
        missing.error(StatusCode::NOT_FOUND, "not_found"),
        "user 4242 not found"
    );
    let conflict = server
        .call(
            "PUT",
            "/api/users/1002",
            Some(json!({"login": "CAROL@example.com"})),
        )
        .await;
    assert_eq!(
        conflict.error(StatusCode::CONFLICT, "conflict"),
        "login 'CAROL@example.com' is already taken"
    );
    server.stop().await;
}

#[tokio::test]
async fn patch_user_merges_and_null_clears() {
    let server = Server::seeded().await;
    let patched = server
        .call(
            "PATCH",
            "/api/users/1002",
            Some(json!({"status": "DISABLED", "contact": {"phone": null}, "org": {"division": "Platform"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json["status"], "DISABLED");
    assert_eq!(patched.json["first_name"], "Bob");
    assert_eq!(patched.json["contact"]["phone"], Value::Null);
    assert_eq!(patched.json["contact"]["mobile"], "+447700900123");
    assert_eq!(patched.json["org"]["division"], "Platform");
    assert_eq!(patched.json["org"]["manager_id"], 1001);
    assert_eq!(patched.json["org"]["cost_center"], "CC-4100");

    let missing = server
        .call("PATCH", "/api/users/4242", Some(json!({})))
        .await;
    assert_eq!(
        missing.error(StatusCode::NOT_FOUND, "not_found"),
        "user 4242 not found"
    );
    let invalid = server
        .call("PATCH", "/api/users/1002", Some(json!({"login": null})))
        .await;
    assert_eq!(
        invalid.error(StatusCode::BAD_REQUEST, "validation"),
        "field 'login' must be a non-empty string"
    );
    let bad_json = server.raw("PATCH", "/api/users/1002", "{", &[]).await;
    bad_json.error(StatusCode::BAD_REQUEST, "bad_json");
    server.stop().await;
}

#[tokio::test]
async fn delete_user_cascades_and_returns_204() {
    let server = Server::seeded().await;
    let deleted = server.call("DELETE", "/api/users/1001", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.raw.is_empty());
    server
        .get("/api/users/1001")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");

    let members = server.get("/api/groups/501/members").await;
    assert_eq!((members.ids("user_id"), members.total()), (vec![1002], 1));
    assert_eq!(server.get("/api/groups/501").await.json["member_count"], 1);
    assert_eq!(
        server.get("/api/users/1002").await.json["org"]["manager_id"],
        Value::Null
    );

    let again = server.call("DELETE", "/api/users/1001", None).await;
    assert_eq!(
        again.error(StatusCode::NOT_FOUND, "not_found"),
        "user 1001 not found"
    );
    // The login is free again, under a new id.
    let recreated = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"login": "alice@example.com"})),
        )
        .await;
    assert_eq!(recreated.header("location"), Some("/api/users/1006"));
    server.stop().await;
}

// --- groups ----------------------------------------------------------------------------------

#[tokio::test]
async fn groups_support_the_same_crud_as_users() {
    let server = Server::seeded().await;
    let list = server.get("/api/groups").await;
    assert_eq!((list.ids("id"), list.total()), (vec![501, 502], 2));
    assert_eq!(list.json[0]["member_count"], 2);
    assert_eq!(
        list.json[1],
        json!({"id": 502, "name": "Sales", "description": "Field and inside sales", "external_ref": null,
               "member_count": 1, "created_at": "2024-05-01T09:35:00Z", "updated_at": "2024-05-01T09:35:00Z"})
    );

    let created = server
        .call(
            "POST",
            "/api/groups",
            Some(json!({"name": "Sales EMEA", "external_ref": "EXT-9"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("location"), Some("/api/groups/503"));
    assert_eq!(created.json["member_count"], 0);
    assert_eq!(server.get("/api/groups/503").await.json, created.json);

    let ids = |reply: Reply| (reply.ids("id"), reply.total());
    assert_eq!(
        ids(server.get("/api/groups?name=sales").await),
        (vec![502], 1)
    );
    assert_eq!(
        ids(server.get("/api/groups?name_prefix=SALES").await),
        (vec![502, 503], 2)
    );
    assert_eq!(
        ids(server.get("/api/groups?external_ref=EXT-9").await),
        (vec![503], 1)
    );
    assert_eq!(
        ids(server.get("/api/groups?per_page=1&page=2").await),
        (vec![502], 3)
    );
    server
        .get("/api/groups?login=x")
        .await
        .error(StatusCode::BAD_REQUEST, "validation");

    let conflict = server
        .call("POST", "/api/groups", Some(json!({"name": "ENGINEERING"})))
        .await;
    assert_eq!(
        conflict.error(StatusCode::CONFLICT, "conflict"),
        "group name 'ENGINEERING' is already taken"
    );
    let invalid = server
        .call(
            "POST",
            "/api/groups",
            Some(json!({"name": "X", "members": [1001]})),
        )
        .await;
    assert_eq!(
        invalid.error(StatusCode::BAD_REQUEST, "validation"),
        "unknown field 'members'"
    );
    server
        .raw("POST", "/api/groups", "[", &[])
        .await
        .error(StatusCode::BAD_REQUEST, "bad_json");

    let replaced = server
        .call(
            "PUT",
            "/api/groups/501",
            Some(json!({"name": "Engineering"})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json["description"], Value::Null);
    assert_eq!(replaced.json["member_count"], 2);
    let patched = server
        .call(
            "PATCH",
            "/api/groups/501",
            Some(json!({"description": "Builders"})),
        )
        .await;
    assert_eq!(
        (
            patched.json["name"].clone(),
            patched.json["description"].clone()
        ),
        (json!("Engineering"), json!("Builders"))
    );
    server
        .call(
            "PATCH",
            "/api/groups/502",
            Some(json!({"name": "sales emea"})),
        )
        .await
        .error(StatusCode::CONFLICT, "conflict");
    server
        .call("PUT", "/api/groups/999", Some(json!({"name": "x"})))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server
        .call("PATCH", "/api/groups/999", Some(json!({})))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let missing = server.get("/api/groups/999").await;
    assert_eq!(
        missing.error(StatusCode::NOT_FOUND, "not_found"),
        "group 999 not found"
    );
    server
        .get("/api/groups/eng")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");

    let deleted = server.call("DELETE", "/api/groups/501", None).await;
    assert_eq!(
        (deleted.status, deleted.raw.is_empty()),
        (StatusCode::NO_CONTENT, true)
    );
    server
        .get("/api/groups/501")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(server.get("/api/users").await.total(), 5);
    server
        .call("DELETE", "/api/groups/501", None)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server.stop().await;
}

// --- members ---------------------------------------------------------------------------------

#[tokio::test]
async fn members_sub_resource_adds_lists_and_removes() {
    let server = Server::seeded().await;
    let list = server.get("/api/groups/501/members").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!((list.ids("user_id"), list.total()), (vec![1001, 1002], 2));
    assert_eq!(list.json[0]["added_at"], "2024-05-01T09:30:00Z");

    let added = server
        .call(
            "POST",
            "/api/groups/501/members",
            Some(json!({"user_id": 1005})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    assert_eq!(added.json["user_id"], 1005);
    assert!(added.json["added_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(added.json.as_object().unwrap().len(), 2);
    let page = server
        .get("/api/groups/501/members?page=2&per_page=2")
        .await;
    assert_eq!((page.ids("user_id"), page.total()), (vec![1005], 3));
    assert_eq!(server.get("/api/groups/501").await.json["member_count"], 3);

    let duplicate = server
        .call(
            "POST",
            "/api/groups/501/members",
            Some(json!({"user_id": 1005})),
        )
        .await;
    assert_eq!(
        duplicate.error(StatusCode::CONFLICT, "conflict"),
        "user 1005 is already a member of group 501"
    );
    let no_user = server
        .call(
            "POST",
            "/api/groups/501/members",
            Some(json!({"user_id": 99})),
        )
        .await;
    assert_eq!(
        no_user.error(StatusCode::BAD_REQUEST, "validation"),
        "user 99 does not exist"
    );
    let malformed = server
        .call("POST", "/api/groups/501/members", Some(json!({"id": 1003})))
        .await;
    assert_eq!(
        malformed.error(StatusCode::BAD_REQUEST, "validation"),
        "unknown field 'id'"
    );
    server
        .raw("POST", "/api/groups/501/members", "user_id=1003", &[])
        .await
        .error(StatusCode::BAD_REQUEST, "bad_json");
    let no_group = server
        .call(
            "POST",
            "/api/groups/999/members",
            Some(json!({"user_id": 1001})),
        )
        .await;
    assert_eq!(
        no_group.error(StatusCode::NOT_FOUND, "not_found"),
        "group 999 not found"
    );
    server
        .get("/api/groups/999/members")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server
        .get("/api/groups/501/members?per_page=0")
        .await
        .error(StatusCode::BAD_REQUEST, "validation");

    let removed = server
        .call("DELETE", "/api/groups/501/members/1005", None)
        .await;
    assert_eq!(
        (removed.status, removed.raw.is_empty()),
        (StatusCode::NO_CONTENT, true)
    );
    let again = server
        .call("DELETE", "/api/groups/501/members/1005", None)
        .await;
    assert_eq!(
        again.error(StatusCode::NOT_FOUND, "not_found"),
        "user 1005 is not a member of group 501"
    );
    server
        .call("DELETE", "/api/groups/999/members/1001", None)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server
        .call("DELETE", "/api/groups/501/members/alice", None)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn member_pages_go_up_to_1000() {
    let server = Server::start(Store::new(), None).await;
    server.dir.with_store_mut(|store| {
        store.seed_bulk(1200);
        let group = store
            .create_group(GroupInput::from_json(&json!({"name": "All"})).unwrap())
            .unwrap()
            .id;
        for id in 1001..=2200 {
            store.add_member(group, id).unwrap();
        }
    });
    let first = server.get("/api/groups/501/members?per_page=5000").await;
    assert_eq!((first.ids("user_id").len(), first.total()), (1000, 1200));
    let default = server.get("/api/groups/501/members").await;
    assert_eq!(default.ids("user_id"), (1001..=1100).collect::<Vec<_>>());
    let last = server
        .get("/api/groups/501/members?page=2&per_page=1000")
        .await;
    assert_eq!(last.ids("user_id"), (2001..=2200).collect::<Vec<_>>());
    server.stop().await;
}

// --- routing, auth, counting -----------------------------------------------------------------

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let server = Server::seeded().await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/accounts"),
        ("POST", "/api/users/1001/groups"),
        ("DELETE", "/api/groups/501/members/1001/extra"),
    ] {
        let reply = server.call(method, path, None).await;
        assert_eq!(
            reply.error(StatusCode::NOT_FOUND, "not_found"),
            format!("no route for {method} {path}")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let server = Server::seeded().await;
    for (method, path, allowed) in [
        ("DELETE", "/api/users", "POST"),
        ("POST", "/api/users/1001", "PUT"),
        ("PUT", "/api/groups/501/members", "POST"),
        ("GET", "/api/groups/501/members/1001", "DELETE"),
    ] {
        let reply = server.call(method, path, None).await;
        assert_eq!(
            reply.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            format!("method {method} is not allowed on {path}")
        );
        let allow = reply.header("allow").unwrap();
        assert!(
            allow.contains(allowed) && !allow.contains(method),
            "{allow}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn api_key_is_required_when_configured() {
    let server = Server::start(Store::seeded(), Some("s3cr3t-key")).await;
    let missing = server.get("/api/users").await;
    assert_eq!(
        missing.error(StatusCode::UNAUTHORIZED, "unauthorized"),
        "missing X-Api-Key header"
    );
    for key in ["wrong", "s3cr3t-ke", "s3cr3t-key2", ""] {
        let wrong = server
            .raw("GET", "/api/users", "", &[("x-api-key", key)])
            .await;
        assert_eq!(
            wrong.error(StatusCode::UNAUTHORIZED, "unauthorized"),
            "invalid API key"
        );
    }
    // The key is checked before routing, so unknown routes do not leak what exists.
    server
        .get("/api/nothing-here")
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let ok = server
        .raw("GET", "/api/users/1001", "", &[("X-Api-Key", "s3cr3t-key")])
        .await;
    assert_eq!(
        (ok.status, ok.json["id"].clone()),
        (StatusCode::OK, json!(1001))
    );
    let created = server
        .raw(
            "POST",
            "/api/groups",
            r#"{"name":"Keyed"}"#,
            &[("x-api-key", "s3cr3t-key")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(server.dir.request_count(), 8);
    assert!(!format!("{:?}", server.dir).contains("s3cr3t"));
    server.stop().await;
}

#[tokio::test]
async fn request_count_counts_every_request() {
    let server = Server::seeded().await;
    assert_eq!(server.dir.request_count(), 0);
    server.get("/api/users").await;
    server.get("/api/users/4242").await;
    server.get("/nope").await;
    server.call("DELETE", "/api/users", None).await;
    server
        .call(
            "POST",
            "/api/groups/501/members",
            Some(json!({"user_id": 1003})),
        )
        .await;
    assert_eq!(server.dir.request_count(), 5);
    // Clones share the counter and the data.
    let clone = server.dir.clone();
    assert_eq!(clone.request_count(), 5);
    assert!(clone.with_store(|s| s.group(501).unwrap().has_member(1003)));
    server.stop().await;
}

#[test]
fn constant_time_eq_compares_whole_slices() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(constant_time_eq(b"", b""));
}

// --- opt-in shapes ---------------------------------------------------------------------------

fn shape(edit: impl FnOnce(&mut DemoShape)) -> DemoShape {
    let mut shape = DemoShape::default();
    edit(&mut shape);
    shape
}

fn new_user(login: &str) -> Value {
    json!({"login": login, "first_name": "Nia"})
}

#[tokio::test]
async fn creates_can_answer_with_only_a_location_or_only_the_id() {
    let server = Server::shaped(shape(|s| s.create = CreateAnswer::Location)).await;
    let reply = server
        .call("POST", "/api/users", Some(new_user("loc@example.com")))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.raw.is_empty(), "{reply:?}");
    assert_eq!(
        reply.header("location"),
        Some(format!("http://{}/api/users/1006", server.addr).as_str())
    );
    assert_eq!(
        server.get("/api/users/1006").await.json["login"],
        "loc@example.com"
    );
    server.stop().await;

    let server = Server::shaped(shape(|s| s.create = CreateAnswer::IdOnly)).await;
    let reply = server
        .call("POST", "/api/groups", Some(json!({"name": "Ops"})))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json, json!({"id": 503}));
    assert_eq!(reply.header("location"), None);
    assert!(server.dir.with_store(|s| s.group(503).is_ok()));
    server.stop().await;
}

#[tokio::test]
async fn envelopes_wrap_records_requests_and_lists() {
    let server = Server::shaped(shape(|s| {
        s.envelope = true;
        s.create = CreateAnswer::IdOnly;
    }))
    .await;
    let alice = server.get("/api/users/1001").await;
    assert_eq!(alice.json["user"]["login"], "alice@example.com");
    let before = server.dir.with_store(|s| s.user_count());
    let bare = server
        .call("POST", "/api/users", Some(new_user("bare@example.com")))
        .await;
    assert_eq!(
        bare.error(StatusCode::BAD_REQUEST, "validation"),
        "request body must be {\"user\": {...}}"
    );
    assert_eq!(server.dir.with_store(|s| s.user_count()), before);
    let made = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"user": new_user("wrapped@example.com")})),
        )
        .await;
    assert_eq!(made.json, json!({"user": {"id": 1006}}));
    let patched = server
        .call(
            "PATCH",
            "/api/users/1006",
            Some(json!({"user": {"title": "Lead"}})),
        )
        .await;
    assert_eq!(patched.json["user"]["title"], "Lead");
    let list = server.get("/api/users?per_page=2&page=2").await;
    assert_eq!(list.total(), 6);
    let ids: Vec<u64> = list.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1003, 1004]);
    let groups = server.get("/api/groups").await;
    assert_eq!(groups.json["groups"].as_array().unwrap().len(), 2);
    let members = server.get("/api/groups/501/members").await;
    assert_eq!(members.json["members"][1]["user_id"], 1002);
    server.stop().await;
}

#[tokio::test]
async fn unpaged_lists_answer_everything_and_refuse_paging_parameters() {
    let server = Server::shaped(shape(|s| s.lists = ListStyle::Unpaged)).await;
    server.dir.with_store_mut(|s| s.seed_bulk(30));
    let all = server.get("/api/users").await;
    assert_eq!(all.ids("id").len(), 35);
    assert_eq!(all.header("x-total-count"), None);
    let filtered = server.get("/api/users?status=DISABLED").await;
    assert_eq!(filtered.ids("id"), [1004]);
    let paged = server.get("/api/users?page=2").await;
    assert_eq!(
        paged.error(StatusCode::BAD_REQUEST, "validation"),
        "query parameter 'page' is not supported by this list"
    );
    assert_eq!(
        server.get("/api/groups/501/members").await.ids("user_id"),
        [1001, 1002]
    );
    server.stop().await;
}

/// Walks a keyset list from `first` by `next_of` (the next page's path, if any).
async fn walk(
    server: &Server,
    first: &str,
    records: impl Fn(&Reply) -> Vec<u64>,
    next_of: impl Fn(&Reply) -> Option<String>,
) -> Vec<Vec<u64>> {
    let mut pages = Vec::new();
    let mut path = Some(first.to_owned());
    while let Some(at) = path {
        let reply = server.get(&at).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        pages.push(records(&reply));
        path = next_of(&reply);
    }
    pages
}

#[tokio::test]
async fn keyset_pages_name_the_next_page_in_the_body() {
    let server = Server::shaped(shape(|s| s.lists = ListStyle::Keyset(NextIn::BodyLink))).await;
    let origin = format!("http://{}", server.addr);
    let first = server.get("/api/users?limit=2").await;
    assert_eq!(first.json["total"], 5);
    assert_eq!(
        first.json["links"]["next"],
        format!("{origin}/api/users?after=1002&limit=2")
    );
    let ids = |r: &Reply| {
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_u64().unwrap())
            .collect()
    };
    let next = |r: &Reply| {
        r.json["links"]["next"]
            .as_str()
            .map(|url| url.strip_prefix(&origin).unwrap().to_owned())
    };
    let pages = walk(&server, "/api/users?limit=2", ids, next).await;
    assert_eq!(pages, [vec![1001, 1002], vec![1003, 1004], vec![1005]]);
    // Filters stay on every link.
    let pages = walk(
        &server,
        "/api/users?login_prefix=&limit=1&status=ENABLED",
        ids,
        next,
    )
    .await;
    assert_eq!(pages, [vec![1001], vec![1002], vec![1003], vec![1005]]);
    let without_limit = server.get("/api/users").await;
    assert_eq!(without_limit.json["links"]["next"], Value::Null);
    assert_eq!(ids(&without_limit).len(), 5);
    for (path, message) in [
        (
            "/api/users?page=1",
            "query parameter 'page' is not supported by this list",
        ),
        (
            "/api/users?sort=login",
            "query parameter 'sort' is not supported by this list",
        ),
        (
            "/api/users?after=x",
            "query parameter 'after' must be an integer of at least 0",
        ),
        (
            "/api/users?limit=0",
            "query parameter 'limit' must be an integer of at least 1",
        ),
        (
            "/api/users?limit=1&limit=2",
            "query parameter 'limit' is given more than once",
        ),
    ] {
        assert_eq!(
            server
                .get(path)
                .await
                .error(StatusCode::BAD_REQUEST, "validation"),
            message,
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn keyset_pages_name_the_next_page_in_a_link_or_cursor_header() {
    let server = Server::shaped(shape(|s| s.lists = ListStyle::Keyset(NextIn::LinkHeader))).await;
    let origin = format!("http://{}", server.addr);
    let first = server.get("/api/groups/501/members?limit=1").await;
    assert_eq!(
        first.header("link"),
        Some(
            format!(
                "<{origin}/api/groups/501/members?limit=1>; rel=\"first\", \
                 <{origin}/api/groups/501/members?after=1001&limit=1>; rel=\"next\""
            )
            .as_str()
        )
    );
    let last = server
        .get("/api/groups/501/members?after=1001&limit=1")
        .await;
    assert_eq!(last.ids("user_id"), [1002]);
    assert!(!last.header("link").unwrap().contains("next"));
    server.stop().await;

    let server = Server::shaped(shape(|s| s.lists = ListStyle::Keyset(NextIn::CursorHeader))).await;
    let cursor = |r: &Reply| {
        r.header("x-next-cursor")
            .map(|after| format!("/api/groups?limit=1&after={after}"))
    };
    let pages = walk(&server, "/api/groups?limit=1", |r| r.ids("id"), cursor).await;
    assert_eq!(pages, [vec![501], vec![502]]);
    server.stop().await;
}

#[tokio::test]
async fn membership_can_be_held_on_the_user_record() {
    let server = Server::shaped(shape(|s| s.members = MemberHome::OnUser)).await;
    assert_eq!(
        server.get("/api/users/1001").await.json["groups"],
        json!([501])
    );
    let moved = server
        .call("PATCH", "/api/users/1001", Some(json!({"groups": [502]})))
        .await;
    assert_eq!(moved.json["groups"], json!([502]));
    assert_eq!(moved.json["login"], "alice@example.com");
    assert_eq!(
        server.get("/api/users?group=502").await.ids("id"),
        [1001, 1003]
    );

    let before = server
        .dir
        .with_store(|s| (s.groups_of(1001), s.user(1001).unwrap().clone()));
    for (body, message) in [
        (
            json!({"groups": [502, 999]}),
            "field 'groups': group 999 does not exist",
        ),
        (
            json!({"groups": "502"}),
            "field 'groups' must be an array of integer group ids or null",
        ),
        (
            json!({"groups": [502], "login": ""}),
            "field 'login' must be a non-empty string",
        ),
    ] {
        let reply = server.call("PATCH", "/api/users/1001", Some(body)).await;
        assert_eq!(reply.error(StatusCode::BAD_REQUEST, "validation"), message);
    }
    let after = server
        .dir
        .with_store(|s| (s.groups_of(1001), s.user(1001).unwrap().clone()));
    assert_eq!(after, before);

    let made = server
        .call(
            "POST",
            "/api/users",
            Some(json!({"login": "new@example.com", "groups": [501, 502]})),
        )
        .await;
    assert_eq!(made.json["groups"], json!([501, 502]));
    // PUT resets what it does not send, the groups too.
    let put = server
        .call(
            "PUT",
            "/api/users/1006",
            Some(json!({"login": "new@example.com"})),
        )
        .await;
    assert_eq!(put.json["groups"], json!([]));
    assert_eq!(
        server
            .get("/api/groups/501/members")
            .await
            .error(StatusCode::NOT_FOUND, "not_found"),
        "no route for GET /api/groups/501/members"
    );
    server.stop().await;
}

#[tokio::test]
async fn deletes_can_be_refused() {
    let server = Server::shaped(shape(|s| s.refuse_deletes = true)).await;
    for path in ["/api/users/1001", "/api/groups/501"] {
        let reply = server.call("DELETE", path, None).await;
        reply.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    assert!(server
        .dir
        .with_store(|s| s.user(1001).is_ok() && s.group(501).is_ok()));
    // Members can still be removed: only records are kept.
    let removed = server
        .call("DELETE", "/api/groups/501/members/1002", None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    server.stop().await;
}

#[tokio::test]
async fn the_request_log_records_method_path_and_query() {
    let dir = DemoDirectory::new(Store::seeded(), None).with_request_log();
    let server = Server::serving(dir).await;
    server.get("/api/users?page=2&per_page=1").await;
    server.call("DELETE", "/api/users/1005", None).await;
    assert_eq!(
        server.dir.requests_seen(),
        ["GET /api/users?page=2&per_page=1", "DELETE /api/users/1005"]
    );
    assert_eq!(
        DemoDirectory::new(Store::seeded(), None).requests_seen(),
        Vec::<String>::new()
    );
    server.stop().await;
}
