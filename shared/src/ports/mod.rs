//! Traits the domain needs from the outside world. Adapters implement them.

pub mod billing;
pub mod checkpoints;
pub mod content;
pub mod events;
pub mod llm;
pub mod receipts;
pub mod sealing;
pub mod secrets;

use crate::domain::audit::{AuditDraft, AuditEntry};
use crate::domain::settings::{SystemSettings, TenantSettings};
use crate::domain::{ApiKey, ApiKeyHash, KeyId, Tenant, TenantId, TenantStatus, Timestamp};
use async_trait::async_trait;
use std::sync::atomic::{AtomicI64, Ordering};

/// A storage failure. Only `Unavailable` carries detail, and that detail is for logs:
/// handlers map it to a generic 503 and never show it to a caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("item already exists")]
    AlreadyExists,
    #[error("item not found")]
    NotFound,
    /// The item changed since it was read (optimistic concurrency).
    #[error("item changed concurrently")]
    Conflict,
    #[error("invalid pagination cursor")]
    InvalidCursor,
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// One page of a listing; `next_cursor` is opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Largest page any listing returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: u32 = 100;

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Tenants in creation order.
    async fn list_tenants(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Tenant>, StoreError>;
    /// Fails with `NotFound` if there is no such tenant.
    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<(), StoreError>;
    /// Saves name, contact, plan and status of an existing tenant (`NotFound` if it does
    /// not exist; id and creation time never change).
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Fails with `AlreadyExists` if the key id is taken.
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get_key(&self, key_id: &KeyId) -> Result<Option<ApiKey>, StoreError>;
    /// A tenant's keys in creation order (never more than a few per tenant).
    async fn list_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Stores a rotation computed by [`ApiKey::rotate`]. Succeeds only if the key still
    /// has `expected_hash` and is not revoked (else `Conflict`; `NotFound` if absent).
    async fn save_rotation(
        &self,
        rotated: &ApiKey,
        expected_hash: &ApiKeyHash,
    ) -> Result<(), StoreError>;
    /// Registers (`Some`) or removes (`None`) the client's public key for signed
    /// requests. `NotFound` if there is no such key.
    async fn set_signing_key(
        &self,
        key_id: &KeyId,
        signing_key: Option<&crate::domain::signatures::ClientSigningKey>,
    ) -> Result<(), StoreError>;
    /// Binds the key to a client certificate (`Some`: its SHA-256 fingerprint, normalized)
    /// or unbinds it (`None`). `NotFound` if there is no such key.
    async fn set_client_certificate(
        &self,
        key_id: &KeyId,
        sha256: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Revokes the key at `at`. Idempotent: a key already revoked keeps its first
    /// revocation time. `NotFound` if there is no such key.
    async fn revoke_key(&self, key_id: &KeyId, at: Timestamp) -> Result<(), StoreError>;
    /// Records a use at `at`, but only if the last recorded use is older than
    /// `if_before`: a sampled write, so a busy key is not written on every request.
    /// Returns whether it wrote.
    async fn record_key_use(
        &self,
        key_id: &KeyId,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Flags a suspicious use of the key (a wrong, revoked or rotated-out secret) at `at`,
    /// but only if the last flag is older than `if_before`, so a flood of bad attempts
    /// raises one audit entry per interval across every authorizer instance. Returns
    /// whether this call is the one that flagged it (`false` too if there is no such key).
    async fn flag_key_anomaly(
        &self,
        key_id: &KeyId,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Tenant and system settings, each stored whole.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_tenant_settings(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<TenantSettings>, StoreError>;
    async fn put_tenant_settings(
        &self,
        tenant_id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError>;
    async fn get_system_settings(&self) -> Result<Option<SystemSettings>, StoreError>;
    async fn put_system_settings(&self, settings: &SystemSettings) -> Result<(), StoreError>;
}

/// Everything the control plane stores about tenants and keys.
pub trait ControlPlaneStore: TenantStore + ApiKeyStore {}
impl<T: TenantStore + ApiKeyStore> ControlPlaneStore for T {}

/// What the generation policy reads: settings, the tenant (its plan) and plans.
pub trait PolicyStore: SettingsStore + TenantStore + billing::PlanStore {}
impl<T: SettingsStore + TenantStore + billing::PlanStore> PolicyStore for T {}

/// What the admin endpoints read and change.
pub trait AdminStore: PolicyStore + ControlPlaneStore {}
impl<T: PolicyStore + ControlPlaneStore> AdminStore for T {}

/// The append-only audit chain. Adapters offer no update or delete.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The newest entry (the chain head), if any.
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError>;
    /// Stores `entry` only if its sequence number is still free: `AlreadyExists` when a
    /// concurrent writer took it (the caller re-reads the head and re-chains).
    async fn insert_audit_entry(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Up to `limit` entries with `seq > after`, ascending.
    async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Up to `limit` entries with `seq < before`, newest first.
    async fn audit_before(&self, before: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Appends `draft` at the head of the chain, re-chaining if concurrent writers win the
/// race for a sequence number (bounded: the store is failing if this keeps losing).
pub async fn append_audit(
    store: &dyn AuditStore,
    draft: AuditDraft,
) -> Result<AuditEntry, StoreError> {
    let appended = append_audit_once(store, draft).await;
    if appended.is_err() {
        crate::metrics::add_function("audit", crate::metrics::AUDIT_WRITE_FAILURES, 1.0);
    }
    appended
}

async fn append_audit_once(
    store: &dyn AuditStore,
    draft: AuditDraft,
) -> Result<AuditEntry, StoreError> {
    // Racing writers each try the next sequence number; a loser re-reads the head and
    // tries again after a short random pause, so a burst spreads out instead of
    // colliding in lockstep.
    const ATTEMPTS: u32 = 16;
    for attempt in 0..ATTEMPTS {
        let head = store.audit_head().await?;
        let entry = AuditEntry::chain(head.as_ref(), draft.clone());
        match store.insert_audit_entry(&entry).await {
            Ok(()) => return Ok(entry),
            Err(StoreError::AlreadyExists) => {
                let cap_ms = 5u64 << attempt.min(5);
                let mut random = [0u8; 2];
                let _ = getrandom::fill(&mut random);
                let pause = u64::from(u16::from_le_bytes(random)) % cap_ms.max(1);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Unavailable(
        "audit append lost the race for the chain head too often".into(),
    ))
}

/// Source of the current time, replaceable in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to (tests, replayed events).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.as_millis()))
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}
