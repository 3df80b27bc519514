//! Test support: a gateway on 127.0.0.1:0 in front of a backend, and a small SCIM client.

pub mod client;
pub mod gateway;

pub use client::{Client, Reply};
pub use gateway::Gateway;
