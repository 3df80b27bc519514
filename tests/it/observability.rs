//! The operable sidecar: lookup-cache behaviour counted in backend calls and in `/metrics`,
//! the admin endpoints (`/metrics`, `/livez`, `/readyz`), and graceful shutdown during a
//! burst of requests.

use std::time::Duration;

use scimgate::config::{self, Overrides};
use scimgate::demo::Store;
use scimgate::startup::build_tenant;
use serde_json::{json, Value};

use crate::support::client::enc;
use crate::support::gateway::{metric_value, repo_path, slow_directory, TOKEN};
use crate::support::scim::*;
use crate::support::snapshot::backend_requests;
use crate::support::{Client, Gateway};

/// Alice, a seeded demo user.
const ALICE: &str = "1001";

fn series(name: &str, labels: &str) -> String {
    format!("{name}{{{labels}}}")
}

async fn record_lookups(gw: &Gateway, result: &str) -> f64 {
    gw.metric(&series(
        "scimgate_cache_lookups_total",
        &format!(r#"cache="records",result="{result}",tenant="default""#),
    ))
    .await
}

/// The issue's "done when": 10 GETs, a PATCH, 10 GETs; the directory sees one read, the
/// write (with the fresh read it is based on) and no re-read, because the PATCH answer
/// refills the cache; every GET after the PATCH sees the new value.
#[tokio::test]
async fn repeated_gets_hit_the_cache_and_a_patch_refreshes_it() {
    let gw = Gateway::demo().await;
    let path = format!("/Users/{ALICE}");
    let start = backend_requests(&gw);
    for _ in 0..10 {
        let r = gw.scim.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(
        backend_requests(&gw) - start,
        1,
        "10 GETs, one backend read"
    );
    assert_eq!(record_lookups(&gw, "miss").await, 1.0);
    assert_eq!(record_lookups(&gw, "hit").await, 9.0);

    let before_patch = backend_requests(&gw);
    patch_ok(
        &gw,
        &path,
        json!([{"op": "replace", "path": "displayName", "value": "Alice Cached"}]),
    )
    .await;
    let patch_calls = backend_requests(&gw) - before_patch;
    assert!(
        (1..=2).contains(&patch_calls),
        "PATCH = fresh read + write, got {patch_calls} calls"
    );

    let after_patch = backend_requests(&gw);
    for _ in 0..10 {
        let r = gw.scim.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["displayName"], "Alice Cached", "{}", r.text);
    }
    assert!(
        backend_requests(&gw) - after_patch <= 1,
        "at most one re-read after the PATCH"
    );
    let hits = record_lookups(&gw, "hit").await;
    let misses = record_lookups(&gw, "miss").await;
    assert!(hits >= 18.0, "hits {hits}");
    assert_eq!(hits + misses, 20.0, "every GET is one lookup");
    let text = gw.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            r#"scimgate_scim_requests_total{operation="get",resource="Users",status_class="2xx",tenant="default"}"#
        ),
        20.0
    );
    assert!(
        metric_value(
            &text,
            r#"scimgate_backend_requests_total{operation="patch",status_class="2xx",tenant="default"}"#
        ) >= 1.0
    );
    assert!(
        metric_value(
            &text,
            r#"scimgate_cache_entries{cache="records",tenant="default"}"#
        ) >= 1.0
    );
}

