//! Threats T16, S08, S15, T15, T07: every role × every admin route of the template
//! (billing's usage, invoices, plans and period close included),
//! against the local gateway, answers as the permission table says (2xx, 403, or 404 for
//! a tenant-manager reaching past its tenant), every changing request appends exactly
//! one audit entry whatever its outcome, and no API key or missing token gets through.

use nutripro_shared::domain::admin::{Action, Role, Scope};
use nutripro_tests::admin_routes::{admin_routes, fill, fixture_tenant, route_table};
use nutripro_tests::LocalStack;
use std::collections::BTreeSet;

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
                let mut path = fill(template_path, tenant, key);
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
        let path = fill(template_path, &tenant, &key);
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
