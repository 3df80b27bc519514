//! The legacy directory as seen from the gateway: an HTTP client with a base URL, outbound
//! auth and timeouts, and the error type for everything that can go wrong upstream.

pub mod auth;
pub mod breaker;
pub mod client;
pub mod error;
pub mod resilience;
pub mod retry;

pub use client::{BackendClient, BackendRequest, BackendResponse};
pub use error::BackendError;
pub use resilience::Resilience;
