//! No secret in any log line or response: the real binary, logging everything down to
//! `trace`, runs a full scenario with known secret values (the inbound bearer token, two
//! backend header secrets given as `env:` and `file:` values, users' passwords), and neither
//! its output nor any response body contains one of them.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scimgate::demo::{DemoDirectory, Store};
use serde_json::{json, Value};

use crate::support::client::enc;
use crate::support::gateway::repo_path;
use crate::support::process::start_on_free_port;
use crate::support::{Client, Reply};

const INBOUND_TOKEN: &str = "inbound-Tok3n-7f3a9c1e5b";
const BACKEND_KEY: &str = "backend-ApiKey-2d8e4b6f0a";
const BACKEND_SESSION: &str = "backend-Session-9c1a7e3d5f";
const PASSWORD: &str = "Pa55word-Secret-4e6a8c0b2d";
const NEW_PASSWORD: &str = "Pa55word-Rotated-1b3d5f7a9c";

/// The gateway process; killed when dropped, so a failed assertion leaves nothing running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every request and its answer, kept for the final check.
struct Recorder {
    scim: Client,
    replies: Vec<(String, Reply)>,
}

impl Recorder {
    async fn send(&mut self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let reply = self.scim.send(method, path, body.as_ref()).await;
        self.replies
            .push((format!("{method} {path}"), reply.clone()));
        reply
    }

    async fn expect(
        &mut self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let reply = self.send(method, path, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text);
        reply.json
    }

    /// A request with its own Authorization header.
    async fn with_auth(&mut self, auth: &str, path: &str) -> Reply {
        let reply = self
            .scim
            .raw("GET", path, &[("authorization", auth)], None)
            .await;
        self.replies
            .push((format!("GET {path} as {auth:?}"), reply.clone()));
        reply
    }
}

fn patch_body(operations: Value) -> Option<Value> {
    Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    }))
}

fn user_body(user_name: &str, password: &str) -> Option<Value> {
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "password": password,
        "name": {"givenName": "Sec", "familyName": "Ret"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true,
    }))
}

#[tokio::test]
async fn a_full_scenario_logs_and_answers_no_secret() {
    // The directory insists on the key, so a gateway that lost it would fail every call.
    let directory = DemoDirectory::new(Store::seeded(), Some(BACKEND_KEY.to_owned()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = format!("http://{}", listener.local_addr().unwrap());
    let (stop_directory, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(directory.clone().serve(listener, async {
        let _ = stopped.await;
    }));

    let dir = std::env::temp_dir().join(format!("scimgate-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let session_file = dir.join("session");
    std::fs::write(&session_file, BACKEND_SESSION).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, INBOUND_TOKEN).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "base_path: /scim/v2\nmappings: {}\nlog:\n  format: json\n  level: trace\n\
             auth:\n  token_files: [{}]\n\
             backend:\n  url: {backend}\n  headers:\n    X-Api-Key: env:SCIMGATE_IT_BACKEND_KEY\n    \
             X-Session: file:{}\n",
            repo_path("mappings/demo").display(),
            token_file.display(),
            session_file.display(),
        ),
    )
    .unwrap();
    let log_path = dir.join("gateway.log");

    let (child, port) = start_on_free_port(
        "scimgate",
        |port| {
            let log = std::fs::File::create(&log_path).unwrap();
            Command::new(env!("CARGO_BIN_EXE_scimgate"))
                .args(["serve", "--config"])
                .arg(&config)
                .args([
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--admin-listen",
                    "",
                ])
                .env("SCIMGATE_IT_BACKEND_KEY", BACKEND_KEY)
                // Everything, dependencies included, down to trace.
                .env("RUST_LOG", "trace")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap()
        },
        "/scim/v2/ServiceProviderConfig",
        |reply| reply.status == 200 || reply.status == 401,
        || std::fs::read_to_string(&log_path).unwrap_or_default(),
        Duration::from_secs(20),
    )
    .await;
    let process = Process(child);
    let mut r = Recorder {
        scim: Client::new(
            format!("http://127.0.0.1:{port}/scim/v2"),
            Some(INBOUND_TOKEN.to_owned()),
        ),
        replies: Vec::new(),
    };

    // Users: create, read, list, patch, replace, delete.
    let created = r
        .expect(
            201,
            "POST",
            "/Users",
            user_body("sec.ret@example.com", PASSWORD),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let numeric: u64 = id.parse().unwrap();
    assert!(directory.with_store(|s| s.password_matches(numeric, PASSWORD)));
    let path = format!("/Users/{id}");
    r.expect(200, "GET", &path, None).await;
    r.expect(
        200,
        "GET",
        &format!("{path}?attributes=password,userName"),
        None,
    )
    .await;
    let filter = enc(r#"userName eq "sec.ret@example.com""#);
    r.expect(200, "GET", &format!("/Users?filter={filter}"), None)
        .await;
    r.expect(
        200,
        "POST",
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"sec\"",
        })),
    )
    .await;
    let ops = json!([
        {"op": "replace", "path": "password", "value": NEW_PASSWORD},
        {"op": "Replace", "path": "displayName", "value": "Sec Ret"},
    ]);
    r.send("PATCH", &path, patch_body(ops)).await;
    assert!(directory.with_store(|s| s.password_matches(numeric, NEW_PASSWORD)));
    r.expect(
        200,
        "PUT",
        &path,
        user_body("sec.ret@example.com", PASSWORD),
    )
    .await;
    assert!(directory.with_store(|s| s.password_matches(numeric, PASSWORD)));

    // Failing requests that carry a secret: each must be refused without repeating it.
    let bad_ops = [
        json!([{"op": "bogus", "path": "password", "value": NEW_PASSWORD}]),
        json!([{"op": "replace", "path": "password", "value": [NEW_PASSWORD]}]),
        json!([{"op": "replace", "path": "password", "value": {"value": NEW_PASSWORD}}]),
        json!([
            {"op": "replace", "path": "password", "value": NEW_PASSWORD},
            {"op": "replace", "path": "nosuch", "value": 1},
        ]),
        json!([{"op": "add", "value": {"password": NEW_PASSWORD, "active": "maybe"}}]),
    ];
    for ops in bad_ops {
        let reply = r.send("PATCH", &path, patch_body(ops)).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    let reply = r
        .send(
            "POST",
            "/Users",
            user_body("sec.ret@example.com", NEW_PASSWORD),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    let reply = r
        .send(
            "POST",
            "/Users",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "password": NEW_PASSWORD}),
            ),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(directory.with_store(|s| s.password_matches(numeric, PASSWORD)));
    let reply = r
        .with_auth(&format!("Bearer {INBOUND_TOKEN}x"), "/Users")
        .await;
    assert_eq!(reply.status, 401);
    let reply = r.with_auth(&format!("Basic {BACKEND_KEY}"), "/Users").await;
    assert_eq!(reply.status, 401);

    // Groups: create with the user, list, patch members, delete.
    let group = r
        .expect(
            201,
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Secret Keepers",
                "members": [{"value": id}],
            })),
        )
        .await;
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    r.expect(200, "GET", &group_path, None).await;
    r.expect(200, "GET", "/Groups?count=10", None).await;
    let reply = r
        .send(
            "PATCH",
            &group_path,
            patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
        )
        .await;
    assert!(reply.status == 200 || reply.status == 204, "{}", reply.text);
    r.expect(204, "DELETE", &group_path, None).await;
    r.expect(204, "DELETE", &path, None).await;
    r.expect(404, "GET", &path, None).await;
    r.expect(404, "DELETE", &path, None).await;

    // Let the last lines reach the file, then stop the process.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(process);
    let _ = stop_directory.send(());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // The capture is real: it holds request lines, and debug/trace output too.
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() > 20, "too few log lines:\n{log}");
    let levels: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["level"].as_str().map(str::to_owned))
        .collect();
    for level in ["INFO", "DEBUG", "TRACE"] {
        assert!(levels.iter().any(|l| l == level), "no {level} line:\n{log}");
    }
    let secrets = [
        ("the inbound token", INBOUND_TOKEN),
        ("the backend API key (env:)", BACKEND_KEY),
        ("the backend session header (file:)", BACKEND_SESSION),
        ("a password", PASSWORD),
        ("a password", NEW_PASSWORD),
    ];
    for (what, secret) in secrets {
        for line in &lines {
            assert!(!line.contains(secret), "{what} is logged: {line}");
        }
        for (request, reply) in &r.replies {
            assert!(
                !reply.text.contains(secret),
                "{what} is in the answer to {request}: {}",
                reply.text
            );
            for (name, value) in &reply.headers {
                let value = value.to_str().unwrap_or_default();
                assert!(
                    !value.contains(secret),
                    "{what} in header {name} of {request}"
                );
            }
        }
    }
}

