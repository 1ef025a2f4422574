//! Control-plane endpoints for a tenant's data-plane API keys (spec section 5).
//!
//! - `POST /admin/tenants/{tenantId}/keys` → 201 with the key's secret, shown only here
//! - `GET /admin/tenants/{tenantId}/keys` → the tenant's keys, never secrets or hashes
//! - `POST /admin/tenants/{tenantId}/keys/{keyId}/rotate` → a new secret under the same
//!   key id; the old one keeps working for `grace_seconds` (default 24 h), then 401
//! - `DELETE /admin/tenants/{tenantId}/keys/{keyId}` → revoked now; 204
//! - `PUT /admin/tenants/{tenantId}/keys/{keyId}/signing-key` → registers the client's
//!   public key for signed requests (RFC 9421), optional or required; 200 with the key
//! - `DELETE /admin/tenants/{tenantId}/keys/{keyId}/signing-key` → removes it; 204
//! - `PUT /admin/tenants/{tenantId}/keys/{keyId}/client-certificate`
//!   `{"client_certificate_sha256": "<fingerprint>" | null}` → binds the key to one client
//!   certificate (mutual TLS) or unbinds it; 200 with the key
//!
//! A key of another tenant is 404, exactly like a key that does not exist.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::keys::{self, IssuedKey, NewKey};
pub use nutripro_shared::app::keys::{DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::{ApiKey, Timestamp};
use nutripro_shared::http::{json, no_content, parse_json, path_param, serve, HandlerResult};
use nutripro_shared::state::AdminState;
use serde::{Deserialize, Serialize};

const MAX_KEY_BODY_BYTES: usize = 4 * 1024;

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
    /// What the key may do on `/v1`.
    scopes: Vec<&'static str>,
    /// The key's own requests-per-minute limit (null: the tenant's).
    requests_per_minute: Option<u32>,
    /// The client's public key for signed requests (null: none registered).
    signing_key: Option<SigningKeyView>,
    /// The client certificate the key is bound to (mutual TLS; null: none).
    client_certificate_sha256: Option<String>,
}

#[derive(Debug, Serialize)]
struct SigningKeyView {
    algorithm: &'static str,
    /// Unpadded base64url of the raw public key.
    public_key: String,
    /// SHA-256 of the raw public key, hex.
    fingerprint: String,
    signature_required: bool,
    registered_at: String,
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
            scopes: key.scopes.iter().map(|s| s.as_str()).collect(),
            requests_per_minute: key.requests_per_minute,
            signing_key: key.signing_key.as_ref().map(|k| SigningKeyView {
                algorithm: k.algorithm.as_str(),
                public_key: k.public_key_text(),
                fingerprint: k.fingerprint(),
                signature_required: k.required,
                registered_at: k.registered_at.to_rfc3339(),
            }),
            client_certificate_sha256: key.client_cert_sha256.clone(),
        }
    }
}

/// The one response that carries a secret.
#[derive(Serialize)]
struct IssuedView<'a> {
    #[serde(flatten)]
    key: KeyView,
    api_key: &'a str,
}

