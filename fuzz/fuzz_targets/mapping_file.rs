//! Mapping-file loading: any YAML text either compiles or yields problems, each naming its
//! file, and never panics (the operator's file is trusted less than the code that reads it).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scimgate::mapping::compile::compile_mapping;
use scimgate::mapping::ResourceKind;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let kind = if selector & 1 == 0 {
        ResourceKind::User
    } else {
        ResourceKind::Group
    };
    // Beside the shipped mappings, so relative schema files (../schemas/…) resolve as there.
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mappings/demo/fuzz.yaml"
    ));
    if let Err(problems) = compile_mapping(file, text, kind) {
        assert!(!problems.is_empty());
        for problem in &problems {
            assert_eq!(problem.file, file);
        }
    }
});
