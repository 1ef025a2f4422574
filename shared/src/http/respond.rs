//! The envelope around every handler: request-scoped logging, the one mapping of
//! [`AppError`] to problem+json, panic containment, `x-request-id`, the hardening
//! headers and, on the data plane, the `RateLimit-*` headers. The Lambda host and the
//! local gateway both go through [`serve`], so they answer identically.

use super::{context, Problem, TenantContext};
use crate::app::admin::AdminCall;
use crate::app::limits::{RateLimitStatus, RateLimiter};
use crate::app::AppError;
use crate::domain::api_key::Scope;
use crate::domain::signatures::{verify_request, RequestSignature, SignedRequest};
use crate::metrics;
use futures_util::FutureExt;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tracing::Instrument;

/// What a handler returns: a response, or what went wrong.
pub type HandlerResult = Result<Response<Body>, AppError>;

/// One request, as a handler gets it from [`serve`].
pub struct Call {
    pub request: Request,
    /// Where the request stood in its tenant's rate window, once admitted: the envelope
    /// puts it on whatever the handler answers.
    rate: Arc<OnceLock<RateLimitStatus>>,
}

impl Call {
    /// The data plane's first step: the tenant from the authorizer context (401 without
    /// one, threat T03), counted against its rate limit (429 `rate-limited` when the
    /// window is full, before any other work).
    pub async fn admit(&self, limiter: &RateLimiter) -> Result<TenantContext, AppError> {
        self.admit_with(limiter, None).await
    }

    /// [`Call::admit`] for a route that requires `scope` of the key (spec section 11):
    /// 403 `insufficient-scope` before anything is counted or done.
    pub async fn admit_for(
        &self,
        limiter: &RateLimiter,
        scope: Scope,
    ) -> Result<TenantContext, AppError> {
        self.admit_with(limiter, Some(scope)).await
    }

    async fn admit_with(
        &self,
        limiter: &RateLimiter,
        scope: Option<Scope>,
    ) -> Result<TenantContext, AppError> {
        let mut caller = TenantContext::from_request(&self.request)?;
        if let Some(bound) = &caller.client_cert_sha256 {
            // Again here: the authorizer's decision may be a cached one, made for a
            // request that presented the certificate.
            let presented = context::client_certificate(&self.request)
                .as_deref()
                .and_then(crate::domain::api_key::certificate_fingerprint);
            if presented.as_deref() != Some(bound.as_str()) {
                tracing::warn!(key_id = %caller.key_id, "client certificate missing or not the key's");
                return Err(AppError::Unauthorized);
            }
        }
        caller.request_signature = self.verify_signature(&caller, limiter.now())?;
        if let Some(scope) = scope {
            if !caller.scopes.contains(&scope) {
                return Err(AppError::InsufficientScope(scope));
            }
        }
        if let Some(signature) = &caller.request_signature {
            // Only signed requests pay this write (one conditional put).
            limiter.claim_nonce(&caller.key_id, signature).await?;
        }
        let key_limit = caller
            .key_requests_per_minute
            .map(|limit| (&caller.key_id, limit));
        let admitted = limiter.admit_key(&caller.tenant_id, key_limit).await;
        if let Ok(status) | Err(AppError::RateLimited(status)) = &admitted {
            let _ = self.rate.set(*status);
        }
        admitted.map(|_| caller)
    }

    /// A successful answer signed as the service's receipt for this request (spec
    /// section 11, T08): status, body digest, request id and the request's own signature
    /// when it had one. See [`crate::app::receipts::sign_response`].
    pub async fn receipted(
        &self,
        caller: &TenantContext,
        signer: &dyn crate::ports::receipts::ReceiptSigner,
        now: crate::domain::Timestamp,
        response: Response<Body>,
    ) -> Response<Body> {
        crate::app::receipts::sign_response(
            signer,
            now,
            &context::request_id(&self.request),
            caller.request_signature.as_ref(),
            response,
        )
        .await
    }

    /// Checks the request's HTTP message signature with the key the authorizer passed
    /// on (spec section 11): the signature over the request line and headers, and the
    /// body against the `Content-Digest` it covers. No key registered: nothing to check.
    fn verify_signature(
        &self,
        caller: &TenantContext,
        now: crate::domain::Timestamp,
    ) -> Result<Option<RequestSignature>, AppError> {
        let Some(key) = &caller.signing_key else {
            return Ok(None);
        };
        let request = &self.request;
        let body = super::body_bytes(request.body());
        let (path, query) = (
            context::client_path(request),
            context::canonical_query(request),
        );
        let signed = SignedRequest {
            method: request.method().as_str(),
            path: &path,
            query: query.as_deref(),
            headers: request.headers(),
            body,
        };
        verify_request(&signed, &caller.key_id, key, now).map_err(|rejection| {
            tracing::warn!(reason = rejection.code(), key_id = %caller.key_id, "request signature refused");
            AppError::InvalidSignature(rejection)
        })
    }