fn issued(status: u16, issued: &IssuedKey) -> HandlerResult {
    json(
        status,
        &IssuedView {
            key: KeyView::new(&issued.key, issued.now),
            api_key: issued.token.expose(),
        },
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueKey {
    name: String,
    /// RFC 3339; unset: the key does not expire.
    #[serde(default)]
    expires_at: Option<String>,
    /// Unset: every scope.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Unset: the tenant's limit.
    #[serde(default)]
    requests_per_minute: Option<u32>,
    /// Unset: usable with any (or no) client certificate.
    #[serde(default)]
    client_certificate_sha256: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    #[serde(default)]
    grace_seconds: Option<i64>,
}

/// `POST /admin/tenants/{tenantId}/keys`
pub async fn issue_key(state: &AdminState, request: Request) -> Response<Body> {
    serve("issue_key", request, |call| async move {
        let admin = call.admin()?;
        let input = parse_json::<IssueKey>(&call.request, MAX_KEY_BODY_BYTES).map(|b| NewKey {
            name: b.name,
            expires_at: b.expires_at,
            scopes: b.scopes,
            requests_per_minute: b.requests_per_minute,
            client_certificate_sha256: b.client_certificate_sha256,
        });
        issued(201, &keys::issue_key(state, &admin, input).await?)
    })
    .await
}

#[derive(Serialize)]
struct KeyList {
    items: Vec<KeyView>,
}

/// `GET /admin/tenants/{tenantId}/keys`
pub async fn list_keys(state: &AdminState, request: Request) -> Response<Body> {
    serve("list_keys", request, |call| async move {
        let (keys, now) = keys::list_keys(state, &call.admin()?).await?;
        let items = keys.iter().map(|key| KeyView::new(key, now)).collect();
        json(200, &KeyList { items })
    })
    .await
}

/// `POST /admin/tenants/{tenantId}/keys/{keyId}/rotate`; the body is optional.
pub async fn rotate_key(state: &AdminState, request: Request) -> Response<Body> {
    serve("rotate_key", request, |call| async move {
        let admin = call.admin()?;
        let request = &call.request;
        let has_body = match request.body() {
            Body::Empty => false,
            Body::Text(text) => !text.trim().is_empty(),
            _ => true,
        };
        let grace = if has_body {
            parse_json::<RotateKey>(request, MAX_KEY_BODY_BYTES).map(|b| b.grace_seconds)
        } else {
            Ok(None)
        };
        let key_id = path_param(request, "keyId").unwrap_or_default();
        issued(200, &keys::rotate_key(state, &admin, &key_id, grace).await?)
    })
    .await
}

/// `DELETE /admin/tenants/{tenantId}/keys/{keyId}`: effective immediately locally, and
/// within the authorizer cache TTL in AWS.
pub async fn revoke_key(state: &AdminState, request: Request) -> Response<Body> {
    serve("revoke_key", request, |call| async move {
        let admin = call.admin()?;
        let key_id = path_param(&call.request, "keyId").unwrap_or_default();
        keys::revoke_key(state, &admin, &key_id).await?;
        no_content()
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SigningKeyBody {
    algorithm: String,
    public_key: String,
    #[serde(default)]
    signature_required: bool,
}

/// `PUT /admin/tenants/{tenantId}/keys/{keyId}/signing-key`
pub async fn set_signing_key(state: &AdminState, request: Request) -> Response<Body> {
    serve("set_signing_key", request, |call| async move {
        let admin = call.admin()?;
        let input = parse_json::<SigningKeyBody>(&call.request, MAX_KEY_BODY_BYTES).map(|b| {
            keys::NewSigningKey {
                algorithm: b.algorithm,
                public_key: b.public_key,
                signature_required: b.signature_required,
            }
        });
        let key_id = path_param(&call.request, "keyId").unwrap_or_default();
        let (key, now) = keys::set_signing_key(state, &admin, &key_id, input).await?;
        json(200, &KeyView::new(&key, now))
    })
    .await
}

/// `DELETE /admin/tenants/{tenantId}/keys/{keyId}/signing-key`
pub async fn remove_signing_key(state: &AdminState, request: Request) -> Response<Body> {
    serve("remove_signing_key", request, |call| async move {
        let admin = call.admin()?;
        let key_id = path_param(&call.request, "keyId").unwrap_or_default();
        keys::remove_signing_key(state, &admin, &key_id).await?;
        no_content()
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateBody {
    /// A fingerprint, or null to unbind. Required: an empty body binds nothing and
    /// unbinds nothing (an `Option` would read a missing field as null).
    client_certificate_sha256: serde_json::Value,
}

/// `PUT /admin/tenants/{tenantId}/keys/{keyId}/client-certificate`
pub async fn set_client_certificate(state: &AdminState, request: Request) -> Response<Body> {
    serve("set_client_certificate", request, |call| async move {
        let admin = call.admin()?;
        let input =
            parse_json::<CertificateBody>(&call.request, MAX_KEY_BODY_BYTES).and_then(|b| match b
                .client_certificate_sha256
            {
                serde_json::Value::Null => Ok(None),
                serde_json::Value::String(fingerprint) => Ok(Some(fingerprint)),
                _ => Err(AppError::Validation(
                    "client_certificate_sha256 must be a fingerprint string or null".into(),
                )),
            });
        let key_id = path_param(&call.request, "keyId").unwrap_or_default();
        let (key, now) = keys::bind_client_certificate(state, &admin, &key_id, input).await?;
        json(200, &KeyView::new(&key, now))
    })
    .await
}
