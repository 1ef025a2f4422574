//! The admin routes of the template with what the permission table and the walks need
//! to call each one, and a fixture tenant to call them on.

use crate::LocalStack;
use nutripro_shared::domain::admin::Action;
use nutripro_shared::domain::billing::{built_in_plans, Invoice, Period, UsageReport};
use nutripro_shared::domain::content::{
    ContentKind, DietitianId, Generation, GenerationId, Money, Usage,
};
use nutripro_shared::domain::safety::SafetyReport;
use nutripro_shared::domain::{ApiKey, PlanId, Tenant, TenantName, Timestamp};
use nutripro_shared::ports::billing::BillingStore;
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::{ApiKeyStore, TenantStore};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Fills a template path with the fixture's ids.
pub fn fill(template_path: &str, tenant: &str, key: &str) -> String {
    template_path
        .replace("{tenantId}", tenant)
        .replace("{keyId}", key)
        .replace("{invoiceId}", &format!("inv-202001-{tenant}"))
        .replace("{planId}", "standard")
        .replace("{period}", INVOICED_PERIOD)
        // The fixture tenant's one stored generation has the tenant's id.
        .replace("{generationId}", tenant)
}

/// Each admin route: its action, the status of success, and a valid body. A template
/// route missing here fails the walk, so new routes join the permission test.
pub fn route_table() -> Vec<(&'static str, &'static str, Action, u16, Option<Value>)> {
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
            "PUT",
            "/admin/tenants/{tenantId}/keys/{keyId}/signing-key",
            Action::KeySigningKey,
            200,
            Some(
                json!({"algorithm": "ed25519", "public_key": "I8-lFi8rM6iBRIcL_Yzrnvy2RQ9yw9HNurRqtt6X7U4"}),
            ),
        ),
        (
            "DELETE",
            "/admin/tenants/{tenantId}/keys/{keyId}/signing-key",
            Action::KeySigningKey,
            204,
            None,
        ),
        (
            "PUT",
            "/admin/tenants/{tenantId}/keys/{keyId}/client-certificate",
            Action::KeyCertificate,
            200,
            Some(json!({"client_certificate_sha256": null})),
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
        (
            "GET",
            "/admin/tenants/{tenantId}/blocked-generations",
            Action::SafetyRead,
            200,
            None,
        ),
        (
            "GET",
            "/admin/tenants/{tenantId}/generations/{generationId}",
            Action::GenerationReview,
            200,
            None,
        ),
    ]
}

pub fn admin_routes() -> BTreeSet<(String, String)> {
    nutripro_local::template::routes(&crate::read_repo_file("template.yaml"))
        .unwrap()
        .into_iter()
        .filter(|r| r.path.starts_with("/admin/"))
        .map(|r| (r.method, r.path))
        .collect()
}

/// A tenant with one key, straight into the store.
pub async fn fixture_tenant(stack: &LocalStack, name: &str) -> (String, String) {
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
    // One stored generation, under the tenant's own id, for the review route.
    let generation = Generation {
        id: GenerationId::new(tenant.id.as_str()),
        tenant_id: tenant.id.clone(),
        dietitian_id: DietitianId::new("dr-fixture"),
        kind: ContentKind::NutritionTips,
        input: "{}".into(),
        sample_ids: Vec::new(),
        content: "Drink water first thing.".into(),
        model: "fixture".into(),
        usage: Usage {
            prompt_tokens: 1,
            completion_tokens: 1,
            total_tokens: 2,
        },
        cost: Money {
            amount_micros: 1,
            currency: "USD".into(),
        },
        created_at: now,
        key_id: key.key_id.clone(),
        llm_request: "{}".into(),
        llm_response: "{}".into(),
        client: String::new(),
        safety: Some(SafetyReport::from_findings(Vec::new())),
        disclaimer_appended: false,
        style: nutripro_shared::domain::style::StyleScore::NONE,
        request_signature: None,
        integrity: String::new(),
    }
    .seal_keyed(&stack.sealing_keyring().await);
    store.create_generation(&generation).await.unwrap();
    (tenant.id.to_string(), key.key_id.to_string())
}

pub const INVOICED_PERIOD: &str = "2020-01";
