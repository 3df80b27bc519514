//! Settings: one typed tree, layered defaults → file → environment → flags, then validated
//! all at once so that every problem is reported together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::scim::dialect::DialectOptions;

/// The defaults, also shipped as `config/default.yaml`.
pub const DEFAULTS: &str = include_str!("../config/default.yaml");

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    /// Address of the admin listener (`/metrics`, `/livez`, `/readyz`); empty disables it.
    pub admin_listen: String,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_drain: String,
    pub shutdown_timeout: String,
    pub base_path: String,
    pub public_url: String,
    pub mappings: String,
    pub auth: AuthSettings,
    pub backend: BackendSettings,
    pub limits: LimitSettings,
    pub dialect: DialectOptions,
    pub log: LogSettings,
    pub cache: CacheSettings,
    /// Several tenants in one process, each laid over the top-level sections (see
    /// [`TenantSettings`]); empty: the top-level keys describe the one tenant.
    pub tenants: Vec<serde_json::Value>,
}

/// Everything one tenant is built from. In the single-tenant form these are the top-level
/// keys; each `tenants:` entry is laid over the top-level `backend`, `limits`, `dialect` and
/// `cache` sections (objects merge key by key), so a key added to those sections applies per
/// tenant too. `name`, `base_path`, `mappings` and `auth` are never inherited.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Name in logs and in the `tenant` label of every metric.
    pub name: String,
    pub base_path: String,
    #[serde(default)]
    pub public_url: String,
    pub mappings: String,
    pub auth: AuthSettings,
    pub backend: BackendSettings,
    pub limits: LimitSettings,
    pub dialect: DialectOptions,
    pub cache: CacheSettings,
}

/// The name of the implicit tenant of the single-tenant form.
pub const DEFAULT_TENANT: &str = "default";

/// The lookup cache (by-id records and group membership).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub enabled: bool,
    pub capacity: u64,
    pub ttl: String,
    pub idle: String,
}

/// Inbound authentication.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub token_files: Vec<String>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("token_files", &self.token_files)
            .finish()
    }
}

/// The directory API.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSettings {
    pub url: String,
    pub timeout: String,
    pub connect_timeout: String,
    pub headers: BTreeMap<String, String>,
    /// How the gateway authenticates to the directory.
    pub auth: BackendAuthSettings,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
}

/// Outbound authentication to the directory (`backend.auth`). Every credential may be
/// `env:NAME` or `file:PATH`; [`crate::backend::auth`] turns this into headers.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendAuthSettings {
    /// `none`, `bearer`, `basic`, `api_key`, `oauth2` or `login`.
    pub mode: String,
    /// `bearer`: the static token.
    pub token: String,
    /// `basic` and `login`: the credentials.
    pub username: String,
    pub password: String,
    pub api_key: ApiKeySettings,
    pub oauth2: OAuth2Settings,
    pub login: LoginSettings,
}

/// `api_key` mode: one header with a fixed value.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeySettings {
    pub header: String,
    pub value: String,
}

/// `oauth2` mode: the client-credentials grant (RFC 6749 §4.4).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2Settings {
    /// Absolute URL, or a path under `backend.url`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
    /// `basic` (HTTP Basic, RFC 6749 §2.3.1) or `body` (form fields).
    pub client_auth: String,
    /// A token is renewed this long before it expires (at most half its lifetime).
    pub refresh_before: String,
}

/// `login` mode: POST credentials, read a token, send it as a header.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Path under `backend.url` (or an absolute URL) the credentials are posted to.
    pub path: String,
    /// JSON body template; `{username}` and `{password}` are filled in.
    pub body: serde_json::Value,
    /// Read the token from this response header...
    pub token_header: String,
    /// ...or from this JSON path of the response body.
    pub token_path: String,
    /// Header the token is sent in, and the text before it (e.g. `Bearer `).
    pub send_header: String,
    pub send_prefix: String,
}

/// Retries of backend calls that are safe to repeat (reads, and writes the mapping marks
/// `idempotent`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Most tries of one call, the first included (1 = no retries).
    pub attempts: u32,
    pub backoff_base: String,
    pub backoff_max: String,
    /// Retries allowed as a share of calls over the last `budget_window`.
    pub budget_ratio: f64,
    /// Retries always allowed per `budget_window`, so a quiet gateway can still retry.
    pub budget_min_retries: u32,
    pub budget_window: String,
}

