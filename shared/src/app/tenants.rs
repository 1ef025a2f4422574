//! Tenants of the control plane (spec section 4): create, list, read, change, offboard.
//! Every change is audited once whatever its outcome ([`audited`]).

use super::admin::{audited, AdminCall, Changed, Refused};
use super::AppError;
use crate::domain::admin::Action;
use crate::domain::billing::{parse_plan_id, Plan};
use crate::domain::{parse_contact, PlanId, Tenant, TenantId, TenantName, TenantStatus};
use crate::ports::billing::find_plan;
use crate::ports::{AdminStore, Page};
use crate::state::AdminState;

pub struct NewTenant {
    pub name: String,
    pub contact: Option<String>,
    pub plan: Option<String>,
}

/// A `PATCH`: absent fields stay as they are; `contact: Some(None)` clears the contact.
pub struct TenantPatch {
    pub name: Option<String>,
    pub contact: Option<Option<String>>,
    pub plan: Option<String>,
    pub status: Option<String>,
}

/// The plan named `id`, which must exist (stored or built in).
async fn existing_plan(store: &dyn AdminStore, id: &str) -> Result<Plan, AppError> {
    let id = parse_plan_id(id)?;
    find_plan(store, &id)
        .await?
        .ok_or_else(|| AppError::Validation(format!("there is no plan {id}")))
}

async fn load(store: &dyn AdminStore, id: Option<&TenantId>) -> Result<Tenant, AppError> {
    let id = id.ok_or(AppError::NotFound)?;
    store.get_tenant(id).await?.ok_or(AppError::NotFound)
}

/// `input` is the parsed body: a parse error is a rejected change, decided after the
/// permission check.
pub async fn create_tenant(
    state: &AdminState,
    call: &AdminCall,
    input: Result<NewTenant, AppError>,
) -> Result<Tenant, AppError> {
    let attempt = create(state, call, input).await;
    audited(state, call, "tenant.create", attempt).await
}

async fn create(
    state: &AdminState,
    call: &AdminCall,
    input: Result<NewTenant, AppError>,
) -> Result<Changed<Tenant>, Refused> {
    call.authorize_change(&*state.store, Action::TenantCreate)
        .await?;
    let new = input?;
    let plan = existing_plan(
        &*state.store,
        new.plan.as_deref().unwrap_or(PlanId::DEFAULT),
    )
    .await?
    .plan_id();
    let mut tenant = Tenant::new(TenantName::parse(&new.name)?, plan, state.clock.now());
    tenant.contact = new.contact.as_deref().map(parse_contact).transpose()?;
    state.store.create_tenant(&tenant).await?;
    Ok(Changed {
        target: format!("tenant/{}", tenant.id),
        details: serde_json::json!({"name": tenant.name, "plan": tenant.plan.as_str()}),
        tenant: Some(tenant.id.clone()),
        value: tenant,
    })
}

/// A listing of tenants: a page of `limit` from `position`, names containing `query`
/// (lower-case).
pub struct TenantQuery {
    pub query: Option<String>,
    pub limit: u32,
    pub position: Option<String>,
}

/// A page of tenants whose name contains the query (the search filters each page, so a
/// page may hold fewer matches than `limit`). `params` are checked after the permission.
pub async fn list_tenants(
    state: &AdminState,
    call: &AdminCall,
    params: Result<TenantQuery, AppError>,
) -> Result<Page<Tenant>, AppError> {
    call.authorize(Action::TenantList)?;
    let TenantQuery {
        query,
        limit,
        position,
    } = params?;
    let query = query.as_deref();
    let page = state.store.list_tenants(limit, position.as_deref()).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .filter(|t| query.is_none_or(|q| t.name.to_lowercase().contains(q)))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

pub async fn get_tenant(state: &AdminState, call: &AdminCall) -> Result<Tenant, AppError> {
    let tenant = call.authorize(Action::TenantRead)?;
    load(&*state.store, tenant.as_ref()).await
}

pub async fn update_tenant(
    state: &AdminState,
    call: &AdminCall,
    input: Result<TenantPatch, AppError>,
) -> Result<Tenant, AppError> {
    let attempt = update(state, call, input).await;
    audited(state, call, "tenant.update", attempt).await
}

fn snapshot(tenant: &Tenant) -> serde_json::Value {
    serde_json::json!({
        "name": tenant.name, "contact": tenant.contact,
        "plan": tenant.plan.as_str(), "status": tenant.status.as_str(),
    })
}

async fn update(
    state: &AdminState,
    call: &AdminCall,
    input: Result<TenantPatch, AppError>,
) -> Result<Changed<Tenant>, Refused> {
    let id = call
        .authorize_change(&*state.store, Action::TenantUpdate)
        .await?;
    let patch = input?;
    let mut tenant = load(&*state.store, id.as_ref()).await?;
    let before = snapshot(&tenant);
    if let Some(name) = &patch.name {
        tenant.name = TenantName::parse(name)?.as_str().to_owned();
    }
    if let Some(contact) = &patch.contact {
        tenant.contact = contact.as_deref().map(parse_contact).transpose()?;
    }
    if let Some(plan) = &patch.plan {
        let new = existing_plan(&*state.store, plan).await?;
        let current = find_plan(&*state.store, &tenant.plan).await?;
        // A tenant's money stays in one currency: its ledger, budgets and invoices
        // never mix two.
        if current.is_some_and(|c| c.currency != new.currency) {
            return Err(AppError::CurrencyMismatch(format!(
                "A tenant can only move to a plan in its current plan's currency; {} is in {}.",
                new.id, new.currency
            ))
            .into());
        }
        tenant.plan = new.plan_id();
    }
    if let Some(status) = &patch.status {
        tenant.status = match TenantStatus::parse(status) {
            Some(status @ (TenantStatus::Active | TenantStatus::Suspended)) => status,
            _ => {
                return Err(AppError::Validation(
                    "status must be active or suspended (DELETE offboards)".into(),
                )
                .into())
            }
        };
    }
    state.store.update_tenant(&tenant).await?;
    Ok(Changed {
        target: format!("tenant/{}", tenant.id),
        details: serde_json::json!({"before": before, "after": snapshot(&tenant)}),
        tenant: Some(tenant.id.clone()),
        value: tenant,
    })
}

/// Offboards a tenant: it is marked offboarded first (the authorizer refuses every key
/// of an offboarded tenant from that moment), then each key is revoked so the keys stay
/// dead even if the status were ever changed back. Repeating it changes nothing.
pub async fn offboard_tenant(state: &AdminState, call: &AdminCall) -> Result<(), AppError> {
    let attempt = offboard(state, call).await;
    audited(state, call, "tenant.offboard", attempt).await
}

async fn offboard(state: &AdminState, call: &AdminCall) -> Result<Changed<()>, Refused> {
    let id = call
        .authorize_change(&*state.store, Action::TenantOffboard)
        .await?;
    let tenant = load(&*state.store, id.as_ref()).await?;
    let now = state.clock.now();
    state
        .store
        .set_tenant_status(&tenant.id, TenantStatus::Offboarded)
        .await?;
    let mut revoked = Vec::new();
    for key in state.store.list_keys(&tenant.id).await? {
        if key.revoked_at.is_none() {
            state.store.revoke_key(&key.key_id, now).await?;
            revoked.push(key.key_id.to_string());
        }
    }
    Ok(Changed {
        value: (),
        target: format!("tenant/{}", tenant.id),
        details: serde_json::json!({"revoked_keys": revoked, "previous_status": tenant.status.as_str()}),
        tenant: Some(tenant.id),
    })
}
