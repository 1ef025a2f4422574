//! What billing needs from a store: plans, the rate-limit windows, reservations, the
//! ledger with its period aggregates, and invoices. Every operation that moves money is
//! one atomic, conditional store operation (see `docs/data-model.md`).

use super::{Page, PolicyStore, StoreError, TenantStore};
use crate::domain::billing::{
    built_in_plans, Invoice, LedgerEntry, Period, Plan, Reservation, UsageReport,
};
use crate::domain::settings::TenantSettings;
use crate::domain::{PlanId, TenantId, Timestamp};
use async_trait::async_trait;

/// Stored plans (the built-in ones apply where none is stored under their id).
#[async_trait]
pub trait PlanStore: Send + Sync {
    async fn get_stored_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError>;
    /// Creates or replaces the plan.
    async fn put_plan(&self, plan: &Plan) -> Result<(), StoreError>;
    async fn list_stored_plans(&self) -> Result<Vec<Plan>, StoreError>;
}

/// The plan `id`: stored, else built in.
pub async fn find_plan(store: &dyn PlanStore, id: &PlanId) -> Result<Option<Plan>, StoreError> {
    if let Some(plan) = store.get_stored_plan(id).await? {
        return Ok(Some(plan));
    }
    Ok(built_in_plans().into_iter().find(|p| p.id == id.as_str()))
}

/// Every plan, built-in ones replaced by stored ones of the same id, by id.
pub async fn all_plans(store: &dyn PlanStore) -> Result<Vec<Plan>, StoreError> {
    let mut plans = built_in_plans();
    for stored in store.list_stored_plans().await? {
        plans.retain(|p| p.id != stored.id);
        plans.push(stored);
    }
    plans.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(plans)
}

/// A tenant's settings and billing terms: its plan, and the rate limit and monthly
/// budget in force (the settings' values, else the plan's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTerms {
    pub settings: TenantSettings,
    pub plan: Plan,
    pub requests_per_minute: u32,
    pub monthly_budget_micros: i64,
}

/// The terms of `tenant`; `None` if there is no such tenant. A tenant on a plan that
/// does not exist is a broken store (plans cannot be deleted).
pub async fn tenant_terms(
    store: &dyn PolicyStore,
    tenant: &TenantId,
) -> Result<Option<TenantTerms>, StoreError> {
    let Some(record) = store.get_tenant(tenant).await? else {
        return Ok(None);
    };
    let settings = store.get_tenant_settings(tenant).await?.unwrap_or_default();
    let plan = find_plan(store, &record.plan).await?.ok_or_else(|| {
        StoreError::Unavailable(format!(
            "tenant {tenant} is on a missing plan {}",
            record.plan
        ))
    })?;
    Ok(Some(TenantTerms {
        requests_per_minute: settings
            .requests_per_minute
            .unwrap_or(plan.requests_per_minute),
        monthly_budget_micros: settings
            .monthly_budget_micros
            .unwrap_or(plan.monthly_budget_micros),
        settings,
        plan,
    }))
}

/// A tenant's spend against its budget alerts in one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetStanding {
    /// What settled generations cost (reservations in flight not included).
    pub settled_micros: i64,
    /// The thresholds (percent) already raised, rising.
    pub alerted: Vec<u8>,
}

/// Whose rate window a request counts in: its tenant's, or one of the tenant's keys
/// that has a limit of its own (spec section 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindowOwner<'a> {
    pub tenant: &'a TenantId,
    pub key: Option<&'a crate::domain::KeyId>,
}

impl<'a> RateWindowOwner<'a> {
    pub fn tenant(tenant: &'a TenantId) -> Self {
        Self { tenant, key: None }
    }

    pub fn key(tenant: &'a TenantId, key: &'a crate::domain::KeyId) -> Self {
        Self {
            tenant,
            key: Some(key),
        }
    }

    /// How the stores name the window's owner: `<tenant>`, or `<tenant>#KEY#<key id>`
    /// (in DynamoDB the partition `TENANT#<owner>`, inside the functions' `TENANT#*`
    /// leading keys).
    pub fn id(&self) -> String {
        match self.key {
            None => self.tenant.to_string(),
            Some(key) => format!("{}#KEY#{key}", self.tenant),
        }
    }
}

/// How a settlement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The entry was appended and the reservation released.
    Settled,
    /// An entry for this request id exists already; nothing changed (idempotent retry).
    AlreadySettled,
    /// The reservation is gone or expired: it no longer holds budget, so nothing was
    /// billed against it.
    Lapsed,
}

/// Storing a generation and billing it, as one write: both or neither. A retry of a
/// commit whose answer was lost finds its own generation and ledger entry
/// (`AlreadySettled`); a reservation that lapsed first stores and bills nothing
/// (`Lapsed`). In DynamoDB one transaction across the content and billing tables, in
/// SQLite one transaction.
#[async_trait]
pub trait GenerationCommit: Send + Sync {
    async fn commit_generation(
        &self,
        generation: &crate::domain::content::Generation,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError>;
}

#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Counts one request in `owner`'s rate window `window` (its start, in epoch
    /// seconds) if fewer than `limit` were counted: the count after, or `None` when the
    /// window is full. One conditional write, shared by every instance.
    async fn count_request(
        &self,
        owner: &RateWindowOwner<'_>,
        window: i64,
        limit: u32,
        expires_at: Timestamp,
    ) -> Result<Option<u32>, StoreError>;

