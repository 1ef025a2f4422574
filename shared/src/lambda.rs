//! Lambda entry points shared by the function binaries: build the state from the
//! environment once per cold start, then serve.

use crate::adapters::dynamodb::content::DynamoContentStore;
use crate::config::required_env;
use crate::http::run_http;
use crate::ports::SystemClock;
use crate::state::ContentState;
use crate::telemetry::{self, LogFormat};
use lambda_http::{Body, Request, Response};
use std::future::Future;
use std::sync::Arc;

/// Serves a content endpoint: JSON logs, the content table from `CONTENT_TABLE`.
pub async fn serve_content<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static ContentState, Request) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    telemetry::init(LogFormat::Json);
    let store = DynamoContentStore::from_env(required_env("CONTENT_TABLE")?).await;
    run_http(
        ContentState {
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
        },
        handler,
    )
    .await
}
