//! The content store contract, run against SQLite and against DynamoDB on loopback
//! (moto, via `NUTRIPRO_TEST_DYNAMODB_ENDPOINT`, started by scripts/test).

use nutripro_faults::{FaultProxy, WithFaults};
use nutripro_shared::adapters::dynamodb::content::DynamoContentStore;
use nutripro_shared::adapters::dynamodb::schema;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::billing::Period;
use nutripro_shared::domain::content::{
    Consent, ContentKind, DietitianId, Generation, GenerationId, Money, Sample, SampleId, Usage,
};
use nutripro_shared::domain::safety::{Finding, FindingCode, SafetyReport};
use nutripro_shared::domain::style::DietitianStyle;
use nutripro_shared::domain::{new_id, KeyId, TenantId, Timestamp};
use nutripro_shared::ports::content::{
    ContentStore, IdempotencyClaim, IdempotencyKey, StoredResponse, StoredStyle,
};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn sqlite() -> Box<dyn ContentStore> {
    Box::new(SqliteStore::open_in_memory().unwrap())
}

/// The DynamoDB adapter against the loopback server, through the fault proxy.
async fn dynamodb() -> WithFaults<dyn ContentStore> {
    let proxy = FaultProxy::for_tests("content_contract").await;
    let client = schema::local_client(proxy.url());
    let table = format!("content-{}", new_id());
    schema::create_table(&client, &table)
        .await
        .expect("create the content table");
    proxy.arm();
    WithFaults {
        inner: Box::new(DynamoContentStore::new(client, table)),
        proxy,
    }
}

fn tenant() -> TenantId {
    TenantId::new(new_id())
}

fn dietitian(name: &str) -> DietitianId {
    DietitianId::parse(name).unwrap()
}

fn sample(t: &TenantId, d: &DietitianId, kind: ContentKind, text: &str, at: i64) -> Sample {
    Sample::new(
        t.clone(),
        d.clone(),
        kind,
        Some("A title"),
        text,
        NOW.plus_seconds(at),
    )
    .unwrap()
}

fn generation(t: &TenantId, d: &DietitianId, samples: &[&Sample]) -> Generation {
    Generation {
        id: GenerationId::generate(),
        tenant_id: t.clone(),
        dietitian_id: d.clone(),
        kind: ContentKind::DietIntroduction,
        input: r#"{"client":"Ann"}"#.into(),
        sample_ids: samples.iter().map(|s| s.id.clone()).collect(),
        content: "Dear Ann, welcome.".into(),
        model: "gpt-4o-mini".into(),
        usage: Usage {
            prompt_tokens: 120,
            completion_tokens: 30,
            total_tokens: 150,
        },
        cost: Money {
            amount_micros: 36,
            currency: "USD".into(),
        },
        created_at: NOW,
        key_id: KeyId::new("k1"),
        llm_request: r#"{"model":"gpt-4o-mini"}"#.into(),
        llm_response: r#"{"choices":[]}"#.into(),
        client: r#"{"allergies":["peanuts"]}"#.into(),
        safety: Some(SafetyReport::from_findings(Vec::new())),
        disclaimer_appended: true,
        style: nutripro_shared::domain::style::StyleScore {
            score: Some(0.734),
            profile_samples: 4,
        },
        request_signature: None,
        integrity: String::new(),
    }
    .seal()
}

/// A generation the safety checks blocked (its text kept for review).
fn blocked(t: &TenantId, d: &DietitianId, at: Timestamp) -> Generation {
    let mut g = generation(t, d, &[]);
    g.created_at = at;
    g.content = "Spread peanut butter on toast.".into();
    g.disclaimer_appended = false;
    g.safety = Some(SafetyReport::from_findings(vec![
        Finding::new(
            FindingCode::AllergenConflict,
            "peanuts".into(),
            "peanut butter".into(),
        ),
        Finding::warn(FindingCode::MedicalClaim, "claim".into(), String::new()),
    ]));
    g.seal()
}

fn idem(t: &TenantId, d: &DietitianId, key: &str) -> IdempotencyKey {
    IdempotencyKey {
        tenant_id: t.clone(),
        scope: "create_generation",
        key: key.into(),
        dietitian_id: d.clone(),
    }
}