    /// Accepts `nonce` of a signed request by `key` once (RFC 9421 replay protection):
    /// `true` for the first claim, `false` while an earlier claim is remembered (until
    /// its `expires_at`). One conditional write, shared by every instance; a claim whose
    /// answer was lost and retried is still this request's own.
    async fn claim_nonce(
        &self,
        key: &crate::domain::KeyId,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Holds `reservation.amount_micros` if the period's committed spend (settled plus
    /// reserved) stays within `budget_micros`: one conditional write. `false` when the
    /// budget cannot cover it.
    async fn reserve(
        &self,
        reservation: &Reservation,
        budget_micros: i64,
    ) -> Result<bool, StoreError>;

    /// In one transaction: appends `entry` (once per request id), adds it to the period
    /// aggregates, and releases the reservation — but only while the reservation holds
    /// (exists and has not expired at `now`). `entry` must not cost more than the
    /// reservation.
    async fn settle(
        &self,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError>;

    /// Releases a reservation in full (the generation failed); `false` if it was gone.
    async fn release(&self, reservation: &Reservation) -> Result<bool, StoreError>;

    /// The tenant's reservations that expired at or before `now`.
    async fn expired_reservations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Reservation>, StoreError>;

    /// Releases `reservation` only if it still exists and has expired at `now` (a
    /// settlement racing the sweep wins or loses as a whole); whether it released it.
    async fn release_expired(
        &self,
        reservation: &Reservation,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// What the tenant's settled generations of the period cost, and the budget alert
    /// thresholds already raised in it: one consistent read.
    async fn budget_standing(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<BudgetStanding, StoreError>;

    /// Raises the budget alert for `percent` of the tenant's period: `true` for exactly
    /// one caller per tenant, period and threshold, however many race (one conditional
    /// write); `claim` names the caller, so a retry whose earlier attempt was applied
    /// and its answer lost still gets `true`.
    async fn claim_budget_alert(
        &self,
        tenant: &TenantId,
        period: Period,
        percent: u8,
        claim: &str,
    ) -> Result<bool, StoreError>;

    /// The period aggregates (totals, per model, per day, reserved, committed).
    async fn usage(&self, tenant: &TenantId, period: Period) -> Result<UsageReport, StoreError>;

    /// Ledger entries of the tenant's period in request-id order.
    async fn ledger_page(
        &self,
        tenant: &TenantId,
        period: Period,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<LedgerEntry>, StoreError>;

    /// Stores a new invoice; `false` (and no change) if the tenant already has one for
    /// the period. Invoices are never updated.
    async fn create_invoice(&self, invoice: &Invoice) -> Result<bool, StoreError>;
    async fn get_invoice(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Option<Invoice>, StoreError>;
    /// The tenant's invoices, oldest period first.
    async fn list_invoices(&self, tenant: &TenantId) -> Result<Vec<Invoice>, StoreError>;
}

/// Releases the tenant's expired reservations; how many it released.
pub async fn sweep_tenant(
    store: &dyn BillingStore,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<u32, StoreError> {
    let mut released = 0;
    for reservation in store.expired_reservations(tenant, now).await? {
        if store.release_expired(&reservation, now).await? {
            tracing::warn!(
                tenant_id = %tenant,
                reservation = %reservation.id,
                amount_micros = reservation.amount_micros,
                "released an expired reservation (its invocation never settled)"
            );
            released += 1;
        }
    }
    if released > 0 {
        crate::metrics::add_function(
            "sweep_reservations",
            crate::metrics::RESERVATIONS_SWEPT,
            f64::from(released),
        );
    }
    Ok(released)
}

/// Releases every tenant's expired reservations (the scheduled sweep).
pub async fn sweep_all(
    billing: &dyn BillingStore,
    tenants: &dyn TenantStore,
    now: Timestamp,
) -> Result<u32, StoreError> {
    let mut released = 0;
    let mut cursor = None;
    loop {
        let page = tenants
            .list_tenants(super::MAX_PAGE_SIZE, cursor.as_deref())
            .await?;
        for tenant in &page.items {
            released += sweep_tenant(billing, &tenant.id, now).await?;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(released),
        }
    }
}

/// The sums of the tenant's ledger entries for the period, read page by page (memory
/// stays bounded however long the ledger is).
pub async fn ledger_usage(
    store: &dyn BillingStore,
    tenant: &TenantId,
    period: Period,
) -> Result<UsageReport, StoreError> {
    let mut usage = UsageReport::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .ledger_page(tenant, period, 1_000, cursor.as_deref())
            .await?;
        for entry in &page.items {
            usage.add(entry);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(usage),
        }
    }
}

/// The reconciliation check: the stored aggregates of the tenant's period against the
/// sums of its ledger entries. Empty when they agree exactly.
pub async fn reconcile(
    store: &dyn BillingStore,
    tenant: &TenantId,
    period: Period,
) -> Result<Vec<String>, StoreError> {
    let ledger = ledger_usage(store, tenant, period).await?;
    let stored = store.usage(tenant, period).await?;
    Ok(stored.reconcile(&ledger))
}
