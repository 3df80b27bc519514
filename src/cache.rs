//! The per-tenant lookup cache: rendered records by (resource kind, id) and group membership
//! by group id, so the by-id reads IdPs repeat constantly (GET before every PATCH, member
//! existence checks) do not each cost a backend call.
//!
//! Rules that keep it honest:
//! - Concurrent misses for one key make one backend call (moka's coalescing insert).
//! - "Not found" and errors are never cached.
//! - Every write through the gateway updates or invalidates what it touched before its
//!   response is sent, on failure too (a failed write leaves nothing the backend refused).
//! - A write bumps a per-tenant epoch before it calls the backend and again after; a read
//!   that started before a bump returns its value without caching it, so a slow read that
//!   raced a write cannot put the old record back.
//!
//! Filtered lists are not cached as lists. A lookup on a unique attribute (Entra's
//! `userName eq "…"` before every sync) is answered through an attribute → id map, and the
//! record found is checked against the filter again, so a stale entry only costs a search.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use serde_json::Value;

use crate::error::Error;
use crate::mapping::ResourceKind;
use crate::metrics::Metrics;

mod rendered;
pub use rendered::{base_marker, json_escaped, Rendered};

/// A group's membership records as `(member id, record)`, in backend order.
pub type Members = Vec<(String, Value)>;

/// Cache sizing and lifetimes (from the `cache` settings).
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    pub enabled: bool,
    /// Most entries per cache (records and memberships count separately).
    pub capacity: u64,
    /// An entry is dropped this long after it was read from the backend.
    pub ttl: Duration,
    /// An entry is dropped when nobody has read it for this long.
    pub idle: Duration,
}

/// Label values of the two caches in `scimgate_cache_*` metrics.
const RECORDS: &str = "records";
const MEMBERS: &str = "members";
const IDS: &str = "ids";

/// Key of the attribute → id map: resource type, attribute key, folded value.
type IdKey = (ResourceKind, String, String);

/// Why a fill did not produce a cacheable value.
enum Fill<T> {
    /// The backend says the key does not exist (not cached: it may be created any time).
    Missing,
    /// A write happened while the value was read: use it, do not cache it.
    Uncached(Arc<T>),
    Failed(Error),
}

struct Caches {
    records: Cache<(ResourceKind, String), Arc<Rendered>>,
    members: Cache<String, Arc<Members>>,
    ids: Cache<IdKey, String>,
}

/// The lookup cache of one tenant; disabled, it passes every lookup to the backend.
pub struct LookupCache {
    caches: Option<Caches>,
    epoch: AtomicU64,
    tenant: String,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LookupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupCache")
            .field("enabled", &self.caches.is_some())
            .finish_non_exhaustive()
    }
}

impl LookupCache {
    /// A cache for `tenant` reporting into `metrics`.
    pub fn new(options: CacheOptions, tenant: &str, metrics: Arc<Metrics>) -> LookupCache {
        let caches = options.enabled.then(|| Caches {
            records: Cache::builder()
                .max_capacity(options.capacity)
                .time_to_live(options.ttl)
                .time_to_idle(options.idle)
                .build(),
            members: Cache::builder()
                .max_capacity(options.capacity)
                .time_to_live(options.ttl)
                .time_to_idle(options.idle)
                .build(),
            ids: Cache::builder()
                .max_capacity(options.capacity)
                .time_to_live(options.ttl)
                .time_to_idle(options.idle)
                .build(),
        });
        for cache in [RECORDS, MEMBERS, IDS] {
            metrics.cache_entries.with_label_values(&[tenant, cache]);
        }
        LookupCache {
            caches,
            epoch: AtomicU64::new(0),
            tenant: tenant.to_owned(),
            metrics,
        }
    }

    /// Whether lookups are cached at all.
    pub fn enabled(&self) -> bool {
        self.caches.is_some()
    }

