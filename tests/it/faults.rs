//! Fault injection: the gateway in front of the fault proxy (support/fault_proxy.rs) in
//! front of the demo directory. For each fault: the SCIM status the IdP gets, that the
//! gateway keeps serving requests that do not need the directory, that it recovers once
//! the fault is gone (polled up to a bound, never timed), and that the directory's final
//! state holds every write the gateway acknowledged (a ledger of 2xx writes).

use std::collections::HashMap;
use std::time::Duration;

use scimgate::config::{Overrides, Settings};
use scimgate::demo::{DemoDirectory, Store};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::support::fault_proxy::{Fault, FaultProxy};
use crate::support::gateway::repo_path;
use crate::support::{Client, Gateway};

/// Gateway → fault proxy → demo directory.
pub struct Rig {
    pub gw: Gateway,
    pub proxy: FaultProxy,
    /// The directory itself, bypassing the proxy (to check what was stored).
    pub directory: Client,
    _stop: oneshot::Sender<()>,
}

/// Settings that make faults show quickly: short backend timeout and breaker cool-down,
/// quick retries, no lookup cache (every read reaches the directory).
pub fn quick(s: &mut Settings) {
    s.backend.timeout = "500ms".into();
    s.backend.retry.backoff_base = "10ms".into();
    s.backend.retry.backoff_max = "50ms".into();
    s.backend.breaker.cooldown = "200ms".into();
    s.limits.request_timeout = "5s".into();
    s.cache.enabled = false;
}

pub async fn rig(tune: impl FnOnce(&mut Settings)) -> Rig {
    let directory = DemoDirectory::new(Store::seeded(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(directory.clone().serve(listener, async {
        let _ = rx.await;
    }));
    let proxy = FaultProxy::start(&url).await;
    let mut gw = Gateway::start_tuned(
        Some(&repo_path("config/demo.yaml")),
        &proxy.url,
        Overrides::default(),
        |s| {
            quick(s);
            tune(s);
        },
    )
    .await;
    gw.directory = Some(directory);
    Rig {
        gw,
        proxy,
        directory: Client::new(url, None),
        _stop: tx,
    }
}

/// Every write sent, in order per user, and whether the gateway acknowledged it.
#[derive(Default)]
pub struct Ledger {
    titles: HashMap<String, Vec<(String, bool)>>,
    created: Vec<(String, String)>,
}

impl Ledger {
    /// PATCHes the user's title through the gateway and records the outcome.
    pub async fn set_title(&mut self, scim: &Client, id: &str, title: &str) -> u16 {
        let r = scim
            .patch(
                &format!("/Users/{id}"),
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": title}]
                }),
            )
            .await;
        let acked = (200..300).contains(&r.status);
        if acked {
            assert_eq!(r.json["title"], title, "{}", r.text);
        }
        self.titles
            .entry(id.to_owned())
            .or_default()
            .push((title.to_owned(), acked));
        r.status
    }

    /// Creates a user through the gateway and records it when acknowledged.
    pub async fn create_user(&mut self, scim: &Client, user_name: &str) -> u16 {
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "name": {"givenName": "Fault", "familyName": "Test"},
                    "emails": [{"type": "work", "value": user_name, "primary": true}],
                    "urn:ietf:params:scim:schemas:extension:8x8:1.1:User": {"site": "Paris"}
                }),
            )
            .await;
        if r.status == 201 {
            let id = r.json["id"].as_str().unwrap().to_owned();
            self.created.push((id, user_name.to_owned()));
        }
        r.status
    }

    /// Asserts the directory holds every acknowledged write: each user's title is its last
    /// acknowledged one, or one sent after it (a write that failed towards the IdP may still
    /// have landed: its answer was lost, and the IdP retries it), and every acknowledged
    /// create exists. `record` reads one user record from the directory itself.
    pub async fn verify<F, Fut>(&self, record: F, title_field: &str, login_field: &str)
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Value>,
    {
        for (id, writes) in &self.titles {
            let Some(last_acked) = writes.iter().rposition(|(_, acked)| *acked) else {
                continue;
            };
            let stored = record(id.clone()).await;
            let stored = stored[title_field].as_str().unwrap_or_default().to_owned();
            let allowed: Vec<&String> = writes[last_acked..].iter().map(|(t, _)| t).collect();
            assert!(
                allowed.contains(&&stored),
                "user {id}: directory has title {stored:?}, acknowledged writes since: {allowed:?}"
            );
        }
        for (id, user_name) in &self.created {
            let stored = record(id.clone()).await;
            assert_eq!(
                stored[login_field], *user_name,
                "acknowledged create {id} missing"
            );
        }
    }

    /// [`Ledger::verify`] against the demo directory's HTTP API.
    pub async fn verify_demo(&self, directory: &Client) {
        self.verify(
            |id| async move { directory.get(&format!("/api/users/{id}")).await.json },
            "title",
            "login",
        )
        .await;
    }
}

/// Polls a directory-backed read until it answers 200 (at most 10 s).
pub async fn wait_recovered(scim: &Client) {
    wait_serves(scim, "/Users/1001").await;
}

