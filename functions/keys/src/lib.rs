//! Control-plane endpoints for a tenant's data-plane API keys (spec section 5).
//!
//! - `POST /admin/tenants/{tenantId}/keys` → 201 with the key's secret, shown only here
//! - `GET /admin/tenants/{tenantId}/keys` → the tenant's keys, never secrets or hashes
//! - `POST /admin/tenants/{tenantId}/keys/{keyId}/rotate` → a new secret under the same
//!   key id; the old one keeps working for `grace_seconds` (default 24 h), then 401
//! - `DELETE /admin/tenants/{tenantId}/keys/{keyId}` → revoked now; 204
//!
//! A key of another tenant is 404, exactly like a key that does not exist.

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::admin::Action;
use nutripro_shared::domain::{ApiKey, ApiKeyToken, KeyId, TenantId, Timestamp};
use nutripro_shared::http::{
    admin_change, admin_read, is_id, json, no_content, parse_json, path_param, AdminCall, Change,
    Problem,
};
use nutripro_shared::state::AdminState;
use serde::{Deserialize, Serialize};

const MAX_KEY_BODY_BYTES: usize = 4 * 1024;
/// Default overlap of old and new secret after a rotation.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
/// Longest overlap a rotation may ask for.
pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Serialize)]
struct KeyView {
    key_id: String,
    name: String,
    status: &'static str,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
    /// Until when the secret replaced by the last rotation still works.
    previous_secret_valid_until: Option<String>,
}

fn rfc3339(at: Option<Timestamp>) -> Option<String> {
    at.map(Timestamp::to_rfc3339)
}

impl KeyView {
    fn new(key: &ApiKey, now: Timestamp) -> Self {
        let status = if key.is_revoked(now) {
            "revoked"
        } else if key.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            key_id: key.key_id.to_string(),
            name: key.name.clone(),
            status,
            created_at: key.created_at.to_rfc3339(),
            expires_at: rfc3339(key.expires_at),
            revoked_at: rfc3339(key.revoked_at),
            last_used_at: rfc3339(key.last_used_at),
            previous_secret_valid_until: rfc3339(key.grace_until.filter(|until| *until > now)),
        }
    }
}

/// The one response that carries a secret.
#[derive(Serialize)]
struct IssuedKey<'a> {
    #[serde(flatten)]
    key: KeyView,
    api_key: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueKey {
    name: String,
    /// RFC 3339; unset: the key does not expire.
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    #[serde(default)]
    grace_seconds: Option<i64>,
}

fn tenant_of(call: &AdminCall) -> Result<&TenantId, Problem> {
    call.tenant.as_ref().ok_or_else(Problem::not_found)
}

/// The tenant must exist (an offboarded one never gets here: the envelope answers 409).
async fn live_tenant(state: &AdminState, id: &TenantId) -> Result<(), Problem> {
    state
        .store
        .get_tenant(id)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(())
}

/// The path's key, if it belongs to the path's tenant (else 404).
async fn tenant_key(state: &AdminState, call: &AdminCall) -> Result<ApiKey, Problem> {
    let tenant = tenant_of(call)?;
    let key_id = path_param(&call.request, "keyId")?;
    if !is_id(&key_id) {
        return Err(Problem::not_found());
    }
    match state.store.get_key(&KeyId::new(key_id)).await? {
        Some(key) if key.tenant_id == *tenant => Ok(key),
        _ => Err(Problem::not_found()),
    }
}

fn issued(
    status: u16,
    key: &ApiKey,
    token: &ApiKeyToken,
    now: Timestamp,
) -> Result<Response<Body>, Problem> {
    json(
        status,
        &IssuedKey {
            key: KeyView::new(key, now),
            api_key: token.expose(),
        },
    )
}

