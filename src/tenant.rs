//! A tenant: one SCIM base path with its own tokens, mapping set and backend.
//!
//! Everything a request needs is reached from its [`Tenant`], which is immutable once built
//! and shared through an `Arc`.

use std::sync::Arc;

use crate::auth::TokenSet;
use crate::backend::{BackendClient, Resilience};
use crate::cache::LookupCache;
use crate::locks::KeyedLocks;
use crate::mapping::MappingSet;
use crate::metrics::Metrics;
use crate::ops::BulkLimits;
use crate::scim::dialect::DialectOptions;
use crate::scim::query::QueryLimits;
use crate::shed::LoadShedder;

/// The request-independent state of one tenant.
#[derive(Debug)]
pub struct Tenant {
    /// Name used in logs and metric labels.
    pub name: String,
    /// SCIM base path, e.g. `/scim/v2`.
    pub base_path: String,
    /// Absolute base URL for `meta.location`; derived from the request's Host when unset.
    pub public_url: Option<String>,
    pub tokens: TokenSet,
    pub mappings: MappingSet,
    pub backend: BackendClient,
    /// Circuit breaker and retry policy of the backend.
    pub resilience: Resilience,
    /// The tenant's rate and concurrency limits.
    pub shedder: LoadShedder,
    /// Overall deadline of one SCIM request (zero: none).
    pub request_timeout: std::time::Duration,
    /// How long the request body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    pub dialect: DialectOptions,
    pub limits: QueryLimits,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Most backend records a filter that the backend cannot answer may scan.
    pub max_scan: u64,
    /// Bounds of a `/Bulk` request.
    pub bulk: BulkLimits,
    /// Serialises check-then-create for attributes the gateway keeps unique itself, so two
    /// concurrent creates of the same userName cannot both pass the check.
    /// Shared with the tenant of the same name in a reloaded set, so requests still running
    /// on the old set and new ones on the new set stay serialised.
    pub unique_guard: Arc<tokio::sync::Mutex<()>>,
    /// Set on SIGTERM: `/readyz` answers 503 while the gateway drains.
    pub draining: std::sync::atomic::AtomicBool,
    /// Serialises writes to the same resource (no lost updates in read-merge-write).
    /// Shared across reloads like `unique_guard`.
    pub write_locks: Arc<KeyedLocks>,
    /// The process's metric families (shared by every tenant; series carry the tenant name).
    pub metrics: Arc<Metrics>,
    /// By-id records and group membership, read through by `ops`.
    pub cache: LookupCache,
    /// Remembered next-page tokens of cursor- and link-paged lists.
    pub cursors: crate::cursors::CursorMemo,
    /// Set only by `scimgate translate`: backend calls are recorded and answered by it
    /// instead of being sent.
    pub recorder: Option<Arc<crate::translate::Recorder>>,
}

/// A shared tenant.
pub type SharedTenant = Arc<Tenant>;
