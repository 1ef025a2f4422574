//! What API Gateway tells a handler about the caller: the REST (v1) authorizer context,
//! the request id and the source IP. The tenant comes from here only — never from the
//! path, query or body (threat T03: no context, no access).

use crate::app::AppError;
use crate::domain::admin::{AdminPrincipal, Role};
use crate::domain::api_key::Scope;
use crate::domain::signatures::{ClientSigningKey, RequestSignature};
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
/// The client's registered public key for signed requests (absent: none), its algorithm
/// and whether signatures are required ("true"/"false"). The gateway caches the
/// authorizer's answer per credential, so the signature itself — different on every
/// request — is checked by the handler ([`crate::http::Call`]) with this key.
pub const AUTHORIZER_SIGNING_KEY: &str = "signing_key";
pub const AUTHORIZER_SIGNING_ALG: &str = "signing_alg";
pub const AUTHORIZER_SIGNATURE_REQUIRED: &str = "signature_required";
/// The client certificate (SHA-256 fingerprint) the key is bound to (absent: none). The
/// gateway's cache would reuse a decision made with the certificate for a request
/// without it, so the handler compares again with the certificate its request presented.
pub const AUTHORIZER_CLIENT_CERT: &str = "client_cert_sha256";

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

/// The tenant the API-key authorizer named, if any (logs and metrics only; handlers use
/// [`TenantContext::from_request`]).
pub fn authorizer_tenant(request: &Request) -> Option<String> {
    authorizer_field(request, AUTHORIZER_TENANT_ID)
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
    /// The client's public key for signed requests, if one is registered.
    pub signing_key: Option<ClientSigningKey>,
    /// The request's verified signature, once [`crate::http::Call`] checked it.
    pub request_signature: Option<RequestSignature>,
    /// The client certificate the key is bound to (mutual TLS).
    pub client_cert_sha256: Option<String>,
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
                signing_key: match (field(AUTHORIZER_SIGNING_ALG), field(AUTHORIZER_SIGNING_KEY)) {
                    (Some(alg), Some(key)) => Some(
                        // A key the handler cannot read must not turn into "unsigned is fine".
                        ClientSigningKey::from_context(
                            &alg,
                            &key,
                            field(AUTHORIZER_SIGNATURE_REQUIRED).as_deref() == Some("true"),
                        )
                        .ok_or(AppError::Unauthorized)?,
                    ),
                    _ => None,
                },
                request_signature: None,
                client_cert_sha256: field(AUTHORIZER_CLIENT_CERT),
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

/// The path the client asked for: API Gateway's `requestContext.path` (with the stage
/// on the `execute-api` endpoint, as on the wire), else the request's own.
pub fn client_path(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() {
        if let Some(path) = context.path.as_deref().filter(|p| !p.is_empty()) {
            return path.to_owned();
        }
    }
    request.uri().path().to_owned()
}

/// The query as signed requests must send it (spec section 11): parameters sorted by
/// name, then value, each percent-encoded except RFC 3986 unreserved characters, joined
/// with `&`. API Gateway hands functions parsed parameters, never the raw query, so this
/// is the one form both sides can rebuild. `None` when there are no parameters.
pub fn canonical_query(request: &Request) -> Option<String> {
    let parameters = request.query_string_parameters_ref()?;
    let mut pairs: Vec<(&str, &str)> = parameters.iter().collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_unstable();
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    Some(
        pairs
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// The client certificate the request presented over mutual TLS, as API Gateway passes
/// it (`requestContext.identity.clientCert.clientCertPem`).
pub fn client_certificate(request: &Request) -> Option<String> {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return None;
    };
    context
        .identity
        .other
        .get("clientCert")
        .and_then(|cert| cert.get("clientCertPem"))
        .and_then(|pem| pem.as_str())
        .map(str::to_owned)
}
