//! The demo directory's whole state as JSON, to assert that a refused request changed nothing.

use scimgate::demo::store::{GroupQuery, Page, UserQuery};
use scimgate::demo::{DemoDirectory, Store};
use serde_json::{json, Value};

use super::Gateway;

const ALL: Page = Page {
    number: 1,
    size: u64::MAX,
};

/// Every user and group record (timestamps included) and every membership.
pub fn store_json(store: &Store) -> Value {
    let users = store.list_users(&UserQuery {
        page: ALL,
        ..UserQuery::default()
    });
    let groups = store.list_groups(&GroupQuery {
        page: ALL,
        ..GroupQuery::default()
    });
    let members: Vec<Value> = groups
        .items
        .iter()
        .map(
            |g| json!({"group": g.id, "users": g.members().map(|m| m.user_id).collect::<Vec<_>>()}),
        )
        .collect();
    json!({"users": users.items, "groups": groups.items, "members": members})
}

fn directory(gw: &Gateway) -> &DemoDirectory {
    gw.directory
        .as_ref()
        .expect("this test needs the demo directory behind the gateway")
}

/// The state of the demo directory behind `gw`.
pub fn snapshot(gw: &Gateway) -> Value {
    directory(gw).with_store(store_json)
}

/// Requests the demo directory has received so far.
pub fn backend_requests(gw: &Gateway) -> u64 {
    directory(gw).request_count()
}

/// Runs `f` on the demo directory's store.
pub fn with_store<R>(gw: &Gateway, f: impl FnOnce(&Store) -> R) -> R {
    directory(gw).with_store(f)
}
