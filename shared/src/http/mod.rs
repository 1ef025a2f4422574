//! HTTP plumbing shared by every endpoint: the envelope ([`serve`]), problem+json,
//! authorizer context, strict body parsing, paging, and the wire side of rate limits and
//! idempotency. Handlers parse with these, call a use case of [`crate::app`], and render
//! its result; every error is an [`crate::app::AppError`] until the envelope renders it.

mod body;
mod context;
mod idempotency;
mod params;
mod problem;
mod ratelimit;
mod respond;
mod strict;

pub use body::{body_bytes, parse_json, MAX_BODY_BYTES};
pub use context::{
    admin_principal, request_id, source_ip, TenantContext, ADMIN_ROLES, ADMIN_SUBJECT,
    ADMIN_TENANT, ADMIN_USERNAME, AUTHORIZER_CLIENT_CERT, AUTHORIZER_KEY_ID, AUTHORIZER_KEY_RPM,
    AUTHORIZER_PLAN, AUTHORIZER_SCOPES, AUTHORIZER_SIGNATURE_REQUIRED, AUTHORIZER_SIGNING_ALG,
    AUTHORIZER_SIGNING_KEY, AUTHORIZER_TENANT_ID,
};
pub use idempotency::{created, idempotency_key, once, IDEMPOTENCY_HEADER, REPLAY_HEADER};
pub use params::{is_id, pagination, path_param, query_param, PageRequest, DEFAULT_PAGE_SIZE};
pub use problem::Problem;
pub use respond::{json, no_content, serve, Call, HandlerResult};

/// The rate limiter lives with the use cases; re-exported for the handlers' states.
pub use crate::app::limits::{RateLimitStatus, RateLimiter, LIMIT_TTL};

/// The path parameter naming the tenant of tenant-scoped admin routes.
pub const TENANT_PARAM: &str = "tenantId";
