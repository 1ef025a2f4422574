//! Billing over HTTP through the local gateway: usage for the tenant and for admins
//! from the same aggregates, rate-limit headers, 402 `budget-exhausted`, plans, and a
//! period closed into immutable invoices (JSON and CSV) that equal the ledger.

use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::billing::{LedgerEntry, Period, Reservation, RESERVATION_TTL_SECONDS};
use nutripro_shared::domain::{ApiKey, PlanId, Tenant, TenantId, TenantName, Timestamp};
use nutripro_shared::ports::billing::BillingStore;
use nutripro_shared::ports::{ApiKeyStore, TenantStore};
use nutripro_tests::{LocalStack, TestResponse};
use serde_json::{json, Value};

fn generation_body() -> Value {
    json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {"client": "Ann"}})
}

async fn generate(stack: &LocalStack, key: &str) -> TestResponse {
    stack
        .call(
            "POST",
            "/v1/generations",
            key,
            Some(&generation_body()),
            &[],
        )
        .await
}

async fn put_settings(stack: &LocalStack, admin: &str, tenant: &str, settings: Value) {
    let answer = stack
        .call(
            "PUT",
            &format!("/admin/tenants/{tenant}/settings"),
            admin,
            Some(&settings),
            &[],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn consent(stack: &LocalStack, key: &str) {
    let response = stack
        .call(
            "PUT",
            "/v1/dietitians/dr-smith/consent",
            key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
}

/// A tenant created long ago (so past periods are its to pay), with a key.
async fn old_tenant(stack: &LocalStack, name: &str) -> (TenantId, String) {
    let store = stack.store();
    let created = Timestamp::parse_rfc3339("2026-01-05T00:00:00Z").unwrap();
    let tenant = Tenant::new(
        TenantName::parse(name).unwrap(),
        PlanId::new("standard"),
        created,
    );
    store.create_tenant(&tenant).await.unwrap();
    let (key, token) = ApiKey::issue(tenant.id.clone(), "k", Timestamp::now(), None).unwrap();
    store.create_key(&key).await.unwrap();
    (tenant.id, token.expose().to_owned())
}

/// Settles one generation of `prompt`/`completion` tokens into `period` straight into
/// the store, as the generation function would have.
async fn bill(stack: &LocalStack, tenant: &TenantId, period: Period, id: &str, model: &str) {
    let store = stack.store();
    let at = period.start().plus_seconds(86_400 * 3);
    let reservation = Reservation {
        id: id.into(),
        tenant_id: tenant.clone(),
        period,
        amount_micros: 10_000,
        currency: "USD".into(),
        expires_at: at.plus_seconds(RESERVATION_TTL_SECONDS),
    };
    assert!(store.reserve(&reservation, 1_000_000).await.unwrap());
    let entry = LedgerEntry {
        request_id: id.into(),
        tenant_id: tenant.clone(),
        period,
        at,
        model: model.into(),
        prompt_tokens: 1_000,
        completion_tokens: 500,
        prompt_micros: 300,
        completion_micros: 600,
        currency: "USD".into(),
        dietitian_id: "dr-smith".into(),
        style_milli: Some(812),
    };
    store.settle(&reservation, &entry, at).await.unwrap();
}

#[tokio::test]
async fn usage_is_the_same_for_the_tenant_and_its_admins_and_generations_carry_rate_headers() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    consent(&stack, &boot.api_key).await;
    let mut cost = 0;
    for _ in 0..2 {
        let answer = generate(&stack, &boot.api_key).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(
            answer.header("ratelimit-limit"),
            Some("60"),
            "the standard plan's"
        );
        assert!(answer.header("ratelimit-remaining").is_some());
        assert!(answer.header("ratelimit-reset").is_some());
        cost += answer.json()["cost"]["amount_micros"].as_i64().unwrap();
    }
    let mine = stack.get_as("/v1/usage", &boot.api_key).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.json();
    assert_eq!(mine["total"]["generations"], 2);
    assert_eq!(mine["total"]["amount_micros"], cost);
    assert_eq!(mine["committed_micros"], cost);
    assert_eq!(mine["currency"], "USD");
    assert_eq!(mine["budget_micros"], 50_000_000);
    assert_eq!(mine["remaining_micros"], 50_000_000 - cost);
    let period = Period::of(Timestamp::now());
    let days = (period.end().as_millis() - period.start().as_millis()) / 86_400_000;
    assert_eq!(mine["by_day"].as_array().unwrap().len() as i64, days);

    let path = format!("/admin/tenants/{}/usage?period={period}", boot.tenant_id);
    for token in [
        stack.admin_token(Role::PlatformAdmin, None),
        stack.admin_token(Role::TenantManager, Some(&boot.tenant_id)),
    ] {
        let theirs = stack.call("GET", &path, &token, None, &[]).await;
        assert_eq!(theirs.status, 200, "{}", theirs.body);
        assert_eq!(theirs.json(), mine, "one source for tenant and admins");
    }
    let stranger = stack.admin_token(Role::TenantManager, Some(&TenantId::generate().to_string()));
    stack
        .call("GET", &path, &stranger, None, &[])
        .await
        .assert_problem(404);
    stack
        .get_as("/v1/usage?period=2026-13", &boot.api_key)
        .await
        .assert_problem(422);
    let empty = stack
        .get_as("/v1/usage?period=2020-01", &boot.api_key)
        .await
        .json();
    assert_eq!(empty["total"]["generations"], 0);
}

/// Issue 17: budget alerts over HTTP — the tenant's thresholds, raised once each as the
/// spend crosses them (an audit entry `budget.threshold`, the level in `GET /v1/usage`
/// and the admin usage), the 100% one by the first refusal.
#[tokio::test]
async fn budget_thresholds_raise_one_alert_each_and_show_in_usage() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    consent(&stack, &boot.api_key).await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let first = generate(&stack, &boot.api_key).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let cost = first.json()["cost"]["amount_micros"].as_i64().unwrap();
    let usage = stack.get_as("/v1/usage", &boot.api_key).await.json();
    assert_eq!(
        usage["budget_alert"],
        json!({"thresholds": [50, 80, 100], "raised": [], "level": null})
    );
    // The worst case a generation reserves, from a probe tenant whose budget covers
    // nothing (the 402 says it).
    let probe = stack.bootstrap("Probe").await;
    consent(&stack, &probe.api_key).await;
    put_settings(
        &stack,
        &admin,
        &probe.tenant_id,
        json!({"monthly_budget_micros": 1}),
    )
    .await;
    let detail = generate(&stack, &probe.api_key).await.assert_problem(402)["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    let worst: i64 = detail
        .split("may cost up to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no worst case in {detail:?}"));
    // Room for exactly one more generation (spent + worst case), alerts at 10%, 20%
    // and 100%: the next one crosses 10% and 20% at once.
    put_settings(
        &stack,
        &admin,
        &boot.tenant_id,
        json!({"monthly_budget_micros": cost + worst + cost / 2, "budget_alert_thresholds": [10, 20, 100]}),
    )
    .await;
    let second = generate(&stack, &boot.api_key).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let usage = stack.get_as("/v1/usage", &boot.api_key).await.json();
    assert_eq!(usage["budget_alert"]["raised"], json!([10, 20]), "{usage}");
    assert_eq!(usage["budget_alert"]["level"], 20);
    // The next one does not fit: refused, and the refusal raises 100%; a second refusal
    // raises nothing more.
    for _ in 0..2 {
        generate(&stack, &boot.api_key).await.assert_problem(402);
    }
    let usage = stack
        .get(
            &format!("/admin/tenants/{}/usage", boot.tenant_id),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(
        usage["budget_alert"],
        json!({"thresholds": [10, 20, 100], "raised": [10, 20, 100], "level": 100})
    );
    let alerts: Vec<_> = stack
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| {
            e.draft.action == "budget.threshold"
                && e.draft.tenant_id.as_deref() == Some(boot.tenant_id.as_str())
        })
        .collect();
    let percents: Vec<_> = alerts
        .iter()
        .map(|e| e.draft.details["threshold_percent"].as_u64().unwrap())
        .collect();
    assert_eq!(percents, [10, 20, 100], "one entry per threshold, in order");
    assert!(alerts
        .iter()
        .all(|e| e.draft.actor.subject == "system:billing"));
    assert_eq!(alerts[2].draft.details["refused"], true);
    // Thresholds are validated like every setting.
    let bad = stack
        .call(
            "PUT",
            &format!("/admin/tenants/{}/settings", boot.tenant_id),
            &admin,
            Some(&json!({"budget_alert_thresholds": [80, 50]})),
            &[],
        )
        .await;
    bad.assert_problem(422);
}

#[tokio::test]
async fn an_exhausted_budget_is_402_and_bills_nothing() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    consent(&stack, &boot.api_key).await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    put_settings(
        &stack,
        &admin,
        &boot.tenant_id,
        json!({"monthly_budget_micros": 10}),
    )
    .await;
    let refused = generate(&stack, &boot.api_key).await;
    let problem = refused.assert_problem(402);
    assert_eq!(
        problem["type"],
        "https://nutripro.dev/problems/budget-exhausted"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("Nothing was billed"));
    let usage = stack.get_as("/v1/usage", &boot.api_key).await.json();
    assert_eq!(
        (
            usage["committed_micros"].as_i64(),
            usage["reserved_micros"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let listed = stack
        .get_as("/v1/generations?dietitian_id=dr-smith", &boot.api_key)
        .await
        .json();
    assert_eq!(listed["items"], json!([]), "nothing stored either");
}

#[tokio::test]
async fn plans_are_managed_by_platform_admins_and_keep_their_currency() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let manager = stack.admin_token(Role::TenantManager, Some(&boot.tenant_id));
    let plan = json!({
        "name": "Clinic", "currency": "USD", "monthly_fee_micros": 99_000_000,
        "prices": {"prompt_micros_per_1k": 250, "completion_micros_per_1k": 1_000},
        "model_prices": {"gpt-4o": {"prompt_micros_per_1k": 2_500, "completion_micros_per_1k": 10_000}},
        "requests_per_minute": 90, "monthly_budget_micros": 200_000_000
    });
    stack
        .call("PUT", "/admin/plans/clinic", &manager, Some(&plan), &[])
        .await
        .assert_problem(403);
    let created = stack
        .call("PUT", "/admin/plans/clinic", &admin, Some(&plan), &[])
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.json()["id"], "clinic");
    let listed = stack
        .call("GET", "/admin/plans", &manager, None, &[])
        .await
        .json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["clinic", "enterprise", "pro", "standard"]);

    let mut euro = plan.clone();
    euro["currency"] = json!("EUR");
    let changed = stack
        .call("PUT", "/admin/plans/clinic", &admin, Some(&euro), &[])
        .await;
    assert_eq!(
        changed.assert_problem(409)["type"],
        "https://nutripro.dev/problems/currency-mismatch"
    );
    assert_eq!(
        stack
            .call("PUT", "/admin/plans/euro", &admin, Some(&euro), &[])
            .await
            .status,
        200
    );
    let tenant_path = format!("/admin/tenants/{}", boot.tenant_id);
    let moved = stack
        .call(
            "PATCH",
            &tenant_path,
            &admin,
            Some(&json!({"plan": "clinic"})),
            &[],
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let me = stack.get_as("/v1/usage", &boot.api_key).await.json();
    assert_eq!(
        (me["plan"].as_str(), me["budget_micros"].as_i64()),
        (Some("clinic"), Some(200_000_000))
    );
    stack
        .call(
            "PATCH",
            &tenant_path,
            &admin,
            Some(&json!({"plan": "euro"})),
            &[],
        )
        .await
        .assert_problem(409);
    stack
        .call(
            "PATCH",
            &tenant_path,
            &admin,
            Some(&json!({"plan": "nope"})),
            &[],
        )
        .await
        .assert_problem(422);
    let mut bad = plan.clone();
    bad["monthly_fee_micros"] = json!(-1);
    stack
        .call("PUT", "/admin/plans/bad", &admin, Some(&bad), &[])
        .await
        .assert_problem(422);
    stack
        .call("PUT", "/admin/plans/Bad%20Id", &admin, Some(&plan), &[])
        .await
        .assert_problem(422);
}

#[tokio::test]
async fn closing_a_period_issues_immutable_invoices_equal_to_the_ledger() {
    let stack = LocalStack::start().await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let (tenant, _key) = old_tenant(&stack, "Old Co").await;
    let (other, _) = old_tenant(&stack, "Other Co").await;
    let period = Period::parse("2026-10").unwrap();
    for (i, model) in ["m-a", "m-a", "m-b"].iter().enumerate() {
        bill(&stack, &tenant, period, &format!("req-{i}"), model).await;
    }

    let open = Period::of(Timestamp::now());
    let early = stack
        .call(
            "POST",
            &format!("/admin/billing/periods/{open}/close"),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(
        early.assert_problem(409)["type"],
        "https://nutripro.dev/problems/period-not-closable"
    );

    let before = stack.audit_len().await;
    let closed = stack
        .call(
            "POST",
            "/admin/billing/periods/2026-10/close",
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let report = closed.json();
    let id = format!("inv-202610-{tenant}");
    assert!(
        report["issued"].as_array().unwrap().contains(&json!(id)),
        "{report}"
    );
    assert_eq!(report["reconciliation_failures"], json!([]));
    let again = stack
        .call(
            "POST",
            "/admin/billing/periods/2026-10/close",
            &admin,
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(again["issued"], json!([]), "closing twice issues nothing");
    assert!(again["already_invoiced"].as_u64().unwrap() >= 2);
    assert_eq!(stack.audit_len().await - before, 2, "each close is audited");

    let invoice = stack
        .call("GET", &format!("/admin/invoices/{id}"), &admin, None, &[])
        .await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    let invoice = invoice.json();
    // Base fee + (prompt, completion) per model; usage lines sum the ledger exactly.
    let lines = invoice["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1 + 2 * 2);
    assert_eq!(lines[0]["kind"], "base_fee");
    assert_eq!(lines[0]["amount_micros"], 49_000_000);
    let usage: i64 = lines[1..]
        .iter()
        .map(|l| l["amount_micros"].as_i64().unwrap())
        .sum();
    assert_eq!(usage, 3 * 900, "three ledger entries of 900 micros");
    assert_eq!(invoice["total_micros"], 49_000_000 + 3 * 900);
    assert_eq!(invoice["generations"], 3);
    let m_a_prompt = lines
        .iter()
        .find(|l| l["model"] == "m-a" && l["kind"] == "prompt_tokens")
        .unwrap();
    assert_eq!(
        (
            m_a_prompt["quantity"].as_i64(),
            m_a_prompt["amount_micros"].as_i64()
        ),
        (Some(2_000), Some(600))
    );
    let admin_usage = stack
        .call(
            "GET",
            &format!("/admin/tenants/{tenant}/usage?period=2026-10"),
            &admin,
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(
        admin_usage["total"]["amount_micros"],
        3 * 900,
        "usage == invoice == ledger"
    );

    let listed = stack
        .call(
            "GET",
            &format!("/admin/tenants/{tenant}/invoices"),
            &admin,
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(listed["items"], json!([invoice]));
    let csv = stack
        .call(
            "GET",
            &format!("/admin/tenants/{tenant}/invoices?format=csv"),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows.len(), 1 + lines.len());
    assert!(rows[0].starts_with("invoice_id,tenant_id,period,currency"));
    assert!(rows[1].contains("\"base_fee\"") && rows[1].contains("49.000000"));
    let one_csv = stack
        .call(
            "GET",
            &format!("/admin/invoices/{id}?format=csv"),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(one_csv.body, csv.body);

    // The other tenant (no usage) pays its base fee; its manager sees only its own.
    let other_id = format!("inv-202610-{other}");
    let owner = stack.admin_token(Role::TenantManager, Some(other.as_str()));
    let own = stack
        .call(
            "GET",
            &format!("/admin/invoices/{other_id}"),
            &owner,
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(own["total_micros"], 49_000_000);
    stack
        .call("GET", &format!("/admin/invoices/{id}"), &owner, None, &[])
        .await
        .assert_problem(404);
    for missing in [
        "inv-202610-ffffffffffffffffffffffffffffffff",
        "nonsense",
        "inv-202613-x",
    ] {
        stack
            .call(
                "GET",
                &format!("/admin/invoices/{missing}"),
                &admin,
                None,
                &[],
            )
            .await
            .assert_problem(404);
    }
    stack
        .call(
            "GET",
            &format!("/admin/invoices/{id}?format=xml"),
            &admin,
            None,
            &[],
        )
        .await
        .assert_problem(422);
}

/// T13: one window per tenant and minute, counted by every `/v1` route alike.
#[tokio::test]
async fn every_data_plane_route_counts_against_the_tenants_rate_limit() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    put_settings(
        &stack,
        &admin,
        &boot.tenant_id,
        json!({"requests_per_minute": 3}),
    )
    .await;
    // Start early in a minute, so the four requests below share one window (a bounded
    // wait of at most 15 s, not a timing assertion).
    let second = Timestamp::now().as_millis() / 1000 % 60;
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let me = stack.get_as("/v1/me", &boot.api_key).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["limits"]["requests_per_minute"], 3);
    assert_eq!(me.header("ratelimit-remaining"), Some("2"));
    let usage = stack.get_as("/v1/usage", &boot.api_key).await;
    assert_eq!(usage.header("ratelimit-remaining"), Some("1"));
    let samples = stack
        .get_as("/v1/samples?dietitian_id=dr-smith", &boot.api_key)
        .await;
    assert_eq!(samples.header("ratelimit-remaining"), Some("0"));
    let refused = generate(&stack, &boot.api_key).await;
    let problem = refused.assert_problem(429);
    assert_eq!(
        problem["type"],
        "https://nutripro.dev/problems/rate-limited"
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    // The control plane is not the tenant's API: admins are unaffected.
    let admin_view = stack
        .call(
            "GET",
            &format!("/admin/tenants/{}/usage", boot.tenant_id),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(admin_view.status, 200);
    assert!(admin_view.header("ratelimit-limit").is_none());
}