/// The per-backend circuit breaker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    pub enabled: bool,
    /// Opens after this many failed calls in a row...
    pub consecutive_failures: u32,
    /// ...or when this share of the calls in `window` failed (once `min_calls` were made).
    pub failure_ratio: f64,
    pub min_calls: u32,
    pub window: String,
    /// How long it stays open before one probe call is let through.
    pub cooldown: String,
}

impl std::fmt::Debug for BackendSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSettings")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("auth", &self.auth.mode)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .finish()
    }
}

/// Request bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub header_read_timeout: String,
    /// Overall deadline of one SCIM request (504 past it, only before any write was sent).
    pub request_timeout: String,
    /// The request body must arrive within this once the head is read (408 past it).
    pub body_read_timeout: String,
    /// A keep-alive connection with no traffic for this long is closed.
    pub idle_timeout: String,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_bytes: usize,
    /// Most open client connections; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Most SCIM requests per second per tenant (0 = unlimited); 429 above.
    pub rate_limit: u32,
    /// Most SCIM requests served at once per tenant (0 = unlimited); 429 above.
    pub max_concurrent_requests: u32,
    pub max_body_bytes: usize,
    pub max_filter_length: usize,
    pub max_filter_depth: usize,
    pub default_page_size: u64,
    pub max_page_size: u64,
    pub max_scan_records: u64,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

/// Command-line overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub tokens: Vec<String>,
    pub backend_url: Option<String>,
    pub mappings: Option<String>,
    /// With `tenants:`, the tenant that `tokens`, `backend_url` and `mappings` apply to.
    pub tenant: Option<String>,
}

impl Overrides {
    /// Whether any flag changes a tenant's settings.
    fn touches_tenant(&self) -> bool {
        !self.tokens.is_empty() || self.backend_url.is_some() || self.mappings.is_some()
    }

    fn apply(&self, tenant: &mut TenantSettings) {
        if let Some(url) = &self.backend_url {
            tenant.backend.url = url.clone();
        }
        if let Some(m) = &self.mappings {
            tenant.mappings = m.clone();
        }
        tenant.auth.tokens.extend(self.tokens.iter().cloned());
    }
}

/// Where the settings came from, for resolving relative paths.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The process-wide settings (listeners, shutdown, logging) and the top-level sections.
    pub settings: Settings,
    /// The tenants to serve: the `tenants:` entries, or the one implicit `default` tenant.
    pub tenants: Vec<TenantSettings>,
    /// Whether the config uses the `tenants:` list (problems then name the tenant).
    pub multi_tenant: bool,
    /// Folder of the config file (relative paths in it are relative to this).
    pub base_dir: PathBuf,
    /// The config file, if any (reloads read it again).
    pub file: Option<PathBuf>,
}

impl Loaded {
    /// The first tenant's mapping folder (the only one in the single-tenant form).
    pub fn mappings_dir(&self) -> PathBuf {
        self.tenants
            .first()
            .map(|t| self.mappings_dir_of(t))
            .unwrap_or_else(|| self.base_dir.clone())
    }

