//! Lambda entry point of the data-plane API-key authorizer.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_authorizers::ApiKeyAuthorizer;
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::Config;
use nutripro_shared::ports::SystemClock;
use nutripro_shared::telemetry::{self, LogFormat};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(&config.control_plane_table).await;
    let authorizer: &'static ApiKeyAuthorizer = Box::leak(Box::new(ApiKeyAuthorizer::new(
        Arc::new(store),
        Arc::new(SystemClock),
        config.key_last_used_interval_seconds,
    )));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            authorizer.authorize(event.payload)
        },
    ))
    .await
}
