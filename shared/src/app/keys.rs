//! A tenant's data-plane API keys (spec section 5): issue (the secret leaves only in
//! that answer), list, rotate with a grace period for the old secret, revoke. A key of
//! another tenant is as absent as a key that does not exist.

use super::admin::{audited, AdminCall, Changed, Refused};
use super::AppError;
use crate::domain::admin::Action;
use crate::domain::api_key::Scope;
use crate::domain::signatures::{Algorithm, ClientSigningKey};
use crate::domain::{is_id, ApiKey, ApiKeyToken, KeyId, TenantId, Timestamp};
use crate::ports::billing::tenant_terms;
use crate::state::AdminState;

/// Default overlap of old and new secret after a rotation.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
/// Longest overlap a rotation may ask for.
pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;

pub struct NewKey {
    pub name: String,
    /// RFC 3339; none: the key does not expire.
    pub expires_at: Option<String>,
    /// Scope names (`content:read`, `content:write`, `generate`, `usage:read`); none:
    /// all of them.
    pub scopes: Option<Vec<String>>,
    /// The key's own limit, at most the tenant's; none: the tenant's.
    pub requests_per_minute: Option<u32>,
    /// The client certificate (SHA-256 fingerprint) the key is bound to (mutual TLS).
    pub client_certificate_sha256: Option<String>,
}

/// A key and, once, its secret.
pub struct IssuedKey {
    pub key: ApiKey,
    pub token: ApiKeyToken,
    /// The time the views are computed at.
    pub now: Timestamp,
}

