//! Every error path through HTTP: status, `scimType`, the SCIM Error body and media type, and
//! that the directory behind the gateway is exactly as before (store snapshot, and the
//! backend request count where the gateway must not even call it). Then backend failures:
//! a closed port (502), garbage or a 500 (502), and a backend that never answers (504).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scimgate::config::Overrides;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::client::enc;
use crate::support::gateway::{repo_path, TempConfig};
use crate::support::scim::*;
use crate::support::snapshot::{backend_requests, snapshot, with_store};
use crate::support::{Client, Gateway, Reply};

/// Alice, a seeded demo user, and the seeded "Engineering" group (1001, 1002).
const ALICE: &str = "1001";
const ENGINEERING: &str = "501";

/// Runs `request` and asserts the directory saw neither a change nor (with `no_backend_call`)
/// any request at all.
async fn unchanged<F: std::future::Future<Output = Reply>>(
    gw: &Gateway,
    no_backend_call: bool,
    request: F,
) -> Reply {
    let (before, calls) = (snapshot(gw), backend_requests(gw));
    let r = request.await;
    assert_eq!(snapshot(gw), before, "the directory changed: {}", r.text);
    if no_backend_call {
        assert_eq!(
            backend_requests(gw),
            calls,
            "the gateway called the directory"
        );
    }
    r
}

/// `unchanged` itself notices a write (else every test below would pass vacuously).
#[tokio::test]
#[should_panic(expected = "the directory changed")]
async fn unchanged_detects_a_write() {
    let gw = Gateway::demo().await;
    let body = patch(json!([{"op": "replace", "path": "title", "value": "Changed"}]));
    unchanged(&gw, false, gw.scim.patch(&format!("/Users/{ALICE}"), &body)).await;
}