    /// A tenant's mapping folder as an absolute-or-cwd-relative path.
    pub fn mappings_dir_of(&self, tenant: &TenantSettings) -> PathBuf {
        let p = Path::new(&tenant.mappings);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    /// How problems with a tenant's key are prefixed: nothing in the single-tenant form,
    /// `tenants.NAME.` with `tenants:`.
    pub fn key_prefix(&self, tenant: &TenantSettings) -> String {
        if self.multi_tenant {
            format!("tenants.{}.", tenant.name)
        } else {
            String::new()
        }
    }
}

/// Loads defaults, then `file` (if any), then `SCIMGATE__*` environment variables, then flags.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Loaded, Vec<String>> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Yaml));
    if let Some(path) = file {
        if !path.exists() {
            return Err(vec![format!("{}: no such config file", path.display())]);
        }
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Yaml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("SCIMGATE")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("auth.tokens")
            .with_list_parse_key("auth.token_files")
            .try_parsing(true),
    );
    let source = file
        .map(|f| f.display().to_string())
        .unwrap_or("settings".into());
    let built = builder
        .build()
        .map_err(|e| vec![format!("{source}: {e}")])?;
    let mut settings: Settings = built
        .clone()
        .try_deserialize()
        .map_err(|e| vec![format!("{source}: {e}")])?;
    if let Some(listen) = &overrides.listen {
        settings.listen = listen.clone();
    }
    if let Some(admin) = &overrides.admin_listen {
        settings.admin_listen = admin.clone();
    }
    let base_dir = file
        .and_then(Path::parent)
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let multi_tenant = !settings.tenants.is_empty();
    let tenants = if multi_tenant {
        tenant_entries(&built, &settings, overrides)?
    } else {
        if let Some(name) = &overrides.tenant {
            if name != DEFAULT_TENANT {
                return Err(vec![format!(
                    "--tenant {name}: the config has no tenants: list (its one tenant is {DEFAULT_TENANT})"
                )]);
            }
        }
        let mut implicit = TenantSettings {
            name: DEFAULT_TENANT.into(),
            base_path: settings.base_path.clone(),
            public_url: settings.public_url.clone(),
            mappings: settings.mappings.clone(),
            auth: settings.auth.clone(),
            backend: settings.backend.clone(),
            limits: settings.limits.clone(),
            dialect: settings.dialect,
            cache: settings.cache.clone(),
        };
        overrides.apply(&mut implicit);
        // The top-level view stays what the one tenant runs with.
        settings.backend = implicit.backend.clone();
        settings.mappings = implicit.mappings.clone();
        settings.auth = implicit.auth.clone();
        vec![implicit]
    };
    let loaded = Loaded {
        settings,
        tenants,
        multi_tenant,
        base_dir,
        file: file.map(Path::to_owned),
    };
    let problems = validate(&loaded);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

/// The `tenants:` entries, each laid over the top-level sections, with the flags applied to
/// the tenant `--tenant` names.
fn tenant_entries(
    built: &config::Config,
    settings: &Settings,
    overrides: &Overrides,
) -> Result<Vec<TenantSettings>, Vec<String>> {
    let mut problems = Vec::new();
    if !settings.mappings.is_empty() {
        problems.push("mappings: with tenants:, each tenant names its own mappings".into());
    }
    if !settings.auth.tokens.is_empty() || !settings.auth.token_files.is_empty() {
        problems.push(
            "auth: with tenants:, tokens are set per tenant (a token identifies one tenant)".into(),
        );
    }
    let mut inherited = serde_json::Map::new();
    for section in ["backend", "limits", "dialect", "cache"] {
        match built.get::<serde_json::Value>(section) {
            Ok(value) => {
                inherited.insert(section.into(), value);
            }
            Err(e) => problems.push(format!("{section}: {e}")),
        }
    }
    let mut tenants = Vec::new();
    for (i, entry) in settings.tenants.iter().enumerate() {
        let label = entry
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| format!("tenants[{i}]"), |n| format!("tenants.{n}"));
        if !entry.is_object() {
            problems.push(format!("{label}: each tenant is a map of keys"));
            continue;
        }
        let mut merged = serde_json::Value::Object(inherited.clone());
        merge(&mut merged, entry.clone());
        match serde_json::from_value::<TenantSettings>(merged) {
            Ok(tenant) => tenants.push(tenant),
            Err(e) => problems.push(format!("{label}: {e}")),
        }
    }
    match &overrides.tenant {
        Some(name) => match tenants.iter_mut().find(|t| &t.name == name) {
            Some(tenant) => overrides.apply(tenant),
            None if problems.is_empty() => {
                problems.push(format!("--tenant {name}: no tenant of that name"))
            }
            None => {}
        },
        None if overrides.touches_tenant() => problems.push(
            "--token, --backend-url and --mappings need --tenant NAME when the config has tenants:"
                .into(),
        ),
        None => {}
    }
    if problems.is_empty() {
        Ok(tenants)
    } else {
        Err(problems)
    }
}

/// Lays `over` onto `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (key, value) in o {
                match b.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        b.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Every problem with the settings, as "key: what is wrong".
pub fn validate(loaded: &Loaded) -> Vec<String> {
    let s = &loaded.settings;
    let mut problems = Vec::new();
    if s.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "listen: {:?} is not an address like 127.0.0.1:8080",
            s.listen
        ));
    }
    if !s.admin_listen.is_empty() && s.admin_listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "admin_listen: {:?} is not an address like 127.0.0.1:9090 (empty disables it)",
            s.admin_listen
        ));
    }
    for (key, value) in [
        ("shutdown_timeout", &s.shutdown_timeout),
        ("shutdown_drain", &s.shutdown_drain),
        ("limits.header_read_timeout", &s.limits.header_read_timeout),
        ("limits.idle_timeout", &s.limits.idle_timeout),
    ] {
        problems.extend(duration_problem(key, value));
    }
    // The listener is shared by every tenant: its limits are process-wide.
    // hyper's smallest read buffer; a head must fit in it.
    if s.limits.max_header_bytes < 8192 {
        problems.push("limits.max_header_bytes: must be at least 8192".into());
    }
    if s.limits.max_connections == 0 {
        problems.push("limits.max_connections: must be at least 1".into());
    }
    if !matches!(s.log.format.as_str(), "auto" | "json" | "text") {
        problems.push(format!(
            "log.format: {:?} must be auto, json or text",
            s.log.format
        ));
    }
    for tenant in &loaded.tenants {
        problems.extend(
            validate_tenant(tenant)
                .into_iter()
                .map(|p| format!("{}{p}", loaded.key_prefix(tenant))),
        );
    }
    problems.extend(tenant_set_problems(&loaded.tenants));
    problems
}

