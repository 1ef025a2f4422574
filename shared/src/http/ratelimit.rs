//! The rate limit on the wire: every `/v1` answer carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`; a refused request also `Retry-After`.
//! The limit itself is the use-case step [`crate::app::limits::RateLimiter::admit`].

use crate::app::limits::RateLimitStatus;
use lambda_http::{Body, Response};

/// Adds the `RateLimit-*` headers (and `Retry-After` when refused).
pub fn apply(status: &RateLimitStatus, response: &mut Response<Body>) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("ratelimit-limit", status.limit.to_string());
    set("ratelimit-remaining", status.remaining.to_string());
    set("ratelimit-reset", status.reset_seconds.to_string());
    if !status.allowed {
        set("retry-after", status.reset_seconds.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppError;
    use crate::http::Problem;

    #[test]
    fn refusals_carry_retry_after_and_the_limit_headers() {
        let status = RateLimitStatus {
            limit: 5,
            remaining: 0,
            reset_seconds: 17,
            allowed: false,
            per_key: false,
        };
        let mut response = Problem::from(AppError::RateLimited(status)).to_response("req-1");
        apply(&status, &mut response);
        assert_eq!(response.status(), 429);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("retry-after"), "17");
        assert_eq!(header("ratelimit-limit"), "5");
        assert_eq!(header("ratelimit-remaining"), "0");
        assert_eq!(header("ratelimit-reset"), "17");
        let mut allowed = Response::new(Body::Empty);
        apply(
            &RateLimitStatus {
                allowed: true,
                remaining: 3,
                ..status
            },
            &mut allowed,
        );
        assert!(!allowed.headers().contains_key("retry-after"));
        assert_eq!(allowed.headers()["ratelimit-remaining"], "3");
    }
}
