//! The control-plane additions (tenant updates, settings, the audit chain) under one
//! contract for both adapters, as in `store_contract.rs`: the embedded store always, the
//! DynamoDB adapter against the loopback server `scripts/test` starts.
//!
//! Tampering cases change or delete stored audit entries behind the adapter's back (raw
//! SQL, raw DynamoDB calls) and prove the chain check finds the first broken entry.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use nutripro_faults::FaultProxy;
use nutripro_shared::adapters::dynamodb::admin::DynamoAuditStore;
use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::audit::{Actor, AuditDraft, BrokenLink, ChainVerifier, Outcome};
use nutripro_shared::domain::settings::{SystemSettings, TenantSettings};
use nutripro_shared::domain::{PlanId, Tenant, TenantId, TenantName, TenantStatus, Timestamp};
use nutripro_shared::ports::{append_audit, AdminStore, AuditStore, StoreError};
use std::sync::Arc;

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

/// Changes stored audit entries without going through the adapter.
#[async_trait]
trait Tamper: Send + Sync {
    async fn rewrite_action(&self, seq: u64, action: &str);
    async fn delete(&self, seq: u64);
}

struct Harness {
    admin: Arc<dyn AdminStore>,
    audit: Arc<dyn AuditStore>,
    tamper: Box<dyn Tamper>,
    _dir: Option<tempfile::TempDir>,
    _faults: Option<FaultProxy>,
}

struct SqliteTamper(std::path::PathBuf);

#[async_trait]
impl Tamper for SqliteTamper {
    async fn rewrite_action(&self, seq: u64, action: &str) {
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        let changed = conn
            .execute(
                "UPDATE audit_log SET action = ?2 WHERE seq = ?1",
                rusqlite::params![seq as i64, action],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    async fn delete(&self, seq: u64) {
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        let changed = conn
            .execute(
                "DELETE FROM audit_log WHERE seq = ?1",
                rusqlite::params![seq as i64],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
}

fn sqlite() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    Harness {
        admin: store.clone(),
        audit: store,
        tamper: Box::new(SqliteTamper(dir.path().join("nutripro.sqlite3"))),
        _dir: Some(dir),
        _faults: None,
    }
}

struct DynamoTamper {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoTamper {
    fn key(seq: u64) -> [(String, AttributeValue); 2] {
        [
            ("pk".into(), AttributeValue::S("CHAIN".into())),
            ("sk".into(), AttributeValue::S(format!("{seq:020}"))),
        ]
    }
}

#[async_trait]
impl Tamper for DynamoTamper {
    async fn rewrite_action(&self, seq: u64, action: &str) {
        let [pk, sk] = Self::key(seq);
        self.client
            .update_item()
            .table_name(&self.table)
            .key(pk.0, pk.1)
            .key(sk.0, sk.1)
            .update_expression("SET #a = :a")
            .expression_attribute_names("#a", "action")
            .expression_attribute_values(":a", AttributeValue::S(action.into()))
            .send()
            .await
            .unwrap();
    }

    async fn delete(&self, seq: u64) {
        let [pk, sk] = Self::key(seq);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(pk.0, pk.1)
            .key(sk.0, sk.1)
            .send()
            .await
            .unwrap();
    }
}

/// The DynamoDB adapters against the loopback server, through the fault proxy.
async fn dynamodb() -> Harness {
    let proxy = FaultProxy::for_tests("admin_contract").await;
    let client = schema::local_client(proxy.url());
    let id = nutripro_shared::domain::new_id();
    let (control, audit) = (format!("admin-{id}"), format!("audit-{id}"));
    for table in [&control, &audit] {
        schema::create_table(&client, table)
            .await
            .expect("create a table on the local DynamoDB server");
    }
    proxy.arm();
    Harness {
        admin: Arc::new(DynamoStore::new(client.clone(), control)),
        audit: Arc::new(DynamoAuditStore::new(client.clone(), audit.clone())),
        tamper: Box::new(DynamoTamper {
            client,
            table: audit,
        }),
        _dir: None,
        _faults: Some(proxy),
    }
}

macro_rules! contract_suite {
    ($module:ident, $make:expr, $mode:ident) => {
        mod $module {
            use super::*;
            contract_suite!(@cases $make, $mode;
                tenant_updates_keep_id_and_creation_time,
                settings_round_trip_per_tenant_and_system,
                audit_chain_appends_in_order,
                concurrent_appends_form_one_chain,
                changed_entry_breaks_verification_there,
                deleted_entry_breaks_verification_there,
            );
        }
    };
    (@cases $make:expr, embedded; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                cases::$case(&$make).await;
            }
        )*
    };
    (@cases $make:expr, needs_server; $($case:ident,)*) => {
        $(
            #[tokio::test]
            #[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
            async fn $case() {
                cases::$case(&$make).await;
            }
        )*
    };
}

contract_suite!(embedded, sqlite(), embedded);
contract_suite!(dynamodb_local, dynamodb().await, needs_server);

fn draft(action: &str, tenant: Option<&str>) -> AuditDraft {
    AuditDraft {
        at: NOW,
        actor: Actor {
            subject: "sub-123".into(),
            roles: "platform-admin".into(),
        },
        action: action.into(),
        target: format!("tenant/{}", tenant.unwrap_or("-")),
        tenant_id: tenant.map(str::to_owned),
        request_id: "req-1".into(),
        source_ip: "127.0.0.1".into(),
        outcome: Outcome::Success,
        details: serde_json::json!({"name": "O'Brien \"quoted\" 🥗"}),
    }
}

async fn verify(audit: &dyn AuditStore) -> Result<u64, BrokenLink> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = audit.audit_after(after, 2).await.unwrap();
        let Some(last) = page.last() else {
            return Ok(verifier.checked);
        };
        after = last.seq;
        for entry in &page {
            verifier.check(entry)?;
        }
    }
}

