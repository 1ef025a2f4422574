//! The local identity provider: stands in for Cognito in local mode. It signs tokens of
//! Cognito's access-token shape with its own RSA key and publishes that key as a JWKS,
//! so the admin authorizer verifies local tokens with exactly the code it runs in AWS.
//!
//! The key (PKCS#8, RSA 2048) lives in the data directory, created on first use with
//! owner-only permissions; it never leaves the machine and is not a production secret.

use crate::domain::admin::Role;
use crate::domain::{new_id, TenantId, Timestamp};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The issuer (`iss`) of local tokens; local mode's admin authorizer trusts only it.
pub const LOCAL_ISSUER: &str = "urn:nutripro:local-idp";
/// The admin app client of local mode (`client_id` of its access tokens).
pub const LOCAL_CLIENT_ID: &str = "nutripro-local-admin";
/// Where the local gateway publishes the JWKS.
pub const LOCAL_JWKS_PATH: &str = "/local-idp/.well-known/jwks.json";
const KEY_FILE: &str = "local-idp-key.pk8";
/// Longest lifetime a local token may ask for (Cognito's access tokens max out at 1 day).
pub const MAX_TTL_SECONDS: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum LocalIdpError {
    #[error("local identity provider key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("signing failed")]
    Signing,
}

/// What a local token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub subject: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub tenant: Option<TenantId>,
    pub ttl_seconds: i64,
}

impl TokenRequest {
    /// A token for a synthetic local user holding `role`.
    pub fn for_role(role: Role, tenant: Option<TenantId>, ttl_seconds: i64) -> Self {
        Self {
            subject: format!("local-{}", role.as_str()),
            username: format!("local-{}", role.as_str()),
            roles: vec![role],
            tenant,
            ttl_seconds,
        }
    }
}

pub struct LocalIdp {
    key: KeyPair,
    kid: String,
}

impl LocalIdp {
    /// Loads the key from `data_dir`, creating it on first use. Concurrent first uses
    /// (the gateway and `nutripro-local token`) agree on one key: the file is written
    /// elsewhere and linked into place only if no other process got there first.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, LocalIdpError> {
        let path = data_dir.join(KEY_FILE);
        let key_error = |message: String| LocalIdpError::Key {
            path: path.clone(),
            message,
        };
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(|e| key_error(e.to_string()))?;
            let key = KeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| key_error("key generation failed".into()))?;
            let der = key
                .as_der()
                .map_err(|_| key_error("key encoding failed".into()))?;
            let temp = data_dir.join(format!(".{KEY_FILE}.{}", new_id()));
            write_private(&temp, der.as_ref()).map_err(|e| key_error(e.to_string()))?;
            // hard_link fails if the target exists: the first writer wins.
            let _ = std::fs::hard_link(&temp, &path);
            let _ = std::fs::remove_file(&temp);
        }
        let der = std::fs::read(&path).map_err(|e| key_error(e.to_string()))?;
        Self::from_pkcs8(&der).map_err(|_| key_error("not an RSA PKCS#8 key".into()))
    }

    /// A fresh in-memory provider (tests).
    pub fn generate() -> Result<Self, LocalIdpError> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| LocalIdpError::Signing)?;
        let der = key.as_der().map_err(|_| LocalIdpError::Signing)?;
        Self::from_pkcs8(der.as_ref()).map_err(|_| LocalIdpError::Signing)
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, ()> {
        let key = KeyPair::from_pkcs8(der).map_err(|_| ())?;
        let modulus = key.public_key().modulus();
        let digest = Sha256::digest(modulus.big_endian_without_leading_zero());
        let kid = crate::domain::hex(&digest[..8]);
        Ok(Self { key, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document.
    pub fn jwks_json(&self) -> String {
        let public = self.key.public_key();
        serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "kid": self.kid,
                "alg": "RS256",
                "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            }]
        })
        .to_string()
    }

    /// A signed access token shaped like Cognito's, valid from `now` for the request's
    /// TTL (clamped to 1 s .. [`MAX_TTL_SECONDS`]).
    pub fn access_token(
        &self,
        request: &TokenRequest,
        now: Timestamp,
    ) -> Result<String, LocalIdpError> {
        let issued = now.as_millis().div_euclid(1000);
        let ttl = request.ttl_seconds.clamp(1, MAX_TTL_SECONDS);
        let mut claims = serde_json::json!({
            "sub": request.subject,
            "iss": LOCAL_ISSUER,
            "client_id": LOCAL_CLIENT_ID,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": issued,
            "iat": issued,
            "exp": issued + ttl,
            "jti": new_id(),
            "username": request.username,
            "cognito:groups": request.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        });
        if let Some(tenant) = &request.tenant {
            claims["custom:tenant_id"] = tenant.as_str().into();
        }
        self.sign(
            &serde_json::json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"}),
            &claims,
        )
    }

    /// Signs any header and claims with this provider's key (RS256). Tests use it to
    /// build tokens that are validly signed but wrong in one respect.
    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, LocalIdpError> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| LocalIdpError::Signing)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// The DER (X.509 SubjectPublicKeyInfo) of the public key, for algorithm-confusion
    /// tests (HS256 "signed" with the public key).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .unwrap_or_default()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
