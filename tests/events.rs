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

/// Every function's name (its `Handler`, a row of the endpoint table), routes,
/// authorizers, triggers and jobs alike.
fn template_binaries() -> BTreeSet<String> {
    nutripro_local::template::functions(&nutripro_tests::read_repo_file("template.yaml"))
        .unwrap()
        .into_iter()
        .map(|(_, handler)| handler)
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
    let registry = Registry::new(
        store,
        Arc::new(SystemClock),
        LlmChoice::offline(),
        nutripro_local::idp::config("http://127.0.0.1:9"),
    );
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    for route in routes {
        let text = nutripro_tests::read_repo_file(&format!("events/{}.json", route.handler));
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
            panic!("events/{}.json is not a REST v1 event: {e}", route.handler)
        });
        assert_eq!(request.method().as_str(), route.method, "{}", route.handler);
        let response = registry.handlers[route.handler.as_str()](request).await;
        let status = response.status().as_u16();
        // The sample tenant owns nothing in an empty store: 2xx, 403 (no consent), 404 or
        // 409 are all real answers; a 5xx or a 401 (context not read) is not.
        assert!(
            status < 500 && status != 401,
            "{}: {status} {:?}",
            route.handler,
            response.body()
        );
        assert_eq!(
            response.headers()["x-request-id"],
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "{}",
            route.handler
        );
    }
}

/// The Cognito trigger's sample event is what Cognito sends; the trigger answers it with
/// the tenant claim for the access token.
#[test]
fn the_token_claims_event_gets_the_tenant_claim() {
    let text = nutripro_tests::read_repo_file("events/admin_token_claims.json");
    let event = serde_json::from_str(&text).expect("a Cognito pre-token-generation V2 event");
    let out = nutripro_authorizers::claims::add_tenant_claim(event);
    let claims = &out
        .response
        .claims_and_scope_override_details
        .expect("override details")
        .access_token_generation
        .expect("access token generation")
        .claims_to_add_or_override;
    assert_eq!(
        claims["custom:tenant_id"],
        "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"
    );
}
