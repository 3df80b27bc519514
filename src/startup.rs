//! From validated settings to running tenants: load mappings, read token files, build the
//! backend clients. Every problem is collected so `check`, start-up and reloads report them
//! together.

use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::{Secret, TokenSet};
use crate::backend::auth::Outbound;
use crate::backend::breaker::BreakerOptions;
use crate::backend::retry::RetryOptions;
use crate::backend::{BackendClient, Resilience};
use crate::cache::{CacheOptions, LookupCache};
use crate::config::{parse_duration, resolve_secret, Loaded, TenantSettings};
use crate::mapping::MappingSet;
use crate::metrics::Metrics;
use crate::ops::BulkLimits;
use crate::scim::filter::FilterLimits;
use crate::scim::query::QueryLimits;
use crate::shed::LoadShedder;
use crate::tenant::{SharedTenant, Tenant};

/// Builds the first (in the single-tenant form: the only) tenant the settings describe,
/// with a metrics registry of its own.
pub fn build_tenant(loaded: &Loaded) -> Result<SharedTenant, Vec<String>> {
    let metrics = Metrics::new().map_err(|e| vec![format!("metrics: {e}")])?;
    build_tenant_with(loaded, Arc::new(metrics))
}

/// Builds the first tenant the settings describe, reporting into `metrics`.
pub fn build_tenant_with(
    loaded: &Loaded,
    metrics: Arc<Metrics>,
) -> Result<SharedTenant, Vec<String>> {
    build_tenants(loaded, metrics, &[])?
        .into_iter()
        .next()
        .ok_or_else(|| vec!["tenants: no tenant configured".to_owned()])
}

/// Builds every tenant the settings describe, reporting into `metrics`. A tenant with the
/// name of one in `previous` (the set being replaced by a reload) takes over its write locks.
pub fn build_tenants(
    loaded: &Loaded,
    metrics: Arc<Metrics>,
    previous: &[SharedTenant],
) -> Result<Vec<SharedTenant>, Vec<String>> {
    let mut problems = Vec::new();
    let mut tenants = Vec::new();
    let mut token_owners: Vec<(String, &str)> = Vec::new();
    for settings in &loaded.tenants {
        let prefix = loaded.key_prefix(settings);
        let before = previous.iter().find(|t| t.name == settings.name);
        match build_one(loaded, settings, metrics.clone(), before) {
            Ok((tenant, raw_tokens)) => {
                for token in raw_tokens {
                    match token_owners.iter().find(|(t, _)| *t == token) {
                        Some((_, owner)) => problems.push(format!(
                            "{prefix}auth: a token of tenant {} is also accepted by tenant {owner}; a token must identify one tenant",
                            settings.name
                        )),
                        None => token_owners.push((token, &settings.name)),
                    }
                }
                tenants.push(tenant);
            }
            Err(list) => problems.extend(list.into_iter().map(|p| format!("{prefix}{p}"))),
        }
    }
    if problems.is_empty() {
        Ok(tenants)
    } else {
        Err(problems)
    }
}

