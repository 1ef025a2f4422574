//! Billing under one contract for both adapters (threats T13, S12): the embedded store
//! always, the DynamoDB adapter against the loopback server `scripts/test` starts.
//! Concurrency cases fire hundreds of operations at once and check exact counts: the
//! conditional writes, not luck, keep the rate limit and the budget.

use futures_util::future::join_all;
use nutripro_faults::FaultProxy;
use nutripro_shared::adapters::dynamodb::billing::DynamoBillingStore;
use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::billing::{
    built_in_plans, Invoice, LedgerEntry, Period, Plan, Reservation, UsageReport,
    RESERVATION_TTL_SECONDS,
};
use nutripro_shared::domain::{PlanId, TenantId, Timestamp};
use nutripro_shared::ports::billing::{
    all_plans, find_plan, ledger_usage, reconcile, sweep_tenant, BillingStore, PlanStore,
    RateWindowOwner, Settlement,
};
use nutripro_shared::ports::StoreError;
use std::sync::Arc;

/// 2027-01-14T08:00:00Z
const NOW: Timestamp = Timestamp::from_millis(1_799_913_600_000);

struct Harness {
    billing: Arc<dyn BillingStore>,
    plans: Arc<dyn PlanStore>,
    _faults: Option<FaultProxy>,
}

fn sqlite() -> Harness {
    let store = Arc::new(SqliteStore::open_in_memory().expect("in-memory sqlite"));
    Harness {
        billing: store.clone(),
        plans: store,
        _faults: None,
    }
}

/// The DynamoDB adapter against the loopback server, through the fault proxy.
async fn dynamodb() -> Harness {
    let proxy = FaultProxy::for_tests("billing_contract").await;
    let client = schema::local_client(proxy.url());
    let id = nutripro_shared::domain::new_id();
    let (control, billing) = (format!("control-{id}"), format!("billing-{id}"));
    for table in [&control, &billing] {
        schema::create_table(&client, table)
            .await
            .expect("create a table on the local DynamoDB server");
    }
    proxy.arm();
    Harness {
        billing: Arc::new(DynamoBillingStore::new(client.clone(), billing)),
        plans: Arc::new(DynamoStore::new(client, control)),
        _faults: Some(proxy),
    }
}

macro_rules! contract_suite {
    ($module:ident, $make:expr, $mode:ident) => {
        mod $module {
            use super::*;
            contract_suite!(@cases $make, $mode;
                plans_are_stored_over_the_built_in_ones,
                the_rate_limit_is_exact_under_concurrency,
                the_budget_is_never_overcommitted_under_concurrency,
                settlement_is_idempotent_by_request_id,
                releases_return_the_whole_reservation,
                expired_reservations_lapse_and_the_sweep_restores_the_budget,
                a_settlement_racing_the_sweep_wins_or_loses_whole,
                invoices_are_created_once_and_never_replaced,
                the_ledger_pages_in_request_order,
                usage_is_tallied_per_dietitian_with_style_scores,
                a_budget_alert_is_claimed_once_per_threshold_and_period,
                a_signature_nonce_is_accepted_once_until_it_expires,
            );
        }
    };
    (@cases $make:expr, embedded; $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                cases::$case(&$make).await;
            }
        )*
    };
    (@cases $make:expr, needs_server; $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
            async fn $case() {
                cases::$case(&$make).await;
            }
        )*
    };
}

contract_suite!(embedded, sqlite(), embedded);
contract_suite!(dynamodb_local, dynamodb().await, needs_server);

fn tenant() -> TenantId {
    TenantId::generate()
}

fn period() -> Period {
    Period::of(NOW)
}

fn reservation(tenant: &TenantId, id: &str, amount: i64) -> Reservation {
    Reservation {
        id: id.into(),
        tenant_id: tenant.clone(),
        period: period(),
        amount_micros: amount,
        currency: "USD".into(),
        expires_at: NOW.plus_seconds(RESERVATION_TTL_SECONDS),
    }
}

