//! Control-plane endpoints for tenants (spec section 4). Every change is audited by
//! [`admin_change`]; who may do what is the permission table's decision.
//!
//! - `POST /admin/tenants` → 201, the new (active) tenant
//! - `GET /admin/tenants?limit=&cursor=&q=` → a page of tenants (`q`: name contains)
//! - `GET /admin/tenants/{tenantId}` → one tenant
//! - `PATCH /admin/tenants/{tenantId}` → name, contact, plan, status (active/suspended)
//! - `DELETE /admin/tenants/{tenantId}` → offboard: status `offboarded`, every key
//!   revoked at once; 204, and again 204 if repeated

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::admin::Action;
use nutripro_shared::domain::billing::{parse_plan_id, Plan};
use nutripro_shared::domain::{parse_contact, PlanId, Tenant, TenantId, TenantName, TenantStatus};
use nutripro_shared::http::{
    admin_change, admin_read, json, no_content, pagination, parse_json, query_param, AdminCall,
    Change, Problem,
};
use nutripro_shared::ports::billing::find_plan;
use nutripro_shared::state::AdminState;
use serde::{Deserialize, Serialize};

const MAX_TENANT_BODY_BYTES: usize = 4 * 1024;

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub contact: Option<String>,
    pub status: &'static str,
    pub plan: String,
    pub created_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.to_string(),
            name: tenant.name.clone(),
            contact: tenant.contact.clone(),
            status: tenant.status.as_str(),
            plan: tenant.plan.to_string(),
            created_at: tenant.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    name: String,
    #[serde(default)]
    contact: Option<String>,
    #[serde(default)]
    plan: Option<String>,
}

/// `PATCH` body: absent fields stay as they are; `"contact": null` clears the contact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTenant {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    contact: Option<Option<String>>,
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Tells `"contact": null` (clear) from an absent `contact` (keep).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn tenant_of(call: &AdminCall) -> Result<&TenantId, Problem> {
    call.tenant.as_ref().ok_or_else(Problem::not_found)
}

async fn load(state: &AdminState, id: &TenantId) -> Result<Tenant, Problem> {
    state
        .store
        .get_tenant(id)
        .await?
        .ok_or_else(Problem::not_found)
}

/// The plan named `id`, which must exist (stored or built in).
async fn existing_plan(state: &AdminState, id: &str) -> Result<Plan, Problem> {
    let id = parse_plan_id(id)?;
    find_plan(&*state.store, &id)
        .await?
        .ok_or_else(|| Problem::validation(format!("there is no plan {id}")))
}

/// `POST /admin/tenants`
pub async fn create_tenant(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "create_tenant",
        "tenant.create",
        state,
        request,
        Action::TenantCreate,
        |call| async move {
            let body: CreateTenant = parse_json(&call.request, MAX_TENANT_BODY_BYTES)?;
            let plan = existing_plan(state, body.plan.as_deref().unwrap_or(PlanId::DEFAULT))
                .await?
                .plan_id();
            let mut tenant = Tenant::new(TenantName::parse(&body.name)?, plan, state.clock.now());
            tenant.contact = body.contact.as_deref().map(parse_contact).transpose()?;
            state.store.create_tenant(&tenant).await?;
            Ok(Change {
                response: json(201, &TenantView::from(&tenant))?,
                target: format!("tenant/{}", tenant.id),
                details: serde_json::json!({"name": tenant.name, "plan": tenant.plan.as_str()}),
                tenant: Some(tenant.id),
            })
        },
    )
    .await
}

#[derive(Serialize)]
struct TenantPage {
    items: Vec<TenantView>,
    next_cursor: Option<String>,
}