async fn send_bytes(
    gw: &Gateway,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Reply {
    gw.scim
        .raw(
            method,
            path,
            &[("content-type", content_type)],
            Some(body.to_vec()),
        )
        .await
}

#[tokio::test]
async fn malformed_json_is_invalid_syntax() {
    let gw = Gateway::demo().await;
    let alice = format!("/Users/{ALICE}");
    for (method, path, body) in [
        ("POST", "/Users", &b"{\"userName\": \"x@example.com\","[..]),
        ("PUT", alice.as_str(), b"{\"userName\" \"x\"}"),
        ("PATCH", alice.as_str(), b"{\"Operations\": [}"),
        ("POST", "/Groups", b"not json at all"),
        // Valid JSON, but not an object.
        ("POST", "/Users", b"[{\"userName\": \"x@example.com\"}]"),
    ] {
        let r = unchanged(
            &gw,
            true,
            send_bytes(&gw, method, path, "application/scim+json", body),
        )
        .await;
        assert_scim_error(&r, 400, Some("invalidSyntax"));
    }
}

#[tokio::test]
async fn ordering_a_boolean_or_complex_attribute_is_invalid_filter() {
    let gw = Gateway::demo().await;
    for text in ["active gt true", "active le \"x\"", "name lt \"b\""] {
        let r = unchanged(
            &gw,
            true,
            gw.scim.get(&format!("/Users?filter={}", enc(text))),
        )
        .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    // Equality on a Boolean stays fine.
    let r = gw
        .scim
        .get(&format!("/Users?filter={}", enc("active eq true")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn unparseable_filter_is_invalid_filter_with_position() {
    let gw = Gateway::demo().await;
    for (text, position) in [
        ("userName zz \"x\"", Some(9)),
        ("userName eq", None),
        ("userName eq \"a@example.com\" and", None),
        ("(userName eq \"a@example.com\"", None),
        ("userName eq \"unterminated", None),
    ] {
        let r = unchanged(
            &gw,
            true,
            gw.scim.get(&format!("/Users?filter={}", enc(text))),
        )
        .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
        let detail = r.json["detail"].as_str().unwrap();
        match position {
            Some(p) => assert!(
                detail.contains(&format!("position {p}")),
                "{text}: {detail}"
            ),
            None => assert!(detail.contains("position"), "{text}: {detail}"),
        }
    }
    let r = gw
        .scim
        .get(&format!("/Groups?filter={}", enc("displayName eq")))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn unknown_patch_path_is_invalid_path() {
    let gw = Gateway::demo().await;
    // (`nickName`, a core attribute this directory does not map, is ignored instead: see
    // entra::unmapped_attributes_are_ignored.)
    for path in [
        "noSuchAttribute",
        "name.noSuchPart",
        &format!("{ENTERPRISE}:noSuchAttribute"),
    ] {
        let body = patch(json!([{"op": "replace", "path": path, "value": "x"}]));
        let r = unchanged(&gw, false, gw.scim.patch(&format!("/Users/{ALICE}"), &body)).await;
        assert_scim_error(&r, 400, Some("invalidPath"));
    }
}

#[tokio::test]
async fn wrong_value_type_is_invalid_value() {
    let gw = Gateway::demo().await;
    let alice = format!("/Users/{ALICE}");
    for (path, value) in [
        ("active", json!("maybe")),
        ("active", json!(3)),
        ("title", json!({"text": "Engineer"})),
        ("name.givenName", json!(["Alice"])),
    ] {
        let body = patch(json!([{"op": "replace", "path": path, "value": value}]));
        let r = unchanged(&gw, false, gw.scim.patch(&alice, &body)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    let run = run_id();
    for (key, value) in [("active", json!("maybe")), ("title", json!({"text": "x"}))] {
        let mut body = full_user(&run, "badtype");
        body[key] = value;
        let r = unchanged(&gw, false, gw.scim.post("/Users", &body)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let gw = Gateway::demo().await;
    // Valid JSON one byte over the default limit of 1 MiB.
    let prefix = br#"{"userName":"big@example.com","title":""#;
    let mut body = prefix.to_vec();
    body.resize(1024 * 1024 + 1 - 2, b'a');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), 1024 * 1024 + 1);
    let r = unchanged(
        &gw,
        true,
        send_bytes(&gw, "POST", "/Users", "application/scim+json", &body),
    )
    .await;
    assert_scim_error(&r, 413, None);
}

#[tokio::test]
async fn wrong_media_type_is_415() {
    let gw = Gateway::demo().await;
    let body = serde_json::to_vec(&small_user("plain@example.com")).unwrap();
    for (method, path) in [
        ("POST", "/Users".to_owned()),
        ("PUT", format!("/Users/{ALICE}")),
    ] {
        let r = unchanged(
            &gw,
            true,
            send_bytes(&gw, method, &path, "text/plain", &body),
        )
        .await;
        assert_scim_error(&r, 415, None);
    }
    // Plain JSON with a charset is accepted, so 415 really is about the media type.
    let r = send_bytes(
        &gw,
        "POST",
        "/Users",
        "application/json; charset=utf-8",
        &body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn unknown_route_is_scim_404() {
    let gw = Gateway::demo().await;
    for path in ["/Nope", "/Users/1001/extra", "/users"] {
        let r = unchanged(&gw, true, gw.scim.get(path)).await;
        assert_scim_error(&r, 404, None);
    }
    let root = gw.base_url.trim_end_matches("/scim/v2").to_owned();
    let r = Client::new(root, None).get("/not-scim").await;
    assert_scim_error(&r, 404, None);
}

#[tokio::test]
async fn wrong_method_is_scim_405() {
    let gw = Gateway::demo().await;
    for (method, path) in [
        ("DELETE", "/Users"),
        ("PUT", "/Groups"),
        ("POST", "/Users/1001"),
        ("DELETE", "/ServiceProviderConfig"),
        ("POST", "/Schemas"),
    ] {
        let r = unchanged(&gw, true, gw.scim.send(method, path, None)).await;
        assert_scim_error(&r, 405, None);
    }
}

#[tokio::test]
async fn missing_user_name_is_invalid_value() {
    let gw = Gateway::demo().await;
    let run = run_id();
    let mut no_name = full_user(&run, "noname");
    no_name.as_object_mut().unwrap().remove("userName");
    let mut empty_name = full_user(&run, "emptyname");
    empty_name["userName"] = json!("");
    for body in [&no_name, &empty_name] {
        let r = unchanged(&gw, false, gw.scim.post("/Users", body)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    // PUT of alice as read, less her userName.
    let mut alice = fetch(&gw, &format!("/Users/{ALICE}")).await;
    alice.as_object_mut().unwrap().remove("userName");
    let r = unchanged(&gw, false, gw.scim.put(&format!("/Users/{ALICE}"), &alice)).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = unchanged(
        &gw,
        false,
        gw.scim.patch(
            &format!("/Users/{ALICE}"),
            &patch(json!([{"op": "remove", "path": "userName"}])),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// A PATCH is all or nothing: the valid first two operations are not applied either.
#[tokio::test]
async fn patch_with_invalid_third_operation_changes_nothing() {
    let gw = Gateway::demo().await;
    let alice = format!("/Users/{ALICE}");
    let before = fetch(&gw, &alice).await;
    for third in [
        json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}),
        json!({"op": "replace", "path": "active", "value": "maybe"}),
        json!({"op": "frobnicate", "path": "title", "value": "x"}),
        json!({"op": "replace", "path": format!("{EXT_8X8}:site"), "value": "Elsewhere"}),
    ] {
        let body = patch(json!([
            {"op": "replace", "path": "title", "value": "Changed"},
            {"op": "replace", "path": "displayName", "value": "Changed Name"},
            third
        ]));
        let r = unchanged(&gw, false, gw.scim.patch(&alice, &body)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json["schemas"], json!([ERROR]));
    }
    assert_eq!(fetch(&gw, &alice).await, before);

    // The same for a group: an added member must not stay when a later operation fails.
    let body = patch(json!([
        {"op": "add", "path": "members", "value": [{"value": "1003"}]},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "replace", "path": "noSuchAttribute", "value": "x"}
    ]));
    let r = unchanged(
        &gw,
        false,
        gw.scim.patch(&format!("/Groups/{ENGINEERING}"), &body),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidPath"));
}

#[tokio::test]
async fn unknown_member_is_refused_and_group_unchanged() {
    let gw = Gateway::demo().await;
    let group = format!("/Groups/{ENGINEERING}");
    for missing in ["999999", "not-a-user"] {
        // The existing user 1003 is not added either: members are checked before any write.
        let body = patch(
            json!([{"op": "add", "path": "members", "value": member_refs(&["1003", missing])}]),
        );
        let r = unchanged(&gw, false, gw.scim.patch(&group, &body)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(
            r.json["detail"].as_str().unwrap().contains(missing),
            "{}",
            r.text
        );
    }
    assert_eq!(
        member_ids(&gw, ENGINEERING).await,
        sorted(&["1001", "1002"])
    );

    let body = group_body_with_missing_member();
    let r = unchanged(&gw, false, gw.scim.post("/Groups", &body)).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}

fn group_body_with_missing_member() -> Value {
    group(&format!("Ghosts {}", run_id()), &["1001", "999999"])
}

#[tokio::test]
async fn duplicate_user_name_differing_in_case_is_409() {
    let gw = Gateway::demo().await;
    let mut dup = small_user("ALICE@Example.COM");
    dup["externalId"] = json!("someone-else");
    let r = unchanged(&gw, false, gw.scim.post("/Users", &dup)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));

    // Renaming bob (1002) to alice's name by PATCH is refused the same way.
    let body = patch(json!([{"op": "replace", "path": "userName", "value": "Alice@example.com"}]));
    let r = unchanged(&gw, false, gw.scim.patch("/Users/1002", &body)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    with_store(&gw, |s| {
        assert_eq!(s.user(1002).unwrap().login, "bob@example.com")
    });
    // Asked directly, the directory still has exactly one alice.
    let r = gw.backend().get("/api/users?login=alice@example.com").await;
    assert_eq!(r.json.as_array().map(Vec::len), Some(1), "{}", r.text);
}

// --- backend failures ---------------------------------------------------------------------

/// A gateway with the demo mappings in front of `url`, with a short backend timeout. The
/// circuit breaker is off: these tests check the status of each kind of failure, request
/// after request (the breaker's own 503 is tested in faults.rs).
async fn gateway_in_front_of(url: &str) -> (Gateway, TempConfig) {
    let config = TempConfig::new(&format!(
        "base_path: /scim/v2\nmappings: {}\nbackend:\n  timeout: 300ms\n  connect_timeout: 300ms\n  breaker: {{ enabled: false }}\n",
        repo_path("mappings/demo").display()
    ));
    let gw = Gateway::start(Some(&config.path), url, Overrides::default()).await;
    (gw, config)
}

/// A fake directory: answers every request with `response`, or never answers when `None`.
/// Returns its URL and the number of requests it has received.
async fn fake_backend(response: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                match response {
                    Some(text) => {
                        let _ = socket.write_all(text.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    // Keep the connection open and silent until the test ends.
                    None => std::future::pending::<()>().await,
                }
            });
            held.push(task);
        }
    });
    (url, seen)
}

/// After a backend failure the gateway itself is fine: discovery still answers.
async fn assert_gateway_still_serves(gw: &Gateway) {
    let r = gw.scim.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["patch"]["supported"], true);
}

#[tokio::test]
async fn closed_backend_port_is_502() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (gw, _config) = gateway_in_front_of(&format!("http://127.0.0.1:{port}")).await;
    for r in [
        gw.scim.get("/Users/1001").await,
        gw.scim.get("/Users?count=1").await,
        gw.scim
            .post("/Users", &small_user("nobody@example.com"))
            .await,
    ] {
        assert_scim_error(&r, 502, None);
        assert!(
            r.header("retry-after").is_some(),
            "no Retry-After: {:?}",
            r.headers
        );
    }
    assert_gateway_still_serves(&gw).await;
}

#[tokio::test]
async fn garbage_from_the_backend_is_502() {
    const NOT_JSON: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\nConnection: close\r\n\r\n<html>oops</html>\r\n\r\n";
    const SERVER_ERROR: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"error\":\"database down\"}\r\n";
    for response in [NOT_JSON, SERVER_ERROR] {
        let (url, seen) = fake_backend(Some(response)).await;
        let (gw, _config) = gateway_in_front_of(&url).await;
        for path in ["/Users/1001", "/Users?count=1", "/Groups/501"] {
            let r = gw.scim.get(path).await;
            assert_scim_error(&r, 502, None);
        }
        assert!(
            seen.load(Ordering::SeqCst) >= 3,
            "the fake backend was not asked"
        );
        assert_gateway_still_serves(&gw).await;
    }
}

#[tokio::test]
async fn silent_backend_is_504_after_the_timeout() {
    let (url, seen) = fake_backend(None).await;
    let (gw, _config) = gateway_in_front_of(&url).await;
    for r in [
        gw.scim.get("/Users/1001").await,
        gw.scim
            .get(&format!(
                "/Users?filter={}",
                enc("userName eq \"a@example.com\"")
            ))
            .await,
    ] {
        assert_scim_error(&r, 504, None);
    }
    assert!(
        seen.load(Ordering::SeqCst) >= 2,
        "the fake backend was not asked"
    );
    assert_gateway_still_serves(&gw).await;
}
