//! Path and query parameters, validated into problems.

use crate::app::AppError;
use crate::ports::MAX_PAGE_SIZE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::{Request, RequestExt};
use sha2::{Digest, Sha256};

pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A path parameter API Gateway extracted for the route (always present when routed).
pub fn path_param(request: &Request, name: &str) -> Result<String, AppError> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or(AppError::NotFound)
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// One page of a listing, as the caller asked for it: `limit` (1..=100, default 20)
/// and the position its `cursor` names.
///
/// Cursors are opaque and tamper-evident: `base64url(version, tag, position)`, where the
/// tag is a SHA-256 over the listing's scope — its name, the caller's tenant and every
/// filter that shapes it — and the position. A cursor is accepted only by the listing
/// (and tenant, and filters) that issued it; anything else, a forged or truncated one
/// included, is 422 `invalid-cursor`. The tag is not keyed: whoever can compute it can
/// only name a position in a listing they may read anyway.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u32,
    /// The store's own position (its cursor), once the caller's cursor checked out.
    pub position: Option<String>,
    scope: Vec<u8>,
}

const CURSOR_VERSION: u8 = 1;
const CURSOR_TAG_BYTES: usize = 12;

impl PageRequest {
    /// The cursor to hand out for the store's next `position` (none at the end).
    pub fn next_cursor(&self, position: Option<String>) -> Option<String> {
        position.map(|position| {
            let mut bytes = vec![CURSOR_VERSION];
            bytes.extend_from_slice(&self.tag(position.as_bytes()));
            bytes.extend_from_slice(position.as_bytes());
            URL_SAFE_NO_PAD.encode(bytes)
        })
    }

    fn tag(&self, position: &[u8]) -> [u8; CURSOR_TAG_BYTES] {
        let digest = Sha256::new()
            .chain_update(b"nutripro-cursor\0")
            .chain_update(&self.scope)
            .chain_update(position)
            .finalize();
        let mut tag = [0; CURSOR_TAG_BYTES];
        tag.copy_from_slice(&digest[..CURSOR_TAG_BYTES]);
        tag
    }

    fn position_of(&self, cursor: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != CURSOR_VERSION || rest.len() <= CURSOR_TAG_BYTES {
            return None;
        }
        let (tag, position) = rest.split_at(CURSOR_TAG_BYTES);
        let expected = self.tag(position);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(tag, &expected[..])) {
            return None;
        }
        String::from_utf8(position.to_vec()).ok()
    }
}

/// `limit` and `cursor` of a listing whose scope is `scope` (the listing's name, then
/// the tenant and the filters, in a fixed order).
pub fn pagination(request: &Request, scope: &[&str]) -> Result<PageRequest, AppError> {
    let limit = match query_param(request, "limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| AppError::Validation(format!("limit must be 1 to {MAX_PAGE_SIZE}")))?,
    };
    let mut encoded_scope = Vec::new();
    for part in scope {
        encoded_scope.extend_from_slice(&(part.len() as u64).to_be_bytes());
        encoded_scope.extend_from_slice(part.as_bytes());
    }
    let mut page = PageRequest {
        limit,
        position: None,
        scope: encoded_scope,
    };
    if let Some(cursor) = query_param(request, "cursor").filter(|c| !c.is_empty()) {
        page.position = Some(page.position_of(&cursor).ok_or(AppError::InvalidCursor)?);
    }
    Ok(page)
}

pub use crate::domain::is_id;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Request {
        let request = http::Request::builder()
            .uri("/x")
            .body(lambda_http::Body::Empty)
            .unwrap();
        let pairs: std::collections::HashMap<String, String> =
            form_pairs(query).into_iter().collect();
        request.with_query_string_parameters(pairs)
    }

    fn form_pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_cursor_round_trips_within_its_listing_only() {
        let scope = ["samples", "tenant-a", "dr-x", ""];
        let first = pagination(&request("limit=5"), &scope).unwrap();
        assert_eq!((first.limit, first.position.as_deref()), (5, None));
        let cursor = first.next_cursor(Some("pos-17".into())).unwrap();
        let again = pagination(&request(&format!("cursor={cursor}")), &scope).unwrap();
        assert_eq!(again.position.as_deref(), Some("pos-17"));
        for other in [
            ["samples", "tenant-b", "dr-x", ""],
            ["samples", "tenant-a", "dr-y", ""],
            ["samples", "tenant-a", "dr-x", "meal_plan_summary"],
            ["generations", "tenant-a", "dr-x", ""],
        ] {
            let error = pagination(&request(&format!("cursor={cursor}")), &other).unwrap_err();
            assert_eq!(error, AppError::InvalidCursor);
        }
    }

    #[test]
    fn forged_truncated_and_altered_cursors_are_refused() {
        let scope = ["tenants", ""];
        let cursor = pagination(&request(""), &scope)
            .unwrap()
            .next_cursor(Some("0123".into()))
            .unwrap();
        let mut altered = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        *altered.last_mut().unwrap() ^= 1;
        for forged in [
            "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            "not base64 !".to_owned(),
            URL_SAFE_NO_PAD.encode(b"0123"),
            cursor[..cursor.len() - 2].to_owned(),
            URL_SAFE_NO_PAD.encode(altered),
        ] {
            let error = pagination(&request(&format!("cursor={forged}")), &scope).unwrap_err();
            assert_eq!(error, AppError::InvalidCursor, "{forged}");
        }
    }
}
