//! Lambda entry point of `GET /v1/me`.

use nutripro_account::{get_me, AccountState};
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::Config;
use nutripro_shared::http::run_http;
use nutripro_shared::lambda::{aws_config, rate_limiter};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let aws = aws_config().await;
    let config = Config::from_env()?;
    let store = DynamoStore::from_sdk_config(&aws, config.control_plane_table);
    run_http(
        AccountState {
            store: Arc::new(store),
            limiter: rate_limiter(&aws)?,
        },
        get_me,
    )
    .await
}