macro_rules! content_suite {
    ($module:ident, $make:expr, $mode:ident) => {
        mod $module {
            use super::*;
            content_suite!(@cases $make, $mode;
                consent_is_recorded_replaced_and_tenant_scoped,
                samples_round_trip_and_are_tenant_scoped,
                samples_list_newest_first_in_pages_and_by_kind,
                generations_round_trip_intact_and_list_in_pages,
                erasure_removes_one_dietitian_of_one_tenant,
                blocked_generations_are_listed_for_review_by_period,
                idempotency_keys_claim_complete_release_and_expire,
                hostile_text_round_trips_verbatim,
                style_profiles_are_replaced_read_and_deleted_per_tenant,
            );
        }
    };
    (@cases $make:expr, embedded; $($case:ident,)*) => {
        $( #[tokio::test] async fn $case() { let store = $make; cases::$case(&*store).await; } )*
    };
    (@cases $make:expr, needs_server; $($case:ident,)*) => {
        $(
            #[tokio::test]
            #[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
            async fn $case() { let store = $make; cases::$case(&*store).await; }
        )*
    };
}

content_suite!(sqlite_store, sqlite(), embedded);
content_suite!(dynamodb_store, dynamodb().await, needs_server);

mod cases {
    use super::*;

    pub async fn consent_is_recorded_replaced_and_tenant_scoped(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let d = dietitian("dr-smith");
        assert_eq!(store.get_consent(&t, &d).await.unwrap(), None);
        let granted = Consent {
            tenant_id: t.clone(),
            dietitian_id: d.clone(),
            granted: true,
            recorded_at: NOW,
            key_id: KeyId::new("k1"),
        };
        store.put_consent(&granted).await.unwrap();
        assert_eq!(
            store.get_consent(&t, &d).await.unwrap(),
            Some(granted.clone())
        );
        let withdrawn = Consent {
            granted: false,
            recorded_at: NOW.plus_seconds(5),
            key_id: KeyId::new("k2"),
            ..granted
        };
        store.put_consent(&withdrawn).await.unwrap();
        assert_eq!(store.get_consent(&t, &d).await.unwrap(), Some(withdrawn));
        assert_eq!(
            store.get_consent(&other, &d).await.unwrap(),
            None,
            "another tenant's dietitian of the same id"
        );
    }

    pub async fn samples_round_trip_and_are_tenant_scoped(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let d = dietitian("dr-smith");
        let s = sample(&t, &d, ContentKind::DietIntroduction, "Eat your greens.", 0);
        store.create_sample(&s).await.unwrap();
        assert_eq!(store.get_sample(&t, &s.id).await.unwrap(), Some(s.clone()));
        assert_eq!(store.get_sample(&other, &s.id).await.unwrap(), None);
        assert_eq!(
            store.delete_sample(&other, &s.id).await.unwrap(),
            None,
            "another tenant cannot delete it"
        );
        assert_eq!(store.count_samples(&t, &d).await.unwrap(), 1);
        assert_eq!(store.count_samples(&other, &d).await.unwrap(), 0);
        assert!(store
            .list_samples(&other, &d, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
        assert_eq!(
            store.delete_sample(&t, &s.id).await.unwrap(),
            Some(d.clone()),
            "the deleted sample's dietitian"
        );
        assert_eq!(
            store.delete_sample(&t, &s.id).await.unwrap(),
            None,
            "already gone"
        );
        assert_eq!(store.get_sample(&t, &s.id).await.unwrap(), None);
    }

    pub async fn samples_list_newest_first_in_pages_and_by_kind(store: &dyn ContentStore) {
        let t = tenant();
        let (d, d2) = (dietitian("dr-a"), dietitian("dr-b"));
        let mut created = Vec::new();
        for i in 0..5 {
            let kind = if i % 2 == 0 {
                ContentKind::DietIntroduction
            } else {
                ContentKind::NutritionTips
            };
            let s = sample(&t, &d, kind, &format!("sample {i}"), i);
            store.create_sample(&s).await.unwrap();
            created.push(s);
        }
        store
            .create_sample(&sample(
                &t,
                &d2,
                ContentKind::DietIntroduction,
                "other dietitian",
                9,
            ))
            .await
            .unwrap();
        let newest_first: Vec<Sample> = created.iter().rev().cloned().collect();

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let page = store
                .list_samples(&t, &d, None, 2, cursor.as_deref())
                .await
                .unwrap();
            seen.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, newest_first);

        let intros = store
            .list_samples(&t, &d, Some(ContentKind::DietIntroduction), 10, None)
            .await
            .unwrap();
        let expected: Vec<Sample> = newest_first
            .iter()
            .filter(|s| s.kind == ContentKind::DietIntroduction)
            .cloned()
            .collect();
        assert_eq!(intros.items, expected);
        assert_eq!(intros.next_cursor, None);
        let latest_two = store
            .list_samples(&t, &d, Some(ContentKind::DietIntroduction), 2, None)
            .await
            .unwrap();
        assert_eq!(latest_two.items, expected[..2]);
        assert!(latest_two.next_cursor.is_some());
    }

    pub async fn generations_round_trip_intact_and_list_in_pages(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let d = dietitian("dr-smith");
        let s = sample(&t, &d, ContentKind::DietIntroduction, "style", 0);
        let mut created = Vec::new();
        for _ in 0..3 {
            let g = generation(&t, &d, &[&s]);
            store.create_generation(&g).await.unwrap();
            created.push(g);
        }
        let stored = store
            .get_generation(&t, &created[0].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, created[0]);
        assert!(stored.is_intact(), "every field survives storage exactly");
        assert_eq!(
            store.get_generation(&other, &created[0].id).await.unwrap(),
            None
        );

        let first = store.list_generations(&t, &d, 2, None).await.unwrap();
        assert_eq!(first.items, vec![created[2].clone(), created[1].clone()]);
        let second = store
            .list_generations(&t, &d, 2, first.next_cursor.as_deref())
            .await
            .unwrap();
        assert_eq!(second.items, vec![created[0].clone()]);
        assert_eq!(second.next_cursor, None);
        assert!(store
            .list_generations(&other, &d, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());

        // Re-sealing on read (issue 18): only the seal changes, and only from the one
        // the reader saw.
        let old_seal = created[0].integrity.clone();
        let mut resealed = created[0].clone();
        resealed.integrity = format!("v3:k1:{}", "ab".repeat(32));
        assert!(store.reseal_generation(&resealed, &old_seal).await.unwrap());
        assert_eq!(
            store.get_generation(&t, &created[0].id).await.unwrap(),
            Some(resealed.clone())
        );
        assert!(
            !store.reseal_generation(&resealed, &old_seal).await.unwrap(),
            "a seal that changed meanwhile is left alone"
        );
        let mut elsewhere = resealed.clone();
        elsewhere.tenant_id = other.clone();
        assert!(!store
            .reseal_generation(&elsewhere, &resealed.integrity)
            .await
            .unwrap());
    }

    /// A blocked generation is stored whole (for review) and listed, without text, in its
    /// tenant's review list of the period; erasure takes both.
    pub async fn blocked_generations_are_listed_for_review_by_period(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let (d, keep) = (dietitian("dr-blocked"), dietitian("dr-other"));
        let november = Period::parse("2026-11").unwrap();
        let mut made = Vec::new();
        for (n, dietitian) in [&d, &keep, &d].into_iter().enumerate() {
            let g = blocked(&t, dietitian, november.start().plus_seconds(60 * n as i64));
            store.create_generation(&g).await.unwrap();
            made.push(g);
        }
        let december = blocked(&t, &d, november.end().plus_seconds(5));
        store.create_generation(&december).await.unwrap();
        store
            .create_generation(&generation(&t, &d, &[]))
            .await
            .unwrap();
        let stored = store
            .get_generation(&t, &made[0].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, made[0], "the withheld text is kept for review");
        assert!(stored.is_intact());
        let first = store.list_blocked(&t, november, 2, None).await.unwrap();
        let ids: Vec<&str> = first
            .items
            .iter()
            .map(|b| b.generation_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [made[2].id.as_str(), made[1].id.as_str()],
            "newest first"
        );
        assert_eq!(
            first.items[0].codes,
            [FindingCode::AllergenConflict, FindingCode::MedicalClaim]
        );
        let rest = store
            .list_blocked(&t, november, 2, first.next_cursor.as_deref())
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next_cursor, None);
        assert_eq!(
            store
                .list_blocked(&t, november.next(), 10, None)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert!(store
            .list_blocked(&other, november, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
        store.erase_dietitian(&t, &d).await.unwrap();
        let left = store.list_blocked(&t, november, 10, None).await.unwrap();
        let ids: Vec<&str> = left
            .items
            .iter()
            .map(|b| b.generation_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [made[1].id.as_str()],
            "erasure takes the dietitian's entries"
        );
    }

    /// A style profile computed from the dietitian's samples, stored.
    async fn put_style(
        store: &dyn ContentStore,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> StoredStyle {
        let samples: Vec<_> = (0..2)
            .map(|i| {
                sample(
                    tenant,
                    dietitian,
                    ContentKind::NutritionTips,
                    "Dear friend,\n\nEat well! We'll see.\n\n— Anna",
                    i,
                )
            })
            .collect();
        let stored = StoredStyle {
            tenant_id: tenant.clone(),
            dietitian_id: dietitian.clone(),
            style: DietitianStyle::from_samples(&samples).unwrap(),
            computed_at: NOW,
        };
        store.put_style(&stored).await.unwrap();
        stored
    }

    pub async fn style_profiles_are_replaced_read_and_deleted_per_tenant(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let d = dietitian("dr-style");
        assert_eq!(store.get_style(&t, &d).await.unwrap(), None);
        let first = put_style(store, &t, &d).await;
        assert_eq!(store.get_style(&t, &d).await.unwrap(), Some(first.clone()));
        assert_eq!(
            store.get_style(&other, &d).await.unwrap(),
            None,
            "tenant-scoped"
        );
        let other_profile = put_style(store, &other, &d).await;
        // Replaced whole.
        let samples = vec![sample(
            &t,
            &d,
            ContentKind::MealPlanSummary,
            "Monday: soup; Tuesday: fish.",
            7,
        )];
        let second = StoredStyle {
            style: DietitianStyle::from_samples(&samples).unwrap(),
            computed_at: NOW.plus_seconds(60),
            ..first
        };
        store.put_style(&second).await.unwrap();
        assert_eq!(store.get_style(&t, &d).await.unwrap(), Some(second));
        store.delete_style(&t, &d).await.unwrap();
        assert_eq!(store.get_style(&t, &d).await.unwrap(), None);
        store.delete_style(&t, &d).await.unwrap();
        assert_eq!(
            store.get_style(&other, &d).await.unwrap(),
            Some(other_profile),
            "the other tenant's dietitian of the same id keeps its own"
        );
    }

    pub async fn erasure_removes_one_dietitian_of_one_tenant(store: &dyn ContentStore) {
        let (t, other) = (tenant(), tenant());
        let (d, keep) = (dietitian("dr-erase"), dietitian("dr-keep"));
        for (tenant, dietitian) in [(&t, &d), (&t, &keep), (&other, &d)] {
            let consent = Consent {
                tenant_id: tenant.clone(),
                dietitian_id: dietitian.clone(),
                granted: true,
                recorded_at: NOW,
                key_id: KeyId::new("k"),
            };
            store.put_consent(&consent).await.unwrap();
            for i in 0..3 {
                let s = sample(tenant, dietitian, ContentKind::NutritionTips, "tips", i);
                store.create_sample(&s).await.unwrap();
                store
                    .create_generation(&generation(tenant, dietitian, &[&s]))
                    .await
                    .unwrap();
            }
            put_style(store, tenant, dietitian).await;
            let key = idem(tenant, dietitian, "retry-1");
            store.claim_idempotency_key(&key, "h", NOW).await.unwrap();
            store
                .complete_idempotency_key(
                    &key,
                    &StoredResponse {
                        status: 201,
                        body: "{}".into(),
                    },
                    NOW,
                )
                .await
                .unwrap();
        }
        let erased = store.erase_dietitian(&t, &d).await.unwrap();
        assert_eq!(
            (erased.samples, erased.generations, erased.consent),
            (3, 3, true)
        );
        assert_eq!(store.get_consent(&t, &d).await.unwrap(), None);
        assert_eq!(store.count_samples(&t, &d).await.unwrap(), 0);
        assert_eq!(
            store.get_style(&t, &d).await.unwrap(),
            None,
            "the profile too"
        );
        assert!(store.get_style(&t, &keep).await.unwrap().is_some());
        assert!(store.get_style(&other, &d).await.unwrap().is_some());
        assert!(store
            .list_generations(&t, &d, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
        assert_eq!(
            store
                .claim_idempotency_key(&idem(&t, &d, "retry-1"), "h", NOW)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "stored responses about the dietitian are erased too"
        );
        for (tenant, dietitian) in [(&t, &keep), (&other, &d)] {
            assert!(
                store
                    .get_consent(tenant, dietitian)
                    .await
                    .unwrap()
                    .is_some(),
                "untouched"
            );
            assert_eq!(store.count_samples(tenant, dietitian).await.unwrap(), 3);
            assert_eq!(
                store
                    .list_generations(tenant, dietitian, 10, None)
                    .await
                    .unwrap()
                    .items
                    .len(),
                3
            );
        }
        let again = store.erase_dietitian(&t, &d).await.unwrap();
        assert_eq!(
            (again.samples, again.generations, again.consent),
            (0, 0, false),
            "idempotent"
        );
    }

    pub async fn idempotency_keys_claim_complete_release_and_expire(store: &dyn ContentStore) {
        let t = tenant();
        let d = dietitian("dr-smith");
        let key = idem(&t, &d, "key-1");
        assert_eq!(
            store
                .claim_idempotency_key(&key, "hash-a", NOW)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed
        );
        assert_eq!(
            store
                .claim_idempotency_key(&key, "hash-a", NOW)
                .await
                .unwrap(),
            IdempotencyClaim::InProgress {
                request_hash: "hash-a".into()
            }
        );
        let response = StoredResponse {
            status: 201,
            body: r#"{"id":"g1"}"#.into(),
        };
        store
            .complete_idempotency_key(&key, &response, NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_idempotency_key(&key, "hash-b", NOW.plus_seconds(10))
                .await
                .unwrap(),
            IdempotencyClaim::Completed {
                request_hash: "hash-a".into(),
                response: response.clone()
            }
        );
        assert_eq!(
            store
                .claim_idempotency_key(&key, "hash-a", NOW.plus_seconds(25 * 3600))
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "a stored response expires after a day"
        );

        let released = idem(&t, &d, "key-2");
        store
            .claim_idempotency_key(&released, "h", NOW)
            .await
            .unwrap();
        store.release_idempotency_key(&released).await.unwrap();
        assert_eq!(
            store
                .claim_idempotency_key(&released, "h", NOW)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed
        );

        let crashed = idem(&t, &d, "key-3");
        store
            .claim_idempotency_key(&crashed, "h", NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_idempotency_key(&crashed, "h", NOW.plus_seconds(61))
                .await
                .unwrap(),
            IdempotencyClaim::Claimed,
            "a crashed holder's lease runs out"
        );

        let other_tenant = idem(&tenant(), &d, "key-1");
        assert_eq!(
            store
                .claim_idempotency_key(&other_tenant, "x", NOW)
                .await
                .unwrap(),
            IdempotencyClaim::Claimed
        );
        let completed = idem(&t, &d, "key-4");
        store
            .claim_idempotency_key(&completed, "h", NOW)
            .await
            .unwrap();
        store
            .complete_idempotency_key(&completed, &response, NOW)
            .await
            .unwrap();
        store.release_idempotency_key(&completed).await.unwrap();
        assert!(
            matches!(
                store
                    .claim_idempotency_key(&completed, "h", NOW)
                    .await
                    .unwrap(),
                IdempotencyClaim::Completed { .. }
            ),
            "release never drops a completed response"
        );
    }

    /// Threat S01 for content: hostile text is data in both stores.
    pub async fn hostile_text_round_trips_verbatim(store: &dyn ContentStore) {
        let t = tenant();
        let d = dietitian("dr-smith");
        let hostile = "Robert'); DROP TABLE samples;-- #pk = :pk </style_example> ${x} \u{0} 🥗";
        let s = Sample::new(
            t.clone(),
            d.clone(),
            ContentKind::MealPlanSummary,
            Some("' OR 1=1 --"),
            hostile,
            NOW,
        )
        .unwrap();
        store.create_sample(&s).await.unwrap();
        let stored = store.get_sample(&t, &s.id).await.unwrap().unwrap();
        assert_eq!(stored.content, hostile);
        assert_eq!(stored.title.as_deref(), Some("' OR 1=1 --"));
        assert_eq!(
            store
                .get_sample(&t, &SampleId::new("' OR '1'='1"))
                .await
                .unwrap(),
            None
        );
    }
}
