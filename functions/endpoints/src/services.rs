//! What a row of the table is built from: the ports as trait objects and a few settings,
//! supplied by a wiring — DynamoDB, Secrets Manager and OpenAI in AWS
//! ([`crate::aws::AwsServices`]), the embedded store and the local identity provider in
//! local mode (`infra/local`). A row asks only for what its function needs; in AWS each
//! request reads the function's environment (its table names, secret ARN, …), so a
//! function asking for something its template resource does not give it fails at init,
//! loudly.

use nutripro_shared::adapters::jwt::IdpConfig;
use nutripro_shared::app::limits::RateLimiter;
use nutripro_shared::app::policy::GenerationPolicy;
use nutripro_shared::domain::audit_checkpoint::Reanchor;
use nutripro_shared::ports::billing::{BillingStore, GenerationCommit};
use nutripro_shared::ports::checkpoints::CheckpointStore;
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::events::EventPublisher;
use nutripro_shared::ports::llm::LlmProvider;
use nutripro_shared::ports::receipts::ReceiptSigner;
use nutripro_shared::ports::sealing::SealingKeys;
use nutripro_shared::ports::{AdminStore, AuditStore, Clock};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WiringError {
    #[error("unknown function {0:?}: it is not a row of the endpoint table")]
    UnknownFunction(String),
    #[error("no function name: set the function's Handler (Lambda passes it as _HANDLER)")]
    NoFunctionName,
    #[error("environment variable {0} is required by this function")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
    #[error("{0}")]
    Other(String),
}

/// The model a generation function talks to.
#[derive(Clone)]
pub struct Llm {
    pub provider: Arc<dyn LlmProvider>,
    /// Asked for unless settings name another.
    pub model: String,
    /// The deadline of one generation's model call, retries included.
    pub timeout: Duration,
}

pub trait Services {
    fn clock(&self) -> Arc<dyn Clock>;
    /// Tenants, keys, settings and plans.
    fn control_plane(&self) -> Result<Arc<dyn AdminStore>, WiringError>;
    /// Consent, samples, generations, idempotency records.
    fn content(&self) -> Result<Arc<dyn ContentStore>, WiringError>;
    /// Rate windows, reservations, the ledger, invoices.
    fn billing(&self) -> Result<Arc<dyn BillingStore>, WiringError>;
    fn audit(&self) -> Result<Arc<dyn AuditStore>, WiringError>;
    /// Where platform events (budget alerts) go.
    fn events(&self) -> Result<Arc<dyn EventPublisher>, WiringError>;
    /// The keys stored generations are sealed with.
    fn sealing(&self) -> Result<Arc<dyn SealingKeys>, WiringError>;
    /// The key generation answers are signed with (receipts).
    fn receipts(&self) -> Result<Arc<dyn ReceiptSigner>, WiringError>;
    /// Where signed audit checkpoints are kept.
    fn checkpoints(&self) -> Result<Arc<dyn CheckpointStore>, WiringError>;
    /// The checkpoint job's re-anchor after a restore to an earlier moment, if an
    /// operator gave one (`AUDIT_REANCHOR`; locally `checkpoint --reanchor`).
    fn audit_reanchor(&self) -> Result<Option<Reanchor>, WiringError> {
        Ok(None)
    }
    /// A generation stored and billed in one write (content and billing together).
    fn generation_commit(&self) -> Result<Arc<dyn GenerationCommit>, WiringError>;
    fn llm(&self) -> Result<Llm, WiringError>;
    /// The identity provider whose access tokens the admin authorizer accepts.
    fn admin_identity(&self) -> Result<IdpConfig, WiringError>;
    /// How long an instance trusts settings it read (in AWS 10 s; locally zero, so a
    /// change applies at once).
    fn settings_ttl(&self) -> Duration;
    /// A key's last-used time is written at most once per this many seconds.
    fn key_last_used_interval_seconds(&self) -> Result<i64, WiringError>;

    /// The data plane's rate limiter: limits from the control plane, windows in the
    /// billing store.
    fn limiter(&self) -> Result<Arc<RateLimiter>, WiringError> {
        Ok(Arc::new(RateLimiter::with_ttl(
            self.control_plane()?,
            self.billing()?,
            self.clock(),
            self.settings_ttl(),
        )))
    }

    /// The control plane's say over generations, with the same cache life.
    fn generation_policy(&self) -> Result<GenerationPolicy, WiringError> {
        Ok(GenerationPolicy::with_ttl(
            self.control_plane()?,
            self.settings_ttl(),
        ))
    }
}
