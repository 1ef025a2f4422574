//! HTTP plumbing shared by every endpoint: problem+json errors, authorizer context,
//! strict body parsing, and the wrapper that turns a handler outcome into a response.

mod body;
mod context;
mod problem;
mod respond;

pub use body::{parse_json, MAX_BODY_BYTES};
pub use context::{
    request_id, source_ip, TenantContext, AUTHORIZER_KEY_ID, AUTHORIZER_PLAN, AUTHORIZER_TENANT_ID,
};
pub use problem::Problem;
pub use respond::{handle, json, no_content, run_http, HandlerResult};
