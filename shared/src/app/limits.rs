//! The per-tenant rate limit (threat T13): a fixed one-minute window counted with one
//! conditional store write per request, so every instance of every function shares the
//! same count and N concurrent requests against a limit L let exactly L through. The
//! tenant's terms (its settings and plan: the limit and the budget in force) are read
//! through a short per-instance cache, which the generation reuses after the rate check.

use super::AppError;
use crate::cache::TtlCache;
use crate::domain::billing::RATE_WINDOW_SECONDS;
use crate::domain::signatures::{Rejection, RequestSignature, NONCE_RETENTION_SECONDS};
use crate::domain::{KeyId, TenantId, Timestamp};
use crate::ports::billing::{tenant_terms, BillingStore, RateWindowOwner, TenantTerms};
use crate::ports::{Clock, PolicyStore};
use std::sync::Arc;
use std::time::Duration;

/// How long an instance trusts a tenant's terms it has read.
pub const LIMIT_TTL: Duration = Duration::from_secs(10);
/// Bound on cached tenants per instance.
const MAX_CACHED_TENANTS: usize = 1_000;

/// The per-tenant rate limit of the data plane: every `/v1` request of a tenant counts
/// in the same window, whichever function serves it.
pub struct RateLimiter {
    store: Arc<dyn PolicyStore>,
    billing: Arc<dyn BillingStore>,
    clock: Arc<dyn Clock>,
    terms: TtlCache<TenantId, TenantTerms>,
}

impl RateLimiter {
    /// Terms read from `store` (settings, else the plan), cached for [`LIMIT_TTL`].
    pub fn new(
        store: Arc<dyn PolicyStore>,
        billing: Arc<dyn BillingStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_ttl(store, billing, clock, LIMIT_TTL)
    }

    pub fn with_ttl(
        store: Arc<dyn PolicyStore>,
        billing: Arc<dyn BillingStore>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            billing,
            clock,
            terms: TtlCache::new(ttl, MAX_CACHED_TENANTS),
        }
    }

    /// The tenant's settings and billing terms (its rate limit among them), cached for
    /// the TTL: a use case that needs them after the rate check reads no store again.
    pub async fn terms(&self, tenant: &TenantId) -> Result<TenantTerms, AppError> {
        self.terms
            .get_or_try_load(tenant, || async {
                // The authorizer vouched for this tenant; if it is gone, so is the
                // credential.
                tenant_terms(&*self.store, tenant)
                    .await?
                    .ok_or(AppError::Unauthorized)
            })
            .await
    }

    /// Accepts a verified request signature's nonce once (remembered for
    /// [`NONCE_RETENTION_SECONDS`], longer than any signature stays fresh): a second use
    /// is a replay.
    pub async fn claim_nonce(
        &self,
        key: &KeyId,
        signature: &RequestSignature,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let claimed = self
            .billing
            .claim_nonce(
                key,
                &signature.nonce,
                now,
                now.plus_seconds(NONCE_RETENTION_SECONDS),
            )
            .await?;
        if claimed {
            Ok(())
        } else {
            Err(AppError::InvalidSignature(Rejection::Replayed))
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Counts one request of `tenant` now: where it stands in its window, or
    /// [`AppError::RateLimited`] when the window is full.
    pub async fn admit(&self, tenant: &TenantId) -> Result<RateLimitStatus, AppError> {
        self.admit_key(tenant, None).await
    }

    /// As [`RateLimiter::admit`], for a key with its own limit `(key id, limit)`: the
    /// key's window is counted first (a request it refuses does not use up the
    /// tenant's), then the tenant's; the answer is the tighter of the two.
    pub async fn admit_key(
        &self,
        tenant: &TenantId,
        key: Option<(&KeyId, u32)>,
    ) -> Result<RateLimitStatus, AppError> {
        let now = self.clock.now();
        let mut key_status = None;
        if let Some((key_id, key_limit)) = key {
            let owner = RateWindowOwner::key(tenant, key_id);
            let mut status = count_request(&*self.billing, &owner, key_limit, now).await?;
            status.per_key = true;
            if !status.allowed {
                return Err(AppError::RateLimited(status));
            }
            key_status = Some(status);
        }
        let limit = self.terms(tenant).await?.requests_per_minute;
        let status =
            count_request(&*self.billing, &RateWindowOwner::tenant(tenant), limit, now).await?;
        if !status.allowed {
            return Err(AppError::RateLimited(status));
        }
        Ok(match key_status {
            Some(key) if key.remaining < status.remaining => key,
            _ => status,
        })
    }
}

/// Where a request stands in its tenant's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends (at least 1).
    pub reset_seconds: i64,
    pub allowed: bool,
    /// The window is the API key's own, not its tenant's.
    pub per_key: bool,
}

/// Counts one request of `owner` at `now` against `limit` requests per minute.
pub async fn count_request(
    store: &dyn BillingStore,
    owner: &RateWindowOwner<'_>,
    limit: u32,
    now: Timestamp,
) -> Result<RateLimitStatus, AppError> {
    let now_seconds = now.as_millis().div_euclid(1000);
    let window = now_seconds - now_seconds.rem_euclid(RATE_WINDOW_SECONDS);
    let window_end = window + RATE_WINDOW_SECONDS;
    // Kept a window past its end, then DynamoDB's TTL removes it.
    let expires_at = Timestamp::from_millis((window_end + RATE_WINDOW_SECONDS) * 1000);
    let count = store
        .count_request(owner, window, limit, expires_at)
        .await?;
    Ok(RateLimitStatus {
        limit,
        remaining: count.map_or(0, |c| limit.saturating_sub(c)),
        reset_seconds: (window_end - now_seconds).max(1),
        allowed: count.is_some(),
        per_key: false,
    })
}