/// `POST /admin/tenants/{tenantId}/keys`
pub async fn issue_key(state: &AdminState, request: Request) -> Response<Body> {
    admin_change("issue_key", "key.issue", state, request, Action::KeyIssue, |call| async move {
        let body: IssueKey = parse_json(&call.request, MAX_KEY_BODY_BYTES)?;
        let tenant = tenant_of(&call)?.clone();
        live_tenant(state, &tenant).await?;
        let expires_at = body
            .expires_at
            .as_deref()
            .map(|text| {
                Timestamp::parse_rfc3339(text)
                    .ok_or_else(|| Problem::validation("expires_at must be an RFC 3339 time"))
            })
            .transpose()?;
        let now = state.clock.now();
        let (key, token) = ApiKey::issue(tenant.clone(), &body.name, now, expires_at)?;
        state.store.create_key(&key).await?;
        Ok(Change {
            response: issued(201, &key, &token, now)?,
            target: format!("key/{}", key.key_id),
            details: serde_json::json!({"name": key.name, "expires_at": rfc3339(key.expires_at)}),
            tenant: Some(tenant),
        })
    })
    .await
}

#[derive(Serialize)]
struct KeyList {
    items: Vec<KeyView>,
}

/// `GET /admin/tenants/{tenantId}/keys`
pub async fn list_keys(state: &AdminState, request: Request) -> Response<Body> {
    admin_read("list_keys", request, Action::KeyList, |call| async move {
        let tenant = tenant_of(&call)?;
        state
            .store
            .get_tenant(tenant)
            .await?
            .ok_or_else(Problem::not_found)?;
        let now = state.clock.now();
        let items = state
            .store
            .list_keys(tenant)
            .await?
            .iter()
            .map(|key| KeyView::new(key, now))
            .collect();
        json(200, &KeyList { items })
    })
    .await
}

/// `POST /admin/tenants/{tenantId}/keys/{keyId}/rotate`; the body is optional.
pub async fn rotate_key(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "rotate_key",
        "key.rotate",
        state,
        request,
        Action::KeyRotate,
        |call| async move {
            let has_body = match call.request.body() {
                Body::Empty => false,
                Body::Text(text) => !text.trim().is_empty(),
                _ => true,
            };
            let body: RotateKey = if has_body {
                parse_json(&call.request, MAX_KEY_BODY_BYTES)?
            } else {
                RotateKey::default()
            };
            let grace_seconds = body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
            if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
                return Err(Problem::validation(format!(
                    "grace_seconds must be 0 to {MAX_GRACE_SECONDS}"
                )));
            }
            let tenant = tenant_of(&call)?.clone();
            live_tenant(state, &tenant).await?;
            let mut key = tenant_key(state, &call).await?;
            let now = state.clock.now();
            if key.is_revoked(now) {
                return Err(Problem::new(
                    409,
                    "key-revoked",
                    "Conflict",
                    "A revoked key cannot be rotated.",
                ));
            }
            let expected = key.hash.clone();
            let token = key.rotate(now, grace_seconds);
            // Conditional on the hash read above: two concurrent rotations cannot both win.
            state.store.save_rotation(&key, &expected).await?;
            Ok(Change {
                response: issued(200, &key, &token, now)?,
                target: format!("key/{}", key.key_id),
                details: serde_json::json!({"grace_seconds": grace_seconds}),
                tenant: Some(tenant),
            })
        },
    )
    .await
}

/// `DELETE /admin/tenants/{tenantId}/keys/{keyId}`: effective immediately locally, and
/// within the authorizer cache TTL in AWS.
pub async fn revoke_key(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "revoke_key",
        "key.revoke",
        state,
        request,
        Action::KeyRevoke,
        |call| async move {
            let key = tenant_key(state, &call).await?;
            state
                .store
                .revoke_key(&key.key_id, state.clock.now())
                .await?;
            Ok(Change {
                response: no_content()?,
                target: format!("key/{}", key.key_id),
                details: serde_json::json!({"name": key.name}),
                tenant: Some(key.tenant_id),
            })
        },
    )
    .await
}
