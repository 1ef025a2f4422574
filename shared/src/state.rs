//! What each group of functions is built with, once per cold start: the ports (as trait
//! objects, so the same use cases run on DynamoDB in AWS and SQLite locally) and the
//! per-instance caches. The endpoint table (`functions/endpoints`) says which function
//! gets which.

use crate::app::limits::RateLimiter;
use crate::app::policy::GenerationPolicy;
use crate::ports::billing::BillingStore;
use crate::ports::content::ContentStore;
use crate::ports::llm::LlmProvider;
use crate::ports::{AdminStore, AuditStore, Clock, PolicyStore, TenantStore};
use std::sync::Arc;
use std::time::Duration;

/// `GET /v1/me`.
pub struct AccountState {
    /// Tenants (read-only); limits come from the rate limiter.
    pub store: Arc<dyn TenantStore>,
    pub limiter: Arc<RateLimiter>,
}

/// The data plane's content functions: consent, samples, reading generations.
pub struct ContentState {
    pub store: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
    /// The tenant's requests-per-minute limit, shared by every `/v1` function.
    pub limiter: Arc<RateLimiter>,
    /// The keys generations are sealed with (read: checked with).
    pub sealing: Arc<dyn crate::ports::sealing::SealingKeys>,
    /// The service's receipt key: generation answers are signed (spec section 11).
    pub receipts: Arc<dyn crate::ports::receipts::ReceiptSigner>,
}

/// Audit checkpoints (threat T07): the scheduled job that writes them and
/// `GET /admin/audit/verify`, which compares the chain with the newest one.
pub struct AuditCheckpointState {
    pub audit: Arc<dyn AuditStore>,
    pub checkpoints: Arc<dyn crate::ports::checkpoints::CheckpointStore>,
    /// The service's key: checkpoints are signed (and checked) with it.
    pub signer: Arc<dyn crate::ports::receipts::ReceiptSigner>,
    pub clock: Arc<dyn Clock>,
    /// The job only: an operator's re-anchor after a restore to an earlier moment.
    pub reanchor: Option<crate::domain::audit_checkpoint::Reanchor>,
}

/// `GET /.well-known/nutripro-receipt-keys`: the receipt key's public half.
pub struct ReceiptKeysState {
    pub receipts: Arc<dyn crate::ports::receipts::ReceiptSigner>,
}

/// `POST /v1/generations`.
pub struct GenerationState {
    pub store: Arc<dyn ContentStore>,
    /// Refused and blocked generations are audited (codes only, never text).
    pub audit: Arc<dyn AuditStore>,
    pub clock: Arc<dyn Clock>,
    pub llm: Arc<dyn LlmProvider>,
    /// The model requested from the provider unless settings name another.
    pub model: String,
    /// The control plane's say: kill switch, allowed kinds, caps, model.
    pub policy: GenerationPolicy,
    /// How long the model may take, retries included.
    pub llm_timeout: Duration,
    /// Reservations and the ledger.
    pub billing: Arc<dyn BillingStore>,
    /// The generation stored and billed as one write.
    pub commit: Arc<dyn crate::ports::billing::GenerationCommit>,
    /// The tenant's requests-per-minute limit, shared with every `/v1` function.
    pub limiter: Arc<RateLimiter>,
    /// Where budget alerts are published (EventBridge in AWS, the log locally).
    pub events: Arc<dyn crate::ports::events::EventPublisher>,
    /// The keys generations are sealed with (threat T05).
    pub sealing: Arc<dyn crate::ports::sealing::SealingKeys>,
    /// The service's receipt key: generation answers are signed (spec section 11).
    pub receipts: Arc<dyn crate::ports::receipts::ReceiptSigner>,
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

/// What the safety review endpoints are built with: tenants (to know they exist) and
/// the content they read.
pub struct ReviewState {
    pub store: Arc<dyn AdminStore>,
    pub content: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
    /// The keys generations are checked with.
    pub sealing: Arc<dyn crate::ports::sealing::SealingKeys>,
}

/// What the data plane's usage endpoint is built with.
pub struct UsageState {
    /// Tenant, settings and plans (the budget and currency in force).
    pub store: Arc<dyn PolicyStore>,
    pub billing: Arc<dyn BillingStore>,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<RateLimiter>,
}
