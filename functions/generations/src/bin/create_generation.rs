//! Lambda entry point of `create_generation`: the content table, the settings, tenant
//! and plan in the control-plane table (read-only), the billing table (rate windows,
//! reservations, ledger), the OpenAI client with its API key from Secrets
//! Manager (read on first use, cached, refreshed on 401). The AWS configuration is
//! loaded once and shared by every client.

use nutripro_generations::{
    create_generation, GenerationPolicy, GenerationState, DEFAULT_LLM_TIMEOUT,
};
use nutripro_shared::adapters::dynamodb::billing::DynamoBillingStore;
use nutripro_shared::adapters::dynamodb::content::DynamoContentStore;
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::adapters::openai::{OpenAiClient, OpenAiConfig};
use nutripro_shared::adapters::secrets_manager::SecretsManagerSecret;
use nutripro_shared::config::required_env;
use nutripro_shared::http::run_http;
use nutripro_shared::lambda::rate_limiter;
use nutripro_shared::ports::SystemClock;
use nutripro_shared::telemetry::{self, LogFormat};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::Json);
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoContentStore::from_sdk_config(&aws, required_env("CONTENT_TABLE")?);
    let settings = DynamoStore::from_sdk_config(&aws, required_env("CONTROL_PLANE_TABLE")?);
    let secret_arn = required_env("OPENAI_SECRET_ARN")?;
    let key =
        SecretsManagerSecret::from_sdk_config(&aws, secret_arn, SecretsManagerSecret::DEFAULT_TTL);
    let mut config = OpenAiConfig::default();
    if let Ok(base_url) = std::env::var("OPENAI_BASE_URL") {
        config.base_url = base_url;
    }
    let state = GenerationState {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        llm: Arc::new(OpenAiClient::new(config, Arc::new(key))?),
        model: required_env("OPENAI_MODEL")?,
        policy: GenerationPolicy::new(Arc::new(settings)),
        llm_timeout: DEFAULT_LLM_TIMEOUT,
        billing: Arc::new(DynamoBillingStore::from_sdk_config(
            &aws,
            required_env("BILLING_TABLE")?,
        )),
        limiter: rate_limiter(&aws)?,
    };
    run_http(state, create_generation).await
}