/// The entry of a generation that used `tokens` prompt and completion tokens, priced
/// at 1 micro per token of each type.
fn entry(r: &Reservation, model: &str, prompt: u64, completion: u64) -> LedgerEntry {
    LedgerEntry {
        request_id: r.id.clone(),
        tenant_id: r.tenant_id.clone(),
        period: r.period,
        at: NOW.plus_seconds(2),
        model: model.into(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        prompt_micros: prompt as i64,
        completion_micros: completion as i64,
        currency: "USD".into(),
        // Spread over two dietitians, one generation in three without a style score.
        dietitian_id: if r.id.len().is_multiple_of(2) {
            "dr-a"
        } else {
            "dr-b"
        }
        .into(),
        style_milli: (!prompt.is_multiple_of(3)).then_some(600 + (prompt % 400) as u32),
    }
}

async fn assert_reconciles(h: &Harness, tenant: &TenantId) -> UsageReport {
    let mismatches = reconcile(&*h.billing, tenant, period()).await.unwrap();
    assert!(
        mismatches.is_empty(),
        "aggregates drifted from the ledger: {mismatches:?}"
    );
    h.billing.usage(tenant, period()).await.unwrap()
}

mod cases {
    use super::*;

    pub async fn plans_are_stored_over_the_built_in_ones(h: &Harness) {
        let standard = PlanId::new("standard");
        assert_eq!(
            find_plan(&*h.plans, &standard).await.unwrap(),
            built_in_plans().into_iter().find(|p| p.id == "standard")
        );
        let mut changed = find_plan(&*h.plans, &standard).await.unwrap().unwrap();
        changed.monthly_fee_micros = 1;
        let custom = Plan {
            id: "custom-1".into(),
            ..changed.clone()
        };
        h.plans.put_plan(&changed).await.unwrap();
        h.plans.put_plan(&custom).await.unwrap();
        assert_eq!(
            find_plan(&*h.plans, &standard).await.unwrap(),
            Some(changed.clone())
        );
        assert_eq!(
            find_plan(&*h.plans, &PlanId::new("nope")).await.unwrap(),
            None
        );
        let all = all_plans(&*h.plans).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["custom-1", "enterprise", "pro", "standard"]);
        assert_eq!(all[3], changed);
    }

    pub async fn the_rate_limit_is_exact_under_concurrency(h: &Harness) {
        let tenant = tenant();
        let window = NOW.as_millis() / 60_000 * 60;
        let expires = NOW.plus_seconds(120);
        const LIMIT: u32 = 17;
        let results = join_all((0..60).map(|_| {
            let (billing, tenant) = (h.billing.clone(), tenant.clone());
            tokio::spawn(async move {
                billing
                    .count_request(&RateWindowOwner::tenant(&tenant), window, LIMIT, expires)
                    .await
                    .unwrap()
            })
        }))
        .await;
        let mut counts: Vec<u32> = results.into_iter().filter_map(|r| r.unwrap()).collect();
        counts.sort_unstable();
        assert_eq!(
            counts,
            (1..=LIMIT).collect::<Vec<_>>(),
            "exactly the limit passes, each count once"
        );
        let next = h
            .billing
            .count_request(
                &RateWindowOwner::tenant(&tenant),
                window + 60,
                LIMIT,
                expires.plus_seconds(60),
            )
            .await
            .unwrap();
        assert_eq!(next, Some(1), "a new window starts from zero");
        let other = h
            .billing
            .count_request(
                &RateWindowOwner::tenant(&TenantId::generate()),
                window,
                LIMIT,
                expires,
            )
            .await
            .unwrap();
        assert_eq!(other, Some(1), "tenants do not share windows");
        // A key with a limit of its own counts in a window of its own (issue 18).
        let key = nutripro_shared::domain::KeyId::new("0193a0e2b7c87f1aa0e5c7d3f4a5b6c7");
        let own = h
            .billing
            .count_request(&RateWindowOwner::key(&tenant, &key), window, LIMIT, expires)
            .await
            .unwrap();
        assert_eq!(
            own,
            Some(1),
            "the key's window is not its tenant's full one"
        );
    }

    /// Issue 18: racing requests with one nonce — exactly one is accepted; other keys
    /// and other nonces are their own; a nonce past its time may be used again.
    pub async fn a_signature_nonce_is_accepted_once_until_it_expires(h: &Harness) {
        let key = nutripro_shared::domain::KeyId::new(nutripro_shared::domain::new_id());
        let expires = NOW.plus_seconds(660);
        let results = join_all((0..12).map(|_| {
            let (billing, key) = (h.billing.clone(), key.clone());
            tokio::spawn(async move {
                billing
                    .claim_nonce(&key, "n0nce-raced/+=", NOW, expires)
                    .await
                    .unwrap()
            })
        }))
        .await;
        let accepted = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(accepted, 1, "one of the racing uses of a nonce is accepted");
        let claim = |key: nutripro_shared::domain::KeyId, nonce: &'static str, now: Timestamp| {
            let billing = h.billing.clone();
            async move {
                billing
                    .claim_nonce(&key, nonce, now, now.plus_seconds(660))
                    .await
                    .unwrap()
            }
        };
        assert!(!claim(key.clone(), "n0nce-raced/+=", NOW.plus_seconds(659)).await);
        assert!(
            claim(key.clone(), "another-nonce", NOW).await,
            "other nonces are free"
        );
        let other = nutripro_shared::domain::KeyId::new(nutripro_shared::domain::new_id());
        assert!(
            claim(other, "n0nce-raced/+=", NOW).await,
            "keys do not share nonces"
        );
        assert!(
            claim(key, "n0nce-raced/+=", NOW.plus_seconds(660)).await,
            "a nonce is remembered until it expires, not forever"
        );
    }

    /// Issue 17: racing claims of one threshold — exactly one wins; the standing and
    /// the usage report show it; other thresholds, periods and tenants are their own.
    pub async fn a_budget_alert_is_claimed_once_per_threshold_and_period(h: &Harness) {
        let tenant = tenant();
        let results = join_all((0..40).map(|i| {
            let (billing, tenant) = (h.billing.clone(), tenant.clone());
            tokio::spawn(async move {
                billing
                    .claim_budget_alert(&tenant, period(), 80, &format!("claim-{i}"))
                    .await
                    .unwrap()
            })
        }))
        .await;
        let won = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(won, 1, "exactly one claim of the 80% alert wins");
        assert!(h
            .billing
            .claim_budget_alert(&tenant, period(), 50, "x")
            .await
            .unwrap());
        assert!(!h
            .billing
            .claim_budget_alert(&tenant, period(), 50, "y")
            .await
            .unwrap());
        assert!(h
            .billing
            .claim_budget_alert(&tenant, period().next(), 80, "x")
            .await
            .unwrap());
        assert!(h
            .billing
            .claim_budget_alert(&TenantId::generate(), period(), 80, "x")
            .await
            .unwrap());
        let standing = h.billing.budget_standing(&tenant, period()).await.unwrap();
        assert_eq!(standing.alerted, [50, 80]);
        assert_eq!(standing.settled_micros, 0);
        assert_eq!(
            h.billing
                .usage(&tenant, period())
                .await
                .unwrap()
                .budget_alerts,
            [50, 80]
        );
        // Spend is read with the alerts.
        let r = reservation(&tenant, "alerted-spend", 1_000);
        assert!(h.billing.reserve(&r, 10_000).await.unwrap());
        h.billing
            .settle(&r, &entry(&r, "m", 300, 200), NOW)
            .await
            .unwrap();
        let standing = h.billing.budget_standing(&tenant, period()).await.unwrap();
        assert_eq!(
            (standing.settled_micros, standing.alerted),
            (500, vec![50, 80])
        );
        assert!(reconcile(&*h.billing, &tenant, period())
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn the_budget_is_never_overcommitted_under_concurrency(h: &Harness) {
        let tenant = tenant();
        // Each reservation holds 1,000; the budget affords exactly 37 of them.
        const AMOUNT: i64 = 1_000;
        let budget = 37 * AMOUNT + AMOUNT - 1;
        let outcomes = join_all((0..200).map(|i| {
            let billing = h.billing.clone();
            let r = reservation(&tenant, &format!("req-{i:03}"), AMOUNT);
            tokio::spawn(async move {
                if !billing.reserve(&r, budget).await.unwrap() {
                    return false;
                }
                // Actual usage as large as the worst case, so settling frees nothing and
                // the count cannot depend on how reserves and settlements interleave.
                let e = entry(&r, if i % 2 == 0 { "m-even" } else { "m-odd" }, 300, 700);
                assert_eq!(
                    billing.settle(&r, &e, NOW.plus_seconds(3)).await.unwrap(),
                    Settlement::Settled
                );
                true
            })
        }))
        .await;
        let billed = outcomes
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(billed, 37, "exactly what the budget affords is reserved");
        let usage = assert_reconciles(h, &tenant).await;
        assert_eq!(usage.total.generations, 37);
        assert_eq!(usage.total.amount_micros, 37 * AMOUNT);
        assert!(usage.total.amount_micros <= budget);
        assert_eq!(
            (usage.reserved_micros, usage.committed_micros),
            (0, 37 * AMOUNT)
        );
        let ledger = ledger_usage(&*h.billing, &tenant, period()).await.unwrap();
        assert_eq!(ledger.total, usage.total);
        assert_eq!(
            ledger.by_model["m-even"].generations + ledger.by_model["m-odd"].generations,
            37
        );
        let one_more = reservation(&tenant, "req-more", AMOUNT);
        assert!(!h.billing.reserve(&one_more, budget).await.unwrap());
    }

    /// Spec 10: each dietitian's generations and style scores, summed with the
    /// settlement that bills them (so they reconcile with the ledger exactly).
    pub async fn usage_is_tallied_per_dietitian_with_style_scores(h: &Harness) {
        let tenant = tenant();
        for (id, prompt, style) in [
            ("ab", 100, Some(800)),
            ("cd", 200, Some(600)),
            ("e", 300, None),
        ] {
            let r = reservation(&tenant, id, 5_000);
            assert!(h.billing.reserve(&r, 100_000).await.unwrap());
            let e = LedgerEntry {
                style_milli: style,
                ..entry(&r, "m", prompt, 10)
            };
            assert_eq!(
                h.billing.settle(&r, &e, NOW).await.unwrap(),
                Settlement::Settled
            );
        }
        let usage = assert_reconciles(h, &tenant).await;
        let a = usage.by_dietitian["dr-a"];
        assert_eq!((a.tally.generations, a.tally.prompt_tokens), (2, 300));
        assert_eq!((a.style_scored, a.style_milli_sum), (2, 1_400));
        assert_eq!(a.mean_style(), Some(0.7));
        let b = usage.by_dietitian["dr-b"];
        assert_eq!((b.tally.generations, b.style_scored), (1, 0));
        assert_eq!(b.mean_style(), None);
        assert_eq!(usage.by_dietitian.len(), 2);
    }

    pub async fn settlement_is_idempotent_by_request_id(h: &Harness) {
        let tenant = tenant();
        let r = reservation(&tenant, "req-1", 5_000);
        assert!(h.billing.reserve(&r, 10_000).await.unwrap());
        assert!(
            matches!(
                h.billing.reserve(&r, 10_000).await,
                Err(StoreError::AlreadyExists)
            ),
            "a reservation id is used once"
        );
        assert_eq!(
            h.billing
                .usage(&tenant, period())
                .await
                .unwrap()
                .committed_micros,
            5_000
        );
        let e = entry(&r, "m", 1_000, 2_000);
        assert_eq!(
            h.billing.settle(&r, &e, NOW).await.unwrap(),
            Settlement::Settled
        );
        assert_eq!(
            h.billing.settle(&r, &e, NOW).await.unwrap(),
            Settlement::AlreadySettled
        );
        let usage = assert_reconciles(h, &tenant).await;
        assert_eq!(
            (usage.total.generations, usage.committed_micros),
            (1, 3_000)
        );
        let page = h
            .billing
            .ledger_page(&tenant, period(), 10, None)
            .await
            .unwrap();
        assert_eq!(page.items, vec![e]);
    }

    pub async fn releases_return_the_whole_reservation(h: &Harness) {
        let tenant = tenant();
        let r = reservation(&tenant, "req-1", 8_000);
        assert!(h.billing.reserve(&r, 10_000).await.unwrap());
        assert!(
            !h.billing
                .reserve(&reservation(&tenant, "req-2", 8_000), 10_000)
                .await
                .unwrap(),
            "held budget is not available twice"
        );
        assert!(h.billing.release(&r).await.unwrap());
        assert!(!h.billing.release(&r).await.unwrap(), "released once only");
        let usage = assert_reconciles(h, &tenant).await;
        assert_eq!((usage.committed_micros, usage.reserved_micros), (0, 0));
        assert_eq!(
            h.billing
                .settle(&r, &entry(&r, "m", 1, 1), NOW)
                .await
                .unwrap(),
            Settlement::Lapsed,
            "nothing is billed against a released reservation"
        );
        assert_eq!(assert_reconciles(h, &tenant).await.total.generations, 0);
    }

    pub async fn expired_reservations_lapse_and_the_sweep_restores_the_budget(h: &Harness) {
        let tenant = tenant();
        // A crashed invocation: reserved, never settled nor released.
        let crashed = reservation(&tenant, "req-crashed", 9_000);
        assert!(h.billing.reserve(&crashed, 10_000).await.unwrap());
        let live = reservation(&tenant, "req-live", 1_000);
        assert!(h.billing.reserve(&live, 10_000).await.unwrap());
        assert!(!h
            .billing
            .reserve(&reservation(&tenant, "req-blocked", 2_000), 10_000)
            .await
            .unwrap());
        let before_expiry = NOW.plus_seconds(RESERVATION_TTL_SECONDS - 1);
        assert!(h
            .billing
            .expired_reservations(&tenant, before_expiry)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            sweep_tenant(&*h.billing, &tenant, before_expiry)
                .await
                .unwrap(),
            0
        );
        let after_expiry = NOW.plus_seconds(RESERVATION_TTL_SECONDS);
        assert_eq!(
            h.billing
                .settle(&crashed, &entry(&crashed, "m", 1, 1), after_expiry)
                .await
                .unwrap(),
            Settlement::Lapsed,
            "an expired reservation cannot be settled"
        );
        let expired = h
            .billing
            .expired_reservations(&tenant, after_expiry)
            .await
            .unwrap();
        assert_eq!(expired.len(), 2);
        assert_eq!(
            sweep_tenant(&*h.billing, &tenant, after_expiry)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            sweep_tenant(&*h.billing, &tenant, after_expiry)
                .await
                .unwrap(),
            0
        );
        let usage = assert_reconciles(h, &tenant).await;
        assert_eq!((usage.committed_micros, usage.reserved_micros), (0, 0));
        assert!(
            h.billing
                .reserve(&reservation(&tenant, "req-after", 10_000), 10_000)
                .await
                .unwrap(),
            "the whole budget is back"
        );
    }

    pub async fn a_settlement_racing_the_sweep_wins_or_loses_whole(h: &Harness) {
        let tenant = tenant();
        let at = NOW.plus_seconds(RESERVATION_TTL_SECONDS);
        for i in 0..20 {
            let r = reservation(&tenant, &format!("req-{i:02}"), 1_000);
            assert!(h.billing.reserve(&r, 1_000_000).await.unwrap());
            let (billing, r2) = (h.billing.clone(), r.clone());
            // The sweep sees it expired; the settlement thinks it is just in time.
            let settle = tokio::spawn(async move {
                billing
                    .settle(&r2, &entry(&r2, "m", 100, 100), at.plus_seconds(-1))
                    .await
                    .unwrap()
            });
            let swept = h.billing.release_expired(&r, at).await.unwrap();
            let settled = settle.await.unwrap();
            assert!(
                swept != (settled == Settlement::Settled),
                "exactly one of sweep ({swept}) and settle ({settled:?}) takes the reservation"
            );
        }
        let usage = assert_reconciles(h, &tenant).await;
        assert_eq!(usage.reserved_micros, 0);
        assert_eq!(usage.committed_micros, usage.total.amount_micros);
    }

    pub async fn invoices_are_created_once_and_never_replaced(h: &Harness) {
        let tenant = tenant();
        let plan = &built_in_plans()[2];
        let usage = UsageReport::default();
        let first = Invoice::issue(&tenant, plan, period(), &usage, NOW);
        assert!(h.billing.create_invoice(&first).await.unwrap());
        let mut second = first.clone();
        second.total_micros += 1;
        assert!(!h.billing.create_invoice(&second).await.unwrap());
        assert_eq!(
            h.billing.get_invoice(&tenant, period()).await.unwrap(),
            Some(first.clone())
        );
        let next = Invoice::issue(&tenant, plan, period().next(), &usage, NOW);
        assert!(h.billing.create_invoice(&next).await.unwrap());
        assert_eq!(
            h.billing.list_invoices(&tenant).await.unwrap(),
            vec![first, next]
        );
        assert!(h
            .billing
            .list_invoices(&TenantId::generate())
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            h.billing
                .get_invoice(&TenantId::generate(), period())
                .await
                .unwrap(),
            None
        );
    }

    pub async fn the_ledger_pages_in_request_order(h: &Harness) {
        let tenant = tenant();
        for i in (0..5).rev() {
            let r = reservation(&tenant, &format!("req-{i}"), 10);
            assert!(h.billing.reserve(&r, 1_000).await.unwrap());
            h.billing
                .settle(&r, &entry(&r, "m", 1, 2), NOW)
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = h
                .billing
                .ledger_page(&tenant, period(), 2, cursor.as_deref())
                .await
                .unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.into_iter().map(|e| e.request_id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["req-0", "req-1", "req-2", "req-3", "req-4"]);
        assert!(h
            .billing
            .ledger_page(&tenant, period().next(), 2, None)
            .await
            .unwrap()
            .items
            .is_empty());
        assert!(matches!(
            h.billing
                .ledger_page(&tenant, period(), 2, Some("!!"))
                .await,
            Err(StoreError::InvalidCursor)
        ));
    }
}
