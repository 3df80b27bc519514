//! Several tenants in one process: each base path has its own tokens, mappings and backend.
//! Tenant `entra` fronts one demo directory with the shipped mappings; tenant `okta`
//! fronts another with a copy that does not map `title`.

use std::sync::Arc;

use scimgate::config::{self, Overrides};
use scimgate::demo::{DemoDirectory, Store};
use scimgate::metrics::Metrics;
use scimgate::startup::build_tenants;
use serde_json::Value;

use crate::support::gateway::{metric_value, repo_path, slow_directory};
use crate::support::scim::{assert_scim_error, run_id, small_user};
use crate::support::snapshot::store_json;
use crate::support::temp::{without_title, TempDir};
use crate::support::Client;

const ENTRA_TOKEN: &str = "entra-token-0123456789";
const OKTA_TOKEN: &str = "okta-token-9876543210";
const USER_SCHEMA: &str = "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User";

struct TwoTenants {
    entra: Client,
    okta: Client,
    /// Okta's base path, presenting Entra's token.
    okta_with_entra_token: Client,
    admin: Client,
    entra_dir: DemoDirectory,
    okta_dir: DemoDirectory,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
    _files: TempDir,
}

/// The `tenants:` config for two tenants in front of `entra_url` and `okta_url`.
fn two_tenant_config(files: &TempDir, entra_url: &str, okta_url: &str) -> std::path::PathBuf {
    let okta_mappings = files.demo_mappings("okta-mappings", without_title);
    files.write(
        "config.yaml",
        &format!(
            "listen: 127.0.0.1:0
backend:
  timeout: 5s
tenants:
  - name: entra
    base_path: /entra/scim/v2
    mappings: {entra_mappings}
    auth: {{ tokens: [{ENTRA_TOKEN}] }}
    backend: {{ url: \"{entra_url}\" }}
  - name: okta
    base_path: /okta/scim/v2
    mappings: {okta_mappings}
    auth: {{ tokens: [{OKTA_TOKEN}] }}
    backend: {{ url: \"{okta_url}\", connect_timeout: 1s }}
    cache: {{ enabled: false }}
",
            entra_mappings = repo_path("mappings/demo").display(),
            okta_mappings = okta_mappings.display(),
        ),
    )
}

async fn two_tenants() -> TwoTenants {
    let no_delay = std::time::Duration::ZERO;
    let (entra_dir, entra_url, stop_entra) = slow_directory(Store::seeded(), no_delay).await;
    let (okta_dir, okta_url, stop_okta) = slow_directory(Store::seeded(), no_delay).await;
    let files = TempDir::new();
    let config_file = two_tenant_config(&files, &entra_url, &okta_url);
    let loaded = config::load(Some(&config_file), &Overrides::default()).unwrap();
    let metrics = Arc::new(Metrics::new().unwrap());
    let tenants = build_tenants(&loaded, metrics.clone(), &[]).unwrap();
    assert_eq!(tenants.len(), 2);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(scimgate::server::serve(
        listener,
        scimgate::server::app(&tenants),
        async {
            let _ = stopped.await;
        },
    ));
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin_listener.local_addr().unwrap();
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(scimgate::server::serve(
        admin_listener,
        scimgate::server::admin::app(metrics, &tenants),
        async {
            let _ = admin_stopped.await;
        },
    ));
    let base = |tenant: &str| format!("http://{addr}/{tenant}/scim/v2");
    TwoTenants {
        entra: Client::new(base("entra"), Some(ENTRA_TOKEN.into())),
        okta: Client::new(base("okta"), Some(OKTA_TOKEN.into())),
        okta_with_entra_token: Client::new(base("okta"), Some(ENTRA_TOKEN.into())),
        admin: Client::new(format!("http://{admin_addr}"), None),
        entra_dir,
        okta_dir,
        _stops: vec![stop, stop_admin, stop_entra, stop_okta],
        _files: files,
    }
}

fn state(t: &TwoTenants) -> (Value, Value) {
    (
        t.entra_dir.with_store(store_json),
        t.okta_dir.with_store(store_json),
    )
}

#[tokio::test]
async fn a_tenants_token_is_refused_on_another_tenants_path() {
    let t = two_tenants().await;
    let before = state(&t);
    let okta_calls = t.okta_dir.request_count();

    let r = t.okta_with_entra_token.get("/Users").await;
    assert_scim_error(&r, 401, None);
    let body = small_user(&format!("intruder-{}@example.com", run_id()));
    let r = t.okta_with_entra_token.post("/Users", &body).await;
    assert_scim_error(&r, 401, None);
    let r = t.okta_with_entra_token.delete("/Users/1001").await;
    assert_scim_error(&r, 401, None);
    // Okta's token is no good on Entra's path either.
    let entra_with_okta_token = Client::new(t.entra.base.clone(), Some(OKTA_TOKEN.into()));
    let r = entra_with_okta_token.delete("/Users/1001").await;
    assert_scim_error(&r, 401, None);

    assert_eq!(state(&t), before, "a refused request changed a directory");
    assert_eq!(
        t.okta_dir.request_count(),
        okta_calls,
        "a refused request reached okta's directory"
    );
    // Each token works where it belongs.
    assert_eq!(t.okta.get("/Users/1001").await.status, 200);
    assert_eq!(t.entra.get("/Users/1001").await.status, 200);
}

#[tokio::test]
async fn each_tenant_reaches_its_own_backend_and_metrics_name_it() {
    let t = two_tenants().await;
    let user_name = format!("only-entra-{}@example.com", run_id());
    let r = t.entra.post("/Users", &small_user(&user_name)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let has = |dir: &DemoDirectory| {
        dir.with_store(store_json)["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["login"] == user_name.as_str())
    };
    assert!(has(&t.entra_dir), "the user is not in entra's directory");
    assert!(!has(&t.okta_dir), "the user reached okta's directory");
    let filter = format!("/Users?filter=userName%20eq%20%22{user_name}%22");
    assert_eq!(t.entra.get(&filter).await.json["totalResults"], 1);
    assert_eq!(t.okta.get(&filter).await.json["totalResults"], 0);

    let metrics = t.admin.get("/metrics").await.text;
    let created = r#"scimgate_scim_requests_total{operation="create",resource="Users",status_class="2xx",tenant="entra"}"#;
    assert_eq!(metric_value(&metrics, created), 1.0, "{metrics}");
    let okta_lists = r#"scimgate_scim_requests_total{operation="list",resource="Users",status_class="2xx",tenant="okta"}"#;
    assert_eq!(metric_value(&metrics, okta_lists), 1.0, "{metrics}");
    assert!(
        metric_value(
            &metrics,
            r#"scimgate_backend_requests_total{operation="post",status_class="2xx",tenant="entra"}"#
        ) >= 1.0
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"scimgate_backend_requests_total{operation="post",status_class="2xx",tenant="okta"}"#
        ),
        0.0
    );
    assert!(!metrics.contains(r#"tenant="default""#), "{metrics}");
}

#[tokio::test]
async fn discovery_of_each_tenant_reflects_its_own_mapping() {
    let t = two_tenants().await;
    let names = |schema: &Value| -> Vec<String> {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let entra = t.entra.get(USER_SCHEMA).await;
    let okta = t.okta.get(USER_SCHEMA).await;
    assert_eq!(entra.status, 200, "{}", entra.text);
    assert_eq!(okta.status, 200, "{}", okta.text);
    assert!(names(&entra.json).contains(&"title".to_owned()));
    assert!(!names(&okta.json).contains(&"title".to_owned()));
    assert!(names(&okta.json).contains(&"userName".to_owned()));
    // meta.location names the tenant's own base path.
    let rt = t.okta.get("/ResourceTypes/User").await;
    assert!(
        rt.json["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("/okta/scim/v2/")),
        "{}",
        rt.text
    );
    // A title sent to okta is not stored (not mapped); sent to entra it is.
    let user_name = format!("titled-{}@example.com", run_id());
    let mut body = small_user(&user_name);
    body["title"] = "Engineer".into();
    let r = t.okta.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json.get("title").is_none(), "{}", r.text);
    let r = t.entra.post("/Users", &body).await;
    assert_eq!(r.json["title"], "Engineer", "{}", r.text);
}

/// Problems between tenants, as `check` and start-up report them (all at once).
fn problems_of(yaml: &str) -> Vec<String> {
    let files = TempDir::new();
    let path = files.write("config.yaml", yaml);
    match config::load(Some(&path), &Overrides::default()) {
        Err(problems) => problems,
        Ok(loaded) => {
            let metrics = Arc::new(Metrics::new().unwrap());
            build_tenants(&loaded, metrics, &[])
                .err()
                .unwrap_or_default()
        }
    }
}

fn tenant(name: &str, base_path: &str, token: &str) -> String {
    format!(
        "  - {{ name: {name}, base_path: {base_path}, mappings: {}, auth: {{ tokens: [{token}] }}, backend: {{ url: \"http://127.0.0.1:9\" }} }}\n",
        repo_path("mappings/demo").display()
    )
}

#[test]
fn overlapping_base_paths_shared_tokens_and_duplicate_names_are_reported_together() {
    let yaml = format!(
        "tenants:\n{}{}{}{}",
        tenant("a", "/scim/v2", "tok-a"),
        tenant("b", "/scim/v2", "tok-b"),
        tenant("c", "/scim/v2/inner", "tok-c"),
        tenant("a", "/other", "tok-d"),
    );
    let problems = problems_of(&yaml);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has("tenants.b.base_path: \"/scim/v2\" is also the base path of tenant a"),
        "{problems:?}"
    );
    assert!(
        has("tenants.c.base_path: \"/scim/v2/inner\" lies inside \"/scim/v2\""),
        "{problems:?}"
    );
    assert!(has("tenants.a: two tenants have this name"), "{problems:?}");

    // Shared tokens are found once the settings are otherwise valid.
    let yaml = format!(
        "tenants:\n{}{}",
        tenant("a", "/a/scim/v2", "same-token"),
        tenant("b", "/b/scim/v2", "same-token"),
    );
    let problems = problems_of(&yaml);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("tenants.b.auth: a token of tenant b is also accepted by tenant a")
    );
    assert!(
        !problems[0].contains("same-token"),
        "a problem printed the token"
    );
}

#[test]
fn tenant_entries_inherit_top_level_sections_and_report_their_own_keys() {
    let files = TempDir::new();
    let path = files.write(
        "config.yaml",
        &format!(
            "backend:\n  timeout: 3s\n  headers: {{ X-Shared: one }}\nlimits:\n  max_page_size: 50\n  default_page_size: 20\ntenants:\n{}  - name: b\n    base_path: /b\n    mappings: {}\n    auth: {{ tokens: [tok-b] }}\n    backend: {{ url: \"http://127.0.0.1:8\", headers: {{ X-Own: two }} }}\n    limits: {{ max_page_size: 10, default_page_size: 5 }}\n",
            tenant("a", "/a", "tok-a"),
            repo_path("mappings/demo").display()
        ),
    );
    let loaded = config::load(Some(&path), &Overrides::default()).unwrap();
    let [a, b] = loaded.tenants.as_slice() else {
        panic!("{:?}", loaded.tenants)
    };
    assert_eq!(a.backend.timeout, "3s");
    assert_eq!(b.backend.timeout, "3s");
    assert_eq!(a.limits.max_page_size, 50);
    assert_eq!(b.limits.max_page_size, 10);
    assert_eq!(b.backend.headers.len(), 2, "{:?}", b.backend);
    assert_eq!(a.backend.url, "http://127.0.0.1:9");

    let problems = problems_of(&format!(
        "mappings: /somewhere\ntenants:\n{}  - {{ name: b, base_path: /b, mappings: x, auth: {{}}, backend: {{ url: \"ftp://x\", no_such_key: 3 }} }}\n",
        tenant("a", "/a", "tok-a"),
    ));
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has("mappings: with tenants:, each tenant names its own mappings"),
        "{problems:?}"
    );
    assert!(
        has("tenants.b: unknown field `no_such_key`"),
        "{problems:?}"
    );
}

#[test]
fn the_shipped_multi_tenant_example_is_valid() {
    let loaded = config::load(
        Some(&repo_path("config/multi-tenant.yaml")),
        &Overrides::default(),
    )
    .unwrap();
    let names: Vec<&str> = loaded.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["entra", "okta"]);
    let metrics = Arc::new(Metrics::new().unwrap());
    let tenants = build_tenants(&loaded, metrics, &[]).unwrap();
    assert_ne!(tenants[0].base_path, tenants[1].base_path);
}
