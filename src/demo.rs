//! The bundled example "legacy directory" that `scimgate demo` runs next to the gateway.
//!
//! It is a deliberately non-SCIM REST API (integer ids, `login`, nested `contact`/`org`
//! blocks, a members sub-resource, page/per_page paging) so the gateway's mapping files have
//! real translation work to do. [`store`] holds the data and every rule; [`directory`] puts
//! it behind HTTP.

pub mod directory;
pub mod store;

pub use directory::{DemoAuth, DemoDirectory};
pub use store::{Store, StoreError};
