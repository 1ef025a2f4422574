//! `events/` holds a sample API Gateway event for every function (usable with
//! `cargo lambda invoke --data-file`). Each is replayed through its handler in-process:
//! it must parse as the REST (v1) event API Gateway sends and get a real answer.

use nutripro_local::llm::LlmChoice;
use nutripro_local::registry::Registry;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::{PlanId, Tenant, TenantId, TenantStatus, Timestamp};
use nutripro_shared::ports::{SystemClock, TenantStore};
use std::collections::BTreeSet;
use std::sync::Arc;

fn template_binaries() -> BTreeSet<String> {
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    routes
        .iter()
        .flat_map(|r| [Some(r.binary.clone()), r.authorizer.clone()])
        .flatten()
        .collect()
}

#[test]
fn every_function_has_a_sample_event_and_every_event_a_function() {
    let events: BTreeSet<String> = std::fs::read_dir(nutripro_tests::repo_root().join("events"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned()
        })
        .collect();
    assert_eq!(events, template_binaries());
}

#[tokio::test]
async fn every_http_event_replays_through_its_handler() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    // The tenant the sample events' authorizer context names.
    let tenant = Tenant {
        id: TenantId::new("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"),
        name: "Sample events".into(),
        contact: None,
        status: TenantStatus::Active,
        plan: PlanId::new(PlanId::DEFAULT),
        created_at: Timestamp::now(),
    };
    store.create_tenant(&tenant).await.unwrap();
    let registry = Registry::new(store, Arc::new(SystemClock), LlmChoice::offline());
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    for route in routes {
        let text = nutripro_tests::read_repo_file(&format!("events/{}.json", route.binary));
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{}.json is not a REST v1 event: {e}", route.binary));
        assert_eq!(request.method().as_str(), route.method, "{}", route.binary);
        let response = registry.handlers[route.binary.as_str()](request).await;
        let status = response.status().as_u16();
        // The sample tenant owns nothing in an empty store: 2xx, 403 (no consent) or 404
        // are all real answers; a 5xx or a 401 (context not read) is not.
        assert!(
            status < 500 && status != 401,
            "{}: {status} {:?}",
            route.binary,
            response.body()
        );
        assert_eq!(
            response.headers()["x-request-id"],
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "{}",
            route.binary
        );
    }
}
