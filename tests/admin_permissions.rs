//! Threats T16, S08, S15, T15, T07: every role × every admin route of the template
//! (billing's usage, invoices, plans and period close included),
//! against the local gateway, answers as the permission table says (2xx, 403, or 404 for
//! a tenant-manager reaching past its tenant), every changing request appends exactly
//! one audit entry whatever its outcome, and no API key or missing token gets through.

use nutripro_shared::domain::admin::{Action, Role, Scope};
use nutripro_shared::domain::billing::{built_in_plans, Invoice, Period, UsageReport};
use nutripro_shared::domain::{ApiKey, PlanId, Tenant, TenantName, Timestamp};
use nutripro_shared::ports::billing::BillingStore;
use nutripro_shared::ports::{ApiKeyStore, TenantStore};
use nutripro_tests::LocalStack;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Each admin route: its action, the status of success, and a valid body. A template
/// route missing here fails the walk, so new routes join the permission test.
fn route_table() -> Vec<(&'static str, &'static str, Action, u16, Option<Value>)> {
    vec![
        (
            "POST",
            "/admin/tenants",
            Action::TenantCreate,
            201,
            Some(json!({"name": "New Co"})),
        ),
        ("GET", "/admin/tenants", Action::TenantList, 200, None),
        (
            "GET",
            "/admin/tenants/{tenantId}",
            Action::TenantRead,
            200,
            None,
        ),
        (
            "PATCH",
            "/admin/tenants/{tenantId}",
            Action::TenantUpdate,
            200,
            Some(json!({"contact": "ops@example.org"})),
        ),
        (
            "DELETE",
            "/admin/tenants/{tenantId}",
            Action::TenantOffboard,
            204,
            None,
        ),
        (
            "POST",
            "/admin/tenants/{tenantId}/keys",
            Action::KeyIssue,
            201,
            Some(json!({"name": "k"})),
        ),
        (
            "GET",
            "/admin/tenants/{tenantId}/keys",
            Action::KeyList,
            200,
            None,
        ),
        (
            "POST",
            "/admin/tenants/{tenantId}/keys/{keyId}/rotate",
            Action::KeyRotate,
            200,
            Some(json!({"grace_seconds": 60})),
        ),
        (
            "DELETE",
            "/admin/tenants/{tenantId}/keys/{keyId}",
            Action::KeyRevoke,
            204,
            None,
        ),
        (
            "GET",
            "/admin/tenants/{tenantId}/settings",
            Action::TenantSettingsRead,
            200,
            None,
        ),
        (
            "PUT",
            "/admin/tenants/{tenantId}/settings",
            Action::TenantSettingsWrite,
            200,
            Some(json!({"max_tokens_cap": 500})),
        ),
        (
            "GET",
            "/admin/settings",
            Action::SystemSettingsRead,
            200,
            None,
        ),
        (
            "PUT",
            "/admin/settings",
            Action::SystemSettingsWrite,
            200,
            Some(json!({"generation_enabled": true, "max_tokens_cap": 2000})),
        ),
        ("GET", "/admin/audit", Action::AuditRead, 200, None),
        ("GET", "/admin/audit/verify", Action::AuditVerify, 200, None),
        (
            "GET",
            "/admin/tenants/{tenantId}/usage",
            Action::UsageRead,
            200,
            None,
        ),
        (
            "GET",
            "/admin/tenants/{tenantId}/invoices",
            Action::InvoiceRead,
            200,
            None,
        ),
        (
            "GET",
            "/admin/invoices/{invoiceId}",
            Action::InvoiceRead,
            200,
            None,
        ),
        ("GET", "/admin/plans", Action::PlanRead, 200, None),
        ("GET", "/admin/plans/{planId}", Action::PlanRead, 200, None),
        (
            "PUT",
            "/admin/plans/{planId}",
            Action::PlanWrite,
            200,
            Some(json!({
                "name": "Walk", "currency": "USD", "monthly_fee_micros": 1,
                "prices": {"prompt_micros_per_1k": 1, "completion_micros_per_1k": 1},
                "requests_per_minute": 10, "monthly_budget_micros": 1
            })),
        ),
        (
            "POST",
            "/admin/billing/periods/{period}/close",
            Action::BillingClose,
            200,
            None,
        ),
    ]
}

fn admin_routes() -> BTreeSet<(String, String)> {
    nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml"))
        .unwrap()
        .into_iter()
        .filter(|r| r.path.starts_with("/admin/"))
        .map(|r| (r.method, r.path))
        .collect()
}

