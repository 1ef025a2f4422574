//! Lambda entry point of the reservation sweep (EventBridge, every few minutes):
//! releases every tenant's expired reservations, left by crashed invocations.

use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::required_env;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::lambda::{aws_config, billing_store};
use nutripro_shared::ports::billing::sweep_all;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = aws_config().await;
    let tenants = DynamoStore::from_sdk_config(&config, required_env("CONTROL_PLANE_TABLE")?);
    let billing = billing_store(&config)?;
    // Built once per cold start and kept for the environment's life.
    let (tenants, billing): (&'static DynamoStore, _) = (
        Box::leak(Box::new(tenants)),
        &**Box::leak(Box::new(billing)),
    );
    lambda_runtime::run(service_fn(
        |_event: LambdaEvent<serde_json::Value>| async move {
            let released = sweep_all(billing, tenants, Timestamp::now()).await?;
            tracing::info!(released, "reservation sweep done");
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "released": released }))
        },
    ))
    .await
}
