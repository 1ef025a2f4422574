//! Lambda entry point of the data-plane API-key authorizer.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_authorizers::ApiKeyAuthorizer;
use nutripro_shared::adapters::dynamodb::admin::DynamoAuditStore;
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::config::{required_env, Config};
use nutripro_shared::ports::SystemClock;
use nutripro_shared::telemetry::{self, LogFormat};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::from_sdk_config(&aws, &config.control_plane_table);
    let audit = DynamoAuditStore::from_sdk_config(&aws, required_env("AUDIT_TABLE")?);
    let authorizer: &'static ApiKeyAuthorizer = Box::leak(Box::new(
        ApiKeyAuthorizer::new(
            Arc::new(store),
            Arc::new(SystemClock),
            config.key_last_used_interval_seconds,
        )
        .with_audit(Arc::new(audit)),
    ));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            authorizer.authorize(event.payload)
        },
    ))
    .await
}
