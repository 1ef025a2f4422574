//! Strict request-body parsing: JSON content type (415), a size cap (413), and
//! `deny_unknown_fields` types whose serde errors become 422 problems. Every struct in a
//! body, the body itself included, must be a JSON object: serde would otherwise fill a
//! struct from an array by position ([`super::strict`]).

use crate::app::AppError;
use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

/// Largest body any endpoint accepts (API Gateway's own limit is 10 MB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The bytes of a request's or response's body (none: empty).
pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Parses the body as `T` (which should be `#[serde(deny_unknown_fields)]`), refusing
/// non-JSON content types and bodies over `max_bytes`.
pub fn parse_json<T: DeserializeOwned>(request: &Request, max_bytes: usize) -> Result<T, AppError> {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(AppError::UnsupportedMediaType);
    }
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(AppError::UnsupportedMediaType),
    };
    if bytes.len() > max_bytes {
        return Err(AppError::PayloadTooLarge(max_bytes));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::Validation("a JSON body is required".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    super::strict::from_deserializer(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| {
            // serde_json's messages name the offending field and position, never our
            // internals.
            AppError::Validation(format!("invalid body: {error}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Problem;

    fn parse_json<T: DeserializeOwned>(request: &Request, max_bytes: usize) -> Result<T, Problem> {
        super::parse_json(request, max_bytes).map_err(Problem::from)
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Input {
        name: String,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn accepts_json_with_charset() {
        let req = request(Some("application/json; charset=utf-8"), r#"{"name":"a"}"#);
        assert_eq!(
            parse_json::<Input>(&req, 100).unwrap(),
            Input { name: "a".into() }
        );
    }

    #[test]
    fn rejects_wrong_content_type_with_415() {
        for ct in [None, Some("text/plain"), Some("application/jsonx")] {
            assert_eq!(
                parse_json::<Input>(&request(ct, r#"{"name":"a"}"#), 100)
                    .unwrap_err()
                    .status,
                415
            );
        }
    }

    #[test]
    fn rejects_oversize_with_413() {
        let body = format!(r#"{{"name":"{}"}}"#, "a".repeat(200));
        assert_eq!(
            parse_json::<Input>(&request(Some("application/json"), &body), 100)
                .unwrap_err()
                .status,
            413
        );
    }

    #[test]
    fn rejects_unknown_fields_and_bad_json_with_422() {
        for body in [
            r#"{"name":"a","admin":true}"#,
            "{",
            "",
            r#"{"name":1}"#,
            r#"["a"]"#,
            "[]",
            r#""a""#,
            "null",
            "7",
            r#"{"name":"a"} {}"#,
        ] {
            let problem =
                parse_json::<Input>(&request(Some("application/json"), body), 100).unwrap_err();
            assert_eq!(problem.status, 422, "{body}");
        }
    }
}