/// A tenant with one key, straight into the store.
async fn fixture_tenant(stack: &LocalStack, name: &str) -> (String, String) {
    let store = stack.store();
    let now = Timestamp::now();
    let tenant = Tenant::new(
        TenantName::parse(name).unwrap(),
        PlanId::new("standard"),
        now,
    );
    store.create_tenant(&tenant).await.unwrap();
    let (key, _) = ApiKey::issue(tenant.id.clone(), "fixture", now, None).unwrap();
    store.create_key(&key).await.unwrap();
    // An invoice of a long-closed period, for the invoice routes.
    let period = Period::parse(INVOICED_PERIOD).unwrap();
    let invoice = Invoice::issue(
        &tenant.id,
        &built_in_plans()[2],
        period,
        &UsageReport::default(),
        now,
    );
    assert!(store.create_invoice(&invoice).await.unwrap());
    (tenant.id.to_string(), key.key_id.to_string())
}

const INVOICED_PERIOD: &str = "2020-01";

/// What the permission table says, derived here from its rows (not from the code that
/// enforces it): allowed → the success status; no permission → 403; a tenant-manager
/// beyond its own tenant → 404.
fn expected(role: Role, action: Action, targets_own: bool, success: u16) -> u16 {
    if !action.allows(role) {
        403
    } else if role == Role::TenantManager && action.scope() == Scope::Tenant && !targets_own {
        404
    } else {
        success
    }
}

fn is_change(method: &str) -> bool {
    method != "GET"
}

#[tokio::test]
async fn every_role_on_every_admin_route_answers_as_the_permission_table_says() {
    let stack = LocalStack::start().await;
    let table = route_table();
    let covered: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, ..)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        covered,
        admin_routes(),
        "the walk covers exactly the template's admin routes"
    );

    let mut walked = 0;
    for role in Role::ALL {
        for (method, template_path, action, success, body) in &table {
            let tenant_scoped = action.scope() == Scope::Tenant;
            let targets: &[bool] = if tenant_scoped {
                &[true, false]
            } else {
                &[true]
            };
            for &targets_own in targets {
                // Fresh tenants per request: offboarding and revoking must not leak
                // into the next case.
                let (own, own_key) = fixture_tenant(&stack, "Own tenant").await;
                let (other, other_key) = fixture_tenant(&stack, "Other tenant").await;
                let (tenant, key) = if targets_own {
                    (&own, &own_key)
                } else {
                    (&other, &other_key)
                };
                let mut path = template_path
                    .replace("{tenantId}", tenant)
                    .replace("{keyId}", key)
                    .replace("{invoiceId}", &format!("inv-202001-{tenant}"))
                    .replace("{planId}", "standard")
                    .replace("{period}", INVOICED_PERIOD);
                if *template_path == "/admin/audit" {
                    // The audit listing names its tenant in the filter.
                    path = format!("{path}?tenant_id={tenant}");
                }
                let bound = (role == Role::TenantManager).then_some(own.as_str());
                let token = stack.admin_token(role, bound);
                let before = stack.audit_len().await;
                let response = stack.call(method, &path, &token, body.as_ref(), &[]).await;
                let want = expected(role, *action, targets_own, *success);
                assert_eq!(
                    response.status, want,
                    "{role} {method} {path} (own tenant: {targets_own}): {}",
                    response.body
                );
                if want >= 400 {
                    response.assert_problem(want);
                }
                let written = stack.audit_len().await - before;
                assert_eq!(
                    written,
                    u64::from(is_change(method)),
                    "{role} {method} {path}: audit entries written"
                );
                walked += 1;
            }
        }
    }
    assert!(walked >= 3 * table.len());
}

/// T15: an API key never passes the admin authorizer, and no token means 401; neither is
/// attributable, so neither is audited.
#[tokio::test]
async fn api_keys_and_missing_tokens_get_401_on_every_admin_route() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let (tenant, key) = fixture_tenant(&stack, "Target").await;
    for (method, template_path, _, _, body) in route_table() {
        let path = template_path
            .replace("{tenantId}", &tenant)
            .replace("{keyId}", &key)
            .replace("{invoiceId}", &format!("inv-202001-{tenant}"))
            .replace("{planId}", "standard")
            .replace("{period}", INVOICED_PERIOD);
        let with_key = stack
            .call(method, &path, &boot.api_key, body.as_ref(), &[])
            .await;
        with_key.assert_problem(401);
        let anonymous = stack.request(method, &path, &[], None).await;
        anonymous.assert_problem(401);
        let garbage = stack
            .call(method, &path, "not-a-token", body.as_ref(), &[])
            .await;
        garbage.assert_problem(401);
    }
    assert_eq!(stack.audit_len().await, 0);
    // …and an admin token does not pass the data plane's authorizer.
    let token = stack.admin_token(Role::PlatformAdmin, None);
    stack.get("/v1/me", Some(&token)).await.assert_problem(401);
}
