//! Lambda entry point of the control-plane (Cognito JWT) authorizer.
//!
//! `ADMIN_ISSUER` is the user pool's issuer URL and `ADMIN_CLIENT_ID` the admin app
//! client; the JWKS is fetched from the issuer on the first request, not during init.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_authorizers::AdminAuthorizer;
use nutripro_shared::adapters::jwt::{IdpConfig, TokenVerifier};
use nutripro_shared::config::required_env;
use nutripro_shared::ports::SystemClock;
use nutripro_shared::telemetry::{self, LogFormat};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let config = IdpConfig::cognito(
        &required_env("ADMIN_ISSUER")?,
        &required_env("ADMIN_CLIENT_ID")?,
    );
    let authorizer: &'static AdminAuthorizer = Box::leak(Box::new(AdminAuthorizer::new(
        TokenVerifier::new(config),
        Arc::new(SystemClock),
    )));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            authorizer.authorize(event.payload)
        },
    ))
    .await
}
