//! `Idempotency-Key` as a step of the creating use cases: a retry with the same key and
//! the same body gets the stored response (the work runs once, so it is billed once); the
//! same key with another body is refused; a duplicate while the first is still running is
//! refused. Only successful responses are kept: after a failure the key is released so
//! the client can retry.
//!
//! The use case claims ([`claim`]) before its work and settles the claim with the work's
//! result ([`Held::settle`]); the HTTP layer completes it with the rendered response
//! ([`Held::complete`]), since the response is what a replay must return byte for byte.

use super::AppError;
use crate::ports::content::{ContentStore, IdempotencyClaim, IdempotencyKey, StoredResponse};
use crate::ports::Clock;

/// A request's idempotency key and the hash of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    pub key: IdempotencyKey,
    pub request_hash: String,
}

/// What a creating use case produced: something new, or the stored answer to an earlier
/// identical request.
pub enum Created<'a, T> {
    /// Done now. If the request carried a key, the HTTP layer completes `held` with the
    /// response it sends.
    Fresh(T, Held<'a>),
    /// The stored response of the earlier request with this key and body.
    Replayed(StoredResponse),
}

/// A claimed key (or none, for a request without one), to be completed or released.
pub struct Held<'a> {
    claim: Option<(&'a dyn ContentStore, &'a dyn Clock, IdempotencyKey)>,
}

/// Claims the key of `once` (if any): the claim to hold, or the stored response to
/// replay. `once` is the parsed header: a malformed one is refused here, at the step
/// where keys matter.
pub async fn claim<'a>(
    store: &'a dyn ContentStore,
    clock: &'a dyn Clock,
    once: Result<Option<Once>, AppError>,
) -> Result<Result<Held<'a>, StoredResponse>, AppError> {
    let Some(Once { key, request_hash }) = once? else {
        return Ok(Ok(Held { claim: None }));
    };
    match store
        .claim_idempotency_key(&key, &request_hash, clock.now())
        .await?
    {
        IdempotencyClaim::Completed {
            request_hash: stored,
            response,
        } if stored == request_hash => Ok(Err(response)),
        IdempotencyClaim::Completed { .. } => Err(AppError::IdempotencyKeyReused),
        IdempotencyClaim::InProgress {
            request_hash: other,
        } if other != request_hash => Err(AppError::IdempotencyKeyReused),
        IdempotencyClaim::InProgress { .. } => Err(AppError::IdempotencyInProgress),
        IdempotencyClaim::Claimed => Ok(Ok(Held {
            claim: Some((store, clock, key)),
        })),
    }
}

impl<'a> Held<'a> {
    /// The work's result: on success, the claim rides along to be completed; on
    /// failure it is released, so the client may retry.
    pub async fn settle<T>(self, result: Result<T, AppError>) -> Result<Created<'a, T>, AppError> {
        match result {
            Ok(value) => Ok(Created::Fresh(value, self)),
            Err(error) => {
                self.release().await;
                Err(error)
            }
        }
    }

    /// Keeps `response` for replays.
    pub async fn complete(self, response: StoredResponse) {
        let Some((store, clock, key)) = self.claim else {
            return;
        };
        if let Err(error) = store
            .complete_idempotency_key(&key, &response, clock.now())
            .await
        {
            // The work is done and its response goes out; a retry will get 409 until
            // the lease ends, never a second execution within it.
            tracing::error!(%error, "could not store the idempotent response");
        }
    }

    /// Gives the key up (the request failed).
    pub async fn release(self) {
        let Some((store, _, key)) = self.claim else {
            return;
        };
        if let Err(error) = store.release_idempotency_key(&key).await {
            tracing::warn!(%error, "could not release an idempotency key");
        }
    }
}