/// One tenant and its (trimmed) tokens, for the check that no token is shared.
fn build_one(
    loaded: &Loaded,
    s: &TenantSettings,
    metrics: Arc<Metrics>,
    previous: Option<&SharedTenant>,
) -> Result<(SharedTenant, Vec<String>), Vec<String>> {
    let mut problems = Vec::new();
    let mappings = match MappingSet::load_dir(&loaded.mappings_dir_of(s)) {
        Ok(m) => Some(m),
        Err(list) => {
            problems.extend(list.iter().map(ToString::to_string));
            None
        }
    };
    let mut raw_tokens: Vec<String> = s.auth.tokens.iter().map(|t| t.trim().to_owned()).collect();
    for file in &s.auth.token_files {
        match std::fs::read_to_string(file) {
            Ok(text) => raw_tokens.push(text.trim().to_owned()),
            Err(e) => problems.push(format!("auth.token_files: cannot read {file}: {e}")),
        }
    }
    raw_tokens.retain(|t| !t.is_empty());
    raw_tokens.sort();
    raw_tokens.dedup();
    let tokens = TokenSet::new(raw_tokens.iter().map(Secret::new).collect());
    if tokens.is_empty() {
        problems.push(
            "auth: no bearer token configured (set auth.tokens, auth.token_files, SCIMGATE__AUTH__TOKENS or --token)"
                .into(),
        );
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &s.backend.headers {
        let parsed = resolve_secret(value).and_then(|v| {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("bad header name: {e}"))?;
            let mut v = HeaderValue::from_str(&v).map_err(|e| format!("bad header value: {e}"))?;
            v.set_sensitive(true);
            Ok((n, v))
        });
        match parsed {
            Ok((n, v)) => {
                headers.insert(n, v);
            }
            Err(e) => problems.push(format!("backend.headers.{name}: {e}")),
        }
    }
    let timeout = parse_duration(&s.backend.timeout).unwrap_or_default();
    let connect_timeout = parse_duration(&s.backend.connect_timeout).unwrap_or_default();
    let outbound = match Outbound::from_settings(&s.backend.auth, &s.backend.url) {
        Ok(o) => Some(o),
        Err(list) => {
            problems.extend(list);
            None
        }
    };
    let backend = match BackendClient::new(&s.backend.url, timeout, connect_timeout, headers) {
        Ok(b) => outbound.map(|o| b.with_auth(o)),
        Err(e) => {
            problems.push(format!("backend.url: {e}"));
            None
        }
    };
    let (Some(mappings), Some(backend)) = (mappings, backend) else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let l = &s.limits;
    let name = s.name.as_str();
    let duration = |text: &str| parse_duration(text).unwrap_or_default();
    let (r, b) = (&s.backend.retry, &s.backend.breaker);
    let resilience = Resilience::new(
        BreakerOptions {
            enabled: b.enabled,
            consecutive_failures: b.consecutive_failures,
            failure_ratio: b.failure_ratio,
            min_calls: b.min_calls,
            window: duration(&b.window),
            cooldown: duration(&b.cooldown),
        },
        RetryOptions {
            attempts: r.attempts,
            backoff_base: duration(&r.backoff_base),
            backoff_max: duration(&r.backoff_max),
            budget_ratio: r.budget_ratio,
            budget_min_retries: r.budget_min_retries,
            budget_window: duration(&r.budget_window),
        },
    );
    metrics.add_tenant(name);
    let cache_options = CacheOptions {
        enabled: s.cache.enabled,
        capacity: s.cache.capacity,
        ttl: parse_duration(&s.cache.ttl).unwrap_or_default(),
        idle: parse_duration(&s.cache.idle).unwrap_or_default(),
    };
    let tenant = Tenant {
        name: name.into(),
        base_path: s.base_path.clone(),
        public_url: (!s.public_url.is_empty())
            .then(|| s.public_url.trim_end_matches('/').to_owned()),
        tokens,
        mappings,
        backend,
        resilience,
        shedder: LoadShedder::new(l.rate_limit, l.max_concurrent_requests),
        request_timeout: duration(&l.request_timeout),
        body_read_timeout: duration(&l.body_read_timeout),
        dialect: s.dialect,
        limits: QueryLimits {
            filter: FilterLimits {
                max_length: l.max_filter_length,
                max_depth: l.max_filter_depth,
            },
            default_count: l.default_page_size,
            max_count: l.max_page_size,
        },
        max_body_bytes: l.max_body_bytes,
        max_scan: l.max_scan_records,
        bulk: BulkLimits {
            max_operations: l.bulk_max_operations,
            max_payload_bytes: l.bulk_max_payload_bytes,
        },
        unique_guard: previous.map_or_else(Default::default, |p| p.unique_guard.clone()),
        write_locks: previous.map_or_else(Default::default, |p| p.write_locks.clone()),
        draining: Default::default(),
        cache: LookupCache::new(cache_options, name, metrics.clone()),
        cursors: Default::default(),
        metrics,
        recorder: None,
    };
    Ok((Arc::new(tenant), raw_tokens))
}
