//! Request bodies as the handlers decode them, without a backend: JSON syntax, then the
//! resource path (dialect normalisation, canonical form, required/immutable checks), the
//! PatchOp path (parse + atomic apply to a real resource) and the SearchRequest path.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use scimgate::mapping::ResourceKind;
use scimgate::scim::dialect::{DialectOptions, Normalisations};
use scimgate::scim::filter::FilterLimits;
use scimgate::scim::patch::{apply_patch, parse_patch_request};
use scimgate::scim::query::{ListQuery, QueryLimits};
use scimgate::scim::resource::{canonicalize, check_immutable, check_required};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    // First byte: resource type and dialect; the rest is the body.
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let kind = if selector & 1 == 0 {
        ResourceKind::User
    } else {
        ResourceKind::Group
    };
    let options = if selector & 2 == 0 {
        DialectOptions::default()
    } else {
        DialectOptions::strict()
    };
    let schema = common::schema(kind);
    let current = match kind {
        ResourceKind::User => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u-1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@example.com", "type": "work", "primary": true},
                {"value": "b@home.example", "type": "home"}
            ],
            "active": true,
        }),
        ResourceKind::Group => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g-1",
            "displayName": "Admins",
            "members": [{"value": "u-1"}, {"value": "u-2"}],
        }),
    };

    // POST / PUT body.
    let mut applied = Normalisations::new();
    if let Ok(resource) = canonicalize(&value, schema, &options, &mut applied) {
        assert!(resource.is_object());
        let _ = check_required(&resource, schema);
        let _ = check_immutable(&current, &resource, schema);
        // The canonical form is a fixed point.
        let mut again = Normalisations::new();
        let twice = canonicalize(&resource, schema, &options, &mut again);
        assert_eq!(twice.as_ref(), Ok(&resource));
    }

    // PATCH body: atomic, so the current resource is never changed, and the id survives.
    let mut applied = Normalisations::new();
    if let Ok(ops) = parse_patch_request(&value, schema, &options, &mut applied) {
        if let Ok(patched) = apply_patch(&current, &ops, schema, &options, &mut applied) {
            assert_eq!(patched.get("id"), current.get("id"));
            let _ = check_required(&patched, schema);
        }
    }

    // POST /.search body.
    let limits = QueryLimits {
        filter: FilterLimits::default(),
        default_count: 100,
        max_count: 200,
    };
    let _ = ListQuery::from_search_request(&value, &limits);
});
