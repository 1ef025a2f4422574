//! Settings: a tenant's (rate limit, budget, allowed kinds, model, `max_tokens` cap,
//! retention — a tenant-manager only within its plan's limits) and the system's (the
//! generation kill switch, the default model, the platform-wide cap). `PUT` replaces the
//! whole document; unset tenant values fall back to plan and system defaults.

use super::admin::{audited, AdminCall, Changed, Refused};
use super::AppError;
use crate::domain::admin::Action;
use crate::domain::settings::{PlanLimits, SystemSettings, TenantSettings};
use crate::domain::{Tenant, TenantId};
use crate::ports::billing::find_plan;
use crate::state::AdminState;

/// A tenant's settings with its plan's limits.
pub struct TenantSettingsView {
    pub tenant: Tenant,
    pub settings: TenantSettings,
    pub limits: PlanLimits,
}

async fn tenant(state: &AdminState, id: Option<TenantId>) -> Result<Tenant, AppError> {
    let id = id.ok_or(AppError::NotFound)?;
    state.store.get_tenant(&id).await?.ok_or(AppError::NotFound)
}

/// The limits of the tenant's plan (stored, else built in).
async fn plan_limits(state: &AdminState, tenant: &Tenant) -> Result<PlanLimits, AppError> {
    match find_plan(&*state.store, &tenant.plan).await? {
        Some(plan) => Ok(plan.limits()),
        None => Err(AppError::Internal(format!(
            "tenant {} is on a missing plan {}",
            tenant.id, tenant.plan
        ))),
    }
}

pub async fn get_tenant_settings(
    state: &AdminState,
    call: &AdminCall,
) -> Result<TenantSettingsView, AppError> {
    let id = call.authorize(Action::TenantSettingsRead)?;
    let tenant = tenant(state, id).await?;
    let settings = state
        .store
        .get_tenant_settings(&tenant.id)
        .await?
        .unwrap_or_default();
    let limits = plan_limits(state, &tenant).await?;
    Ok(TenantSettingsView {
        tenant,
        settings,
        limits,
    })
}

pub async fn put_tenant_settings(
    state: &AdminState,
    call: &AdminCall,
    input: Result<TenantSettings, AppError>,
) -> Result<TenantSettingsView, AppError> {
    let attempt = put_tenant(state, call, input).await;
    audited(state, call, "tenant_settings.update", attempt).await
}

async fn put_tenant(
    state: &AdminState,
    call: &AdminCall,
    input: Result<TenantSettings, AppError>,
) -> Result<Changed<TenantSettingsView>, Refused> {
    let id = call
        .authorize_change(&*state.store, Action::TenantSettingsWrite)
        .await?;
    let settings = input?;
    settings.validate()?;
    let tenant = tenant(state, id).await?;
    let limits = plan_limits(state, &tenant).await?;
    if !call.principal.sees_all_tenants(Action::TenantSettingsWrite) && !settings.within(&limits) {
        return Err(AppError::PlanLimitExceeded {
            requests_per_minute: limits.requests_per_minute,
            monthly_budget_micros: limits.monthly_budget_micros,
        }
        .into());
    }
    let before = state.store.get_tenant_settings(&tenant.id).await?;
    state
        .store
        .put_tenant_settings(&tenant.id, &settings)
        .await?;
    Ok(Changed {
        target: format!("tenant/{}/settings", tenant.id),
        details: serde_json::json!({"before": before, "after": settings}),
        tenant: Some(tenant.id.clone()),
        value: TenantSettingsView {
            tenant,
            settings,
            limits,
        },
    })
}

pub async fn get_system_settings(
    state: &AdminState,
    call: &AdminCall,
) -> Result<SystemSettings, AppError> {
    call.authorize(Action::SystemSettingsRead)?;
    Ok(state.store.get_system_settings().await?.unwrap_or_default())
}

pub async fn put_system_settings(
    state: &AdminState,
    call: &AdminCall,
    input: Result<SystemSettings, AppError>,
) -> Result<SystemSettings, AppError> {
    let attempt = put_system(state, call, input).await;
    audited(state, call, "system_settings.update", attempt).await
}

async fn put_system(
    state: &AdminState,
    call: &AdminCall,
    input: Result<SystemSettings, AppError>,
) -> Result<Changed<SystemSettings>, Refused> {
    call.authorize_change(&*state.store, Action::SystemSettingsWrite)
        .await?;
    let settings = input?;
    settings.validate()?;
    let before = state.store.get_system_settings().await?.unwrap_or_default();
    state.store.put_system_settings(&settings).await?;
    Ok(Changed {
        target: "system/settings".into(),
        details: serde_json::json!({"before": before, "after": settings}),
        tenant: None,
        value: settings,
    })
}