    /// The control plane's first step: the administrator from the admin authorizer's
    /// context (401 without one, threat T15) and what the request names.
    pub fn admin(&self) -> Result<AdminCall, AppError> {
        let request = &self.request;
        Ok(AdminCall {
            principal: context::admin_principal(request)?,
            path_tenant: super::path_param(request, super::TENANT_PARAM).ok(),
            query_tenant: super::query_param(request, "tenant_id"),
            target: request.uri().path().to_owned(),
            request_id: context::request_id(request),
            source_ip: context::source_ip(request).unwrap_or_default(),
        })
    }
}

/// Runs one endpoint's logic for one request.
pub async fn serve<F, Fut>(function: &'static str, request: Request, logic: F) -> Response<Body>
where
    F: FnOnce(Call) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let request_id = context::request_id(&request);
    // Only the tenant, for the log span and metrics: the whole context (its signing key
    // included) is read once, by `Call::admit`.
    let tenant_id = context::authorizer_tenant(&request).unwrap_or_default();
    let span = tracing::info_span!("request", %request_id, function, tenant_id, method = %request.method());
    let started = Instant::now();
    let rate = Arc::new(OnceLock::new());
    let call = Call {
        request,
        rate: rate.clone(),
    };
    let record = Arc::new(Mutex::new(metrics::Record::new(function)));
    let outcome = metrics::scope(
        record.clone(),
        AssertUnwindSafe(logic(call))
            .catch_unwind()
            .instrument(span.clone()),
    )
    .await;
    let mut refusal = None;
    let mut response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            refusal = match &error {
                AppError::RateLimited(_) => Some(metrics::RATE_LIMITED),
                AppError::BudgetExhausted { .. } => Some(metrics::BUDGET_EXHAUSTED),
                AppError::UnsafeRequest(_) => Some(metrics::SAFETY_BLOCKED),
                _ => None,
            };
            if let AppError::Unavailable(cause)
            | AppError::StoreUnavailable(cause)
            | AppError::Internal(cause) = &error
            {
                span.in_scope(|| tracing::error!(error = %cause, "request failed"));
            }
            let retry_after = error.retry_after_seconds();
            let mut response = Problem::from(error).to_response(&request_id);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", http::HeaderValue::from(seconds));
            }
            response
        }
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            Problem::internal().to_response(&request_id)
        }
    };
    if let Some(status) = rate.get() {
        super::ratelimit::apply(status, &mut response);
    }
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
    let mut record = record.lock().unwrap_or_else(|p| p.into_inner());
    write_metrics(&mut record, &tenant_id, status, latency_us, refusal);
    response
}

/// The request's metrics: per function its latency and whether it failed (5xx), per
/// tenant its outcome, with whatever the use case added.
fn write_metrics(
    record: &mut metrics::Record,
    tenant_id: &str,
    status: u16,
    latency_us: u64,
    refusal: Option<&'static str>,
) {
    let server_error = f64::from(u8::from(status >= 500));
    record
        .tenant(tenant_id)
        .function_metric(metrics::REQUESTS, 1.0)
        .function_metric(metrics::LATENCY, latency_us as f64 / 1000.0)
        .function_metric(metrics::ERRORS, server_error)
        .tenant_metric(metrics::REQUESTS, 1.0)
        .tenant_metric(
            metrics::CLIENT_ERRORS,
            f64::from(u8::from((400..500).contains(&status))),
        )
        .tenant_metric(metrics::SERVER_ERRORS, server_error);
    if let Some(name) = refusal {
        record.tenant_metric(name, 1.0);
    }
    record.emit();
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, body: &T) -> HandlerResult {
    let text = serde_json::to_string(body)
        .map_err(|error| AppError::Internal(format!("response serialization failed: {error}")))?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .map_err(|error| AppError::Internal(format!("response: {error}")))
}

