//! Budget alerts (issue 17) when the audit log is slow: a claim once won is carried
//! through to its audit entry and event, however long the append takes — an alert that
//! is claimed but never recorded could never be raised again.

use async_trait::async_trait;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::app::budget_alerts::{BudgetAlerts, Trigger};
use nutripro_shared::domain::audit::AuditEntry;
use nutripro_shared::domain::billing::{built_in_plans, Period};
use nutripro_shared::domain::settings::TenantSettings;
use nutripro_shared::domain::TenantId;
use nutripro_shared::ports::billing::{BillingStore, TenantTerms};
use nutripro_shared::ports::events::RecordedEvents;
use nutripro_shared::ports::{AuditStore, StoreError, SystemClock};
use std::time::{Duration, Instant};

/// The audit log of `SqliteStore`, taking `delay` for every append.
struct SlowAudit {
    inner: SqliteStore,
    delay: Duration,
}

#[async_trait]
impl AuditStore for SlowAudit {
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        self.inner.audit_head().await
    }
    async fn insert_audit_entry(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.insert_audit_entry(entry).await
    }
    async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_after(after, limit).await
    }
    async fn audit_before(&self, before: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_before(before, limit).await
    }
}

fn terms(budget_micros: i64) -> TenantTerms {
    let plan = built_in_plans().remove(0);
    TenantTerms {
        settings: TenantSettings::default(),
        requests_per_minute: plan.requests_per_minute,
        monthly_budget_micros: budget_micros,
        plan,
    }
}

#[tokio::test]
async fn a_won_claim_is_audited_and_published_however_slow_the_audit_log() {
    let billing = SqliteStore::open_in_memory().unwrap();
    let audit = SlowAudit {
        inner: SqliteStore::open_in_memory().unwrap(),
        delay: Duration::from_millis(2_500),
    };
    let events = RecordedEvents::default();
    let tenant = TenantId::generate();
    let alerts = BudgetAlerts {
        billing: &billing,
        audit: &audit,
        events: &events,
        clock: &SystemClock,
    };
    // A refusal with nothing spent raises only 100%.
    alerts
        .check(
            &tenant,
            &terms(1_000),
            Trigger::Refused,
            "g-1",
            "r-1",
            Instant::now() + Duration::from_secs(20),
        )
        .await;
    let entries = audit.audit_after(0, 10).await.unwrap();
    assert_eq!(
        entries.len(),
        1,
        "the claim was carried through to its audit entry"
    );
    assert_eq!(entries[0].draft.details["threshold_percent"], 100);
    assert_eq!(events.events().len(), 1);
    let period = Period::of(nutripro_shared::domain::Timestamp::now());
    assert_eq!(
        billing
            .budget_standing(&tenant, period)
            .await
            .unwrap()
            .alerted,
        [100]
    );
    // Nothing is claimed without the time to finish it.
    let other = TenantId::generate();
    alerts
        .check(
            &other,
            &terms(1_000),
            Trigger::Refused,
            "g-2",
            "r-2",
            Instant::now() + Duration::from_secs(1),
        )
        .await;
    assert!(billing
        .budget_standing(&other, period)
        .await
        .unwrap()
        .alerted
        .is_empty());
    assert_eq!(events.events().len(), 1);
}