    /// The rendered resource `kind`/`id` (id in canonical form), read through the cache;
    /// `fetch` asks the backend and renders, answering `Ok(None)` for "does not exist".
    pub async fn record<Fut>(
        &self,
        kind: ResourceKind,
        id: &str,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<Rendered>>, Error>
    where
        Fut: Future<Output = Result<Option<Rendered>, Error>>,
    {
        let Some(caches) = &self.caches else {
            return Ok(fetch().await?.map(Arc::new));
        };
        self.lookup(RECORDS, &caches.records, (kind, id.to_owned()), fetch)
            .await
    }

    /// The membership of group `group_id` (canonical form), read through the cache.
    pub async fn members<Fut>(
        &self,
        group_id: &str,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Arc<Members>, Error>
    where
        Fut: Future<Output = Result<Members, Error>>,
    {
        let Some(caches) = &self.caches else {
            return Ok(Arc::new(fetch().await?));
        };
        let fetch = || async { fetch().await.map(Some) };
        let found = self
            .lookup(MEMBERS, &caches.members, group_id.to_owned(), fetch)
            .await?;
        Ok(found.unwrap_or_default())
    }

    async fn lookup<K, T, Fut>(
        &self,
        name: &str,
        cache: &Cache<K, Arc<T>>,
        key: K,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<T>>, Error>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        let started = self.epoch.load(Ordering::SeqCst);
        let fill = async {
            match fetch().await {
                Ok(Some(value)) if self.epoch.load(Ordering::SeqCst) == started => {
                    Ok(Arc::new(value))
                }
                Ok(Some(value)) => Err(Fill::Uncached(Arc::new(value))),
                Ok(None) => Err(Fill::Missing),
                Err(e) => Err(Fill::Failed(e)),
            }
        };
        match cache.entry(key).or_try_insert_with(fill).await {
            Ok(entry) => {
                // Fresh = this call ran the fill; callers that waited on it count as hits,
                // so misses equal backend calls.
                self.metrics
                    .cache_lookup(&self.tenant, name, !entry.is_fresh());
                Ok(Some(entry.into_value()))
            }
            Err(fill) => {
                self.metrics.cache_lookup(&self.tenant, name, false);
                match &*fill {
                    Fill::Missing => Ok(None),
                    Fill::Uncached(value) => Ok(Some(value.clone())),
                    Fill::Failed(e) => Err(e.clone()),
                }
            }
        }
    }

    /// The id last found for `attr = value` (value already folded as the attribute compares).
    pub async fn id_for(&self, kind: ResourceKind, attr: &str, value: &str) -> Option<String> {
        let c = self.caches.as_ref()?;
        let found = c.ids.get(&(kind, attr.to_owned(), value.to_owned())).await;
        self.metrics
            .cache_lookup(&self.tenant, IDS, found.is_some());
        found
    }

    /// Remembers which resource holds `attr = value`.
    pub async fn remember_id(&self, kind: ResourceKind, attr: &str, value: &str, id: &str) {
        if let Some(c) = &self.caches {
            c.ids
                .insert((kind, attr.to_owned(), value.to_owned()), id.to_owned())
                .await;
        }
    }

    /// Drops an attribute → id entry that no longer holds.
    pub async fn forget_id(&self, kind: ResourceKind, attr: &str, value: &str) {
        if let Some(c) = &self.caches {
            c.ids
                .invalidate(&(kind, attr.to_owned(), value.to_owned()))
                .await;
        }
    }

    /// Called before a write is sent: reads already under way will not be cached.
    pub fn begin_write(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// After a write: the backend's own answer, rendered, is the new cached resource.
    pub async fn store_record(&self, kind: ResourceKind, id: &str, rendered: Rendered) {
        self.begin_write();
        if let Some(c) = &self.caches {
            c.records
                .insert((kind, id.to_owned()), Arc::new(rendered))
                .await;
        }
    }

    /// After a write whose outcome the gateway cannot vouch for: drop the record.
    pub async fn forget_record(&self, kind: ResourceKind, id: &str) {
        self.begin_write();
        if let Some(c) = &self.caches {
            c.records.invalidate(&(kind, id.to_owned())).await;
        }
    }

    /// After a membership change (or its failure) of one group.
    pub async fn forget_members(&self, group_id: &str) {
        self.begin_write();
        if let Some(c) = &self.caches {
            c.members.invalidate(group_id).await;
        }
    }

    /// After a user is deleted: backends drop it from its groups, which could be any.
    pub fn forget_all_members(&self) {
        self.begin_write();
        if let Some(c) = &self.caches {
            c.members.invalidate_all();
        }
    }

    /// Brings the entry gauges up to date (moka counts lazily; run at each scrape).
    pub async fn refresh_gauges(&self) {
        let Some(c) = &self.caches else {
            return;
        };
        c.records.run_pending_tasks().await;
        c.members.run_pending_tasks().await;
        c.ids.run_pending_tasks().await;
        let set = |name: &str, n: u64| {
            self.metrics
                .cache_entries
                .with_label_values(&[&self.tenant, name])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        set(RECORDS, c.records.entry_count());
        set(MEMBERS, c.members.entry_count());
        set(IDS, c.ids.entry_count());
    }
}

/// The canonical text of a backend id (`1` for both `"1"` and `1`), so that one record has
/// one cache key whichever form a request used.
pub fn key_of(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn rendered(value: Value) -> Rendered {
        Rendered::new(&value, true, None).unwrap()
    }

    fn cache(enabled: bool) -> LookupCache {
        let options = CacheOptions {
            enabled,
            capacity: 100,
            ttl: Duration::from_secs(60),
            idle: Duration::from_secs(30),
        };
        LookupCache::new(options, "t", Arc::new(Metrics::new().unwrap()))
    }

    #[tokio::test]
    async fn hits_after_one_miss_and_forgets_on_write() {
        let c = cache(true);
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Some(rendered(serde_json::json!({"id": 1}))))
        };
        for _ in 0..3 {
            c.record(ResourceKind::User, "1", fetch).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        c.forget_record(ResourceKind::User, "1").await;
        c.record(ResourceKind::User, "1", fetch).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn resources_come_back_as_they_went_in() {
        let c = cache(true);
        let resource =
            serde_json::json!({"id": "7", "name": {"given": "Zoë"}, "n": 1.5, "x": null});
        let fetch = || async { Ok(Some(rendered(resource.clone()))) };
        for _ in 0..2 {
            let got = c.record(ResourceKind::User, "7", fetch).await.unwrap();
            assert_eq!(got.unwrap().to_value("").unwrap(), resource);
        }
        c.store_record(ResourceKind::User, "8", rendered(resource.clone()))
            .await;
        let got = c
            .record(ResourceKind::User, "8", || async { Ok(None) })
            .await
            .unwrap();
        assert_eq!(got.unwrap().to_value("").unwrap(), resource);
    }

    #[tokio::test]
    async fn missing_and_failures_are_not_cached() {
        let c = cache(true);
        let calls = AtomicUsize::new(0);
        for _ in 0..2 {
            let found = c
                .record(ResourceKind::User, "9", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(None)
                })
                .await
                .unwrap();
            assert!(found.is_none());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_read_racing_a_write_is_not_cached() {
        let c = cache(true);
        let calls = AtomicUsize::new(0);
        let got = c
            .record(ResourceKind::User, "1", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                c.begin_write();
                Ok(Some(rendered(serde_json::json!({"id": 1, "v": "old"}))))
            })
            .await
            .unwrap();
        assert!(got.is_some());
        c.record(ResourceKind::User, "1", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Some(rendered(serde_json::json!({"id": 1, "v": "new"}))))
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn disabled_passes_through() {
        let c = cache(false);
        let calls = AtomicUsize::new(0);
        for _ in 0..2 {
            c.members("1", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Vec::new())
            })
            .await
            .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
