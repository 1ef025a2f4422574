//! `Idempotency-Key` for POSTs that create things: a retry with the same key and the same
//! body gets the stored response (the work runs once, so it is billed once); the same
//! key with another body is 422; a duplicate while the first is still running is 409.
//! Only successful (2xx) responses are stored: after a failure the key is released so the
//! client can retry.

use super::{HandlerResult, Problem};
use crate::domain::content::DietitianId;
use crate::domain::TenantId;
use crate::ports::content::{ContentStore, IdempotencyClaim, IdempotencyKey, StoredResponse};
use crate::ports::Clock;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::future::Future;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const REPLAY_HEADER: &str = "idempotent-replayed";
const MAX_KEY_CHARS: usize = 255;

/// The request's `Idempotency-Key`, validated (1–255 visible ASCII characters).
pub fn idempotency_key(request: &Request) -> Result<Option<String>, Problem> {
    let Some(value) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().ok().filter(|t| {
        !t.is_empty() && t.len() <= MAX_KEY_CHARS && t.bytes().all(|b| b.is_ascii_graphic())
    });
    text.map(|t| Some(t.to_owned())).ok_or_else(|| {
        Problem::validation(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
        ))
    })
}

fn body_hash(request: &Request) -> String {
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_reused() -> Problem {
    Problem::new(
        422,
        "idempotency-key-reused",
        "Idempotency Key Reused",
        "This Idempotency-Key was used with a different request body.",
    )
}

/// Runs `work` at most once per (tenant, scope, key); see the module docs.
pub async fn run_idempotently<F, Fut>(
    store: &dyn ContentStore,
    clock: &dyn Clock,
    request: &Request,
    scope: &'static str,
    tenant_id: &TenantId,
    dietitian_id: &DietitianId,
    work: F,
) -> HandlerResult
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let Some(key) = idempotency_key(request)? else {
        return work().await;
    };
    let key = IdempotencyKey {
        tenant_id: tenant_id.clone(),
        scope,
        key,
        dietitian_id: dietitian_id.clone(),
    };
    let hash = body_hash(request);
    match store
        .claim_idempotency_key(&key, &hash, clock.now())
        .await?
    {
        IdempotencyClaim::Completed {
            request_hash,
            response,
        } if request_hash == hash => {
            return Response::builder()
                .status(response.status)
                .header("content-type", "application/json")
                .header(REPLAY_HEADER, "true")
                .body(Body::Text(response.body))
                .map_err(|_| Problem::internal());
        }
        IdempotencyClaim::Completed { .. } => return Err(key_reused()),
        IdempotencyClaim::InProgress { request_hash } if request_hash != hash => {
            return Err(key_reused())
        }
        IdempotencyClaim::InProgress { .. } => {
            return Err(Problem::new(
                409,
                "idempotency-in-progress",
                "Request In Progress",
                "A request with this Idempotency-Key is still running; retry later.",
            ))
        }
        IdempotencyClaim::Claimed => {}
    }
    let outcome = work().await;
    match &outcome {
        Ok(response) if response.status().is_success() => {
            let body = match response.body() {
                Body::Text(text) => text.clone(),
                _ => String::new(),
            };
            let stored = StoredResponse {
                status: response.status().as_u16(),
                body,
            };
            if let Err(error) = store
                .complete_idempotency_key(&key, &stored, clock.now())
                .await
            {
                // The work is done and its response goes out; a retry will get 409 until
                // the lease ends, never a second execution within it.
                tracing::error!(%error, "could not store the idempotent response");
            }
        }
        _ => {
            if let Err(error) = store.release_idempotency_key(&key).await {
                tracing::warn!(%error, "could not release an idempotency key");
            }
        }
    }
    outcome
}
