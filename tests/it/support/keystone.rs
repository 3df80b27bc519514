//! A real OpenStack Keystone (identity API v3) per test, started and stopped by the shipped
//! tests/backends/keystone/{start,stop}.sh (which install python3-keystone when it is
//! missing), plus an admin client that reads what Keystone really holds through its own API.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use scimgate::config::Overrides;
use serde_json::{json, Value};

use super::gateway::repo_path;
use super::scim::run_id;
use super::temp::TempDir;
use super::{Client, Gateway, Reply};

/// Only one start.sh at a time: two would race for apt-get's lock when Keystone still has
/// to be installed, and two `keystone-manage db_sync` runs at once crowd the machine.
static STARTING: Mutex<()> = Mutex::new(());

/// Keystone's test server serves one connection at a time: a connection this client kept
/// open would stall the gateway's calls (config/keystone.yaml sends the same header).
const CLOSE: (&str, &str) = ("connection", "close");

/// A running Keystone; stopped (and its state folder removed) on drop.
pub struct Keystone {
    /// The v3 root, `http://127.0.0.1:PORT/v3`: the gateway's `backend.url`.
    pub api_url: String,
    /// The bootstrap admin (domain `default`), the login config/keystone.yaml uses.
    pub user: String,
    pub password: String,
    /// The id of the `scim` domain, where the gateway's users and groups must land.
    pub scim_domain: String,
    /// The bootstrap admin's user id.
    pub admin_id: String,
    state_dir: PathBuf,
    admin: Client,
    /// A system-scoped admin token of the test's own (never the gateway's).
    admin_token: String,
    /// Gateway config and credential files written for this Keystone.
    files: TempDir,
}

impl Drop for Keystone {
    fn drop(&mut self) {
        stop(&self.state_dir);
    }
}

/// What start.sh printed.
struct Started {
    api_url: String,
    state_dir: PathBuf,
    user: String,
    password: String,
}

impl Keystone {
    /// Starts Keystone with start.sh and logs in as its admin. start.sh takes about 27 s on
    /// this 2-core machine when it is quiet (most of it `keystone-manage db_sync` and
    /// `bootstrap`), 40-60 s when busy, plus any wait for another test's start.
    pub async fn start() -> Keystone {
        let begun = Instant::now();
        let started = tokio::task::spawn_blocking(run_start_script).await.unwrap();
        eprintln!(
            "Keystone at {} ready after {:.1} s",
            started.api_url,
            begun.elapsed().as_secs_f64()
        );
        let mut keystone = Keystone {
            admin: Client::new(started.api_url.clone(), None),
            api_url: started.api_url,
            user: started.user,
            password: started.password,
            scim_domain: String::new(),
            admin_id: String::new(),
            state_dir: started.state_dir,
            admin_token: String::new(),
            files: TempDir::new(),
        };
        // From here on a failure still stops the process (Drop).
        let (token, login) = keystone.login_system().await;
        keystone.admin_token = token;
        keystone.admin_id = login["token"]["user"]["id"].as_str().unwrap().to_owned();
        let domains = keystone.get("/domains?name=scim").await;
        keystone.scim_domain = domains["domains"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no scim domain (start.sh creates it): {domains}"))
            .to_owned();
        keystone
    }

    /// A system-scoped token for the bootstrap admin and the login answer.
    async fn login_system(&self) -> (String, Value) {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"id": "default"}, "password": self.password
            }}},
            "scope": {"system": {"all": true}}
        }});
        let r = self
            .admin
            .raw(
                "POST",
                "/auth/tokens",
                &[("content-type", "application/json"), CLOSE],
                Some(serde_json::to_vec(&body).unwrap()),
            )
            .await;
        assert_eq!(r.status, 201, "Keystone admin login: {}", r.text);
        let token = r
            .header("x-subject-token")
            .expect("Keystone's login answer has no X-Subject-Token")
            .to_owned();
        (token, r.json)
    }

    /// A call to Keystone's API with the admin token (and `extra` headers).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut headers = vec![
            ("x-auth-token", self.admin_token.as_str()),
            ("content-type", "application/json"),
            CLOSE,
        ];
        headers.extend_from_slice(extra);
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.admin.raw(method, path, &headers, body).await
    }

    /// GETs `path` with the admin token, asserting 200.
    pub async fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, &[], None).await;
        assert_eq!(r.status, 200, "Keystone GET {path}: {}", r.text);
        r.json
    }

    /// The record Keystone holds under `/{collection}/{id}` (unwrapped from its envelope,
    /// e.g. `{"user": {...}}`), `None` when Keystone answers 404.
    async fn record(&self, collection: &str, envelope: &str, id: &str) -> Option<Value> {
        let path = format!("/{collection}/{id}");
        let r = self.call("GET", &path, &[], None).await;
        match r.status {
            200 => Some(r.json[envelope].clone()),
            404 => None,
            other => panic!("Keystone GET {path}: {other} {}", r.text),
        }
    }

    pub async fn user(&self, id: &str) -> Option<Value> {
        self.record("users", "user", id).await
    }

    pub async fn group(&self, id: &str) -> Option<Value> {
        self.record("groups", "group", id).await
    }

    /// The ids of a group's members as Keystone lists them, sorted.
    pub async fn member_ids(&self, group_id: &str) -> Vec<String> {
        let list = self.get(&format!("/groups/{group_id}/users")).await;
        let mut ids = ids_of(&list["users"]);
        ids.sort();
        ids
    }

    /// Every user and group of every domain, and every group's members: to assert that a
    /// refused request changed nothing in Keystone.
    pub async fn state(&self) -> Value {
        let mut users = self.get("/users").await["users"].clone();
        let mut groups = self.get("/groups").await["groups"].clone();
        sort_by_id(&mut users);
        sort_by_id(&mut groups);
        let mut members = serde_json::Map::new();
        for id in ids_of(&groups) {
            members.insert(id.clone(), json!(self.member_ids(&id).await));
        }
        json!({"users": users, "groups": groups, "members": members})
    }

    /// Revokes `token` the way a client revokes its own: DELETE /v3/auth/tokens with the
    /// token as both X-Auth-Token and X-Subject-Token.
    pub async fn revoke(&self, token: &str) {
        let r = self
            .admin
            .raw(
                "DELETE",
                "/auth/tokens",
                &[("x-auth-token", token), ("x-subject-token", token), CLOSE],
                None,
            )
            .await;
        assert_eq!(r.status, 204, "Keystone token revocation: {}", r.text);
    }

    /// What Keystone says about `token` (GET /v3/auth/tokens validates it): the `token`
    /// object, or `None` when it is no longer valid.
    pub async fn token(&self, token: &str) -> Option<Value> {
        let r = self
            .call("GET", "/auth/tokens", &[("x-subject-token", token)], None)
            .await;
        match r.status {
            200 => Some(r.json["token"].clone()),
            401 | 404 => None,
            other => panic!("Keystone token validation: {other} {}", r.text),
        }
    }

    /// config/keystone.yaml as shipped, except that the credentials are read from files
    /// (`file:`) holding this Keystone's admin and `password` rather than from the
    /// environment (each test's Keystone has its own, and tests share one process
    /// environment), and that `mappings` (when given) replaces the shipped mapping folder.
    pub fn config(&self, password: &str, mappings: Option<&Path>) -> PathBuf {
        let shipped = repo_path("config/keystone.yaml");
        let text = std::fs::read_to_string(&shipped).unwrap();
        let name = format!("keystone-{}", run_id());
        let user = self.files.write(&format!("{name}/user"), &self.user);
        let password = self.files.write(&format!("{name}/password"), password);
        let mappings = mappings.map_or_else(|| repo_path("mappings/keystone"), Path::to_owned);
        let mut config = text.clone();
        for (from, to) in [
            ("env:KEYSTONE_USER", format!("file:{}", user.display())),
            (
                "env:KEYSTONE_PASSWORD",
                format!("file:{}", password.display()),
            ),
            (
                "mappings: ../mappings/keystone",
                format!("mappings: {}", mappings.display()),
            ),
        ] {
            assert!(config.contains(from), "{} has no {from}", shipped.display());
            config = config.replace(from, &to);
        }
        self.files.write(&format!("{name}/keystone.yaml"), &config)
    }

    /// The gateway with `config` (see [`Keystone::config`]) in front of `backend_url`: this
    /// Keystone's API, or a proxy in front of it.
    pub async fn gateway_with(&self, config: &Path, backend_url: &str) -> Gateway {
        Gateway::start(Some(config), backend_url, Overrides::default()).await
    }

    /// The gateway with the shipped config and mappings, straight in front of this Keystone.
    pub async fn gateway(&self) -> Gateway {
        let config = self.config(&self.password, None);
        self.gateway_with(&config, &self.api_url).await
    }
}

