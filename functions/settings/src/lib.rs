//! Control-plane endpoints for settings.
//!
//! - `GET/PUT /admin/tenants/{tenantId}/settings`: the tenant's rate limit, monthly
//!   budget, allowed kinds, model, `max_tokens` cap and retention, with its plan's limits.
//!   A tenant-manager may set its own tenant's values only within those limits (403
//!   `plan-limit-exceeded` otherwise); a platform-admin may set any valid value.
//! - `GET/PUT /admin/settings`: system settings (platform-admin only): the generation
//!   kill switch, the default model, the platform-wide `max_tokens` cap.
//!
//! `PUT` replaces the whole document; unset tenant values fall back to plan and system
//! defaults.

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::admin::Action;
use nutripro_shared::domain::settings::{PlanLimits, SystemSettings, TenantSettings};
use nutripro_shared::domain::{Tenant, TenantId};
use nutripro_shared::http::{
    admin_change, admin_read, json, parse_json, AdminCall, Change, HandlerResult, Problem,
};
use nutripro_shared::ports::billing::find_plan;
use nutripro_shared::state::AdminState;
use serde::Serialize;

const MAX_SETTINGS_BODY_BYTES: usize = 4 * 1024;

#[derive(Serialize)]
struct TenantSettingsView<'a> {
    tenant_id: &'a str,
    settings: &'a TenantSettings,
    plan: &'a str,
    plan_limits: PlanLimits,
}

fn view(
    tenant: &Tenant,
    settings: &TenantSettings,
    limits: PlanLimits,
    status: u16,
) -> HandlerResult {
    json(
        status,
        &TenantSettingsView {
            tenant_id: tenant.id.as_str(),
            settings,
            plan: tenant.plan.as_str(),
            plan_limits: limits,
        },
    )
}

/// The limits of the tenant's plan (stored, else built in).
async fn plan_limits(state: &AdminState, tenant: &Tenant) -> Result<PlanLimits, Problem> {
    let Some(plan) = find_plan(&*state.store, &tenant.plan).await? else {
        tracing::error!(plan = %tenant.plan, "the tenant's plan does not exist");
        return Err(Problem::internal());
    };
    Ok(plan.limits())
}

async fn tenant(state: &AdminState, call: &AdminCall) -> Result<Tenant, Problem> {
    let id: &TenantId = call.tenant.as_ref().ok_or_else(Problem::not_found)?;
    state
        .store
        .get_tenant(id)
        .await?
        .ok_or_else(Problem::not_found)
}

/// `GET /admin/tenants/{tenantId}/settings`
pub async fn get_tenant_settings(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "get_tenant_settings",
        request,
        Action::TenantSettingsRead,
        |call| async move {
            let tenant = tenant(state, &call).await?;
            let settings = state
                .store
                .get_tenant_settings(&tenant.id)
                .await?
                .unwrap_or_default();
            view(&tenant, &settings, plan_limits(state, &tenant).await?, 200)
        },
    )
    .await
}

/// `PUT /admin/tenants/{tenantId}/settings`
pub async fn put_tenant_settings(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "put_tenant_settings",
        "tenant_settings.update",
        state,
        request,
        Action::TenantSettingsWrite,
        |call| async move {
            let settings: TenantSettings = parse_json(&call.request, MAX_SETTINGS_BODY_BYTES)?;
            settings.validate()?;
            let tenant = tenant(state, &call).await?;
            let limits = plan_limits(state, &tenant).await?;
            if !call.principal.sees_all_tenants(Action::TenantSettingsWrite) && !settings.within(&limits) {
                return Err(Problem::new(
                    403,
                    "plan-limit-exceeded",
                    "Forbidden",
                    format!(
                        "Your plan allows at most {} requests per minute and a monthly budget of {} micro-units.",
                        limits.requests_per_minute, limits.monthly_budget_micros
                    ),
                ));
            }
            let before = state.store.get_tenant_settings(&tenant.id).await?;
            state.store.put_tenant_settings(&tenant.id, &settings).await?;
            Ok(Change {
                response: view(&tenant, &settings, limits, 200)?,
                target: format!("tenant/{}/settings", tenant.id),
                details: serde_json::json!({"before": before, "after": settings}),
                tenant: Some(tenant.id),
            })
        },
    )
    .await
}

/// `GET /admin/settings`
pub async fn get_system_settings(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "get_system_settings",
        request,
        Action::SystemSettingsRead,
        |_call| async move {
            let settings = state.store.get_system_settings().await?.unwrap_or_default();
            json(200, &settings)
        },
    )
    .await
}

/// `PUT /admin/settings`
pub async fn put_system_settings(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "put_system_settings",
        "system_settings.update",
        state,
        request,
        Action::SystemSettingsWrite,
        |call| async move {
            let settings: SystemSettings = parse_json(&call.request, MAX_SETTINGS_BODY_BYTES)?;
            settings.validate()?;
            let before = state.store.get_system_settings().await?.unwrap_or_default();
            state.store.put_system_settings(&settings).await?;
            Ok(Change {
                response: json(200, &settings)?,
                target: "system/settings".into(),
                details: serde_json::json!({"before": before, "after": settings}),
                tenant: None,
            })
        },
    )
    .await
}
