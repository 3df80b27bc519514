//! The SCIM protocol core: schemas, errors, filters, PATCH, dialect normalisation and
//! resource rules. Pure functions over JSON; no I/O and no knowledge of any backend.

pub mod attr;
pub mod dialect;
pub mod error;
pub mod filter;
pub mod patch;
pub mod query;
pub mod resource;
pub mod schema;