/// Runs start.sh (one at a time) and parses what it prints. A failed start (its free port
/// taken before Keystone bound it, say) is cleaned up and tried again, up to three times.
fn run_start_script() -> Started {
    let _one_at_a_time = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut failures = String::new();
    for attempt in 1..=3 {
        let state_dir = std::env::temp_dir().join(format!("scimgate-it-keystone-{}", run_id()));
        let out = Command::new(repo_path("tests/backends/keystone/start.sh"))
            .env("STATE_DIR", &state_dir)
            // A fresh port and password each time, whatever the caller's environment holds.
            .env_remove("KEYSTONE_PORT")
            .env_remove("KEYSTONE_USER")
            .env_remove("KEYSTONE_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tests/backends/keystone/start.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let printed = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(str::to_owned)
        };
        if out.status.success() {
            if let (Some(api_url), Some(user), Some(password)) = (
                printed("API_URL"),
                printed("KEYSTONE_USER"),
                printed("KEYSTONE_PASSWORD"),
            ) {
                return Started {
                    api_url,
                    state_dir,
                    user,
                    password,
                };
            }
        }
        failures.push_str(&format!(
            "attempt {attempt}: start.sh {}\nstdout: {stdout}\nstderr: {}\n",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
        stop(&state_dir);
        // 3: Keystone is not installed and start.sh may not install it (not root).
        if out.status.code() == Some(3) {
            break;
        }
    }
    panic!("Keystone did not start:\n{failures}");
}

/// stop.sh: kills the server start.sh recorded in `state_dir` and removes the folder.
fn stop(state_dir: &std::path::Path) {
    let _ = Command::new(repo_path("tests/backends/keystone/stop.sh"))
        .env("STATE_DIR", state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn ids_of(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap_or_else(|| panic!("not a list of Keystone records: {records}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sort_by_id(records: &mut Value) {
    if let Some(list) = records.as_array_mut() {
        list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    }
}
