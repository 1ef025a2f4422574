//! One storage contract, two adapters. Every case runs against the embedded SQLite
//! store and against the DynamoDB adapter talking to a DynamoDB-compatible server on
//! loopback, whose URL the test script passes in `NUTRIPRO_TEST_DYNAMODB_ENDPOINT`.
//!
//! The DynamoDB cases are `#[ignore]`d for a bare `cargo test` (no server there) and run
//! by `scripts/test` with `--include-ignored`; without the variable they fail loudly.

use nutripro_faults::{FaultProxy, WithFaults};
use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::{
    ApiKey, PlanId, Tenant, TenantId, TenantName, TenantStatus, Timestamp,
};
use nutripro_shared::ports::{ControlPlaneStore, StoreError};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn sqlite() -> Box<dyn ControlPlaneStore> {
    Box::new(SqliteStore::open_in_memory().expect("in-memory sqlite"))
}

/// The DynamoDB adapter against the loopback server, through the fault proxy
/// (`infra/faults`: conflicts, throttling, 500s, lost answers, delays).
async fn dynamodb() -> WithFaults<dyn ControlPlaneStore> {
    let proxy = FaultProxy::for_tests("store_contract").await;
    let client = schema::local_client(proxy.url());
    let table = format!("contract-{}", nutripro_shared::domain::new_id());
    schema::create_table(&client, &table)
        .await
        .expect("create the control-plane table on the local DynamoDB server");
    proxy.arm();
    WithFaults {
        inner: Box::new(DynamoStore::new(client, table)),
        proxy,
    }
}

fn tenant(name: &str) -> Tenant {
    Tenant::new(
        TenantName::parse(name).unwrap(),
        PlanId::new("standard"),
        NOW,
    )
}

/// Generates one `#[tokio::test]` per contract case for an adapter; `needs_server`
/// marks the cases `#[ignore]` for a bare `cargo test`.
macro_rules! contract_suite {
    ($module:ident, $make:expr, $mode:ident) => {
        mod $module {
            use super::*;
            contract_suite!(@cases $make, $mode;
                tenants_round_trip,
                duplicate_tenant_is_rejected,
                tenants_list_in_pages,
                invalid_cursor_is_rejected,
                tenant_status_changes,
                keys_round_trip_with_every_field,
                keys_are_listed_per_tenant,
                key_for_missing_tenant_is_rejected,
                rotation_is_conditional,
                revocation_is_idempotent,
                last_used_writes_are_sampled,
                anomaly_flags_are_sampled,
                signing_keys_and_certificate_bindings_are_set_and_removed,
                injection_strings_round_trip_verbatim,
            );
        }
    };
    (@cases $make:expr, embedded; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make;
                cases::$case(&*store).await;
            }
        )*
    };
    (@cases $make:expr, needs_server; $($case:ident,)*) => {
        $(
            #[tokio::test]
            #[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
            async fn $case() {
                let store = $make;
                cases::$case(&*store).await;
            }
        )*
    };
}

contract_suite!(sqlite_store, sqlite(), embedded);
contract_suite!(dynamodb_store, dynamodb().await, needs_server);

mod cases {
    use super::*;

    pub async fn tenants_round_trip(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme Meal Plans");
        store.create_tenant(&t).await.unwrap();
        assert_eq!(store.get_tenant(&t.id).await.unwrap(), Some(t));
        assert_eq!(
            store.get_tenant(&TenantId::new("missing")).await.unwrap(),
            None
        );
    }

    pub async fn duplicate_tenant_is_rejected(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let mut again = tenant("Other name");
        again.id = t.id.clone();
        assert!(matches!(
            store.create_tenant(&again).await,
            Err(StoreError::AlreadyExists)
        ));
        assert_eq!(
            store.get_tenant(&t.id).await.unwrap().unwrap().name,
            "Acme",
            "unchanged"
        );
    }