/// Polls `path` until it answers 200 (at most 10 s).
pub async fn wait_serves(scim: &Client, path: &str) {
    for _ in 0..100 {
        if scim.get(path).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway did not recover after the backend did");
}

/// A SCIM error body with the expected status; `Retry-After` where the status asks for one.
fn assert_scim_error(r: &crate::support::Reply, statuses: &[u16]) {
    assert!(statuses.contains(&r.status), "{} {}", r.status, r.text);
    assert_eq!(
        r.json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{}",
        r.text
    );
    assert_eq!(r.json["status"], r.status.to_string(), "{}", r.text);
    if matches!(r.status, 429 | 503) {
        assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    }
}

async fn assert_serves_discovery(gw: &Gateway) {
    let r = gw.scim.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// One fault, the whole story: acknowledged writes before, the expected status during (for
/// a read and for a write), other requests still served, recovery after, a write after, and
/// the ledger against the directory.
async fn fault_story(fault: Fault, expected: &[u16]) {
    let rig = rig(|_| {}).await;
    let mut ledger = Ledger::default();
    assert_eq!(ledger.set_title(&rig.gw.scim, "1001", "before").await, 200);
    assert_eq!(
        ledger.create_user(&rig.gw.scim, "before@example.com").await,
        201
    );
    let before = crate::support::snapshot::snapshot(&rig.gw);

    rig.proxy.set(fault.clone());
    let read = rig.gw.scim.get("/Users/1002").await;
    assert_scim_error(&read, expected);
    let write = ledger.set_title(&rig.gw.scim, "1002", "during").await;
    assert!(
        expected.contains(&write),
        "{fault:?}: PATCH answered {write}"
    );
    // Each of these failed before writing (the read they start with failed): nothing changed.
    assert_eq!(
        crate::support::snapshot::snapshot(&rig.gw),
        before,
        "{fault:?}"
    );
    assert_serves_discovery(&rig.gw).await;

    rig.proxy.clear();
    wait_recovered(&rig.gw.scim).await;
    assert_eq!(ledger.set_title(&rig.gw.scim, "1002", "after").await, 200);
    assert_eq!(ledger.set_title(&rig.gw.scim, "1001", "after").await, 200);
    ledger.verify_demo(&rig.directory).await;
}

#[tokio::test]
async fn latency_beyond_the_backend_timeout_is_504() {
    fault_story(Fault::Latency(Duration::from_secs(2)), &[504, 503]).await;
}

#[tokio::test]
async fn connection_resets_are_502_then_503_from_the_breaker() {
    fault_story(Fault::Reset, &[502, 503]).await;
}

#[tokio::test]
async fn truncated_bodies_are_502() {
    fault_story(Fault::Truncate, &[502, 503]).await;
}

#[tokio::test]
async fn non_json_bodies_are_502() {
    fault_story(Fault::NotJson, &[502]).await;
}

#[tokio::test]
async fn a_backend_that_is_down_is_502_then_503() {
    fault_story(Fault::Down, &[502, 503]).await;
}

#[tokio::test]
async fn a_persistent_500_is_502_and_503_with_retry_after_is_passed_on() {
    fault_story(
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        &[502, 503],
    )
    .await;
    let rig = rig(|_| {}).await;
    rig.proxy.set(Fault::Status {
        status: 503,
        retry_after: Some(7),
    });
    let r = rig.gw.scim.get("/Users/1001").await;
    assert_scim_error(&r, &[503]);
    assert_eq!(r.header("retry-after"), Some("7"));
    rig.proxy.set(Fault::Status {
        status: 429,
        retry_after: Some(3),
    });
    let r = rig.gw.scim.get("/Users/1001").await;
    assert_scim_error(&r, &[429]);
    assert_eq!(r.header("retry-after"), Some("3"));
}

/// A short burst of 5xx on reads is absorbed by retries: the IdP sees 200.
#[tokio::test]
async fn a_burst_of_5xx_on_reads_is_retried_away() {
    let rig = rig(|_| {}).await;
    rig.proxy.burst(
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    let r = rig.gw.scim.get("/Users/1001").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        rig.gw
            .metric(r#"scimgate_backend_retries_total{operation="get",tenant="default"}"#)
            .await
            >= 2.0
    );
}

/// Writes are not retried unless the mapping says they are idempotent: a reset on a
/// create (a POST) is 502 once, the directory got nothing, and the ledger holds.
#[tokio::test]
async fn a_reset_create_is_not_retried_and_reported_failed() {
    let rig = rig(|_| {}).await;
    let mut ledger = Ledger::default();
    rig.proxy.set_for("POST", Fault::Reset);
    let (seen, forwarded) = (rig.proxy.seen(), rig.proxy.forwarded());
    let before = crate::support::snapshot::snapshot(&rig.gw);
    assert_eq!(
        ledger.create_user(&rig.gw.scim, "reset@example.com").await,
        502
    );
    // The POST was seen once and dropped: no retry of a write that is not idempotent.
    assert_eq!(rig.proxy.seen() - seen, 1);
    assert_eq!(rig.proxy.forwarded() - forwarded, 0);
    assert_eq!(crate::support::snapshot::snapshot(&rig.gw), before);
    rig.proxy.clear();
    assert_eq!(
        ledger.create_user(&rig.gw.scim, "reset@example.com").await,
        201
    );
    ledger.verify_demo(&rig.directory).await;
}

/// The shipped demo mapping marks its partial-PATCH update `idempotent: true`: a reset on
/// it is retried, and the IdP gets the directory's confirmation.
#[tokio::test]
async fn an_idempotent_update_is_retried_through_a_reset() {
    let rig = rig(|_| {}).await;
    let mut ledger = Ledger::default();
    rig.proxy.burst_for("PATCH", Fault::Reset, 1);
    let seen = rig.proxy.seen();
    assert_eq!(ledger.set_title(&rig.gw.scim, "1003", "retried").await, 200);
    // The GET, the reset PATCH and its retry.
    assert_eq!(rig.proxy.seen() - seen, 3);
    assert!(
        rig.gw
            .metric(r#"scimgate_backend_retries_total{operation="patch",tenant="default"}"#)
            .await
            >= 1.0
    );
    ledger.verify_demo(&rig.directory).await;
}

/// A truncated answer to a write that did land: the gateway cannot know, says 502 (not
/// success), and the IdP's retry converges.
#[tokio::test]
async fn a_write_whose_answer_is_lost_converges_on_retry() {
    let rig = rig(|_| {}).await;
    let mut ledger = Ledger::default();
    rig.proxy.set_for("PATCH", Fault::Truncate);
    assert_eq!(ledger.set_title(&rig.gw.scim, "1004", "lost").await, 502);
    rig.proxy.clear();
    assert_eq!(ledger.set_title(&rig.gw.scim, "1004", "lost").await, 200);
    let r = rig.gw.scim.get("/Users/1004").await;
    assert_eq!(r.json["title"], "lost");
    ledger.verify_demo(&rig.directory).await;
}

/// The breaker opens after repeated failures and then answers 503 with Retry-After without
/// calling the directory; a probe closes it once the directory is back.
#[tokio::test]
async fn the_breaker_opens_sheds_without_calling_and_closes_after_recovery() {
    let rig = rig(|s| s.backend.breaker.cooldown = "60s".into()).await;
    rig.proxy.set(Fault::Reset);
    let mut opened = false;
    for _ in 0..10 {
        let r = rig.gw.scim.get("/Users/1001").await;
        assert_scim_error(&r, &[502, 503]);
        if r.status == 503 {
            opened = true;
            break;
        }
    }
    assert!(opened, "the breaker never opened");
    let seen = rig.proxy.seen();
    for _ in 0..5 {
        let r = rig.gw.scim.get("/Users/1002").await;
        assert_scim_error(&r, &[503]);
    }
    assert_eq!(
        rig.proxy.seen(),
        seen,
        "an open breaker called the directory"
    );
    let text = rig.gw.metrics().await;
    let value = |s: &str| crate::support::gateway::metric_value(&text, s);
    assert_eq!(
        value(r#"scimgate_backend_breaker_state{tenant="default"}"#),
        2.0
    );
    assert!(
        value(r#"scimgate_shed_requests_total{reason="circuit_open",tenant="default"}"#) >= 5.0
    );
    assert_serves_discovery(&rig.gw).await;
}

#[tokio::test]
async fn the_breaker_closes_once_the_backend_is_back() {
    let rig = rig(|_| {}).await;
    rig.proxy.set(Fault::Down);
    for _ in 0..10 {
        if rig.gw.scim.get("/Users/1001").await.status == 503 {
            break;
        }
    }
    rig.proxy.clear();
    wait_recovered(&rig.gw.scim).await;
    assert_eq!(
        rig.gw
            .metric(r#"scimgate_backend_breaker_state{tenant="default"}"#)
            .await,
        0.0
    );
}

/// Traffic keeps flowing while the fault comes and goes: every acknowledged write is in
/// the directory at the end.
#[tokio::test]
async fn mixed_traffic_through_flapping_faults_loses_no_acknowledged_write() {
    let rig = rig(|_| {}).await;
    let mut ledger = Ledger::default();
    let faults = [
        Fault::Reset,
        Fault::Truncate,
        Fault::NotJson,
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        Fault::Latency(Duration::from_millis(700)),
    ];
    for (round, fault) in faults.iter().enumerate() {
        for i in 0..3 {
            let id = format!("{}", 1001 + (round + i) % 5);
            ledger
                .set_title(&rig.gw.scim, &id, &format!("r{round}-{i}"))
                .await;
        }
        rig.proxy.burst(fault.clone(), 3);
        for i in 0..3 {
            let id = format!("{}", 1001 + (round + i) % 5);
            ledger
                .set_title(&rig.gw.scim, &id, &format!("f{round}-{i}"))
                .await;
            ledger
                .create_user(&rig.gw.scim, &format!("flap{round}-{i}@example.com"))
                .await;
        }
        rig.proxy.clear();
    }
    wait_recovered(&rig.gw.scim).await;
    ledger.verify_demo(&rig.directory).await;
}
