//! Issue 16: the local gateway on the production DynamoDB adapters (`serve --store
//! dynamodb`), against the loopback server through the fault proxy with the standard
//! faults: the whole flow — bootstrap, consent, samples, style, generations, usage, the
//! admin API and the audit chain — works end to end, and what was acknowledged is there.

use nutripro_faults::FaultProxy;
use nutripro_local::llm::LlmChoice;
use nutripro_local::stores::{StoreChoice, Stores};
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::ports::billing::reconcile;
use nutripro_tests::LocalStack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
async fn the_whole_api_runs_on_the_dynamodb_adapters_through_faults() {
    let proxy = FaultProxy::for_tests("dynamodb_gateway_e2e").await;
    let data_dir = tempfile::tempdir().unwrap();
    let choice = StoreChoice::DynamoDb {
        endpoint: proxy.url().to_owned(),
        table_prefix: format!("e2e-{}-", nutripro_shared::domain::new_id()),
    };
    // Tables created on first use (no faults while they are), then the faults go on.
    let stores = Stores::open(&choice, data_dir.path()).await.unwrap();
    proxy.arm();
    let gateway = nutripro_local::start_on(data_dir.path(), &choice, 0, LlmChoice::offline())
        .await
        .unwrap();
    let stack = LocalStack::around(gateway, data_dir);
    let (boot, _) = nutripro_local::bootstrap::bootstrap(
        &*stores.control_plane(),
        "DynamoDB tenant",
        Timestamp::now(),
    )
    .await
    .unwrap();
    let key = boot.api_key.as_str();

    let me = stack.get_as("/v1/me", key).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["tenant_id"], boot.tenant_id);
    let consent = stack
        .call(
            "PUT",
            "/v1/dietitians/dr-smith/consent",
            key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    for content in [
        "Dear friend,\n\nWelcome! We'll start with breakfast.\n\n— Anna",
        "Dear friend,\n\nSnacks aren't the enemy! We'll plan them.\n\n— Anna",
        "Dear friend,\n\nWater first! We'll keep a glass by the sink.\n\n— Anna",
    ] {
        let body =
            json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "content": content});
        let sample = stack
            .call("POST", "/v1/samples", key, Some(&body), &[])
            .await;
        assert_eq!(sample.status, 201, "{}", sample.body);
    }
    let style = stack.get_as("/v1/dietitians/dr-smith/style", key).await;
    assert_eq!(style.status, 200, "{}", style.body);
    assert_eq!(style.json()["profile"]["samples"], 3);
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {"client": format!("Client {i}")}});
        let generation = stack
            .call("POST", "/v1/generations", key, Some(&body), &[])
            .await;
        assert_eq!(generation.status, 201, "{}", generation.body);
        let generation = generation.json();
        assert!(generation["content"]
            .as_str()
            .unwrap()
            .starts_with("Dear friend,"));
        ids.push(generation["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let stored = stack.get_as(&format!("/v1/generations/{id}"), key).await;
        assert_eq!(
            stored.status, 200,
            "acknowledged, so stored: {}",
            stored.body
        );
    }
    let usage = stack.get_as("/v1/usage", key).await.json();
    assert_eq!(usage["total"]["generations"], 5, "each billed once");

    let token = stack.admin_token(Role::PlatformAdmin, None);
    let created = stack
        .call(
            "POST",
            "/admin/tenants",
            &token,
            Some(&json!({"name": "Second"})),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let verified = stack.get_as("/admin/audit/verify", &token).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.json()["ok"], true, "{}", verified.body);

    let tenant = nutripro_shared::domain::TenantId::new(&boot.tenant_id);
    let period = nutripro_shared::domain::billing::Period::of(Timestamp::now());
    assert!(reconcile(&*stores.billing, &tenant, period)
        .await
        .unwrap()
        .is_empty());
    let counts = proxy.counts();
    assert!(counts.injected() > 0, "faults were injected: {counts:?}");
}
