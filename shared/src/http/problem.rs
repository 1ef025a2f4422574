//! RFC 9457 problem details. Every error a caller sees is one of these; the `detail` is
//! written for the caller and never carries internal error text. Handlers never build
//! one: they return an [`AppError`], which the envelope turns into its problem here. The
//! constructors below are for answers the gateway writes itself.

use crate::app::AppError;
use lambda_http::{Body, Response};
use serde::Serialize;

/// Base of every problem `type` URI; the slug after it names the problem.
pub const PROBLEM_BASE: &str = "https://nutripro.dev/problems/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    /// Stable slug, e.g. `unauthorized`, `validation-failed`.
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members (RFC 9457 §3.2), e.g. `findings` of an unsafe request.
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    request_id: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extensions: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl Problem {
    pub fn new(
        status: u16,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            extensions: None,
        }
    }

    pub fn unauthorized() -> Self {
        AppError::Unauthorized.into()
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, "forbidden", "Forbidden", detail)
    }

    pub fn not_found() -> Self {
        AppError::NotFound.into()
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        AppError::Validation(detail.into()).into()
    }

    pub fn payload_too_large(max_bytes: usize) -> Self {
        AppError::PayloadTooLarge(max_bytes).into()
    }

    /// A dependency failed. The cause goes to the log, never to the caller.
    pub fn unavailable() -> Self {
        AppError::Unavailable(String::new()).into()
    }

    pub fn internal() -> Self {
        AppError::Internal(String::new()).into()
    }

    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug)
    }

    pub fn to_response(&self, request_id: &str) -> Response<Body> {
        let body = ProblemBody {
            type_: self.type_uri(),
            title: self.title,
            status: self.status,
            detail: &self.detail,
            request_id,
            extensions: self.extensions.as_ref(),
        };
        let json = serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"));
        Response::builder()
            .status(self.status)
            .header("content-type", "application/problem+json")
            .body(Body::Text(json))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

/// The one mapping from what went wrong to what the caller is told (the table itself is
/// [`AppError::describe`]).
impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let described = error.describe();
        Self {
            status: described.status,
            slug: described.slug,
            title: described.title,
            detail: described.detail,
            extensions: described.extensions,
        }
    }
}

impl From<crate::ports::StoreError> for Problem {
    fn from(error: crate::ports::StoreError) -> Self {
        AppError::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc9457_body() {
        let response = Problem::validation("name is required").to_response("req-1");
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "https://nutripro.dev/problems/validation-failed",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "name is required",
                "request_id": "req-1"
            })
        );
    }

    #[test]
    fn store_failures_never_leak_their_cause() {
        let problem = Problem::from(crate::ports::StoreError::Unavailable(
            "dynamodb table arn:aws:secret".into(),
        ));
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("arn"));
    }
}
