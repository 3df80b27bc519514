//! Test support: a gateway on 127.0.0.1:0 in front of a backend, a small SCIM client, request
//! bodies and assertions, and (with `real-backends`) a real json-server or Keystone per test.

pub mod client;
pub mod fault_proxy;
pub mod gateway;
#[cfg(feature = "real-backends")]
pub mod json_server;
#[cfg(feature = "real-backends")]
pub mod keystone;
pub mod process;
pub mod scim;
pub mod snapshot;
pub mod temp;

pub use client::{Client, Reply};
pub use gateway::Gateway;

/// The gateway in front of a freshly seeded demo directory, in the `(guard, gateway)` shape
/// that [`scenario_tests!`] expects.
pub async fn demo() -> ((), Gateway) {
    ((), Gateway::demo().await)
}

/// One `#[tokio::test]` per scenario function: each gets its own backend from `$setup` (an
/// async fn returning `(guard, Gateway)`; the guard keeps the backend alive) and runs
/// `$module::$name(&gateway)`. The scenarios are written once, generic over the backend.
macro_rules! scenario_tests {
    ($setup:path, $module:path => $($name:ident),+ $(,)?) => {
        use $module as scenarios;
        $(
            #[tokio::test]
            async fn $name() {
                let (_backend, gw) = $setup().await;
                scenarios::$name(&gw).await;
            }
        )+
    };
}
