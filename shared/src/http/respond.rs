//! The envelope around every handler: request-scoped logging, problem mapping, panic
//! containment, `x-request-id` and hardening headers. The Lambda binaries and the local
//! gateway both go through [`handle`], so they answer identically.

use super::{context, Problem};
use futures_util::FutureExt;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tracing::Instrument;

/// What an endpoint's logic returns: a response, or a problem to render.
pub type HandlerResult = Result<Response<Body>, Problem>;

/// Runs one endpoint's logic for one request.
pub async fn handle<F, Fut>(function: &'static str, request: Request, logic: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let request_id = context::request_id(&request);
    let tenant_id = context::TenantContext::from_request(&request)
        .map(|c| c.tenant_id.to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("request", %request_id, function, tenant_id, method = %request.method());
    let started = Instant::now();
    let outcome = AssertUnwindSafe(logic(request))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(problem)) => problem.to_response(&request_id),
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            Problem::internal().to_response(&request_id)
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", value);
    }
    headers.insert("cache-control", http::HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    let status = response.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    span.in_scope(|| tracing::info!(status, latency_us, "request completed"));
    response
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, body: &T) -> HandlerResult {
    let text = serde_json::to_string(body).map_err(|error| {
        tracing::error!(%error, "response serialization failed");
        Problem::internal()
    })?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .map_err(|_| Problem::internal())
}

pub fn no_content() -> HandlerResult {
    Response::builder()
        .status(204)
        .body(Body::Empty)
        .map_err(|_| Problem::internal())
}

/// Serves `handler` as this Lambda function until the runtime stops it. `state` is
/// built once per cold start and lives for the process.
pub async fn run_http<S, F, Fut>(state: S, handler: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let state: &'static S = Box::leak(Box::new(state));
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let response = handler(state, request);
        async move { Ok::<_, lambda_http::Error>(response.await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adds_request_id_and_maps_problems() {
        let request = http::Request::builder()
            .uri("/x")
            .body(Body::Empty)
            .unwrap();
        let response = handle("test", request, |_| async { Err(Problem::not_found()) }).await;
        assert_eq!(response.status(), 404);
        assert!(!response.headers()["x-request-id"].is_empty());
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_problem() {
        let request = http::Request::builder()
            .uri("/x")
            .body(Body::Empty)
            .unwrap();
        let response = handle("test", request, |_| async { panic!("boom: secret detail") }).await;
        assert_eq!(response.status(), 500);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        assert!(!text.contains("secret detail"));
    }
}