/// A directory that repeats its request's credentials in every refusal: a 409 (which the
/// demo mapping's error rule relays with `detail_from`) for POST, a 500 for anything else.
async fn echoing_directory() -> (String, tokio::sync::oneshot::Sender<()>) {
    use axum::http::{HeaderMap, Method, StatusCode};
    async fn refuse(method: Method, headers: HeaderMap) -> (StatusCode, axum::Json<Value>) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        // The padding puts the key across the 160th character, where the gateway cuts a
        // relayed reason: a secret cut in half must not slip past the scrubbing.
        let message = format!(
            "{}refused; auth={} key={}",
            "x".repeat(90),
            header("authorization"),
            header("x-api-key")
        );
        let status = if method == Method::POST {
            StatusCode::CONFLICT
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        (status, axum::Json(json!({ "message": message })))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new().fallback(refuse);
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (url, stop)
}

#[tokio::test]
async fn a_directory_echoing_its_credentials_does_not_pass_them_to_the_idp() {
    const BEARER: &str = "backend-Bearer-5e7c9a1b3d";
    let (url, _stop) = echoing_directory().await;
    let config = crate::support::gateway::TempConfig::new(&format!(
        "mappings: {}\nbackend:\n  auth:\n    mode: bearer\n    token: {BEARER}\n  \
         headers:\n    X-Api-Key: {BACKEND_KEY}\n  retry:\n    attempts: 1\n",
        repo_path("mappings/demo").display()
    ));
    let gw = crate::support::Gateway::start(Some(&config.path), &url, Default::default()).await;

    let read = gw.scim.get("/Users/1").await;
    let created = gw
        .scim
        .post(
            "/Users",
            &json!({"schemas": [crate::support::scim::USER], "userName": "echo@example.com"}),
        )
        .await;
    assert_eq!(read.status, 502, "{}", read.text);
    assert_eq!(created.status, 409, "{}", created.text);
    for reply in [&read, &created] {
        // The directory's words still reach the operator, without the credentials.
        assert!(reply.text.contains("refused; auth="), "{}", reply.text);
        assert!(reply.text.contains("[redacted]"), "{}", reply.text);
        for secret in [BEARER, BACKEND_KEY] {
            for part in secret.as_bytes().windows(12) {
                let part = std::str::from_utf8(part).unwrap();
                assert!(
                    !reply.text.contains(part),
                    "{part} of {secret} in {}",
                    reply.text
                );
            }
        }
    }
}
