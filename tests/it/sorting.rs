//! sortBy/sortOrder and paging through HTTP (RFC 7644 §3.4.2.3, §3.4.2.4) over both backends.
//!
//! The gateways here run with `limits.max_scan_records: 2`: a list the gateway had to sort
//! itself needs a scan of every record and fails with 400 `tooMany`, so a sorted answer over
//! more records than that proves the backend sorted and paged (the mapping's `sort` rules).

use serde_json::{json, Value};

use crate::support::gateway::{repo_path, TempConfig};
use crate::support::scim::*;
use crate::support::snapshot::{backend_requests, snapshot};
use crate::support::Gateway;

/// A config with the given mappings folder and a scan cap of 2 records.
fn small_scan_config(mappings: &str) -> TempConfig {
    TempConfig::new(&format!(
        "base_path: /scim/v2\nmappings: {}\nlimits:\n  max_scan_records: 2\n",
        repo_path(mappings).display()
    ))
}

/// `attr` values of a list page, in order (`None` where a resource has none).
fn values(list: &Value, attr: &str) -> Vec<Option<String>> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {list}"))
        .iter()
        .map(|r| r.get(attr).and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The SCIM order of RFC 7644 §3.4.2.3 (ascending): case-insensitive unless `case_exact`,
/// resources without a value last.
fn scim_sorted(mut v: Vec<Option<String>>, case_exact: bool) -> Vec<Option<String>> {
    let fold = |s: &String| {
        if case_exact {
            s.clone()
        } else {
            s.to_lowercase()
        }
    };
    v.sort_by_key(|x| (x.is_none(), x.as_ref().map(fold)));
    v
}

async fn list(gw: &Gateway, query: &str) -> Value {
    let r = gw.scim.get(&format!("/Users?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.json
}

/// The backend sorts and pages a sorted list of `attr` (which must have a sort rule): right
/// order, stable pages, RFC paging rules, integers; then the gateway's fallback is bounded.
async fn backend_sorts_and_pages(gw: &Gateway, attr: &str, case_exact: bool, unsorted: &str) {
    let run = run_id();
    for tag in ["Bravo", "alpha", "charlie", "Delta"] {
        let mut user = small_user(&format!("{tag}-{run}@example.com"));
        user["externalId"] = json!(format!("{tag}-{run}"));
        create(gw, "/Users", &user).await;
    }
    let all = list(gw, &format!("sortBy={attr}&count=200")).await;
    let total = all["totalResults"]
        .as_u64()
        .expect("totalResults is an integer");
    assert!(total >= 4, "{all}");
    assert_eq!(all["startIndex"], json!(1));
    assert_eq!(all["itemsPerPage"].as_u64(), Some(total));
    let ascending = values(&all, attr);
    assert_eq!(ascending.len() as u64, total);
    assert_eq!(
        ascending,
        scim_sorted(ascending.clone(), case_exact),
        "{all}"
    );

    // Pages of 3 cut the same order: stable across pages, nothing lost or repeated.
    let mut paged = Vec::new();
    let mut start = 1;
    while start <= total {
        let page = list(gw, &format!("sortBy={attr}&startIndex={start}&count=3")).await;
        assert_eq!(page["totalResults"].as_u64(), Some(total));
        assert_eq!(page["startIndex"].as_u64(), Some(start));
        paged.extend(values(&page, attr));
        start += 3;
    }
    assert_eq!(paged, ascending);

    // Descending: values reversed, resources without a value first.
    let desc = values(
        &list(gw, &format!("sortBy={attr}&sortOrder=DESCENDING&count=200")).await,
        attr,
    );
    let present = |v: &[Option<String>]| v.iter().flatten().cloned().collect::<Vec<_>>();
    let mut reversed = present(&ascending);
    reversed.reverse();
    assert_eq!(present(&desc), reversed);
    let missing = desc.iter().filter(|v| v.is_none()).count();
    assert!(desc[..missing].iter().all(Option::is_none), "{desc:?}");

    // startIndex below 1 is 1; count=0 gives only totalResults; a negative count is 0.
    let first = list(gw, &format!("sortBy={attr}&startIndex=0&count=2")).await;
    assert_eq!(first["startIndex"], json!(1));
    assert_eq!(values(&first, attr), ascending[..2]);
    for count in ["0", "-5"] {
        let none = list(gw, &format!("sortBy={attr}&count={count}")).await;
        assert_eq!(none["totalResults"].as_u64(), Some(total), "{none}");
        assert_eq!(none["itemsPerPage"], json!(0));
        assert_eq!(none["Resources"], json!([]));
    }

    // A sortBy without a rule, or a filter the backend cannot answer, is sorted in the
    // gateway: that needs the bounded scan, which the cap of 2 refuses.
    for query in [
        format!("sortBy={unsorted}"),
        format!("sortBy={attr}&filter=title%20pr"),
    ] {
        let r = gw.scim.get(&format!("/Users?{query}")).await;
        assert_scim_error(&r, 400, Some("tooMany"));
    }
}

#[tokio::test]
async fn demo_directory_sorts_and_pages_user_name() {
    let config = small_scan_config("mappings/demo");
    let gw = Gateway::demo_with_config(&config.path).await;
    let calls = backend_requests(&gw);
    let page = list(
        &gw,
        "sortBy=userName&sortOrder=descending&startIndex=3&count=2",
    )
    .await;
    // One directory call answered it: the directory sorted and paged.
    assert_eq!(backend_requests(&gw) - calls, 1);
    assert_eq!(
        values(&page, "userName"),
        [
            Some("carol@example.com".into()),
            Some("bob@example.com".into())
        ]
    );
    backend_sorts_and_pages(&gw, "userName", false, "externalId").await;
}

#[tokio::test]
async fn invalid_sort_parameters_are_refused_before_the_backend() {
    let gw = Gateway::demo().await;
    let (before, calls) = (snapshot(&gw), backend_requests(&gw));
    for query in ["sortBy=userName&sortOrder=sideways", "sortBy=emails[type"] {
        let r = gw.scim.get(&format!("/Users?{query}")).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    for query in ["startIndex=x", "count=1.5"] {
        let r = gw.scim.get(&format!("/Users?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
    }
    assert_eq!(snapshot(&gw), before);
    assert_eq!(backend_requests(&gw), calls);
}

/// The gateway's own sort (no rule for externalId in the demo mapping): case-exact, and
/// resources without a value last ascending, first descending.
#[tokio::test]
async fn gateway_sort_puts_missing_values_last_then_first() {
    let gw = Gateway::demo().await;
    for id in ["b-x", "B-y", "a-z"] {
        let mut user = small_user(&format!("{id}@example.com"));
        user["externalId"] = json!(id);
        create(&gw, "/Users", &user).await;
    }
    let asc = values(
        &list(&gw, "sortBy=externalId&count=200").await,
        "externalId",
    );
    assert_eq!(asc, scim_sorted(asc.clone(), true));
    assert_eq!(
        asc.iter().flatten().map(String::as_str).collect::<Vec<_>>(),
        ["B-y", "HRIS-000412", "a-z", "b-x"]
    );
    let desc = values(
        &list(&gw, "sortBy=externalId&sortOrder=descending&count=200").await,
        "externalId",
    );
    assert_eq!(desc.first(), Some(&None), "{desc:?}");
    assert_eq!(desc.last().cloned().flatten().as_deref(), Some("B-y"));
}

/// PATCH `remove` of a single-valued attribute leaves it unassigned (RFC 7644 §3.5.2.2),
/// also for `active`, which the demo directory keeps as a status string.
pub async fn remove_active_leaves_it_unassigned(gw: &Gateway) {
    let mut user = small_user(&format!("inactive-{}@example.com", run_id()));
    user["active"] = json!(true);
    let id = create(gw, "/Users", &user).await;
    assert_eq!(
        fetch(gw, &format!("/Users/{id}")).await["active"],
        json!(true)
    );
    let r = patch_ok(
        gw,
        &format!("/Users/{id}"),
        json!([{"op": "remove", "path": "active"}]),
    )
    .await;
    assert_eq!(r.json.get("active"), None, "{}", r.text);
    assert_eq!(fetch(gw, &format!("/Users/{id}")).await.get("active"), None);
    // Assigning it again works as before.
    patch_ok(
        gw,
        &format!("/Users/{id}"),
        json!([{"op": "add", "path": "active", "value": false}]),
    )
    .await;
    assert_eq!(
        fetch(gw, &format!("/Users/{id}")).await["active"],
        json!(false)
    );
}

mod demo {
    scenario_tests!(crate::support::demo, crate::sorting => remove_active_leaves_it_unassigned);
}

#[cfg(feature = "real-backends")]
mod json_server {
    use super::*;
    use crate::support::json_server::JsonServer;

    scenario_tests!(crate::support::json_server::json_server_gateway, crate::sorting =>
        remove_active_leaves_it_unassigned);

    #[tokio::test]
    async fn json_server_sorts_and_pages_external_id() {
        let server = JsonServer::start().await;
        let config = small_scan_config("mappings/json-server");
        let gw = Gateway::start(Some(&config.path), &server.url, Default::default()).await;
        backend_sorts_and_pages(&gw, "externalId", true, "userName").await;
    }
}
