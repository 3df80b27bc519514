//! What the targets share: the demo mapping's schemas (core + enterprise User, Group), compiled
//! once from the mapping files shipped in the repository, so the fuzzers see what the gateway serves.

use std::path::Path;
use std::sync::OnceLock;

use scimgate::mapping::compile::compile_mapping;
use scimgate::mapping::ResourceKind;
use scimgate::scim::schema::ResourceSchema;

const USERS: &str = include_str!("../../mappings/demo/users.yaml");
const GROUPS: &str = include_str!("../../mappings/demo/groups.yaml");

/// The published schema of `kind` in the demo mapping.
pub fn schema(kind: ResourceKind) -> &'static ResourceSchema {
    static USER: OnceLock<ResourceSchema> = OnceLock::new();
    static GROUP: OnceLock<ResourceSchema> = OnceLock::new();
    let (cell, text) = match kind {
        ResourceKind::User => (&USER, USERS),
        ResourceKind::Group => (&GROUP, GROUPS),
    };
    // The real file name: extension schema files are found relative to it.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(match kind {
        ResourceKind::User => "../mappings/demo/users.yaml",
        ResourceKind::Group => "../mappings/demo/groups.yaml",
    });
    cell.get_or_init(|| match compile_mapping(&file, text, kind) {
        Ok(mapping) => mapping.schema,
        Err(problems) => panic!("the demo mapping does not compile: {problems:?}"),
    })
}
