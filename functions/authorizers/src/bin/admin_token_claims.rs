//! Lambda entry point of the Cognito pre-token-generation trigger.

use aws_lambda_events::cognito::CognitoEventUserPoolsPreTokenGenV2;
use lambda_runtime::{service_fn, LambdaEvent};
use nutripro_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(LogFormat::Json);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<CognitoEventUserPoolsPreTokenGenV2>| async move {
            Ok::<_, lambda_runtime::Error>(nutripro_authorizers::claims::add_tenant_claim(
                event.payload,
            ))
        },
    ))
    .await
}
