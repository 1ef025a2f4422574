//! Lambda entry point of `GET /v1/me`.

use nutripro_account::{get_me, AccountState};
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::Config;
use nutripro_shared::http::run_http;
use nutripro_shared::telemetry::{self, LogFormat};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(&config.control_plane_table).await;
    run_http(
        AccountState {
            store: Arc::new(store),
        },
        get_me,
    )
    .await
}
