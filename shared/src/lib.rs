//! The library every AI Nutrition-Pro function uses.
//!
//! - [`domain`]: types and rules, no I/O (tenants, API keys, time).
//! - [`ports`]: the traits the domain needs from the outside world (stores, clock).
//! - [`adapters`]: implementations of those ports (embedded SQLite, DynamoDB).
//! - [`app`]: the use cases, one function each, with typed input, results and errors.
//! - [`http`]: authorizer-context extraction, problem+json, body limits, responses.
//! - [`config`] and [`telemetry`]: environment configuration and JSON logs.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines, one per request.

pub mod adapters;
pub mod app;
pub mod cache;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod state;
pub mod telemetry;
