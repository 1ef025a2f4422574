//! Control-plane endpoints for tenants (spec section 4). The use cases
//! ([`nutripro_shared::app::tenants`]) decide with the permission table and audit every
//! change.
//!
//! - `POST /admin/tenants` → 201, the new (active) tenant
//! - `GET /admin/tenants?limit=&cursor=&q=` → a page of tenants (`q`: name contains)
//! - `GET /admin/tenants/{tenantId}` → one tenant
//! - `PATCH /admin/tenants/{tenantId}` → name, contact, plan, status (active/suspended)
//! - `DELETE /admin/tenants/{tenantId}` → offboard: status `offboarded`, every key
//!   revoked at once; 204, and again 204 if repeated

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::tenants::{self, NewTenant, TenantPatch, TenantQuery};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::Tenant;
use nutripro_shared::http::{json, no_content, pagination, parse_json, query_param, serve};
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

/// `POST /admin/tenants`
pub async fn create_tenant(state: &AdminState, request: Request) -> Response<Body> {
    serve("create_tenant", request, |call| async move {
        let admin = call.admin()?;
        let input =
            parse_json::<CreateTenant>(&call.request, MAX_TENANT_BODY_BYTES).map(|b| NewTenant {
                name: b.name,
                contact: b.contact,
                plan: b.plan,
            });
        let tenant = tenants::create_tenant(state, &admin, input).await?;
        json(201, &TenantView::from(&tenant))
    })
    .await
}

#[derive(Serialize)]
struct TenantPage {
    items: Vec<TenantView>,
    next_cursor: Option<String>,
}

/// `GET /admin/tenants`
pub async fn list_tenants(state: &AdminState, request: Request) -> Response<Body> {
    serve("list_tenants", request, |call| async move {
        let admin = call.admin()?;
        let request = &call.request;
        let query = query_param(request, "q")
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let paging = match &query {
            Some(q) if q.chars().count() > 100 => Err(AppError::Validation(
                "q must be at most 100 characters".into(),
            )),
            _ => pagination(request, &["tenants", query.as_deref().unwrap_or("")]),
        };
        let params = paging.clone().map(|paging| TenantQuery {
            query,
            limit: paging.limit,
            position: paging.position,
        });
        let page = tenants::list_tenants(state, &admin, params).await?;
        // The use case checked the parameters: paging is good here.
        let paging = paging?;
        json(
            200,
            &TenantPage {
                items: page.items.iter().map(TenantView::from).collect(),
                next_cursor: paging.next_cursor(page.next_cursor),
            },
        )
    })
    .await
}

/// `GET /admin/tenants/{tenantId}`
pub async fn get_tenant(state: &AdminState, request: Request) -> Response<Body> {
    serve("get_tenant", request, |call| async move {
        let tenant = tenants::get_tenant(state, &call.admin()?).await?;
        json(200, &TenantView::from(&tenant))
    })
    .await
}

/// `PATCH /admin/tenants/{tenantId}`
pub async fn update_tenant(state: &AdminState, request: Request) -> Response<Body> {
    serve("update_tenant", request, |call| async move {
        let admin = call.admin()?;
        let input =
            parse_json::<UpdateTenant>(&call.request, MAX_TENANT_BODY_BYTES).map(|b| TenantPatch {
                name: b.name,
                contact: b.contact,
                plan: b.plan,
                status: b.status,
            });
        let tenant = tenants::update_tenant(state, &admin, input).await?;
        json(200, &TenantView::from(&tenant))
    })
    .await
}

/// `DELETE /admin/tenants/{tenantId}`
pub async fn offboard_tenant(state: &AdminState, request: Request) -> Response<Body> {
    serve("offboard_tenant", request, |call| async move {
        tenants::offboard_tenant(state, &call.admin()?).await?;
        no_content()
    })
    .await
}