/// Twenty parallel GETs of one uncached user make one backend call.
/// Entra's matching lookup (`userName eq "…"` before every sync) is answered through the
/// attribute → id map after the first search; a rename through the gateway moves it.
#[tokio::test]
async fn unique_attribute_lookups_are_answered_from_the_cache() {
    let gw = Gateway::demo().await;
    let by_name = |name: &str| format!("/Users?filter={}", enc(&format!("userName eq \"{name}\"")));
    let start = backend_requests(&gw);
    for _ in 0..10 {
        let r = gw.scim.get(&by_name("ALICE@example.com")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["totalResults"], 1, "{}", r.text);
        assert_eq!(r.json["Resources"][0]["id"], ALICE);
    }
    // The first lookup searches; the second reads the found id once; the rest are cached.
    assert_eq!(
        backend_requests(&gw) - start,
        2,
        "one search and one by-id read, then the cache"
    );

    patch_ok(
        &gw,
        &format!("/Users/{ALICE}"),
        json!([{"op": "replace", "path": "userName", "value": "alice.renamed@example.com"}]),
    )
    .await;
    let old = gw.scim.get(&by_name("alice@example.com")).await;
    assert_eq!(
        old.json["totalResults"], 0,
        "the old name must not find her: {}",
        old.text
    );
    let new = gw.scim.get(&by_name("alice.renamed@example.com")).await;
    assert_eq!(new.json["totalResults"], 1, "{}", new.text);
    assert_eq!(new.json["Resources"][0]["id"], ALICE);
}

#[tokio::test]
async fn concurrent_misses_coalesce_into_one_backend_call() {
    let gw = Gateway::demo_slow(Duration::from_millis(200)).await;
    let start = backend_requests(&gw);
    let path = format!("/Users/{ALICE}");
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let client = gw.scim.clone();
            let path = path.clone();
            tokio::spawn(async move { client.get(&path).await })
        })
        .collect();
    for r in requests {
        let r = r.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["id"], ALICE);
    }
    assert_eq!(backend_requests(&gw) - start, 1);
    assert_eq!(record_lookups(&gw, "miss").await, 1.0);
}

