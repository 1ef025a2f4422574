//! HTTP plumbing shared by every endpoint: problem+json errors, authorizer context,
//! strict body parsing, and the wrapper that turns a handler outcome into a response.

mod admin;
mod body;
mod consent;
mod context;
mod idempotency;
mod params;
mod problem;
mod ratelimit;
mod respond;
mod strict;

pub use admin::{admin_change, admin_read, tenant_offboarded, AdminCall, Change, TENANT_PARAM};
pub use body::{parse_json, MAX_BODY_BYTES};
pub use consent::require_consent;
pub use context::{
    admin_principal, request_id, source_ip, TenantContext, ADMIN_ROLES, ADMIN_SUBJECT,
    ADMIN_TENANT, ADMIN_USERNAME, AUTHORIZER_KEY_ID, AUTHORIZER_PLAN, AUTHORIZER_TENANT_ID,
};
pub use idempotency::{idempotency_key, run_idempotently, IDEMPOTENCY_HEADER, REPLAY_HEADER};
pub use params::{
    invalid_cursor, is_id, pagination, path_param, query_param, PageRequest, DEFAULT_PAGE_SIZE,
};
pub use problem::Problem;
pub use ratelimit::{count_request, handle_limited, RateLimitStatus, RateLimiter, LIMIT_TTL};
pub use respond::{handle, json, no_content, run_http, HandlerResult};
