//! `Idempotency-Key` on the wire: the header (1–255 visible ASCII characters), the hash
//! of the body it is bound to, and the replay of a stored response with
//! `idempotent-replayed: true`. The rule itself is a use-case step
//! ([`crate::app::idempotency`]).

use super::HandlerResult;
use crate::app::idempotency::{Created, Once};
use crate::app::AppError;
use crate::domain::content::DietitianId;
use crate::domain::TenantId;
use crate::ports::content::{IdempotencyKey, StoredResponse};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const REPLAY_HEADER: &str = "idempotent-replayed";
const MAX_KEY_CHARS: usize = 255;

/// The request's `Idempotency-Key`, validated (1–255 visible ASCII characters).
pub fn idempotency_key(request: &Request) -> Result<Option<String>, AppError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().ok().filter(|t| {
        !t.is_empty() && t.len() <= MAX_KEY_CHARS && t.bytes().all(|b| b.is_ascii_graphic())
    });
    text.map(|t| Some(t.to_owned())).ok_or_else(|| {
        AppError::Validation(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
        ))
    })
}

fn body_hash(request: &Request) -> String {
    crate::domain::hex(&Sha256::digest(super::body_bytes(request.body())))
}

/// The request's key for the use case `scope`, bound to its body (none without the
/// header).
pub fn once(
    request: &Request,
    scope: &'static str,
    tenant_id: &TenantId,
    dietitian_id: &DietitianId,
) -> Result<Option<Once>, AppError> {
    Ok(idempotency_key(request)?.map(|key| Once {
        key: IdempotencyKey {
            tenant_id: tenant_id.clone(),
            scope,
            key,
            dietitian_id: dietitian_id.clone(),
        },
        request_hash: body_hash(request),
    }))
}

/// The answer to a creating use case: the new thing rendered by `render` (and kept for
/// replays when the request had a key), or the stored answer replayed.
pub async fn created<T>(
    created: Created<'_, T>,
    render: impl FnOnce(&T) -> HandlerResult,
) -> HandlerResult {
    match created {
        Created::Fresh(value, held) => {
            let response = render(&value);
            match &response {
                Ok(rendered) => {
                    let body = match rendered.body() {
                        Body::Text(text) => text.clone(),
                        _ => String::new(),
                    };
                    held.complete(StoredResponse {
                        status: rendered.status().as_u16(),
                        body,
                    })
                    .await;
                }
                Err(_) => held.release().await,
            }
            response
        }
        Created::Replayed(stored) => Response::builder()
            .status(stored.status)
            .header("content-type", "application/json")
            .header(REPLAY_HEADER, "true")
            .body(Body::Text(stored.body))
            .map_err(|error| AppError::Internal(format!("replay: {error}"))),
    }
}
