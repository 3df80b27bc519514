//! The real binary's tools: `translate` (the backend calls a SCIM request would make, sent
//! nowhere), `check` on a multi-tenant config, and reload on SIGHUP.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use scimgate::demo::{DemoDirectory, Store};
use serde_json::{json, Value};

use crate::support::gateway::{metric_value, repo_path, slow_directory};
use crate::support::scim::{patch, run_id, small_user};
use crate::support::snapshot::store_json;
use crate::support::temp::{without_title, TempDir};
use crate::support::Client;

/// Runs the binary with `args` and `stdin`; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn directory() -> (DemoDirectory, String, tokio::sync::oneshot::Sender<()>) {
    slow_directory(Store::seeded(), Duration::ZERO).await
}

#[tokio::test]
async fn translate_prints_the_create_call_and_sends_nothing() {
    let (dir, url, _stop) = directory().await;
    let before = dir.with_store(store_json);
    let user_name = format!("translated-{}@example.com", run_id());
    let mut body = small_user(&user_name);
    body["name"] = json!({"givenName": "Tran", "familyName": "Slated"});
    let config = repo_path("config/demo.yaml");
    let (code, out, err) = run(
        &[
            "translate",
            "--config",
            config.to_str().unwrap(),
            "--backend-url",
            &url,
            "POST",
            "/Users",
        ],
        &body.to_string(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("POST {url}/api/users\n")), "{out}");
    assert!(
        out.contains(&format!("\"login\": \"{user_name}\"")),
        "{out}"
    );
    assert!(out.contains("\"first_name\": \"Tran\""), "{out}");
    assert!(out.contains("NOT sent"), "{out}");
    assert!(
        out.contains("SCIM answer if the directory answered so: 201"),
        "{out}"
    );
    assert_eq!(dir.request_count(), 0, "translate called the directory");
    assert_eq!(dir.with_store(store_json), before);
}

