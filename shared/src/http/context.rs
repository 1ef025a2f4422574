//! What API Gateway tells a handler about the caller: the REST (v1) authorizer context,
//! the request id and the source IP. The tenant comes from here only — never from the
//! path, query or body (threat T03: no context, no access).

use crate::app::AppError;
use crate::domain::admin::{AdminPrincipal, Role};
use crate::domain::api_key::Scope;
use crate::domain::{KeyId, PlanId, TenantId};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// Context keys the API-key authorizer returns and handlers read.
pub const AUTHORIZER_TENANT_ID: &str = "tenant_id";
pub const AUTHORIZER_KEY_ID: &str = "key_id";
pub const AUTHORIZER_PLAN: &str = "plan";
/// The key's scopes, space-separated (absent: every scope, as keys are issued by default).
pub const AUTHORIZER_SCOPES: &str = "scopes";
/// The key's own requests-per-minute limit (absent: the tenant's).
pub const AUTHORIZER_KEY_RPM: &str = "key_rpm";

/// Context keys the admin authorizer returns. They share no name with the API-key
/// authorizer's, so an admin principal can never be read as a tenant and vice versa.
pub const ADMIN_SUBJECT: &str = "admin_subject";
pub const ADMIN_USERNAME: &str = "admin_username";
pub const ADMIN_ROLES: &str = "admin_roles";
pub const ADMIN_TENANT: &str = "admin_tenant_id";

fn authorizer_field(request: &Request, name: &str) -> Option<String> {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return None;
    };
    context
        .authorizer
        .fields
        .get(name)
        .and_then(|value| value.as_str())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Reads the admin authorizer's context. Without it (an API key's context, or none) the
/// request is refused with 401 (threat T15).
pub fn admin_principal(request: &Request) -> Result<AdminPrincipal, AppError> {
    let subject = authorizer_field(request, ADMIN_SUBJECT).ok_or(AppError::Unauthorized)?;
    let roles = authorizer_field(request, ADMIN_ROLES)
        .unwrap_or_default()
        .split(',')
        .filter_map(Role::parse)
        .collect();
    Ok(AdminPrincipal {
        username: authorizer_field(request, ADMIN_USERNAME).unwrap_or_else(|| subject.clone()),
        subject,
        roles,
        tenant: authorizer_field(request, ADMIN_TENANT).map(TenantId::new),
    })
}

/// The authenticated tenant behind a data-plane request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub tenant_id: TenantId,
    pub key_id: KeyId,
    pub plan: PlanId,
    /// What the key may do (spec section 11).
    pub scopes: Vec<Scope>,
    /// The key's own requests-per-minute limit.
    pub key_requests_per_minute: Option<u32>,
}

impl TenantContext {
    /// Reads the authorizer context. A request without one did not pass our authorizer
    /// (misconfigured route, direct invocation): it is refused with 401.
    pub fn from_request(request: &Request) -> Result<Self, AppError> {
        let field = |name: &str| authorizer_field(request, name);
        match (
            field(AUTHORIZER_TENANT_ID),
            field(AUTHORIZER_KEY_ID),
            field(AUTHORIZER_PLAN),
        ) {
            (Some(tenant_id), Some(key_id), Some(plan)) => Ok(Self {
                tenant_id: TenantId::new(tenant_id),
                key_id: KeyId::new(key_id),
                plan: PlanId::new(plan),
                scopes: field(AUTHORIZER_SCOPES)
                    .map(|text| Scope::split(&text))
                    .unwrap_or_else(|| Scope::ALL.to_vec()),
                // An unreadable limit is the tightest one, never none.
                key_requests_per_minute: field(AUTHORIZER_KEY_RPM)
                    .map(|text| text.parse().unwrap_or(1)),
            }),
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// API Gateway's request id (also the `x-request-id` response header); the Lambda
/// request id when there is none, so every response still carries one.
pub fn request_id(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() {
        if let Some(id) = context.request_id.as_deref().filter(|id| !id.is_empty()) {
            return id.to_owned();
        }
    }
    request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(crate::domain::new_id)
}

pub fn source_ip(request: &Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    }
}