fn duration_problem(key: &str, value: &str) -> Option<String> {
    parse_duration(value)
        .is_none()
        .then(|| format!("{key}: {value:?} is not a duration like 10s or 500ms"))
}

/// Problems with one tenant's settings, keys relative to the tenant.
fn validate_tenant(t: &TenantSettings) -> Vec<String> {
    let mut problems = Vec::new();
    if !t.base_path.starts_with('/') || t.base_path.ends_with('/') && t.base_path.len() > 1 {
        problems.push(format!(
            "base_path: {:?} must start with / and not end with /",
            t.base_path
        ));
    }
    let url_ok = t.public_url.starts_with("http://") || t.public_url.starts_with("https://");
    if !t.public_url.is_empty() && !url_ok {
        problems.push(format!(
            "public_url: {:?} must be an http(s) URL",
            t.public_url
        ));
    }
    if t.mappings.is_empty() {
        problems.push("mappings: the folder with users.yaml and groups.yaml is required".into());
    }
    if !t.backend.url.starts_with("http://") {
        problems.push(format!(
            "backend.url: {:?} must start with http://",
            t.backend.url
        ));
    }
    for (key, value) in [
        ("backend.timeout", &t.backend.timeout),
        ("backend.connect_timeout", &t.backend.connect_timeout),
        ("limits.request_timeout", &t.limits.request_timeout),
        ("limits.body_read_timeout", &t.limits.body_read_timeout),
        ("backend.retry.backoff_base", &t.backend.retry.backoff_base),
        ("backend.retry.backoff_max", &t.backend.retry.backoff_max),
        (
            "backend.retry.budget_window",
            &t.backend.retry.budget_window,
        ),
        ("backend.breaker.window", &t.backend.breaker.window),
        ("backend.breaker.cooldown", &t.backend.breaker.cooldown),
        ("cache.ttl", &t.cache.ttl),
        ("cache.idle", &t.cache.idle),
    ] {
        problems.extend(duration_problem(key, value));
    }
    for (name, value) in &t.backend.headers {
        if let Err(e) = resolve_secret(value) {
            problems.push(format!("backend.headers.{name}: {e}"));
        }
    }
    problems.extend(crate::backend::auth::validate(&t.backend.auth));
    for file in &t.auth.token_files {
        if let Err(e) = std::fs::read_to_string(file) {
            problems.push(format!("auth.token_files: cannot read {file}: {e}"));
        }
    }
    let l = &t.limits;
    if l.max_page_size == 0 || l.default_page_size == 0 || l.default_page_size > l.max_page_size {
        problems.push("limits: default_page_size must be between 1 and max_page_size".into());
    }
    if t.cache.enabled && t.cache.capacity == 0 {
        problems.push("cache.capacity: must be at least 1 (or set cache.enabled: false)".into());
    }
    if l.max_body_bytes < 1024 {
        problems.push("limits.max_body_bytes: must be at least 1024".into());
    }
    let r = &t.backend.retry;
    if r.attempts == 0 {
        problems.push("backend.retry.attempts: must be at least 1 (1 = no retries)".into());
    }
    if !(0.0..=1.0).contains(&r.budget_ratio) {
        problems.push("backend.retry.budget_ratio: must be between 0 and 1".into());
    }
    let b = &t.backend.breaker;
    if b.enabled && b.consecutive_failures == 0 {
        problems.push("backend.breaker.consecutive_failures: must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&b.failure_ratio) || b.failure_ratio == 0.0 {
        problems.push("backend.breaker.failure_ratio: must be above 0 and at most 1".into());
    }
    if l.bulk_max_operations == 0 {
        problems.push("limits.bulk_max_operations: must be at least 1".into());
    }
    if l.bulk_max_payload_bytes < 1024 {
        problems.push("limits.bulk_max_payload_bytes: must be at least 1024".into());
    }
    problems
}

/// Problems between tenants: names and base paths must tell tenants apart. (Shared tokens
/// are found by `startup`, where token files have been read.)
fn tenant_set_problems(tenants: &[TenantSettings]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, a) in tenants.iter().enumerate() {
        let label_safe = !a.name.is_empty()
            && a.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !label_safe {
            problems.push(format!(
                "tenants.{}.name: {:?} must be letters, digits, - or _ (it is a metric label)",
                a.name, a.name
            ));
        }
        for b in &tenants[i + 1..] {
            if a.name == b.name {
                problems.push(format!(
                    "tenants.{}: two tenants have this name (names must be unique)",
                    a.name
                ));
            }
            if a.base_path == b.base_path {
                problems.push(format!(
                    "tenants.{}.base_path: {:?} is also the base path of tenant {}",
                    b.name, b.base_path, a.name
                ));
            } else if let Some((outer, inner)) = nested(a, b) {
                problems.push(format!(
                    "tenants.{}.base_path: {:?} lies inside {:?}, the base path of tenant {} (base paths must not overlap)",
                    inner.name, inner.base_path, outer.base_path, outer.name
                ));
            }
        }
    }
    problems
}