/// A write the backend refuses drops the cached copy, so a change made behind the
/// gateway's back (or a half-applied write) is seen by the next read.
#[tokio::test]
async fn a_refused_write_leaves_nothing_cached() {
    let gw = Gateway::demo().await;
    let path = format!("/Users/{ALICE}");
    assert_eq!(gw.scim.get(&path).await.status, 200);
    // Behind the gateway's back: the cache now holds an old copy.
    let behind = gw
        .backend()
        .raw(
            "PATCH",
            &format!("/api/users/{ALICE}"),
            &[("content-type", "application/json")],
            Some(br#"{"title":"Changed behind"}"#.to_vec()),
        )
        .await;
    assert!(behind.status < 300, "{}", behind.text);
    let taken = fetch(&gw, "/Users/1002").await["userName"].clone();
    let r = gw
        .scim
        .patch(
            &path,
            &patch(json!([{"op": "replace", "path": "userName", "value": taken}])),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let after = gw.scim.get(&path).await;
    assert_eq!(after.json["title"], "Changed behind", "{}", after.text);
}

/// Group membership is cached and a member PATCH updates what the next GET sees.
#[tokio::test]
async fn membership_changes_are_visible_at_once() {
    let gw = Gateway::demo().await;
    let group = create(&gw, "/Groups", &group("Cached Group", &[ALICE])).await;
    let before = member_ids(&gw, &group).await;
    assert_eq!(before, vec![ALICE.to_owned()]);
    let start = backend_requests(&gw);
    assert_eq!(member_ids(&gw, &group).await, before);
    assert_eq!(
        backend_requests(&gw),
        start,
        "second read served from the cache"
    );
    patch_ok(
        &gw,
        &format!("/Groups/{group}"),
        json!([{"op": "add", "path": "members", "value": [{"value": "1002"}]}]),
    )
    .await;
    assert_eq!(member_ids(&gw, &group).await, sorted(&[ALICE, "1002"]));
    assert_eq!(
        gw.scim.delete(&format!("/Groups/{group}")).await.status,
        204
    );
    assert_eq!(gw.scim.get(&format!("/Groups/{group}")).await.status, 404);
}

#[tokio::test]
async fn livez_and_readyz_with_a_live_backend() {
    let gw = Gateway::demo().await;
    let live = gw.admin.get("/livez").await;
    assert_eq!(live.status, 200);
    let ready = gw.admin.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["status"], "ready");
    // The probe result is reused for a second: a burst of probes is one backend call.
    let start = backend_requests(&gw);
    for _ in 0..5 {
        assert_eq!(gw.admin.get("/readyz").await.status, 200);
    }
    assert!(backend_requests(&gw) - start <= 1);
    assert_eq!(gw.scim.get("/ServiceProviderConfig").await.status, 200);
    let text = gw.metrics().await;
    assert!(text.contains("scimgate_build_info{version="), "{text}");
    assert!(text.contains(
        r#"scimgate_scim_requests_total{operation="discovery",resource="discovery",status_class="2xx",tenant="default"} 1"#
    ));
    assert!(text
        .contains(r#"scimgate_dialect_normalisations_total{rule="op_case",tenant="default"} 0"#));
    assert!(text.contains("# TYPE scimgate_scim_request_duration_seconds histogram"));
}

#[tokio::test]
async fn readyz_is_503_when_the_backend_is_down() {
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gw = Gateway::start(
        Some(&repo_path("config/demo.yaml")),
        &url,
        Overrides::default(),
    )
    .await;
    assert_eq!(gw.admin.get("/livez").await.status, 200);
    let ready = gw.admin.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.json["status"], "unavailable");
    assert!(ready.json["problems"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    let text = gw.metrics().await;
    assert!(
        metric_value(
            &text,
            r#"scimgate_backend_requests_total{operation="get",status_class="error",tenant="default"}"#
        ) >= 1.0,
        "{text}"
    );
}

/// Starts the gateway in front of a directory that takes `delay` per call, serving with
/// `serve_with_grace`; returns the SCIM client, the shutdown trigger and the server task.
async fn draining_gateway(
    delay: Duration,
    grace: Duration,
) -> (
    Client,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (_directory, url, stop_directory) = slow_directory(Store::seeded(), delay).await;
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        tokens: vec![TOKEN.into()],
        backend_url: Some(url),
        ..Overrides::default()
    };
    let loaded = config::load(Some(&repo_path("config/demo.yaml")), &overrides).unwrap();
    let tenant = build_tenant(&loaded).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, on_trigger) = tokio::sync::oneshot::channel::<()>();
    let router = scimgate::server::app(&[tenant]);
    let server = tokio::spawn(scimgate::server::serve_with_grace(
        listener,
        router,
        async {
            let _ = on_trigger.await;
        },
        grace,
        Duration::from_secs(10),
    ));
    let client = Client::new(
        format!("http://{addr}{}", loaded.settings.base_path),
        Some(TOKEN.into()),
    );
    (client, trigger, server, stop_directory)
}

/// SIGTERM during a burst: the shutdown future completes while requests are in flight,
/// and every one of them still gets its complete answer; then the server returns.
#[tokio::test]
async fn shutdown_during_a_burst_loses_no_request() {
    let (client, trigger, server, _stop) =
        draining_gateway(Duration::from_millis(300), Duration::from_secs(10)).await;
    // Reads of five users and unfiltered lists (never cached), all in flight at once.
    let burst: Vec<_> = (0..10)
        .map(|i| {
            let client = client.clone();
            let path = if i % 2 == 0 {
                format!("/Users/{}", 1001 + i / 2)
            } else {
                "/Users?count=1".to_owned()
            };
            tokio::spawn(async move { client.get(&path).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    trigger.send(()).unwrap();
    for r in burst {
        let r = r.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let complete = r.json.get("id").is_some_and(Value::is_string)
            || r.json.get("Resources").is_some_and(Value::is_array);
        assert!(complete, "{}", r.text);
    }
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
}

/// A request that outlives `shutdown_timeout` does not keep the process up.
#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let (client, trigger, server, _stop) =
        draining_gateway(Duration::from_secs(5), Duration::from_millis(200)).await;
    let stuck = tokio::spawn(async move { client.raw("GET", "/Users/1001", &[], None).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    trigger.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(2), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
    stuck.abort();
}
