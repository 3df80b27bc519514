//! The live tenant set and its reload: on SIGHUP the config file and every mapping are read
//! again and, only if all of it is valid, the whole set is swapped at once.
//!
//! The listeners serve routers that look up the current set per request, so a request
//! holds the set it started on until it is answered (in-flight requests finish on the old
//! set) while the next request, on the same keep-alive connection too, sees the new one.
//! A std `RwLock<Router>` is enough: it is held only to clone an `Arc`-backed router.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

use crate::config::{self, Loaded, Overrides};
use crate::metrics::Metrics;
use crate::startup::build_tenants;
use crate::tenant::SharedTenant;

/// The tenant set being served, with the routers built from it.
pub struct Live {
    current: RwLock<Current>,
    metrics: Arc<Metrics>,
    /// Re-applied on every reload, so flags keep winning over the file.
    overrides: Overrides,
    /// Set when shutdown begins: reloads are refused from then on.
    stopping: AtomicBool,
}

struct Current {
    loaded: Loaded,
    tenants: Vec<SharedTenant>,
    scim: Router,
    admin: Router,
}

impl Live {
    /// The set built from `loaded`, reporting into `metrics`.
    pub fn new(
        loaded: Loaded,
        tenants: Vec<SharedTenant>,
        metrics: Arc<Metrics>,
        overrides: Overrides,
    ) -> Arc<Live> {
        let current = Current::new(loaded, tenants, &metrics);
        Arc::new(Live {
            current: RwLock::new(current),
            metrics,
            overrides,
            stopping: AtomicBool::new(false),
        })
    }

    /// The tenants being served now.
    pub fn tenants(&self) -> Vec<SharedTenant> {
        self.read(|c| c.tenants.clone())
    }

    /// The settings in force now.
    pub fn loaded(&self) -> Loaded {
        self.read(|c| c.loaded.clone())
    }

    fn read<T>(&self, f: impl FnOnce(&Current) -> T) -> T {
        f(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A router for the SCIM listener that serves each request with the current set.
    pub fn scim_router(self: &Arc<Self>) -> Router {
        let live = self.clone();
        Router::new().fallback(move |request: Request| {
            let router = live.read(|c| c.scim.clone());
            dispatch(router, request)
        })
    }

    /// A router for the admin listener that serves each request with the current set.
    pub fn admin_router(self: &Arc<Self>) -> Router {
        let live = self.clone();
        Router::new().fallback(move |request: Request| {
            let router = live.read(|c| c.admin.clone());
            dispatch(router, request)
        })
    }

    /// Marks every tenant (present and future) as draining; later reloads are refused.
    pub fn start_draining(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for tenant in self.tenants() {
            tenant.draining.store(true, Ordering::SeqCst);
        }
    }

    /// Reads the config file and every mapping again; swaps the set in if all of it is
    /// valid, else keeps the old set and returns every problem (all of them are logged).
    pub fn reload(&self) -> Result<(), Vec<String>> {
        let result = self.try_reload();
        let label = if result.is_ok() { "success" } else { "failure" };
        self.metrics
            .config_reloads
            .with_label_values(&[label])
            .inc();
        match &result {
            Ok(()) => {
                let names: Vec<String> = self.tenants().iter().map(|t| t.name.clone()).collect();
                tracing::info!(tenants = ?names, "Reloaded config and mappings.");
            }
            Err(problems) => {
                for problem in problems {
                    tracing::error!(%problem, "Reload refused: problem in the new config or mappings.");
                }
                tracing::warn!(
                    problems = problems.len(),
                    "Reload failed: still serving the previous config and mappings."
                );
            }
        }
        result
    }

    fn try_reload(&self) -> Result<(), Vec<String>> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(vec!["shutting down: reload ignored".into()]);
        }
        let (file, previous, old) = self.read(|c| {
            (
                c.loaded.file.clone(),
                c.tenants.clone(),
                c.loaded.settings.clone(),
            )
        });
        let loaded = config::load(file.as_deref(), &self.overrides)?;
        let tenants = build_tenants(&loaded, self.metrics.clone(), &previous)?;
        let s = &loaded.settings;
        for (key, before, after) in [
            ("listen", &old.listen, &s.listen),
            ("admin_listen", &old.admin_listen, &s.admin_listen),
            ("log.format", &old.log.format, &s.log.format),
            ("log.level", &old.log.level, &s.log.level),
            (
                "limits.header_read_timeout",
                &old.limits.header_read_timeout,
                &s.limits.header_read_timeout,
            ),
        ] {
            if before != after {
                tracing::warn!(
                    key,
                    "Changed in the config file; takes effect only after a restart."
                );
            }
        }
        let next = Current::new(loaded, tenants, &self.metrics);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }
}

impl Current {
    fn new(loaded: Loaded, tenants: Vec<SharedTenant>, metrics: &Arc<Metrics>) -> Current {
        let scim = crate::server::app(&tenants);
        let admin = crate::server::admin::app(metrics.clone(), &tenants);
        Current {
            loaded,
            tenants,
            scim,
            admin,
        }
    }
}

async fn dispatch(router: Router, request: Request) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Reloads on every SIGHUP until the process ends (a no-op where there are no signals).
pub async fn reload_on_sighup(live: Arc<Live>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot listen for SIGHUP: reload disabled.");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading config and mappings.");
            let live = live.clone();
            // File reads and mapping compilation are blocking work.
            let _ = tokio::task::spawn_blocking(move || live.reload()).await;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = live;
    }
}
