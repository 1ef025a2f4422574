//! The per-tenant rate limit (threat T13): a fixed one-minute window counted with one
//! conditional store write per request, so every instance of every function shares the
//! same count and N concurrent requests against a limit L let exactly L through.
//! Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a
//! refused request gets 429 `rate-limited` with `Retry-After`.

use super::{handle, HandlerResult, Problem, TenantContext};
use crate::domain::billing::RATE_WINDOW_SECONDS;
use crate::domain::{TenantId, Timestamp};
use crate::ports::billing::{tenant_terms, BillingStore, TenantTerms};
use crate::ports::{Clock, PolicyStore};
use lambda_http::{Body, Request, Response};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an instance trusts a tenant's limit it has read.
pub const LIMIT_TTL: Duration = Duration::from_secs(10);
/// Bound on cached tenants per instance.
const MAX_CACHED_TENANTS: usize = 1_000;

/// The per-tenant rate limit of the data plane: every `/v1` request of a tenant counts
/// in the same window, whichever function serves it.
pub struct RateLimiter {
    store: Arc<dyn PolicyStore>,
    billing: Arc<dyn BillingStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    terms: Mutex<HashMap<TenantId, (Instant, TenantTerms)>>,
}

impl RateLimiter {
    /// Limits read from `store` (settings, else the plan), cached for [`LIMIT_TTL`].
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
            ttl,
            terms: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, (Instant, TenantTerms)>> {
        self.terms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant's settings and billing terms (its rate limit among them), cached for
    /// the TTL: a handler that needs them after the rate check reads no store again.
    pub async fn terms(&self, tenant: &TenantId) -> Result<TenantTerms, Problem> {
        if let Some((at, terms)) = self.cache().get(tenant) {
            if at.elapsed() < self.ttl {
                return Ok(terms.clone());
            }
        }
        // The authorizer vouched for this tenant; if it is gone, so is the credential.
        let terms = tenant_terms(&*self.store, tenant)
            .await?
            .ok_or_else(Problem::unauthorized)?;
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED_TENANTS {
            cache.clear();
        }
        cache.insert(tenant.clone(), (Instant::now(), terms.clone()));
        Ok(terms)
    }

    /// Counts one request of `tenant` now.
    pub async fn check(&self, tenant: &TenantId) -> Result<RateLimitStatus, Problem> {
        let limit = self.terms(tenant).await?.requests_per_minute;
        count_request(&*self.billing, tenant, limit, self.clock.now()).await
    }
}

/// [`handle`] for the data plane: reads the caller from the authorizer context, counts
/// the request against the tenant's rate limit (429 `rate-limited` when full, before any
/// other work), runs `logic`, and puts the `RateLimit-*` headers on whatever it answers.
pub async fn handle_limited<F, Fut>(
    function: &'static str,
    limiter: &RateLimiter,
    request: Request,
    logic: F,
) -> Response<Body>
where
    F: FnOnce(Request, TenantContext) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let seen: Mutex<Option<RateLimitStatus>> = Mutex::new(None);
    let mut response = handle(function, request, |request| async {
        let caller = TenantContext::from_request(&request)?;
        let status = limiter.check(&caller.tenant_id).await?;
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        if !status.allowed {
            return Err(status.problem());
        }
        logic(request, caller).await
    })
    .await;
    if let Some(status) = *seen.lock().unwrap_or_else(|p| p.into_inner()) {
        status.apply(&mut response);
    }
    response
}

/// Where a request stands in its tenant's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends (at least 1).
    pub reset_seconds: i64,
    pub allowed: bool,
}

impl RateLimitStatus {
    /// Adds the `RateLimit-*` headers (and `Retry-After` when refused).
    pub fn apply(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        set("ratelimit-limit", self.limit.to_string());
        set("ratelimit-remaining", self.remaining.to_string());
        set("ratelimit-reset", self.reset_seconds.to_string());
        if !self.allowed {
            set("retry-after", self.reset_seconds.to_string());
        }
    }

    pub fn problem(&self) -> Problem {
        Problem::new(
            429,
            "rate-limited",
            "Too Many Requests",
            format!(
                "This tenant may make {} requests per minute; retry in {} s.",
                self.limit, self.reset_seconds
            ),
        )
    }
}

/// Counts one request of `tenant` at `now` against `limit` requests per minute.
pub async fn count_request(
    store: &dyn BillingStore,
    tenant: &TenantId,
    limit: u32,
    now: Timestamp,
) -> Result<RateLimitStatus, Problem> {
    let now_seconds = now.as_millis().div_euclid(1000);
    let window = now_seconds - now_seconds.rem_euclid(RATE_WINDOW_SECONDS);
    let window_end = window + RATE_WINDOW_SECONDS;
    // Kept a window past its end, then DynamoDB's TTL removes it.
    let expires_at = Timestamp::from_millis((window_end + RATE_WINDOW_SECONDS) * 1000);
    let count = store
        .count_request(tenant, window, limit, expires_at)
        .await?;
    Ok(RateLimitStatus {
        limit,
        remaining: count.map_or(0, |c| limit.saturating_sub(c)),
        reset_seconds: (window_end - now_seconds).max(1),
        allowed: count.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_retry_after_and_the_limit_headers() {
        let status = RateLimitStatus {
            limit: 5,
            remaining: 0,
            reset_seconds: 17,
            allowed: false,
        };
        let mut response = status.problem().to_response("req-1");
        status.apply(&mut response);
        assert_eq!(response.status(), 429);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("retry-after"), "17");
        assert_eq!(header("ratelimit-limit"), "5");
        assert_eq!(header("ratelimit-remaining"), "0");
        assert_eq!(header("ratelimit-reset"), "17");
        let mut allowed = Response::new(Body::Empty);
        RateLimitStatus {
            allowed: true,
            remaining: 3,
            ..status
        }
        .apply(&mut allowed);
        assert!(!allowed.headers().contains_key("retry-after"));
        assert_eq!(allowed.headers()["ratelimit-remaining"], "3");
    }
}