mod cases {
    use super::*;

    pub async fn tenant_updates_keep_id_and_creation_time(h: &Harness) {
        let mut tenant = Tenant::new(
            TenantName::parse("Acme").unwrap(),
            PlanId::new("standard"),
            NOW,
        );
        h.admin.create_tenant(&tenant).await.unwrap();
        tenant.name = "Acme Foods".into();
        tenant.contact = Some("ops@acme.example".into());
        tenant.plan = PlanId::new("pro");
        tenant.status = TenantStatus::Suspended;
        h.admin.update_tenant(&tenant).await.unwrap();
        assert_eq!(
            h.admin.get_tenant(&tenant.id).await.unwrap(),
            Some(tenant.clone())
        );
        tenant.contact = None;
        h.admin.update_tenant(&tenant).await.unwrap();
        assert_eq!(
            h.admin
                .get_tenant(&tenant.id)
                .await
                .unwrap()
                .unwrap()
                .contact,
            None
        );
        let ghost = Tenant::new(
            TenantName::parse("Ghost").unwrap(),
            PlanId::new("standard"),
            NOW,
        );
        assert!(matches!(
            h.admin.update_tenant(&ghost).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            h.admin.get_tenant(&ghost.id).await.unwrap(),
            None,
            "no upsert"
        );
    }

    pub async fn settings_round_trip_per_tenant_and_system(h: &Harness) {
        let (a, b) = (TenantId::new("tenant-a"), TenantId::new("tenant-b"));
        assert_eq!(h.admin.get_tenant_settings(&a).await.unwrap(), None);
        assert_eq!(h.admin.get_system_settings().await.unwrap(), None);
        let settings = TenantSettings {
            requests_per_minute: Some(30),
            monthly_budget_micros: Some(12_345_678),
            allowed_kinds: Some(vec!["nutrition_tips".into()]),
            model: Some("gpt-4o-mini".into()),
            max_tokens_cap: Some(800),
            retention_days: Some(30),
            disclaimer: Some("Reviewed by Anna — not medical advice.".into()),
            budget_alert_thresholds: Some(vec![25, 75, 100]),
        };
        h.admin.put_tenant_settings(&a, &settings).await.unwrap();
        assert_eq!(
            h.admin.get_tenant_settings(&a).await.unwrap(),
            Some(settings)
        );
        assert_eq!(h.admin.get_tenant_settings(&b).await.unwrap(), None);
        let replaced = TenantSettings::default();
        h.admin.put_tenant_settings(&a, &replaced).await.unwrap();
        assert_eq!(
            h.admin.get_tenant_settings(&a).await.unwrap(),
            Some(replaced)
        );
        let system = SystemSettings {
            generation_enabled: false,
            default_model: Some("gpt-4o".into()),
            max_tokens_cap: 2048,
            safety: Default::default(),
        };
        h.admin.put_system_settings(&system).await.unwrap();
        assert_eq!(h.admin.get_system_settings().await.unwrap(), Some(system));
    }

    pub async fn audit_chain_appends_in_order(h: &Harness) {
        assert_eq!(h.audit.audit_head().await.unwrap(), None);
        let first = append_audit(&*h.audit, draft("tenant.create", Some("t1")))
            .await
            .unwrap();
        let second = append_audit(&*h.audit, draft("key.issue", None))
            .await
            .unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(h.audit.audit_head().await.unwrap(), Some(second.clone()));
        assert_eq!(
            h.audit.audit_before(u64::MAX, 10).await.unwrap(),
            vec![second.clone(), first.clone()],
            "newest first"
        );
        assert_eq!(
            h.audit.audit_after(1, 10).await.unwrap(),
            vec![second.clone()]
        );
        assert!(
            matches!(
                h.audit.insert_audit_entry(&second).await,
                Err(StoreError::AlreadyExists)
            ),
            "an entry is never overwritten"
        );
        assert_eq!(verify(&*h.audit).await, Ok(2));
    }

    pub async fn concurrent_appends_form_one_chain(h: &Harness) {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let audit = h.audit.clone();
            tasks.push(tokio::spawn(async move {
                append_audit(&*audit, draft(&format!("concurrent.{i}"), None)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().expect("every append lands");
        }
        assert_eq!(verify(&*h.audit).await, Ok(8));
    }

    pub async fn changed_entry_breaks_verification_there(h: &Harness) {
        for i in 0..5 {
            append_audit(&*h.audit, draft(&format!("a.{i}"), None))
                .await
                .unwrap();
        }
        h.tamper.rewrite_action(3, "nothing.happened").await;
        assert_eq!(
            verify(&*h.audit).await,
            Err(BrokenLink {
                seq: 3,
                reason: "hash_mismatch"
            })
        );
    }

    pub async fn deleted_entry_breaks_verification_there(h: &Harness) {
        for i in 0..5 {
            append_audit(&*h.audit, draft(&format!("a.{i}"), None))
                .await
                .unwrap();
        }
        h.tamper.delete(4).await;
        assert_eq!(
            verify(&*h.audit).await,
            Err(BrokenLink {
                seq: 4,
                reason: "missing"
            })
        );
    }
}
