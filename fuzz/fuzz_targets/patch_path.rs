//! PATCH-path parser: any text either parses or is an error pointing inside the input; what
//! parses prints as a path that parses back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimgate::scim::attr::AttrPath;
use scimgate::scim::filter::FilterLimits;
use scimgate::scim::patch::parse_patch_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = FilterLimits::default();
    match parse_patch_path(text, &limits) {
        Ok(path) => {
            let printed = path.to_string();
            let reparse = FilterLimits {
                max_length: usize::MAX,
                max_depth: 4 * limits.max_depth + 4,
            };
            assert_eq!(
                parse_patch_path(&printed, &reparse).as_ref(),
                Ok(&path),
                "{printed:?}"
            );
        }
        Err(e) => assert!(e.position <= text.len(), "{e} for {text:?}"),
    }
    // Plain attribute paths (sortBy, attributes=) go through the same lexer.
    if let Ok(path) = AttrPath::parse(text) {
        assert_eq!(AttrPath::parse(&path.to_string()).as_ref(), Ok(&path));
    }
});