pub fn no_content() -> HandlerResult {
    Response::builder()
        .status(204)
        .body(Body::Empty)
        .map_err(|error| AppError::Internal(format!("response: {error}")))
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
        let response = serve("test", request, |_| async { Err(AppError::NotFound) }).await;
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
        let response = serve("test", request, |_| async { panic!("boom: secret detail") }).await;
        assert_eq!(response.status(), 500);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        assert!(!text.contains("secret detail"));
    }

    fn authorized(tenant: &str) -> Request {
        use lambda_http::aws_lambda_events::apigw::{
            ApiGatewayProxyRequestContext, ApiGatewayRequestAuthorizer,
        };
        let fields = [
            (crate::http::AUTHORIZER_TENANT_ID, tenant),
            (crate::http::AUTHORIZER_KEY_ID, "k-1"),
            (crate::http::AUTHORIZER_PLAN, "starter"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), serde_json::json!(value)))
        .collect();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.fields = fields;
        let mut context = ApiGatewayProxyRequestContext::default();
        context.authorizer = authorizer;
        lambda_http::RequestExt::with_request_context(
            http::Request::builder()
                .uri("/v1/generations")
                .body(Body::Empty)
                .unwrap(),
            lambda_http::request::RequestContext::ApiGatewayV1(context),
        )
    }

    #[tokio::test]
    async fn every_request_writes_one_metrics_line_with_its_outcome() {
        // The record is written when the response is ready: capture around the await.
        crate::metrics::start_capture();
        let refused = serve("create_generation", authorized("t-42"), |_| async {
            crate::metrics::add_tenant(crate::metrics::PROMPT_TOKENS, 7.0);
            Err(AppError::BudgetExhausted {
                budget_micros: 1,
                amount_micros: 2,
                currency: "USD".into(),
            })
        })
        .await;
        let failed = serve("get_usage", authorized("t-42"), |_| async {
            Err(AppError::Internal("boom".into()))
        })
        .await;
        let lines = crate::metrics::finish_capture();
        assert_eq!(
            (refused.status().as_u16(), failed.status().as_u16()),
            (402, 500)
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["Function"], "create_generation");
        assert_eq!(first["TenantId"], "t-42");
        assert_eq!(first["BudgetExhausted"], 1);
        assert_eq!(first["PromptTokens"], 7);
        assert_eq!(first["4xx"], 1);
        assert_eq!(first["Errors"], 0);
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["5xx"], 1);
        assert_eq!(second["Errors"], 1);
        assert!(second.get("BudgetExhausted").is_none());
    }

    /// Issue 18, mutual TLS: a decision the gateway cached for a request with the bound
    /// certificate does not let a request without it through.
    #[tokio::test]
    async fn a_certificate_bound_key_is_checked_again_in_the_handler() {
        use crate::domain::{PlanId, Tenant, TenantName, Timestamp};
        use crate::ports::TenantStore;
        let store =
            std::sync::Arc::new(crate::adapters::sqlite::SqliteStore::open_in_memory().unwrap());
        let tenant = Tenant::new(
            TenantName::parse("Bound").unwrap(),
            PlanId::new(PlanId::DEFAULT),
            Timestamp::now(),
        );
        store.create_tenant(&tenant).await.unwrap();
        let limiter = &RateLimiter::new(
            store.clone(),
            store.clone(),
            std::sync::Arc::new(crate::ports::SystemClock),
        );
        let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let other = "-----BEGIN CERTIFICATE-----\nBQQD\n-----END CERTIFICATE-----\n";
        let fingerprint = crate::domain::api_key::certificate_fingerprint(pem).unwrap();
        let bound = |presented: Option<&str>| {
            let request = authorized(tenant.id.as_str());
            let Some(lambda_http::request::RequestContext::ApiGatewayV1(mut context)) =
                lambda_http::RequestExt::request_context_ref(&request).cloned()
            else {
                unreachable!()
            };
            context.authorizer.fields.insert(
                crate::http::AUTHORIZER_CLIENT_CERT.into(),
                serde_json::json!(fingerprint),
            );
            if let Some(pem) = presented {
                context.identity.other.insert(
                    "clientCert".into(),
                    serde_json::json!({ "clientCertPem": pem }),
                );
            }
            lambda_http::RequestExt::with_request_context(
                request,
                lambda_http::request::RequestContext::ApiGatewayV1(context),
            )
        };
        for (presented, status) in [(None, 401), (Some(other), 401), (Some(pem), 204)] {
            let response = serve("get_me", bound(presented), |call| async move {
                call.admit(limiter).await?;
                no_content()
            })
            .await;
            assert_eq!(response.status(), status, "{presented:?}");
        }
    }

    #[tokio::test]
    async fn dependency_causes_are_logged_never_answered() {
        let request = http::Request::builder()
            .uri("/x")
            .body(Body::Empty)
            .unwrap();
        let response = serve("test", request, |_| async {
            Err(AppError::Unavailable(
                "table arn:aws:dynamodb:secret".into(),
            ))
        })
        .await;
        assert_eq!(response.status(), 503);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        assert!(!text.contains("arn"), "{text}");
    }
}
