//! The content store: consent, samples, generations and idempotency records, always
//! addressed through the calling tenant (another tenant's item is simply absent).

use super::{Page, StoreError};
use crate::domain::billing::Period;
use crate::domain::content::{
    BlockedSummary, Consent, ContentKind, DietitianId, Generation, GenerationId, Sample, SampleId,
};
use crate::domain::{TenantId, Timestamp};
use async_trait::async_trait;

/// How long a completed idempotent response is kept for replays.
pub const IDEMPOTENCY_RETENTION_SECONDS: i64 = 24 * 3600;
/// How long an in-progress claim blocks duplicates before a crashed holder is overtaken.
pub const IDEMPOTENCY_LEASE_SECONDS: i64 = 60;
/// Generations expire (DynamoDB TTL) after this many days unless settings say otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;

/// A response kept for idempotent replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The caller holds the key now and must `complete` or `release` it.
    Claimed,
    /// Another request with this key is running.
    InProgress { request_hash: String },
    /// A request with this key finished; replay its response if the hash matches.
    Completed {
        request_hash: String,
        response: StoredResponse,
    },
}

/// One idempotency key of one tenant for one operation (`scope`, e.g. `create_sample`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub tenant_id: TenantId,
    pub scope: &'static str,
    pub key: String,
    /// The dietitian the request concerns, so erasure can remove stored responses too.
    pub dietitian_id: DietitianId,
}

/// A dietitian's style profile as stored: computed from their samples at `computed_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStyle {
    pub tenant_id: TenantId,
    pub dietitian_id: DietitianId,
    pub style: crate::domain::style::DietitianStyle,
    pub computed_at: Timestamp,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    pub samples: usize,
    pub generations: usize,
    pub consent: bool,
}

#[async_trait]
pub trait ContentStore: Send + Sync {
    /// Records (or replaces) a dietitian's consent decision.
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    async fn get_consent(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<Consent>, StoreError>;

    async fn create_sample(&self, sample: &Sample) -> Result<(), StoreError>;
    async fn get_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<Sample>, StoreError>;
    /// A dietitian's samples, newest first, optionally of one kind.
    async fn list_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        kind: Option<ContentKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Sample>, StoreError>;
    async fn count_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<usize, StoreError>;
    /// The dietitian of the deleted sample, or `None` when there was no such sample.
    async fn delete_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<DietitianId>, StoreError>;

    /// Replaces the dietitian's style profile (computed from their samples).
    async fn put_style(&self, style: &StoredStyle) -> Result<(), StoreError>;
    async fn get_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<StoredStyle>, StoreError>;
    /// Removes it (the dietitian has no samples left).
    async fn delete_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<(), StoreError>;

    /// Stores a new generation. A blocked one is also entered in the tenant's review list
    /// ([`ContentStore::list_blocked`]) in the same atomic write.
    async fn create_generation(&self, generation: &Generation) -> Result<(), StoreError>;
    async fn get_generation(
        &self,
        tenant: &TenantId,
        id: &GenerationId,
    ) -> Result<Option<Generation>, StoreError>;
    /// Replaces a generation's seal with `generation.integrity` if the stored one is still
    /// `expected` (a re-seal on read: the record is otherwise unchanged). `false` when the
    /// seal had changed meanwhile (another reader re-sealed it) or the record is gone.
    async fn reseal_generation(
        &self,
        generation: &Generation,
        expected: &str,
    ) -> Result<bool, StoreError>;
    /// A dietitian's generations, newest first.
    async fn list_generations(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Generation>, StoreError>;

    /// The tenant's blocked generations created in `period`, newest first (summaries,
    /// no text).
    async fn list_blocked(
        &self,
        tenant: &TenantId,
        period: Period,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<BlockedSummary>, StoreError>;

    /// GDPR erasure: the dietitian's samples, style profile, generations (their review
    /// entries too), consent and stored idempotent responses — of this tenant only.
    async fn erase_dietitian(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Erasure, StoreError>;

    /// Claims `key` for a request with `request_hash`, unless a live claim or a stored
    /// response exists (an expired one counts as absent).
    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError>;
    /// Stores the response of a claimed key for replays.
    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Gives a claimed key up (the request failed), so a retry may run.
    async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError>;
}