#[tokio::test]
async fn translate_patch_reads_the_given_record_and_sends_only_the_change() {
    let (dir, url, _stop) = directory().await;
    let files = TempDir::new();
    let record = dir.with_store(|s| serde_json::to_value(s.user(1001).unwrap()).unwrap());
    assert_eq!(record["status"], "ENABLED");
    let record_file = files.write("record.json", &record.to_string());
    let body = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let config = repo_path("config/demo.yaml");
    let (code, out, err) = run(
        &[
            "translate",
            "--config",
            config.to_str().unwrap(),
            "--backend-url",
            &url,
            "--record",
            record_file.to_str().unwrap(),
            "PATCH",
            "/scim/v2/Users/1001",
        ],
        &body.to_string(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let get = out.find(&format!("GET {url}/api/users/1001\n"));
    let write = out.find(&format!("PATCH {url}/api/users/1001\n"));
    assert!(get.is_some() && write.is_some() && get < write, "{out}");
    assert!(out.contains("\"status\": \"DISABLED\""), "{out}");
    // Merge-style update: only changed fields, so the login is not in the PATCH body.
    let patch_part = &out[write.unwrap()..];
    assert!(!patch_part.contains("\"login\""), "{out}");
    assert!(out.contains("answered with the --record file"), "{out}");
    assert!(
        out.contains("SCIM answer if the directory answered so: 200"),
        "{out}"
    );
    assert!(out.contains("\"active\": false"), "{out}");
    assert_eq!(dir.request_count(), 0, "translate called the directory");
}

#[tokio::test]
async fn translate_picks_the_tenant_and_redacts_header_secrets() {
    let files = TempDir::new();
    let secret = files.write("api-key", "s3cr3t-value-never-printed\n");
    let config = files.write(
        "config.yaml",
        &format!(
            "tenants:
  - name: entra
    base_path: /entra/scim/v2
    mappings: {demo}
    auth: {{ tokens: [a-token] }}
    backend: {{ url: \"http://127.0.0.1:4001\" }}
  - name: okta
    base_path: /okta/scim/v2
    mappings: {demo}
    auth: {{ tokens: [b-token] }}
    backend:
      url: http://127.0.0.1:4002
      headers: {{ X-Api-Key: \"file:{secret}\" }}
      auth: {{ mode: bearer, token: bearer-t0ken-never-printed }}
",
            demo = repo_path("mappings/demo").display(),
            secret = secret.display()
        ),
    );
    let config = config.to_str().unwrap();
    let (code, _, err) = run(&["translate", "--config", config, "GET", "/Users/1001"], "");
    assert_eq!(code, 64);
    assert!(
        err.contains("pick one with --tenant (entra, okta)"),
        "{err}"
    );

    let (code, out, err) = run(
        &[
            "translate",
            "--config",
            config,
            "--tenant",
            "okta",
            "DELETE",
            "/Users/1001",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("DELETE http://127.0.0.1:4002/api/users/1001"),
        "{out}"
    );
    assert!(out.contains("X-Api-Key: <redacted>"), "{out}");
    // The credential backend.auth adds is shown as sent, its value redacted.
    assert!(out.contains("Authorization: <redacted>"), "{out}");
    assert!(!out.contains("s3cr3t") && !out.contains("t0ken"), "{out}");
    assert!(
        out.contains("SCIM answer if the directory answered so: 204"),
        "{out}"
    );
}

#[test]
fn check_lists_every_problem_of_a_multi_tenant_config() {
    let files = TempDir::new();
    let demo = repo_path("mappings/demo");
    let config = files.write(
        "config.yaml",
        &format!(
            "tenants:
  - {{ name: a, base_path: /scim, mappings: {demo}, auth: {{ tokens: [t1] }}, backend: {{ url: \"http://127.0.0.1:1\" }} }}
  - {{ name: b, base_path: /scim/b, mappings: {demo}, auth: {{ tokens: [t2] }}, backend: {{ url: \"https://x\", timeout: soon }} }}
",
            demo = demo.display()
        ),
    );
    let (code, out, err) = run(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 64, "{out}");
    for needle in [
        "error: tenants.b.backend.url: \"https://x\" must start with http://",
        "error: tenants.b.backend.timeout: \"soon\" is not a duration",
        "error: tenants.b.base_path: \"/scim/b\" lies inside \"/scim\", the base path of tenant a",
    ] {
        assert!(err.contains(needle), "{needle} missing in:\n{err}");
    }
    let (code, out, err) = run(
        &[
            "check",
            "--config",
            repo_path("config/multi-tenant.yaml").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok: tenant entra at /entra/scim/v2"), "{out}");
    assert!(out.contains("ok: tenant okta at /okta/scim/v2"), "{out}");
}

/// A `scimgate serve` process; killed on drop if still running.
struct Served {
    child: std::process::Child,
    scim: Client,
    admin: Client,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn reloads(&self, result: &str) -> f64 {
        let text = self.admin.get("/metrics").await.text;
        metric_value(
            &text,
            &format!("scimgate_config_reloads_total{{result=\"{result}\"}}"),
        )
    }

    /// Waits (bounded) until `done` holds; the log on failure.
    async fn wait_for(&self, what: &str, done: impl AsyncFn() -> bool) {
        for _ in 0..100 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} did not happen; log:\n{}", self.log());
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(config: &std::path::Path, files: &TempDir) -> Served {
    let port = free_port();
    let admin_port = free_port();
    let log = files.path.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin-listen",
            &format!("127.0.0.1:{admin_port}"),
        ])
        .env("SCIMGATE__LOG__FORMAT", "text")
        .env_remove("SCIMGATE__AUTH__TOKENS")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(files.path.join("serve.err")).unwrap())
        .spawn()
        .unwrap();
    let served = Served {
        child,
        scim: Client::new(
            format!("http://127.0.0.1:{port}/okta/scim/v2"),
            Some("okta-token".into()),
        ),
        admin: Client::new(format!("http://127.0.0.1:{admin_port}"), None),
        log,
    };
    served
        .wait_for("start-up", async || {
            served
                .scim
                .try_raw("GET", "/ServiceProviderConfig", &[], None)
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await;
    served
}

fn attribute_names(schema: &Value) -> Vec<String> {
    schema["attributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const USER_SCHEMA: &str = "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User";

#[tokio::test]
async fn sighup_swaps_in_new_mappings_and_a_broken_file_keeps_the_old_set() {
    let (_dir, url, _stop) = directory().await;
    let files = TempDir::new();
    let mappings = files.demo_mappings("okta-mappings", |users| users.to_owned());
    let config = files.write(
        "config.yaml",
        &format!(
            "tenants:
  - {{ name: entra, base_path: /entra/scim/v2, mappings: {demo}, auth: {{ tokens: [entra-token] }}, backend: {{ url: \"{url}\" }} }}
  - {{ name: okta, base_path: /okta/scim/v2, mappings: {okta}, auth: {{ tokens: [okta-token] }}, backend: {{ url: \"{url}\" }} }}
",
            demo = repo_path("mappings/demo").display(),
            okta = mappings.display(),
        ),
    );
    let served = serve(&config, &files).await;
    let has_title = async || {
        let r = served.scim.get(USER_SCHEMA).await;
        assert_eq!(r.status, 200, "{}", r.text);
        attribute_names(&r.json).contains(&"title".to_owned())
    };
    assert!(has_title().await);
    assert_eq!(served.reloads("success").await, 0.0);

    // A changed mapping file, then SIGHUP: the new mapping is served.
    let users = mappings.join("users.yaml");
    let original = std::fs::read_to_string(&users).unwrap();
    std::fs::write(&users, without_title(&original)).unwrap();
    served.signal("HUP");
    served
        .wait_for("the reload", async || {
            served.reloads("success").await == 1.0
        })
        .await;
    assert!(!has_title().await, "the reloaded mapping still maps title");

    // A broken mapping file: the old set keeps serving, the problem is logged and counted.
    let broken = original.replace(
        "  title: $.title",
        "  title: { path: $.title, nonsense: 1 }",
    );
    assert_ne!(broken, original);
    std::fs::write(&users, broken).unwrap();
    served.signal("HUP");
    served
        .wait_for("the refused reload", async || {
            served.reloads("failure").await == 1.0
        })
        .await;
    assert_eq!(served.reloads("success").await, 1.0);
    assert!(
        !has_title().await,
        "the broken reload changed what is served"
    );
    let r = served
        .scim
        .post(
            "/Users",
            &small_user(&format!("after-{}@example.com", run_id())),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let log = served.log();
    assert!(
        log.contains("users.yaml:37: title: unknown field `nonsense`"),
        "{log}"
    );
    assert!(
        log.contains("Reload failed: still serving the previous config"),
        "{log}"
    );

    // The other tenant was never disturbed; its token still works only on its own path.
    let entra = Client::new(
        served.scim.base.replace("/okta/", "/entra/"),
        Some("entra-token".into()),
    );
    assert_eq!(entra.get("/Users/1001").await.status, 200);
    let wrong = Client::new(served.scim.base.clone(), Some("entra-token".into()));
    assert_eq!(wrong.get("/Users/1001").await.status, 401);

    served.signal("TERM");
    let mut served = served;
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
