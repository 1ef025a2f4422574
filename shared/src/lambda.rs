//! Lambda entry points shared by the function binaries: build the state from the
//! environment once per cold start, then serve.

use crate::adapters::dynamodb::admin::DynamoAuditStore;
use crate::adapters::dynamodb::billing::DynamoBillingStore;
use crate::adapters::dynamodb::content::DynamoContentStore;
use crate::adapters::dynamodb::DynamoStore;
use crate::config::required_env;
use crate::http::{run_http, RateLimiter};
use crate::ports::SystemClock;
use crate::state::{AdminState, BillingAdminState, ContentState};
use crate::telemetry::{self, LogFormat};
use lambda_http::{Body, Request, Response};
use std::future::Future;
use std::sync::Arc;

/// Serves a content endpoint: JSON logs, the content table from `CONTENT_TABLE`, the
/// rate limiter ([`rate_limiter`]).
pub async fn serve_content<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static ContentState, Request) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let config = aws_config().await;
    let store = DynamoContentStore::from_sdk_config(&config, required_env("CONTENT_TABLE")?);
    run_http(
        ContentState {
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
            limiter: rate_limiter(&config)?,
        },
        handler,
    )
    .await
}

/// The data plane's rate limiter: limits from the control-plane table
/// (`CONTROL_PLANE_TABLE`, read-only), windows in the billing table (`BILLING_TABLE`).
pub fn rate_limiter(
    config: &aws_config::SdkConfig,
) -> Result<Arc<RateLimiter>, lambda_http::Error> {
    let store = DynamoStore::from_sdk_config(config, required_env("CONTROL_PLANE_TABLE")?);
    Ok(Arc::new(RateLimiter::new(
        Arc::new(store),
        billing_store(config)?,
        Arc::new(SystemClock),
    )))
}

fn admin_state(config: &aws_config::SdkConfig) -> Result<AdminState, lambda_http::Error> {
    let store = DynamoStore::from_sdk_config(config, required_env("CONTROL_PLANE_TABLE")?);
    let audit = DynamoAuditStore::from_sdk_config(config, required_env("AUDIT_TABLE")?);
    Ok(AdminState {
        store: Arc::new(store),
        audit: Arc::new(audit),
        clock: Arc::new(SystemClock),
    })
}

/// The AWS configuration, loaded once per cold start (JSON logs set up first).
pub async fn aws_config() -> aws_config::SdkConfig {
    telemetry::init(LogFormat::Json);
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The billing store of the table in `BILLING_TABLE`.
pub fn billing_store(
    config: &aws_config::SdkConfig,
) -> Result<Arc<DynamoBillingStore>, lambda_http::Error> {
    Ok(Arc::new(DynamoBillingStore::from_sdk_config(
        config,
        required_env("BILLING_TABLE")?,
    )))
}

/// Serves an admin endpoint: JSON logs, the control-plane table from
/// `CONTROL_PLANE_TABLE`, the audit table from `AUDIT_TABLE`.
pub async fn serve_admin<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static AdminState, Request) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let config = aws_config().await;
    run_http(admin_state(&config)?, handler).await
}

/// Serves a billing admin endpoint: as [`serve_admin`], plus the billing table from
/// `BILLING_TABLE`.
pub async fn serve_billing_admin<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static BillingAdminState, Request) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let config = aws_config().await;
    let state = BillingAdminState {
        admin: admin_state(&config)?,
        billing: billing_store(&config)?,
    };
    run_http(state, handler).await
}
