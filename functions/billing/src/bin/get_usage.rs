//! Lambda entry point of `get_usage`: tenant, settings and plans from the control-plane
//! table (read-only), aggregates from the billing table.

use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::required_env;
use nutripro_shared::http::run_http;
use nutripro_shared::lambda::{aws_config, billing_store, rate_limiter};
use nutripro_shared::ports::SystemClock;
use nutripro_shared::state::UsageState;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = aws_config().await;
    let state = UsageState {
        store: Arc::new(DynamoStore::from_sdk_config(
            &config,
            required_env("CONTROL_PLANE_TABLE")?,
        )),
        billing: billing_store(&config)?,
        clock: Arc::new(SystemClock),
        limiter: rate_limiter(&config)?,
    };
    run_http(state, nutripro_billing::get_usage).await
}
