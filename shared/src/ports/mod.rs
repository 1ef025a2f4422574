//! Traits the domain needs from the outside world. Adapters implement them.

pub mod content;
pub mod llm;
pub mod secrets;

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
}

/// Everything the control plane stores (tenants and keys for now).
pub trait ControlPlaneStore: TenantStore + ApiKeyStore {}
impl<T: TenantStore + ApiKeyStore> ControlPlaneStore for T {}

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
