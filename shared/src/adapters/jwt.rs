//! Verification of the control plane's JWTs (Cognito in AWS, the local identity provider
//! in local mode; threat T02). The same code runs in both modes.
//!
//! A token is accepted only if all of these hold:
//! - the header names `RS256` and a `kid` (anything else, `none` and `HS256` included, is
//!   refused before any key is looked at);
//! - the signature verifies with the RSA key of that `kid` from the pool's JWKS (fetched
//!   with reqwest, cached, refetched when an unknown `kid` appears, at most once per
//!   [`MIN_REFRESH_INTERVAL`] so forged `kid`s cannot make us hammer the IdP);
//! - `iss` is the pool's issuer; `token_use` is the configured one; for access tokens
//!   `client_id`, for id tokens `aud`, is the admin app client;
//! - `exp` is in the future and `nbf`/`iat` are not (beyond a small clock-skew leeway),
//!   judged by our own clock.

use crate::domain::admin::{AdminPrincipal, Role};
use crate::domain::{TenantId, Timestamp};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The claim binding a tenant-manager to its tenant.
pub const TENANT_CLAIM: &str = "custom:tenant_id";
/// Clock skew tolerated for `nbf` and `iat` (never for `exp`).
pub const LEEWAY_SECONDS: i64 = 30;
/// Unknown `kid`s trigger a JWKS refetch at most this often.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const JWKS_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Which Cognito token the control plane accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "access" => Some(Self::Access),
            "id" => Some(Self::Id),
            _ => None,
        }
    }
}

/// The identity provider the control plane trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    pub issuer: String,
    pub client_id: String,
    pub token_use: TokenUse,
    pub jwks_url: String,
}

impl IdpConfig {
    /// A Cognito user pool: the JWKS lives under the issuer.
    pub fn cognito(issuer: &str, client_id: &str) -> Self {
        let issuer = issuer.trim_end_matches('/').to_owned();
        Self {
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            client_id: client_id.to_owned(),
            token_use: TokenUse::Access,
        }
    }
}

/// Why a token was refused. Callers all get the same 401; the reason is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("no key with this kid")]
    UnknownKey,
    #[error("signature or claims invalid")]
    Invalid,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong token_use")]
    TokenUse,
    #[error("wrong client")]
    Client,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("token rejected: {0}")]
    Rejected(Rejection),
    /// The JWKS could not be fetched: fail closed, but as an outage, not a 401.
    #[error("jwks unavailable: {0}")]
    Unavailable(String),
}

impl From<Rejection> for VerifyError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    cognito_username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
    #[serde(default, rename = "custom:tenant_id")]
    tenant_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client_id: &str) -> bool {
        match self {
            Self::One(aud) => aud == client_id,
            Self::Many(auds) => auds.iter().any(|a| a == client_id),
        }
    }
}

struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    min_refresh_interval: Duration,
}

/// Verifies admin tokens against one identity provider. Build once per cold start.
pub struct TokenVerifier {
    config: IdpConfig,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

impl TokenVerifier {
    pub fn new(config: IdpConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .connect_timeout(JWKS_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            config,
            http,
            cache: Mutex::new(Cache {
                keys: HashMap::new(),
                fetched_at: None,
                min_refresh_interval: MIN_REFRESH_INTERVAL,
            }),
        }
    }

    /// Overrides how often an unknown `kid` may trigger a refetch (tests, key rotation
    /// drills).
    pub fn with_min_refresh_interval(self, interval: Duration) -> Self {
        let mut cache = self.cache.into_inner();
        cache.min_refresh_interval = interval;
        Self {
            cache: Mutex::new(cache),
            ..self
        }
    }

    pub fn config(&self) -> &IdpConfig {
        &self.config
    }

    /// Verifies `token` at `now` and returns the principal it stands for.
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<AdminPrincipal, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(Rejection::Algorithm.into());
        }
        let kid = header.kid.ok_or(Rejection::Malformed)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        // Time and audience are checked below, against our clock and per token_use.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| Rejection::Invalid)?
            .claims;
        self.check_claims(&claims, now)?;
        Ok(principal(claims))
    }

    fn check_claims(&self, claims: &Claims, now: Timestamp) -> Result<(), Rejection> {
        if claims.iss != self.config.issuer {
            return Err(Rejection::Issuer);
        }
        if claims.token_use.as_deref() != Some(self.config.token_use.as_str()) {
            return Err(Rejection::TokenUse);
        }
        let client_ok = match self.config.token_use {
            TokenUse::Access => claims.client_id.as_deref() == Some(&self.config.client_id),
            TokenUse::Id => claims
                .aud
                .as_ref()
                .is_some_and(|aud| aud.contains(&self.config.client_id)),
        };
        if !client_ok {
            return Err(Rejection::Client);
        }
        let now_seconds = now.as_millis().div_euclid(1000);
        if claims.exp <= now_seconds {
            return Err(Rejection::Expired);
        }
        let too_early = |at: Option<i64>| at.is_some_and(|at| at > now_seconds + LEEWAY_SECONDS);
        if too_early(claims.nbf) || too_early(claims.iat) {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }

    /// The key for `kid`, refetching the JWKS once if it is unknown (rate-limited).
    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        let mut cache = self.cache.lock().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_refresh = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= cache.min_refresh_interval);
        if !may_refresh {
            return Err(Rejection::UnknownKey.into());
        }
        let keys = self.fetch().await?;
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| Rejection::UnknownKey.into())
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, VerifyError> {
        let unavailable = |what: &str| VerifyError::Unavailable(what.to_owned());
        let mut response = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| VerifyError::Unavailable(format!("fetch: {e}")))?;
        if !response.status().is_success() {
            return Err(VerifyError::Unavailable(format!(
                "status {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| VerifyError::Unavailable(format!("read: {e}")))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(unavailable("jwks too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|_| unavailable("jwks malformed"))?;
        Ok(rsa_keys(&set))
    }
}

/// The RSA signing keys of a JWKS by `kid`; other key types are ignored.
fn rsa_keys(set: &JwkSet) -> HashMap<String, DecodingKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
                return None;
            };
            let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?;
            Some((kid, key))
        })
        .collect()
}

fn principal(claims: Claims) -> AdminPrincipal {
    let tenant = claims
        .tenant_id
        .filter(|t| !t.is_empty())
        .map(TenantId::new);
    let mut roles: Vec<Role> = claims
        .groups
        .iter()
        .filter_map(|g| Role::parse(g))
        // A tenant-manager without a tenant could manage nothing; drop the role.
        .filter(|r| *r != Role::TenantManager || tenant.is_some())
        .collect();
    roles.sort();
    roles.dedup();
    let username = claims
        .username
        .or(claims.cognito_username)
        .unwrap_or_else(|| claims.sub.clone());
    AdminPrincipal {
        subject: claims.sub,
        username,
        roles,
        tenant,
    }
}
