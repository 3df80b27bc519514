//! scimgate: a SCIM 2.0 gateway in front of a legacy REST directory.
//!
//! An identity provider (Entra ID, Okta) sends SCIM requests to a tenant URL; scimgate
//! authenticates them, normalises the IdP's dialect, and translates each request through
//! declarative mapping files into calls to the directory's own REST API.
//!
//! One request, through the modules:
//!
//! 1. [`server`] routes it (`/scim/v2/Users/{id}`), [`auth`] checks the bearer token and
//!    `server::extract` reads the body (media type, size, JSON syntax) as SCIM errors.
//! 2. [`ops`] runs the SCIM operation against the request's [`tenant::Tenant`]: it reads
//!    the current record through [`backend`], converts it with [`mapping`], applies the
//!    request with the protocol core in [`scim`] (filters, PATCH, dialect normalisation,
//!    schema rules), and writes the result back in as few calls as the mapping allows.
//! 3. Any failure is an [`error::Error`]; `error.rs` is the one place that turns it into a
//!    SCIM error response (RFC 7644 §3.12).
//!
//! [`config`] layers settings (defaults → file → `SCIMGATE__*` environment → flags; one
//! tenant or a `tenants:` list), [`startup`] builds tenants from them, [`reload`] swaps the
//! live tenant set on SIGHUP, and [`cli`] offers `demo`, `serve`, `check` and `translate`
//! (which runs one request against [`translate`]'s recording stand-in for the backend).
//! [`demo`] is the bundled example directory that `scimgate demo` fronts.
//!
//! Operating it: [`metrics`] defines every Prometheus family (served with `/livez` and
//! `/readyz` by the admin listener in `server::admin`), and [`cache`] is the per-tenant
//! lookup cache that `ops` reads by-id records and membership through.
//!
//! Faults and load: [`deadline`] bounds one request, `backend::resilience` retries safe
//! calls and trips the circuit breaker, and [`shed`] sheds excess load per tenant.

pub mod auth;
pub mod backend;
pub mod cache;
pub mod cli;
pub mod config;
pub mod cursors;
pub mod deadline;
pub mod demo;
pub mod error;
pub mod locks;
pub mod mapping;
pub mod metrics;
pub mod ops;
pub mod reload;
pub mod scim;
pub mod server;
pub mod shed;
pub mod startup;
pub mod tenant;
pub mod trace;
pub mod translate;
