//! The one Lambda binary. Every function of the template runs it; which function it is
//! comes from the function's `Handler` (Lambda passes it as `_HANDLER`). An unknown or
//! missing name, or a function whose environment lacks what its row needs, fails init
//! loudly (Lambda reports the init error and retries no request against it).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use aws_lambda_events::cognito::CognitoEventUserPoolsPreTokenGenV2;
use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_endpoints::aws::AwsServices;
use nutripro_endpoints::{Function, WiringError};
use nutripro_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    let name = std::env::var("_HANDLER")
        .ok()
        .filter(|name| !name.is_empty())
        .ok_or(WiringError::NoFunctionName)?;
    let endpoint = nutripro_endpoints::find(&name)?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let function = (endpoint.build)(&AwsServices::from_env(config)).map_err(|error| {
        tracing::error!(function = %name, %error, "init failed");
        error
    })?;
    match function {
        Function::Http(handler) => {
            lambda_http::run(lambda_http::service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, lambda_http::Error>(response.await) }
            }))
            .await
        }
        Function::Authorizer(authorizer) => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
                    authorizer(event.payload)
                },
            ))
            .await
        }
        Function::CognitoTrigger(trigger) => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<CognitoEventUserPoolsPreTokenGenV2>| async move {
                    Ok::<_, lambda_runtime::Error>(trigger(event.payload))
                },
            ))
            .await
        }
        Function::Job(job) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
                let run = job(event.context.request_id);
                async move {
                    run.await.map_err(|error| {
                        let described = error.describe();
                        tracing::error!(%error, problem = described.slug, "job failed");
                        lambda_runtime::Error::from(format!("job failed: {}", described.detail))
                    })
                }
            }))
            .await
        }
    }
}
