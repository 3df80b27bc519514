//! A real Prometheus scrapes the admin listener: a known sequence of SCIM calls shows up in
//! Prometheus's query API with the expected counter values (and the same values the gateway
//! exposes itself). Needs the `prometheus` binary: `/usr/bin/prometheus` (Debian package
//! `prometheus`, which scripts/validate-deploy.sh installs) or `$SCIMGATE_PROMETHEUS_BIN`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use crate::support::gateway::metric_value;
use crate::support::process::start_on_free_port;
use crate::support::scim::patch_ok;
use crate::support::{Client, Gateway};

/// Alice, a seeded demo user.
const ALICE: &str = "1001";
const POLL_LIMIT: Duration = Duration::from_secs(30);

/// A Prometheus process with its own config and TSDB directory; killed and removed on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    api: Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn prometheus_bin() -> PathBuf {
    let bin = std::env::var_os("SCIMGATE_PROMETHEUS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    assert!(
        bin.is_file(),
        "no Prometheus binary at {}: run scripts/validate-deploy.sh (installs the Debian \
         package), `apt-get install --no-install-recommends prometheus`, or set \
         SCIMGATE_PROMETHEUS_BIN",
        bin.display()
    );
    bin
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port) every second.
    async fn start(target: &str) -> Prometheus {
        let bin = prometheus_bin();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("scimgate-prom-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: scimgate\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let log_path = dir.join("prometheus.log");
        let spawn = |port: u16| {
            let log = std::fs::File::create(&log_path).unwrap();
            Command::new(&bin)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
        };
        let (child, port) = start_on_free_port(
            "prometheus",
            spawn,
            "/-/ready",
            |r| r.status == 200,
            || std::fs::read_to_string(&log_path).unwrap_or_default(),
            POLL_LIMIT,
        )
        .await;
        let prom = Prometheus {
            child,
            dir,
            api: Client::new(format!("http://127.0.0.1:{port}"), None),
        };
        prom
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant query returning at most one series (`None` when empty).
    async fn query(&self, promql: &str) -> Option<f64> {
        let r = self
            .api
            .get(&format!(
                "/api/v1/query?query={}",
                utf8_percent_encode(promql, NON_ALPHANUMERIC)
            ))
            .await;
        assert_eq!(r.status, 200, "{promql}: {}", r.text);
        assert_eq!(r.json["status"], "success", "{promql}: {}", r.text);
        let result = r.json["data"]["result"].as_array().unwrap();
        assert!(result.len() <= 1, "{promql}: several series: {}", r.text);
        result.first().map(|s| {
            s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{promql}: no value in {s}"))
        })
    }

    /// Polls until every query returns its expected value; then asserts them all.
    async fn wait_for(&self, expected: &[(String, f64)]) {
        let started = Instant::now();
        loop {
            let mut got = Vec::new();
            for (q, _) in expected {
                got.push(self.query(q).await);
            }
            if got.iter().zip(expected).all(|(g, (_, e))| *g == Some(*e)) {
                return;
            }
            if started.elapsed() > POLL_LIMIT {
                let report: Vec<String> = expected
                    .iter()
                    .zip(&got)
                    .map(|((q, e), g)| format!("{q}: expected {e}, got {g:?}"))
                    .collect();
                panic!(
                    "Prometheus did not reach the expected values within {POLL_LIMIT:?}:\n{}\n\
                     prometheus log:\n{}",
                    report.join("\n"),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn admin_target(gw: &Gateway) -> String {
    gw.admin.base.trim_start_matches("http://").to_owned()
}

fn series(name: &str, labels: &str) -> String {
    format!("{name}{{{labels}}}")
}

/// 10 GETs of one user, 1 PATCH, 3 list calls and a GET of a missing user (404), scraped by
/// a real Prometheus every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_admin_listener() {
    let gw = Gateway::demo().await;
    let prom = Prometheus::start(&admin_target(&gw)).await;
    // The target is up before any traffic.
    prom.wait_for(&[(r#"up{job="scimgate"}"#.into(), 1.0)])
        .await;

    let path = format!("/Users/{ALICE}");
    for _ in 0..10 {
        let r = gw.scim.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    patch_ok(
        &gw,
        &path,
        json!([{"op": "replace", "path": "displayName", "value": "Alice Scraped"}]),
    )
    .await;
    for _ in 0..3 {
        let r = gw.scim.get("/Users?count=2").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let missing = gw.scim.get("/Users/999999").await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    // What the gateway itself exposes now (no more SCIM traffic follows): backend calls and
    // cache misses depend on the mapping, so Prometheus must agree with the gateway on them.
    let text = gw.metrics().await;
    let exposed = |name: &str, labels: &str| metric_value(&text, &series(name, labels));
    let backend_get_2xx = exposed(
        "scimgate_backend_requests_total",
        r#"operation="get",status_class="2xx",tenant="default""#,
    );
    let backend_get_4xx = exposed(
        "scimgate_backend_requests_total",
        r#"operation="get",status_class="4xx",tenant="default""#,
    );
    let misses = exposed(
        "scimgate_cache_lookups_total",
        r#"cache="records",result="miss",tenant="default""#,
    );
    // One read for the 10 GETs, one per list, one for the missing user, the PATCH's fresh read.
    assert!(
        backend_get_2xx >= 5.0,
        "backend GETs 2xx: {backend_get_2xx}"
    );
    assert!(
        backend_get_4xx >= 1.0,
        "backend GETs 4xx: {backend_get_4xx}"
    );
    assert!(misses >= 1.0, "cache misses: {misses}");

    let req = |op: &str, class: &str| {
        format!(
            r#"sum(scimgate_scim_requests_total{{job="scimgate",resource="Users",operation="{op}",status_class="{class}"}})"#
        )
    };
    let expected = vec![
        (req("get", "2xx"), 10.0),
        (req("get", "4xx"), 1.0),
        (req("patch", "2xx"), 1.0),
        (req("list", "2xx"), 3.0),
        (
            r#"sum(scimgate_scim_requests_total{job="scimgate",status_class="5xx"}) or vector(0)"#
                .into(),
            0.0,
        ),
        (
            r#"sum(scimgate_scim_request_duration_seconds_count{job="scimgate",resource="Users"})"#
                .into(),
            15.0,
        ),
        (
            r#"sum(scimgate_scim_request_duration_seconds_count{job="scimgate",resource="Users",operation="get"})"#
                .into(),
            11.0,
        ),
        (
            r#"sum(scimgate_backend_requests_total{job="scimgate",operation="get",status_class="2xx"})"#
                .into(),
            backend_get_2xx,
        ),
        (
            r#"sum(scimgate_backend_requests_total{job="scimgate",operation="get",status_class="4xx"})"#
                .into(),
            backend_get_4xx,
        ),
        (
            r#"sum(scimgate_cache_lookups_total{job="scimgate",cache="records",result="hit"})"#
                .into(),
            9.0,
        ),
        (
            r#"sum(scimgate_cache_lookups_total{job="scimgate",cache="records",result="miss"})"#
                .into(),
            misses,
        ),
        (r#"count(scimgate_build_info{job="scimgate"})"#.into(), 1.0),
    ];
    prom.wait_for(&expected).await;

    // The backend histogram saw every backend call.
    let backend_total = prom
        .query(r#"sum(scimgate_backend_requests_total{job="scimgate"})"#)
        .await;
    let backend_count = prom
        .query(r#"sum(scimgate_backend_request_duration_seconds_count{job="scimgate"})"#)
        .await;
    assert_eq!(backend_total, backend_count);
    assert!(backend_total.unwrap_or(0.0) >= backend_get_2xx + backend_get_4xx);
}
