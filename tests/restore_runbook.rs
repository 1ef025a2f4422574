//! Issue 17, the restore runbook's last step (docs/operations.md): `scripts/copy-table`
//! copies a restored table into the live one, against the DynamoDB-compatible server on
//! loopback that scripts/test starts, with the tools virtualenv's Python (boto3).

use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
use nutripro_shared::domain::{PlanId, Tenant, TenantName, Timestamp};
use nutripro_shared::ports::TenantStore;

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs what scripts/test provides (run it there)")
    })
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server on loopback and the tools Python: run scripts/test"]
async fn copy_table_restores_every_item_into_the_live_table() {
    let endpoint = required("NUTRIPRO_TEST_DYNAMODB_ENDPOINT");
    let python = required("NUTRIPRO_TOOLS_PYTHON");
    let client = schema::local_client(&endpoint);
    let id = nutripro_shared::domain::new_id();
    let (restored, live) = (format!("restored-{id}"), format!("live-{id}"));
    for table in [&restored, &live] {
        schema::create_table(&client, table).await.unwrap();
    }
    let source = DynamoStore::new(client.clone(), restored.clone());
    let mut tenants = Vec::new();
    // More than one batch of 25, and more than one item per tenant (tenant + index).
    for n in 0..40 {
        let tenant = Tenant::new(
            TenantName::parse(&format!("Restored {n}")).unwrap(),
            PlanId::new(PlanId::DEFAULT),
            Timestamp::now(),
        );
        source.create_tenant(&tenant).await.unwrap();
        tenants.push(tenant);
    }
    let run = |extra: &[&str]| {
        let output = std::process::Command::new(&python)
            .arg(nutripro_tests::repo_root().join("scripts/copy-table"))
            .args([
                "--from",
                &restored,
                "--to",
                &live,
                "--endpoint-url",
                &endpoint,
            ])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("run scripts/copy-table");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert_eq!(dry["written"], 0);
    let target = DynamoStore::new(client, live.clone());
    assert!(
        target.get_tenant(&tenants[0].id).await.unwrap().is_none(),
        "a dry run writes nothing"
    );
    let copied = run(&[]);
    assert_eq!(copied["complete"], true);
    assert_eq!(copied["read"], copied["written"]);
    assert!(copied["written"].as_u64().unwrap() >= 40);
    for tenant in &tenants {
        assert_eq!(
            target.get_tenant(&tenant.id).await.unwrap().as_ref(),
            Some(tenant)
        );
    }
}
