//! Filter parser: any text either parses or is an error pointing inside the input; what
//! parses prints as a filter that parses back to the same tree, and evaluates without panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use scimgate::mapping::ResourceKind;
use scimgate::scim::filter::{parse_filter, FilterLimits};
use scimgate::scim::query::{ListQuery, QueryLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The configured limits, and no length limit (depth stays bounded: that is the guard).
    for limits in [
        FilterLimits::default(),
        FilterLimits {
            max_length: usize::MAX,
            max_depth: 256,
        },
    ] {
        match parse_filter(text, &limits) {
            Ok(filter) => {
                let printed = filter.to_string();
                let reparse = FilterLimits {
                    max_length: usize::MAX,
                    max_depth: 4 * limits.max_depth + 4,
                };
                assert_eq!(
                    parse_filter(&printed, &reparse).as_ref(),
                    Ok(&filter),
                    "{printed:?}"
                );
                let resource = serde_json::json!({
                    "userName": "bjensen",
                    "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                    "name": {"givenName": "Barbara"},
                    "active": true,
                    "meta": {"lastModified": "2011-05-13T04:42:34Z"},
                    "members": [{"value": "u-1"}],
                });
                let _ = filter.matches(&resource, common::schema(ResourceKind::User));
                let _ = filter.matches(&resource, common::schema(ResourceKind::Group));
            }
            Err(e) => assert!(e.position <= text.len(), "{e} for {text:?}"),
        }
    }
    // The same text as a query-string filter, through the query layer.
    let limits = QueryLimits {
        filter: FilterLimits::default(),
        default_count: 100,
        max_count: 200,
    };
    let _ = ListQuery::parse(&[("filter".to_owned(), text.to_owned())], &limits);
});
