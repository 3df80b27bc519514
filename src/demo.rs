//! The bundled example "legacy directory" that `scimgate demo` runs next to the gateway.
//!
//! It is a deliberately non-SCIM REST API (integer ids, `login`, nested `contact`/`org`
//! blocks, a members sub-resource, page/per_page paging) so the gateway's mapping files have
//! real translation work to do. [`store`] holds the data and every rule; [`directory`] puts
//! it behind HTTP, in that shape or in an opt-in [`DemoShape`] (envelopes, other paging and
//! create answers, membership on the user, refused deletes) for tests of other backend shapes.

pub mod directory;
pub mod store;

pub use directory::{
    CreateAnswer, DemoAuth, DemoDirectory, DemoShape, ListStyle, MemberHome, NextIn,
};
pub use store::{Store, StoreError};