/// `GET /admin/tenants`
pub async fn list_tenants(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "list_tenants",
        request,
        Action::TenantList,
        |call| async move {
            let query = query_param(&call.request, "q")
                .map(|q| q.trim().to_lowercase())
                .filter(|q| !q.is_empty());
            if query.as_ref().is_some_and(|q| q.chars().count() > 100) {
                return Err(Problem::validation("q must be at most 100 characters"));
            }
            let paging = pagination(&call.request, &["tenants", query.as_deref().unwrap_or("")])?;
            let page = state
                .store
                .list_tenants(paging.limit, paging.position.as_deref())
                .await?;
            // The search filters each page (the cursor still walks every tenant), so a page
            // may hold fewer matches than `limit`; follow `next_cursor` for more.
            let items = page
                .items
                .iter()
                .filter(|t| {
                    query
                        .as_ref()
                        .is_none_or(|q| t.name.to_lowercase().contains(q))
                })
                .map(TenantView::from)
                .collect();
            json(
                200,
                &TenantPage {
                    items,
                    next_cursor: paging.next_cursor(page.next_cursor),
                },
            )
        },
    )
    .await
}

/// `GET /admin/tenants/{tenantId}`
pub async fn get_tenant(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "get_tenant",
        request,
        Action::TenantRead,
        |call| async move {
            let tenant = load(state, tenant_of(&call)?).await?;
            json(200, &TenantView::from(&tenant))
        },
    )
    .await
}

/// `PATCH /admin/tenants/{tenantId}`
pub async fn update_tenant(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "update_tenant",
        "tenant.update",
        state,
        request,
        Action::TenantUpdate,
        |call| async move {
            let body: UpdateTenant = parse_json(&call.request, MAX_TENANT_BODY_BYTES)?;
            // An offboarded tenant never gets here (the envelope answers 409).
            let mut tenant = load(state, tenant_of(&call)?).await?;
            let before = serde_json::json!({
                "name": tenant.name, "contact": tenant.contact,
                "plan": tenant.plan.as_str(), "status": tenant.status.as_str(),
            });
            if let Some(name) = &body.name {
                tenant.name = TenantName::parse(name)?.as_str().to_owned();
            }
            if let Some(contact) = &body.contact {
                tenant.contact = contact.as_deref().map(parse_contact).transpose()?;
            }
            if let Some(plan) = &body.plan {
                let new = existing_plan(state, plan).await?;
                let current = find_plan(&*state.store, &tenant.plan).await?;
                // A tenant's money stays in one currency: its ledger, budgets and
                // invoices never mix two.
                if current.is_some_and(|c| c.currency != new.currency) {
                    return Err(Problem::new(
                        409,
                        "currency-mismatch",
                        "Conflict",
                        format!("A tenant can only move to a plan in its current plan's currency; {} is in {}.", new.id, new.currency),
                    ));
                }
                tenant.plan = new.plan_id();
            }
            if let Some(status) = &body.status {
                tenant.status = match TenantStatus::parse(status) {
                    Some(status @ (TenantStatus::Active | TenantStatus::Suspended)) => status,
                    _ => {
                        return Err(Problem::validation(
                            "status must be active or suspended (DELETE offboards)",
                        ))
                    }
                };
            }
            state.store.update_tenant(&tenant).await?;
            let after = serde_json::json!({
                "name": tenant.name, "contact": tenant.contact,
                "plan": tenant.plan.as_str(), "status": tenant.status.as_str(),
            });
            Ok(Change {
                response: json(200, &TenantView::from(&tenant))?,
                target: format!("tenant/{}", tenant.id),
                details: serde_json::json!({"before": before, "after": after}),
                tenant: Some(tenant.id),
            })
        },
    )
    .await
}

/// `DELETE /admin/tenants/{tenantId}`: the tenant is marked offboarded first (the
/// authorizer refuses every key of an offboarded tenant from that moment), then each key
/// is revoked so the keys stay dead even if the status were ever changed back.
pub async fn offboard_tenant(state: &AdminState, request: Request) -> Response<Body> {
    admin_change("offboard_tenant", "tenant.offboard", state, request, Action::TenantOffboard, |call| async move {
        let tenant = load(state, tenant_of(&call)?).await?;
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
        Ok(Change {
            response: no_content()?,
            target: format!("tenant/{}", tenant.id),
            details: serde_json::json!({"revoked_keys": revoked, "previous_status": tenant.status.as_str()}),
            tenant: Some(tenant.id),
        })
    })
    .await
}
