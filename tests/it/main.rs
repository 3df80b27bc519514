//! One integration-test binary (each file in tests/ would link separately): the gateway over
//! real sockets, in front of the demo directory and (with `--features real-backends`) a real
//! json-server and a real OpenStack Keystone.

// All of this binary is test code: clippy's allow-*-in-tests only covers #[test] functions,
// not the helpers in support/ that they call, where a panic is the way to fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

mod backend_auth;
#[macro_use]
mod bulk;
mod concurrency;
mod discovery;
mod entra;
mod errors;
mod etag;
mod faults;
#[cfg(feature = "real-backends")]
mod json_server;
#[cfg(feature = "real-backends")]
mod json_server_1;
#[cfg(feature = "real-backends")]
mod keystone;
mod limits;
mod observability;
mod okta;
mod process;
#[cfg(feature = "real-backends")]
mod prometheus;
mod protocol;
mod regressions;
mod search;
mod secrets;
mod shapes;
mod smoke;
mod sorting;
mod tenancy;
mod tooling;
#[cfg(feature = "real-backends")]
mod transforms;
