//! Lambda entry point of the monthly close (EventBridge schedule): closes the period
//! that ended, exactly as `POST /admin/billing/periods/{period}/close` does, and
//! records it in the audit log as the scheduler.

use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_shared::adapters::dynamodb::admin::DynamoAuditStore;
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::required_env;
use nutripro_shared::lambda::{aws_config, billing_store};
use nutripro_shared::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = aws_config().await;
    let store = DynamoStore::from_sdk_config(&config, required_env("CONTROL_PLANE_TABLE")?);
    let audit = DynamoAuditStore::from_sdk_config(&config, required_env("AUDIT_TABLE")?);
    let billing = billing_store(&config)?;
    // Built once per cold start and kept for the environment's life.
    let (store, audit, billing): (&'static DynamoStore, &'static DynamoAuditStore, _) = (
        Box::leak(Box::new(store)),
        Box::leak(Box::new(audit)),
        &**Box::leak(Box::new(billing)),
    );
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let report = nutripro_billing::scheduled_close(
                store,
                audit,
                billing,
                &SystemClock,
                &event.context.request_id,
            )
            .await
            .map_err(|problem| format!("closing failed: {}", problem.detail))?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        },
    ))
    .await
}