    pub async fn tenants_list_in_pages(store: &dyn ControlPlaneStore) {
        let mut created = Vec::new();
        for i in 0..5 {
            let t = tenant(&format!("tenant {i}"));
            store.create_tenant(&t).await.unwrap();
            created.push(t);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = store.list_tenants(2, cursor.as_deref()).await.unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items);
            pages += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10, "pagination must terminate");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, created, "all tenants, once each, in creation order");
    }

    pub async fn invalid_cursor_is_rejected(store: &dyn ControlPlaneStore) {
        let result = store.list_tenants(10, Some("not base64 !!")).await;
        assert!(matches!(result, Err(StoreError::InvalidCursor)));
    }

    pub async fn tenant_status_changes(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        store
            .set_tenant_status(&t.id, TenantStatus::Suspended)
            .await
            .unwrap();
        assert_eq!(
            store.get_tenant(&t.id).await.unwrap().unwrap().status,
            TenantStatus::Suspended
        );
        let missing = store
            .set_tenant_status(&TenantId::new("missing"), TenantStatus::Active)
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
    }

    pub async fn keys_round_trip_with_every_field(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let (key, _) =
            ApiKey::issue(t.id.clone(), "ci key", NOW, Some(NOW.plus_seconds(3600))).unwrap();
        // Scopes and a key's own limit (issue 18) are stored with it.
        let mut key = key
            .with_scopes(&[Scope::UsageRead, Scope::ContentRead])
            .unwrap()
            .with_rate_limit(42)
            .unwrap();
        assert_eq!(key.scopes, [Scope::ContentRead, Scope::UsageRead]);
        store.create_key(&key).await.unwrap();
        assert_eq!(
            store.get_key(&key.key_id).await.unwrap().as_ref(),
            Some(&key)
        );
        assert!(matches!(
            store.create_key(&key).await,
            Err(StoreError::AlreadyExists)
        ));

        let expected = key.hash.clone();
        key.rotate(NOW.plus_seconds(1), 60);
        store.save_rotation(&key, &expected).await.unwrap();
        store
            .record_key_use(&key.key_id, NOW.plus_seconds(2), NOW.plus_seconds(2))
            .await
            .unwrap();
        store
            .revoke_key(&key.key_id, NOW.plus_seconds(3))
            .await
            .unwrap();
        key.last_used_at = Some(NOW.plus_seconds(2));
        key.revoked_at = Some(NOW.plus_seconds(3));
        assert_eq!(store.get_key(&key.key_id).await.unwrap(), Some(key));
    }

    pub async fn keys_are_listed_per_tenant(store: &dyn ControlPlaneStore) {
        let a = tenant("A");
        let b = tenant("B");
        store.create_tenant(&a).await.unwrap();
        store.create_tenant(&b).await.unwrap();
        let mut a_keys = Vec::new();
        for i in 0..3 {
            let (key, _) = ApiKey::issue(a.id.clone(), &format!("a{i}"), NOW, None).unwrap();
            store.create_key(&key).await.unwrap();
            a_keys.push(key);
        }
        let (b_key, _) = ApiKey::issue(b.id.clone(), "b", NOW, None).unwrap();
        store.create_key(&b_key).await.unwrap();
        assert_eq!(store.list_keys(&a.id).await.unwrap(), a_keys);
        assert_eq!(store.list_keys(&b.id).await.unwrap(), vec![b_key]);
        assert_eq!(
            store.list_keys(&TenantId::new("none")).await.unwrap(),
            vec![]
        );
    }

    pub async fn key_for_missing_tenant_is_rejected(store: &dyn ControlPlaneStore) {
        let (key, _) = ApiKey::issue(TenantId::new("no-such-tenant"), "k", NOW, None).unwrap();
        assert!(matches!(
            store.create_key(&key).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.get_key(&key.key_id).await.unwrap(), None);
    }

    pub async fn rotation_is_conditional(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let (key, _) = ApiKey::issue(t.id.clone(), "k", NOW, None).unwrap();
        store.create_key(&key).await.unwrap();

        let mut first = key.clone();
        first.rotate(NOW, 60);
        let mut racing = key.clone();
        racing.rotate(NOW, 60);
        store.save_rotation(&first, &key.hash).await.unwrap();
        assert!(
            matches!(
                store.save_rotation(&racing, &key.hash).await,
                Err(StoreError::Conflict)
            ),
            "a concurrent rotation from the same starting point loses"
        );
        assert_eq!(
            store.get_key(&key.key_id).await.unwrap(),
            Some(first.clone())
        );

        store.revoke_key(&key.key_id, NOW).await.unwrap();
        let mut after_revoke = first.clone();
        after_revoke.rotate(NOW, 60);
        assert!(matches!(
            store.save_rotation(&after_revoke, &first.hash).await,
            Err(StoreError::Conflict)
        ));

        let (mut ghost, _) = ApiKey::issue(t.id.clone(), "ghost", NOW, None).unwrap();
        let ghost_hash = ghost.hash.clone();
        ghost.rotate(NOW, 60);
        assert!(matches!(
            store.save_rotation(&ghost, &ghost_hash).await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn revocation_is_idempotent(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let (key, _) = ApiKey::issue(t.id.clone(), "k", NOW, None).unwrap();
        store.create_key(&key).await.unwrap();
        store
            .revoke_key(&key.key_id, NOW.plus_seconds(5))
            .await
            .unwrap();
        store
            .revoke_key(&key.key_id, NOW.plus_seconds(9))
            .await
            .unwrap();
        let stored = store.get_key(&key.key_id).await.unwrap().unwrap();
        assert_eq!(
            stored.revoked_at,
            Some(NOW.plus_seconds(5)),
            "first revocation time is kept"
        );
        let missing = store
            .revoke_key(&nutripro_shared::domain::KeyId::new("missing"), NOW)
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
    }

    pub async fn last_used_writes_are_sampled(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let (key, _) = ApiKey::issue(t.id.clone(), "k", NOW, None).unwrap();
        store.create_key(&key).await.unwrap();
        let interval = 300;
        let use_at = |s: i64| (NOW.plus_seconds(s), NOW.plus_seconds(s - interval));
        let (at, before) = use_at(10);
        assert!(
            store.record_key_use(&key.key_id, at, before).await.unwrap(),
            "first use is written"
        );
        let (at, before) = use_at(100);
        assert!(
            !store.record_key_use(&key.key_id, at, before).await.unwrap(),
            "within the interval: no write"
        );
        let (at, before) = use_at(400);
        assert!(
            store.record_key_use(&key.key_id, at, before).await.unwrap(),
            "after the interval: written"
        );
        let stored = store.get_key(&key.key_id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_at, Some(NOW.plus_seconds(400)));
    }

    /// Issue 18: a key's signing key and client-certificate binding are stored, read back
    /// exactly, replaced and removed; a missing key is NotFound.
    pub async fn signing_keys_and_certificate_bindings_are_set_and_removed(
        store: &dyn ControlPlaneStore,
    ) {
        use nutripro_shared::domain::signatures::{Algorithm, ClientSigningKey};
        let t = tenant("Signer");
        store.create_tenant(&t).await.unwrap();
        let (key, _) = ApiKey::issue(t.id.clone(), "k", NOW, None).unwrap();
        let key = key.with_client_certificate(&"ab".repeat(32)).unwrap();
        store.create_key(&key).await.unwrap();
        let read = || async { store.get_key(&key.key_id).await.unwrap().unwrap() };
        assert_eq!(
            read().await.client_cert_sha256,
            Some("ab".repeat(32)),
            "bound at issue"
        );
        let signing = ClientSigningKey::new(
            Algorithm::Ed25519,
            "I8-lFi8rM6iBRIcL_Yzrnvy2RQ9yw9HNurRqtt6X7U4",
            true,
            NOW,
        )
        .unwrap();
        store
            .set_signing_key(&key.key_id, Some(&signing))
            .await
            .unwrap();
        store
            .set_client_certificate(&key.key_id, Some(&"cd".repeat(32)))
            .await
            .unwrap();
        let stored = read().await;
        assert_eq!(stored.signing_key, Some(signing));
        assert_eq!(stored.client_cert_sha256, Some("cd".repeat(32)));
        store.set_signing_key(&key.key_id, None).await.unwrap();
        store
            .set_client_certificate(&key.key_id, None)
            .await
            .unwrap();
        let cleared = read().await;
        assert_eq!(
            (cleared.signing_key, cleared.client_cert_sha256),
            (None, None)
        );
        let missing = nutripro_shared::domain::KeyId::new("0".repeat(32));
        assert!(matches!(
            store.set_signing_key(&missing, None).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.set_client_certificate(&missing, None).await,
            Err(StoreError::NotFound)
        ));
    }

    /// One flag per interval, however many bad attempts; none for a missing key.
    pub async fn anomaly_flags_are_sampled(store: &dyn ControlPlaneStore) {
        let t = tenant("Acme");
        store.create_tenant(&t).await.unwrap();
        let (key, _) = ApiKey::issue(t.id.clone(), "k", NOW, None).unwrap();
        store.create_key(&key).await.unwrap();
        let at = |s: i64| (NOW.plus_seconds(s), NOW.plus_seconds(s - 3600));
        let (now, before) = at(0);
        assert!(store
            .flag_key_anomaly(&key.key_id, now, before)
            .await
            .unwrap());
        let (now, before) = at(1800);
        assert!(!store
            .flag_key_anomaly(&key.key_id, now, before)
            .await
            .unwrap());
        let (now, before) = at(3601);
        assert!(store
            .flag_key_anomaly(&key.key_id, now, before)
            .await
            .unwrap());
        let ghost = nutripro_shared::domain::KeyId::new("0".repeat(32));
        assert!(!store.flag_key_anomaly(&ghost, now, before).await.unwrap());
        // The flag is not the last use.
        assert_eq!(
            store
                .get_key(&key.key_id)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            None
        );
    }

    /// Threat S01: hostile strings are data, never query text, in both stores.
    pub async fn injection_strings_round_trip_verbatim(store: &dyn ControlPlaneStore) {
        let hostile = [
            "Robert'); DROP TABLE tenants;--",
            "' OR '1'='1",
            "\" OR 1=1 --",
            "#pk = :pk OR attribute_exists(sk)",
            ":status) REMOVE #pk; SET x = (:x",
            "{\"$ne\": null}",
            "名前 \u{202e}txt.exe 🥗",
            "%s%n%x \\ ` ${jndi:ldap://x}",
        ];
        for text in hostile {
            let t = tenant(text);
            store.create_tenant(&t).await.unwrap();
            let (key, _) = ApiKey::issue(t.id.clone(), text, NOW, None).unwrap();
            store.create_key(&key).await.unwrap();
            let stored = store.get_tenant(&t.id).await.unwrap().unwrap();
            assert_eq!(stored.name, text.trim());
            assert_eq!(
                store.get_key(&key.key_id).await.unwrap().unwrap().name,
                text.trim()
            );
            assert_eq!(store.get_tenant(&TenantId::new(text)).await.unwrap(), None);
        }
        let all = store.list_tenants(100, None).await.unwrap();
        assert_eq!(
            all.items.len(),
            hostile.len(),
            "no statement escaped its parameters"
        );
        let hostile_cursor = base64_url(hostile[1]);
        store.list_tenants(10, Some(&hostile_cursor)).await.unwrap();
    }

    fn base64_url(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