/// The tenant must exist.
async fn existing_tenant(state: &AdminState, id: Option<TenantId>) -> Result<TenantId, AppError> {
    let id = id.ok_or(AppError::NotFound)?;
    state
        .store
        .get_tenant(&id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(id)
}

/// The key `key_id` if it belongs to `tenant` (else not found).
async fn tenant_key(
    state: &AdminState,
    tenant: Option<&TenantId>,
    key_id: &str,
) -> Result<ApiKey, AppError> {
    let tenant = tenant.ok_or(AppError::NotFound)?;
    if !is_id(key_id) {
        return Err(AppError::NotFound);
    }
    match state.store.get_key(&KeyId::new(key_id)).await? {
        Some(key) if key.tenant_id == *tenant => Ok(key),
        _ => Err(AppError::NotFound),
    }
}

/// The key `key_id` of `tenant` if it may still be changed (not revoked), and now.
async fn live_key(
    state: &AdminState,
    tenant: Option<&TenantId>,
    key_id: &str,
) -> Result<(ApiKey, Timestamp), AppError> {
    let key = tenant_key(state, tenant, key_id).await?;
    let now = state.clock.now();
    if key.is_revoked(now) {
        return Err(AppError::KeyRevoked);
    }
    Ok((key, now))
}

fn rfc3339(at: Option<Timestamp>) -> Option<String> {
    at.map(Timestamp::to_rfc3339)
}

pub async fn issue_key(
    state: &AdminState,
    call: &AdminCall,
    input: Result<NewKey, AppError>,
) -> Result<IssuedKey, AppError> {
    let attempt = issue(state, call, input).await;
    audited(state, call, "key.issue", attempt).await
}

async fn issue(
    state: &AdminState,
    call: &AdminCall,
    input: Result<NewKey, AppError>,
) -> Result<Changed<IssuedKey>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeyIssue)
        .await?;
    let new = input?;
    let tenant = existing_tenant(state, tenant).await?;
    let expires_at = new
        .expires_at
        .as_deref()
        .map(|text| {
            Timestamp::parse_rfc3339(text)
                .ok_or_else(|| AppError::Validation("expires_at must be an RFC 3339 time".into()))
        })
        .transpose()?;
    let now = state.clock.now();
    let (mut key, token) = ApiKey::issue(tenant.clone(), &new.name, now, expires_at)?;
    if let Some(names) = &new.scopes {
        let scopes = names
            .iter()
            .map(|name| {
                Scope::parse(name).ok_or_else(|| {
                    AppError::Validation(format!(
                        "unknown scope {name:?}: content:read, content:write, generate or usage:read"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        key = key.with_scopes(&scopes)?;
    }
    if let Some(limit) = new.requests_per_minute {
        key = key.with_rate_limit(limit)?;
        let terms = tenant_terms(&*state.store, &tenant)
            .await?
            .ok_or(AppError::NotFound)?;
        if limit > terms.requests_per_minute {
            return Err(AppError::Validation(format!(
                "requests_per_minute must not exceed the tenant's limit ({})",
                terms.requests_per_minute
            ))
            .into());
        }
    }
    if let Some(fingerprint) = &new.client_certificate_sha256 {
        key = key.with_client_certificate(fingerprint)?;
    }
    state.store.create_key(&key).await?;
    Ok(Changed {
        target: format!("key/{}", key.key_id),
        details: serde_json::json!({
            "name": key.name,
            "expires_at": rfc3339(key.expires_at),
            "scopes": Scope::join(&key.scopes),
            "requests_per_minute": key.requests_per_minute,
            "client_cert_sha256": key.client_cert_sha256,
        }),
        tenant: Some(tenant),
        value: IssuedKey { key, token, now },
    })
}

/// The tenant's keys (never secrets or hashes) and the time their status is computed at.
pub async fn list_keys(
    state: &AdminState,
    call: &AdminCall,
) -> Result<(Vec<ApiKey>, Timestamp), AppError> {
    let tenant = call.authorize(Action::KeyList)?;
    let tenant = existing_tenant(state, tenant).await?;
    Ok((state.store.list_keys(&tenant).await?, state.clock.now()))
}

/// A new secret under the same key id; the old one keeps working for `grace_seconds`
/// (default [`DEFAULT_GRACE_SECONDS`]).
pub async fn rotate_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    grace_seconds: Result<Option<i64>, AppError>,
) -> Result<IssuedKey, AppError> {
    let attempt = rotate(state, call, key_id, grace_seconds).await;
    audited(state, call, "key.rotate", attempt).await
}

async fn rotate(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    grace_seconds: Result<Option<i64>, AppError>,
) -> Result<Changed<IssuedKey>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeyRotate)
        .await?;
    let grace_seconds = grace_seconds?.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(AppError::Validation(format!(
            "grace_seconds must be 0 to {MAX_GRACE_SECONDS}"
        ))
        .into());
    }
    let tenant = existing_tenant(state, tenant).await?;
    let (mut key, now) = live_key(state, Some(&tenant), key_id).await?;
    let expected = key.hash.clone();
    let token = key.rotate(now, grace_seconds);
    // Conditional on the hash read above: two concurrent rotations cannot both win.
    state.store.save_rotation(&key, &expected).await?;
    Ok(Changed {
        target: format!("key/{}", key.key_id),
        details: serde_json::json!({"grace_seconds": grace_seconds}),
        tenant: Some(tenant),
        value: IssuedKey { key, token, now },
    })
}

/// Revoked now: immediately locally, within the authorizer cache TTL in AWS.
pub async fn revoke_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
) -> Result<(), AppError> {
    let attempt = revoke(state, call, key_id).await;
    audited(state, call, "key.revoke", attempt).await
}

async fn revoke(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
) -> Result<Changed<()>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeyRevoke)
        .await?;
    let key = tenant_key(state, tenant.as_ref(), key_id).await?;
    state
        .store
        .revoke_key(&key.key_id, state.clock.now())
        .await?;
    Ok(Changed {
        value: (),
        target: format!("key/{}", key.key_id),
        details: serde_json::json!({"name": key.name}),
        tenant: Some(key.tenant_id),
    })
}

/// A client's public key for signed requests, as an administrator registers it.
pub struct NewSigningKey {
    /// `ed25519` or `ecdsa-p256-sha256`.
    pub algorithm: String,
    /// Base64 / base64url of the raw key, or its PEM `SubjectPublicKeyInfo`.
    pub public_key: String,
    pub signature_required: bool,
}

