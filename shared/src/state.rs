//! What content and admin functions are built with, once per cold start.

use crate::http::RateLimiter;
use crate::ports::billing::BillingStore;
use crate::ports::content::ContentStore;
use crate::ports::{AdminStore, AuditStore, Clock, PolicyStore};
use std::sync::Arc;

pub struct ContentState {
    pub store: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
    /// The tenant's requests-per-minute limit, shared by every `/v1` function.
    pub limiter: Arc<RateLimiter>,
}

/// What control-plane (admin) functions are built with.
pub struct AdminState {
    pub store: Arc<dyn AdminStore>,
    pub audit: Arc<dyn AuditStore>,
    pub clock: Arc<dyn Clock>,
}

/// What billing admin functions are built with: the admin state and the billing store.
pub struct BillingAdminState {
    pub admin: AdminState,
    pub billing: Arc<dyn BillingStore>,
}

/// What the data plane's usage endpoint is built with.
pub struct UsageState {
    /// Tenant, settings and plans (the budget and currency in force).
    pub store: Arc<dyn PolicyStore>,
    pub billing: Arc<dyn BillingStore>,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<RateLimiter>,
}