/// `(outer, inner)` when one tenant's base path lies under the other's.
fn nested<'t>(
    a: &'t TenantSettings,
    b: &'t TenantSettings,
) -> Option<(&'t TenantSettings, &'t TenantSettings)> {
    let under = |inner: &str, outer: &str| {
        outer == "/"
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if under(&b.base_path, &a.base_path) {
        Some((a, b))
    } else if under(&a.base_path, &b.base_path) {
        Some((b, a))
    } else {
        None
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

/// Reads `env:NAME` and `file:PATH` values; anything else is taken literally.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(name) = value.strip_prefix("env:") {
        std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
    } else if let Some(path) = value.strip_prefix("file:") {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("cannot read {path}: {e}"))
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("fast"), None);
    }

    #[test]
    fn defaults_load_and_flags_override() {
        let loaded = load(
            None,
            &Overrides {
                listen: Some("127.0.0.1:9999".into()),
                admin_listen: Some(String::new()),
                tokens: vec!["t".into()],
                backend_url: Some("http://127.0.0.1:1".into()),
                mappings: Some("mappings/demo".into()),
                tenant: None,
            },
        )
        .unwrap();
        assert_eq!(loaded.settings.listen, "127.0.0.1:9999");
        assert_eq!(loaded.settings.backend.url, "http://127.0.0.1:1");
        assert_eq!(loaded.settings.auth.tokens, vec!["t".to_string()]);
        assert_eq!(loaded.settings.admin_listen, "");
        assert!(loaded.settings.cache.enabled);
        assert_eq!(
            parse_duration(&loaded.settings.shutdown_timeout),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn admin_and_cache_settings_are_validated() {
        let mut loaded = load(
            None,
            &Overrides {
                mappings: Some("m".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(loaded.settings.admin_listen, "127.0.0.1:9090");
        loaded.settings.admin_listen = "nowhere".into();
        loaded.tenants[0].cache.ttl = "forever".into();
        loaded.tenants[0].cache.capacity = 0;
        loaded.settings.shutdown_timeout = "soon".into();
        let problems = validate(&loaded);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut loaded = load(
            None,
            &Overrides {
                mappings: Some("m".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        loaded.settings.listen = "nowhere".into();
        loaded.tenants[0].backend.timeout = "soon".into();
        loaded.settings.log.format = "xml".into();
        let problems = validate(&loaded);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("listen:")));
        assert!(problems.iter().any(|p| p.starts_with("backend.timeout:")));
    }

    #[test]
    fn resilience_settings_are_validated() {
        let mut loaded = load(
            None,
            &Overrides {
                mappings: Some("m".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(loaded.settings.backend.retry.attempts, 3);
        assert!(loaded.settings.backend.breaker.enabled);
        let tenant = &mut loaded.tenants[0];
        tenant.backend.retry.attempts = 0;
        tenant.backend.retry.budget_ratio = 2.0;
        tenant.backend.breaker.cooldown = "a while".into();
        tenant.limits.request_timeout = "soon".into();
        loaded.settings.limits.max_connections = 0;
        loaded.settings.limits.max_header_bytes = 100;
        let problems = validate(&loaded);
        assert_eq!(problems.len(), 6, "{problems:?}");
    }

    #[test]
    fn secrets_resolve_from_env_and_files() {
        assert_eq!(resolve_secret("plain").unwrap(), "plain");
        assert!(resolve_secret("env:SCIMGATE_TEST_SURELY_UNSET").is_err());
    }
}