/// Registers (replacing any earlier) the public key the client signs requests with
/// (spec section 11). Only a public key is ever held: nothing here could forge the
/// client's signature. In force at once locally, within the authorizer cache TTL in AWS.
pub async fn set_signing_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    input: Result<NewSigningKey, AppError>,
) -> Result<(ApiKey, Timestamp), AppError> {
    let attempt = register_signing_key(state, call, key_id, input).await;
    audited(state, call, "key.signing_key.set", attempt).await
}

async fn register_signing_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    input: Result<NewSigningKey, AppError>,
) -> Result<Changed<(ApiKey, Timestamp)>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeySigningKey)
        .await?;
    let input = input?;
    let (mut key, now) = live_key(state, tenant.as_ref(), key_id).await?;
    let algorithm = Algorithm::parse(&input.algorithm).ok_or_else(|| {
        AppError::Validation("algorithm must be ed25519 or ecdsa-p256-sha256".into())
    })?;
    let signing_key =
        ClientSigningKey::new(algorithm, &input.public_key, input.signature_required, now)?;
    state
        .store
        .set_signing_key(&key.key_id, Some(&signing_key))
        .await?;
    let details = serde_json::json!({
        "algorithm": algorithm.as_str(),
        "fingerprint": signing_key.fingerprint(),
        "signature_required": signing_key.required,
    });
    key.signing_key = Some(signing_key);
    Ok(Changed {
        target: format!("key/{}", key.key_id),
        details,
        tenant: Some(key.tenant_id.clone()),
        value: (key, now),
    })
}

/// Removes the key's public key: its requests are no longer checked for signatures.
pub async fn remove_signing_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
) -> Result<(), AppError> {
    let attempt = unregister_signing_key(state, call, key_id).await;
    audited(state, call, "key.signing_key.remove", attempt).await
}

async fn unregister_signing_key(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
) -> Result<Changed<()>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeySigningKey)
        .await?;
    let key = tenant_key(state, tenant.as_ref(), key_id).await?;
    state.store.set_signing_key(&key.key_id, None).await?;
    Ok(Changed {
        value: (),
        target: format!("key/{}", key.key_id),
        details: serde_json::json!({
            "fingerprint": key.signing_key.as_ref().map(ClientSigningKey::fingerprint),
        }),
        tenant: Some(key.tenant_id),
    })
}

/// Binds an existing key to one client certificate (its SHA-256 fingerprint; colons and
/// case as openssl prints them) or, with `None`, unbinds it (mutual TLS). In force at
/// once locally, within the authorizer cache TTL in AWS.
pub async fn bind_client_certificate(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    input: Result<Option<String>, AppError>,
) -> Result<(ApiKey, Timestamp), AppError> {
    let attempt = bind_certificate(state, call, key_id, input).await;
    audited(state, call, "key.client_certificate.set", attempt).await
}

async fn bind_certificate(
    state: &AdminState,
    call: &AdminCall,
    key_id: &str,
    input: Result<Option<String>, AppError>,
) -> Result<Changed<(ApiKey, Timestamp)>, Refused> {
    let tenant = call
        .authorize_change(&*state.store, Action::KeyCertificate)
        .await?;
    let fingerprint = input?;
    let (key, now) = live_key(state, tenant.as_ref(), key_id).await?;
    let key = match fingerprint.as_deref() {
        Some(text) => key.with_client_certificate(text)?,
        None => ApiKey {
            client_cert_sha256: None,
            ..key
        },
    };
    state
        .store
        .set_client_certificate(&key.key_id, key.client_cert_sha256.as_deref())
        .await?;
    Ok(Changed {
        target: format!("key/{}", key.key_id),
        details: serde_json::json!({"client_cert_sha256": key.client_cert_sha256}),
        tenant: Some(key.tenant_id.clone()),
        value: (key, now),
    })
}
