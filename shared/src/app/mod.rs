//! The use cases: one function per thing a caller can do (create a generation, issue a
//! key, close a period, …), between `http` (which parses requests, calls these and
//! renders their results) and the ports. Each takes typed input and returns a typed
//! result or an [`AppError`]; the rules that cut across them are explicit steps:
//!
//! - the rate limit: [`limits::RateLimiter::admit`], before anything else on `/v1`;
//! - the control plane's say over generations: [`policy::GenerationPolicy::allow`];
//! - consent: [`dietitians::require_consent`];
//! - idempotency: [`idempotency::claim`], then [`idempotency::Held::settle`];
//! - permissions, the offboarded rule and the audit entry of every change:
//!   [`admin::AdminCall::authorize`], [`admin::AdminCall::authorize_change`],
//!   [`admin::audited`];
//! - budget alerts after every billed or budget-refused generation:
//!   [`budget_alerts::BudgetAlerts::check`].

pub mod account;
pub mod admin;
pub mod audit_log;
pub mod billing;
pub mod budget_alerts;
pub mod dietitians;
mod error;
pub mod generations;
pub mod idempotency;
pub mod keys;
pub mod limits;
pub mod policy;
pub mod receipts;
pub mod review;
pub mod samples;
pub mod settings;
pub mod style;
pub mod tenants;

pub use error::{AppError, Described};
