//! Path and query parameters, validated into problems.

use super::Problem;
use crate::ports::MAX_PAGE_SIZE;
use lambda_http::{Request, RequestExt};

pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A path parameter API Gateway extracted for the route (always present when routed).
pub fn path_param(request: &Request, name: &str) -> Result<String, Problem> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(Problem::not_found)
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// `limit` (1..=100, default 20) and `cursor` of a listing.
pub fn pagination(request: &Request) -> Result<(u32, Option<String>), Problem> {
    let limit = match query_param(request, "limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| Problem::validation(format!("limit must be 1 to {MAX_PAGE_SIZE}")))?,
    };
    Ok((
        limit,
        query_param(request, "cursor").filter(|c| !c.is_empty()),
    ))
}

/// Our ids are 32 lowercase hex digits; anything else names nothing (404, no lookup).
pub fn is_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
