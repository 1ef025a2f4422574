//! Issue 17: the metrics behind the "reservations swept" and "audit write failures"
//! alarms are written where those things happen — outside a request, as lines of their
//! own (inside one, they join the request's line; `http::respond`'s tests cover that).

use async_trait::async_trait;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::audit::{Actor, AuditDraft, AuditEntry, Outcome};
use nutripro_shared::domain::billing::{Period, Reservation};
use nutripro_shared::domain::{TenantId, Timestamp};
use nutripro_shared::metrics;
use nutripro_shared::ports::billing::{sweep_tenant, BillingStore};
use nutripro_shared::ports::{append_audit, AuditStore, StoreError};

fn lines_with(lines: &[String], name: &str) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|doc| doc.get(name).is_some())
        .collect()
}

#[tokio::test]
async fn a_swept_reservation_is_counted() {
    let store = SqliteStore::open_in_memory().unwrap();
    let tenant = TenantId::generate();
    let now = Timestamp::now();
    let reservation = Reservation {
        id: "r-1".into(),
        tenant_id: tenant.clone(),
        period: Period::of(now),
        amount_micros: 10,
        currency: "USD".into(),
        expires_at: now.plus_seconds(-1),
    };
    assert!(store.reserve(&reservation, 1_000).await.unwrap());
    metrics::start_capture();
    let released = sweep_tenant(&store, &tenant, now).await.unwrap();
    let lines = metrics::finish_capture();
    assert_eq!(released, 1);
    let swept = lines_with(&lines, metrics::RESERVATIONS_SWEPT);
    assert_eq!(swept.len(), 1, "{lines:?}");
    assert_eq!(swept[0]["ReservationsSwept"], 1);
    assert_eq!(swept[0]["Function"], "sweep_reservations");
}

/// An audit log that refuses every append.
struct Broken;

#[async_trait]
impl AuditStore for Broken {
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        Ok(None)
    }
    async fn insert_audit_entry(&self, _: &AuditEntry) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn audit_after(&self, _: u64, _: u32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(Vec::new())
    }
    async fn audit_before(&self, _: u64, _: u32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_failed_audit_append_is_counted() {
    let draft = AuditDraft {
        at: Timestamp::now(),
        actor: Actor {
            subject: "system:test".into(),
            roles: "system".into(),
        },
        action: "test.action".into(),
        target: "test/1".into(),
        tenant_id: None,
        request_id: "r-1".into(),
        source_ip: String::new(),
        outcome: Outcome::Success,
        details: serde_json::json!({}),
    };
    metrics::start_capture();
    assert!(append_audit(&Broken, draft).await.is_err());
    let lines = metrics::finish_capture();
    let failures = lines_with(&lines, metrics::AUDIT_WRITE_FAILURES);
    assert_eq!(failures.len(), 1, "{lines:?}");
    assert_eq!(failures[0]["AuditWriteFailures"], 1);
}
