//! Control-plane endpoints for settings ([`nutripro_shared::app::settings`]).
//!
//! - `GET/PUT /admin/tenants/{tenantId}/settings`: the tenant's rate limit, monthly
//!   budget, allowed kinds, model, `max_tokens` cap and retention, with its plan's limits.
//!   A tenant-manager may set its own tenant's values only within those limits (403
//!   `plan-limit-exceeded` otherwise); a platform-admin may set any valid value.
//! - `GET/PUT /admin/settings`: system settings (platform-admin only): the generation
//!   kill switch, the default model, the platform-wide `max_tokens` cap.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::settings::{self, TenantSettingsView};
use nutripro_shared::domain::settings::{PlanLimits, SystemSettings, TenantSettings};
use nutripro_shared::http::{json, parse_json, serve, HandlerResult};
use nutripro_shared::state::AdminState;
use serde::Serialize;

const MAX_SETTINGS_BODY_BYTES: usize = 4 * 1024;

#[derive(Serialize)]
struct TenantSettingsOutput<'a> {
    tenant_id: &'a str,
    settings: &'a TenantSettings,
    plan: &'a str,
    plan_limits: PlanLimits,
}

fn view(view: &TenantSettingsView) -> HandlerResult {
    json(
        200,
        &TenantSettingsOutput {
            tenant_id: view.tenant.id.as_str(),
            settings: &view.settings,
            plan: view.tenant.plan.as_str(),
            plan_limits: view.limits,
        },
    )
}

/// `GET /admin/tenants/{tenantId}/settings`
pub async fn get_tenant_settings(state: &AdminState, request: Request) -> Response<Body> {
    serve("get_tenant_settings", request, |call| async move {
        view(&settings::get_tenant_settings(state, &call.admin()?).await?)
    })
    .await
}

/// `PUT /admin/tenants/{tenantId}/settings`
pub async fn put_tenant_settings(state: &AdminState, request: Request) -> Response<Body> {
    serve("put_tenant_settings", request, |call| async move {
        let admin = call.admin()?;
        let input = parse_json::<TenantSettings>(&call.request, MAX_SETTINGS_BODY_BYTES);
        view(&settings::put_tenant_settings(state, &admin, input).await?)
    })
    .await
}

/// `GET /admin/settings`
pub async fn get_system_settings(state: &AdminState, request: Request) -> Response<Body> {
    serve("get_system_settings", request, |call| async move {
        json(
            200,
            &settings::get_system_settings(state, &call.admin()?).await?,
        )
    })
    .await
}

/// `PUT /admin/settings`
pub async fn put_system_settings(state: &AdminState, request: Request) -> Response<Body> {
    serve("put_system_settings", request, |call| async move {
        let admin = call.admin()?;
        let input = parse_json::<SystemSettings>(&call.request, MAX_SETTINGS_BODY_BYTES);
        json(
            200,
            &settings::put_system_settings(state, &admin, input).await?,
        )
    })
    .await
}
