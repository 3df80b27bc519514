//! Deadlines, load shedding and inbound connection limits, over real sockets.

use std::time::Duration;

use scimgate::config::{Overrides, Settings};
use scimgate::demo::Store;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::gateway::{repo_path, slow_directory, TOKEN};
use crate::support::snapshot::snapshot;
use crate::support::Gateway;

/// The gateway in front of a demo directory that takes `delay` per call.
async fn slow_gateway(delay: Duration, tune: impl FnOnce(&mut Settings)) -> Gateway {
    let (directory, url, stop) = slow_directory(Store::seeded(), delay).await;
    let mut gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        &url,
        Overrides::default(),
        |s| {
            s.cache.enabled = false;
            tune(s);
        },
    )
    .await;
    gw.directory = Some(directory);
    gw.stop_on_drop(stop);
    gw
}

fn title_patch(title: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": title}]
    })
}

/// Past `limits.request_timeout` before any write: 504, and nothing changed.
#[tokio::test]
async fn a_request_past_its_deadline_is_504_and_changes_nothing() {
    let gw = slow_gateway(Duration::from_millis(800), |s| {
        s.limits.request_timeout = "300ms".into();
    })
    .await;
    let r = gw.scim.get("/Users/1001").await;
    assert_eq!(r.status, 504, "{}", r.text);
    assert!(
        r.json["detail"].as_str().unwrap().contains("deadline"),
        "{}",
        r.text
    );
    let before = snapshot(&gw);
    let r = gw.scim.patch("/Users/1001", &title_patch("late")).await;
    assert_eq!(r.status, 504, "{}", r.text);
    assert_eq!(snapshot(&gw), before);
}

/// Once the write is sent the deadline no longer cuts in: the read took most of it, the
/// write ends after it, and the IdP still gets the directory's confirmation.
#[tokio::test]
async fn a_write_already_sent_is_not_cut_by_the_deadline() {
    let gw = slow_gateway(Duration::from_millis(400), |s| {
        s.limits.request_timeout = "700ms".into();
    })
    .await;
    let r = gw
        .scim
        .patch("/Users/1001", &title_patch("confirmed"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = crate::support::snapshot::with_store(&gw, |s| {
        crate::support::snapshot::store_json(s)["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == 1001)
            .unwrap()["title"]
            .clone()
    });
    assert_eq!(stored, "confirmed");
}

/// Over the per-tenant rate: 429 with Retry-After at once; served again later.
#[tokio::test]
async fn requests_over_the_rate_limit_get_429_with_retry_after() {
    let gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
        |s| s.limits.rate_limit = 5,
    )
    .await;
    let mut ok = 0;
    let mut shed = 0;
    for _ in 0..30 {
        let r = gw.scim.get("/ServiceProviderConfig").await;
        match r.status {
            200 => ok += 1,
            429 => {
                shed += 1;
                assert_eq!(r.header("retry-after"), Some("1"));
                assert_eq!(r.json["status"], "429", "{}", r.text);
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(ok >= 5 && shed > 0, "ok {ok}, shed {shed}");
    assert!(
        gw.metric(r#"scimgate_shed_requests_total{reason="rate_limit",tenant="default"}"#)
            .await
            >= shed as f64
    );
    let mut served = false;
    for _ in 0..50 {
        if gw.scim.get("/ServiceProviderConfig").await.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served);
}

/// Over the concurrency limit: the excess is refused with 429 instead of queueing, and the
/// admitted requests complete.
#[tokio::test]
async fn requests_over_the_concurrency_limit_are_shed_not_queued() {
    let gw = slow_gateway(Duration::from_millis(300), |s| {
        s.limits.max_concurrent_requests = 2;
    })
    .await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let scim = gw.scim.clone();
            tokio::spawn(async move { scim.get("/Users/1001").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        let r = c.await.unwrap();
        if r.status == 429 {
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        statuses.push(r.status);
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let shed = statuses.iter().filter(|s| **s == 429).count();
    assert!(ok >= 1 && shed >= 1, "{statuses:?}");
    assert_eq!(ok + shed, 8, "{statuses:?}");
}

/// The body must arrive within `limits.body_read_timeout`: a client that stalls after the
/// head gets 408.
#[tokio::test]
async fn a_stalled_body_gets_408() {
    let gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
        |s| s.limits.body_read_timeout = "300ms".into(),
    )
    .await;
    let addr = gw.base_url.trim_start_matches("http://");
    let addr = &addr[..addr.find('/').unwrap()];
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"userName\""
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("urn:ietf:params:scim:api:messages:2.0:Error"));
}

/// A body that breaks its chunked encoding is a syntax error (400), not an oversized one.
#[tokio::test]
async fn a_broken_chunked_body_gets_400() {
    let gw = Gateway::start(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
    )
    .await;
    let mut socket = TcpStream::connect(gateway_addr(&gw)).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""scimType":"invalidSyntax""#), "{answer}");
}

/// Reads until the peer closes or a complete-looking answer arrived (at most 10 s).
async fn read_answer(socket: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got);
            if text.contains("\r\n\r\n") && (text.ends_with('}') || text.contains(" 431 ")) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

fn gateway_addr(gw: &Gateway) -> String {
    let rest = gw.base_url.trim_start_matches("http://");
    rest[..rest.find('/').unwrap()].to_owned()
}

/// A request head over `limits.max_header_bytes` is refused (hyper's own 431).
#[tokio::test]
async fn an_oversized_head_is_refused_with_431() {
    let gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
        |s| s.limits.max_header_bytes = 16384,
    )
    .await;
    let mut socket = TcpStream::connect(gateway_addr(&gw)).await.unwrap();
    let big = "a".repeat(40_000);
    let head =
        format!("GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = socket.write_all(head.as_bytes()).await;
    let answer = read_answer(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // The gateway still serves everyone else.
    assert_eq!(gw.scim.get("/ServiceProviderConfig").await.status, 200);
}

/// An idle keep-alive connection is closed after `limits.idle_timeout`.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
        |s| s.limits.idle_timeout = "300ms".into(),
    )
    .await;
    let mut socket = TcpStream::connect(gateway_addr(&gw)).await.unwrap();
    let head = format!("GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Now idle: the server closes its side (read returns 0) within the bound.
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
}

/// At `limits.max_connections` further clients wait; they are served once a slot frees.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        "http://127.0.0.1:9",
        Overrides::default(),
        |s| s.limits.max_connections = 1,
    )
    .await;
    let addr = gateway_addr(&gw);
    let holder = TcpStream::connect(&addr).await.unwrap();
    // Give the accept loop time to take the holder (it cannot take the next one anyway).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(&addr).await.unwrap();
    let head = format!("GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n");
    waiting.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "served while the only slot was taken");
    drop(holder);
    let answer = read_answer(&mut waiting).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
