//! What API Gateway tells a handler about the caller: the REST (v1) authorizer context,
//! the request id and the source IP. The tenant comes from here only — never from the
//! path, query or body (threat T03: no context, no access).

use super::Problem;
use crate::domain::{KeyId, PlanId, TenantId};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// Context keys the API-key authorizer returns and handlers read.
pub const AUTHORIZER_TENANT_ID: &str = "tenant_id";
pub const AUTHORIZER_KEY_ID: &str = "key_id";
pub const AUTHORIZER_PLAN: &str = "plan";

/// The authenticated tenant behind a data-plane request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub tenant_id: TenantId,
    pub key_id: KeyId,
    pub plan: PlanId,
}

impl TenantContext {
    /// Reads the authorizer context. A request without one did not pass our authorizer
    /// (misconfigured route, direct invocation): it is refused with 401.
    pub fn from_request(request: &Request) -> Result<Self, Problem> {
        let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
            return Err(Problem::unauthorized());
        };
        let field = |name: &str| {
            context
                .authorizer
                .fields
                .get(name)
                .and_then(|value| value.as_str())
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        match (
            field(AUTHORIZER_TENANT_ID),
            field(AUTHORIZER_KEY_ID),
            field(AUTHORIZER_PLAN),
        ) {
            (Some(tenant_id), Some(key_id), Some(plan)) => Ok(Self {
                tenant_id: TenantId::new(tenant_id),
                key_id: KeyId::new(key_id),
                plan: PlanId::new(plan),
            }),
            _ => Err(Problem::unauthorized()),
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
