//! Data-plane API keys.
//!
//! Wire format (spec section 5): `nutripro_<key id>_<secret>`
//! - `nutripro_` is a fixed prefix so secret scanners can find leaked keys;
//! - the key id is 32 lowercase hex digits (UUID v7), public, used to look the key up;
//! - the secret is 32 random bytes (256 bits) in unpadded base64url (43 characters).
//!
//! Only [`ApiKeyHash`] (SHA-256 over a domain tag, the key id and the secret) is stored.
//! The secret is high-entropy, so a fast hash is sufficient; binding the key id into the
//! hash means a stored hash cannot be moved onto another key record.

use super::tenant::string_id;
use super::{new_id, validate_label, TenantId, Timestamp, ValidationError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "nutripro_";
const KEY_ID_LEN: usize = 32;
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;
const TOKEN_LEN: usize = KEY_PREFIX.len() + KEY_ID_LEN + 1 + SECRET_LEN;
const HASH_DOMAIN: &[u8] = b"nutripro-api-key-v1\0";

string_id!(
    /// Public identifier of an API key (32 lowercase hex digits).
    KeyId
);

/// What a key may do on the data plane (spec section 11). Every `/v1` route but
/// `GET /v1/me` requires one; a key without it gets 403 `insufficient-scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read consent, style profiles, samples and generations.
    ContentRead,
    /// Record consent, erase a dietitian, create and delete samples.
    ContentWrite,
    /// Create generations (spends the budget).
    Generate,
    /// Read the tenant's usage.
    UsageRead,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ContentRead,
        Scope::ContentWrite,
        Scope::Generate,
        Scope::UsageRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ContentRead => "content:read",
            Scope::ContentWrite => "content:write",
            Scope::Generate => "generate",
            Scope::UsageRead => "usage:read",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Scopes as stored and passed in the authorizer context: space-separated names.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The inverse of [`Scope::join`]; unknown names are dropped (a narrower key, never
    /// a wider one).
    pub fn split(text: &str) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = text.split_whitespace().filter_map(Scope::parse).collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest requests-per-minute limit a key may carry (as for a tenant).
pub const MAX_KEY_REQUESTS_PER_MINUTE: u32 = 100_000;

/// SHA-256 of a key's secret, bound to its key id. Compared in constant time only.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    fn compute(key_id: &KeyId, secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(HASH_DOMAIN);
        hasher.update(key_id.as_str().as_bytes());
        hasher.update(b"\0");
        hasher.update(secret);
        Self(hasher.finalize().into())
    }

    fn matches(&self, other: &ApiKeyHash) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }

    pub fn to_hex(&self) -> String {
        super::hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyHash(..)")
    }
}

/// The full key as handed to a tenant, exactly once. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyToken(String);

impl ApiKeyToken {
    /// The secret text. Call only to put it in the one response that issues it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyToken(redacted)")
    }
}

/// A key as presented by a caller, parsed but not yet verified.
pub struct PresentedKey {
    key_id: KeyId,
    hash: ApiKeyHash,
}

impl PresentedKey {
    /// Parses the wire format. Anything malformed is rejected before any store lookup.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() != TOKEN_LEN || !token.is_ascii() {
            return None;
        }
        let rest = token.strip_prefix(KEY_PREFIX)?;
        let (key_id, rest) = rest.split_at(KEY_ID_LEN);
        if !key_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let secret_text = rest.strip_prefix('_')?;
        let secret = URL_SAFE_NO_PAD.decode(secret_text).ok()?;
        if secret.len() != SECRET_BYTES {
            return None;
        }
        let key_id = KeyId::new(key_id);
        let hash = ApiKeyHash::compute(&key_id, &secret);
        Some(Self { key_id, hash })
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }
}

/// Why a presented key was not accepted. Callers all get the same 401; the reason is for
/// logs and audit only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    WrongSecret,
    Expired,
    Revoked,
    /// The secret was replaced by a rotation and its grace period is over.
    RotatedOut,
}

impl KeyRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongSecret => "wrong_secret",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::RotatedOut => "rotated_out",
        }
    }
}

/// The stored record of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key_id: KeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub hash: ApiKeyHash,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Hash of the secret that a rotation replaced; accepted until `grace_until`.
    pub previous_hash: Option<ApiKeyHash>,
    pub grace_until: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// What the key may do, sorted, never empty (issued with all by default).
    pub scopes: Vec<Scope>,
    /// The key's own requests-per-minute limit, below its tenant's (none: the tenant's).
    pub requests_per_minute: Option<u32>,
    /// The client's public key for signed requests (spec section 11), if registered.
    pub signing_key: Option<super::signatures::ClientSigningKey>,
    /// The SHA-256 fingerprint (64 lowercase hex digits) of the one client certificate
    /// this key may be used with (mutual TLS); none: any or no certificate.
    pub client_cert_sha256: Option<String>,
}

impl ApiKey {
    pub const NAME_MAX_CHARS: usize = 100;

    /// Creates a key record and its one-time token.
    pub fn issue(
        tenant_id: TenantId,
        name: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(Self, ApiKeyToken), ValidationError> {
        let name = validate_label("key name", name, Self::NAME_MAX_CHARS)?;
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ValidationError("expires_at must be in the future".into()));
        }
        let key_id = KeyId::new(new_id());
        let (hash, token) = new_secret(&key_id);
        let key = Self {
            key_id,
            tenant_id,
            name,
            hash,
            created_at: now,
            expires_at,
            revoked_at: None,
            previous_hash: None,
            grace_until: None,
            last_used_at: None,
            scopes: Scope::ALL.to_vec(),
            requests_per_minute: None,
            signing_key: None,
            client_cert_sha256: None,
        };
        Ok((key, token))
    }

    /// Narrows a new key to `scopes` (at least one).
    pub fn with_scopes(mut self, scopes: &[Scope]) -> Result<Self, ValidationError> {
        let mut scopes = scopes.to_vec();
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ValidationError(
                "scopes must name at least one scope".into(),
            ));
        }
        self.scopes = scopes;
        Ok(self)
    }

    /// Gives a new key its own requests-per-minute limit.
    pub fn with_rate_limit(mut self, requests_per_minute: u32) -> Result<Self, ValidationError> {
        if !(1..=MAX_KEY_REQUESTS_PER_MINUTE).contains(&requests_per_minute) {
            return Err(ValidationError(
                "requests_per_minute must be 1 to 100000".into(),
            ));
        }
        self.requests_per_minute = Some(requests_per_minute);
        Ok(self)
    }

    /// Binds a new key to a client certificate: its SHA-256 fingerprint as hex, colons
    /// and case as `openssl x509 -fingerprint -sha256` prints them or not.
    pub fn with_client_certificate(mut self, sha256: &str) -> Result<Self, ValidationError> {
        self.client_cert_sha256 = Some(normalize_fingerprint(sha256).ok_or_else(|| {
            ValidationError(
                "client_certificate_sha256 must be a SHA-256 fingerprint (64 hex digits, colons allowed)".into(),
            )
        })?);
        Ok(self)
    }

    /// Whether a request that presented `certificate_pem` (if any) may use this key.
    pub fn accepts_certificate(&self, certificate_pem: Option<&str>) -> bool {
        match &self.client_cert_sha256 {
            None => true,
            Some(bound) => certificate_pem
                .and_then(certificate_fingerprint)
                .is_some_and(|presented| bool::from(presented.as_bytes().ct_eq(bound.as_bytes()))),
        }
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Replaces the secret under the same key id; the old secret keeps working until
    /// `now + grace_seconds`. Returns the new token (shown once).
    pub fn rotate(&mut self, now: Timestamp, grace_seconds: i64) -> ApiKeyToken {
        let (hash, token) = new_secret(&self.key_id);
        self.previous_hash = Some(std::mem::replace(&mut self.hash, hash));
        self.grace_until = Some(now.plus_seconds(grace_seconds.max(0)));
        token
    }

    pub fn is_revoked(&self, now: Timestamp) -> bool {
        self.revoked_at.is_some_and(|at| at <= now)
    }

    /// Decides whether `presented` is a currently valid secret for this key. Every
    /// comparison runs in constant time, and both hashes are always compared.
    pub fn verify(&self, presented: &PresentedKey, now: Timestamp) -> Result<(), KeyRejection> {
        let current = self.key_id == presented.key_id && self.hash.matches(&presented.hash);
        let previous = self.key_id == presented.key_id
            && self
                .previous_hash
                .as_ref()
                .is_some_and(|h| h.matches(&presented.hash));
        if !current && !previous {
            return Err(KeyRejection::WrongSecret);
        }
        if self.is_revoked(now) {
            return Err(KeyRejection::Revoked);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyRejection::Expired);
        }
        if !current && self.grace_until.is_none_or(|until| until <= now) {
            return Err(KeyRejection::RotatedOut);
        }
        Ok(())
    }
}

/// `AB:cd:…` or `abcd…` → 64 lowercase hex digits.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// The SHA-256 fingerprint (hex) of a PEM certificate's DER: what API Gateway's
/// `clientCert.clientCertPem` (and the local gateway's) is compared by.
pub fn certificate_fingerprint(pem: &str) -> Option<String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END CERTIFICATE-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .filter(|der| !der.is_empty())?;
    Some(super::hex(&Sha256::digest(&der)))
}

fn new_secret(key_id: &KeyId) -> (ApiKeyHash, ApiKeyToken) {
    let mut secret = [0u8; SECRET_BYTES];
    // The OS random source failing is unrecoverable; no key may be issued without it.
    getrandom::fill(&mut secret).expect("operating system random source unavailable");
    let hash = ApiKeyHash::compute(key_id, &secret);
    let token = format!("{KEY_PREFIX}{key_id}_{}", URL_SAFE_NO_PAD.encode(secret));
    (hash, ApiKeyToken(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn issue() -> (ApiKey, ApiKeyToken) {
        ApiKey::issue(TenantId::new("t1"), "default", NOW, None).unwrap()
    }

    fn presented(token: &ApiKeyToken) -> PresentedKey {
        PresentedKey::parse(token.expose()).expect("issued tokens parse")
    }

    #[test]
    fn token_has_prefix_key_id_and_256_bit_secret() {
        let (key, token) = issue();
        let text = token.expose();
        assert_eq!(text.len(), TOKEN_LEN);
        assert!(text.starts_with("nutripro_"));
        assert_eq!(&text[9..41], key.key_id.as_str());
        assert!(
            !format!("{key:?}{token:?}").contains(&text[42..]),
            "Debug never shows the secret"
        );
    }

    #[test]
    fn stored_hash_is_not_the_secret() {
        let (key, token) = issue();
        let hex = key.hash.to_hex();
        assert_eq!(ApiKeyHash::from_hex(&hex), Some(key.hash.clone()));
        assert!(!token.expose().contains(&hex));
    }

    #[test]
    fn valid_key_verifies_and_wrong_secret_does_not() {
        let (key, token) = issue();
        assert_eq!(key.verify(&presented(&token), NOW), Ok(()));
        let (_, other) = ApiKey::issue(TenantId::new("t1"), "x", NOW, None).unwrap();
        // Same key id, other secret.
        let forged = format!("{}{}", &token.expose()[..42], &other.expose()[42..]);
        let forged = PresentedKey::parse(&forged).unwrap();
        assert_eq!(key.verify(&forged, NOW), Err(KeyRejection::WrongSecret));
    }

    #[test]
    fn malformed_tokens_are_rejected_before_lookup() {
        let (_, token) = issue();
        let text = token.expose();
        for bad in [
            "",
            "nutripro_",
            &text[1..],
            &format!("xutripro_{}", &text[9..]),
            &format!("{}G{}", &text[..9], &text[10..]),
            &format!("{}-{}", &text[..41], &text[42..]),
            &format!("{}é", &text[..text.len() - 2]),
            &format!("{text}A"),
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn expired_and_revoked_keys_are_rejected() {
        let (mut key, token) = issue();
        key.expires_at = Some(NOW.plus_seconds(60));
        assert_eq!(key.verify(&presented(&token), NOW), Ok(()));
        assert_eq!(
            key.verify(&presented(&token), NOW.plus_seconds(60)),
            Err(KeyRejection::Expired)
        );
        key.expires_at = None;
        key.revoked_at = Some(NOW);
        assert_eq!(
            key.verify(&presented(&token), NOW),
            Err(KeyRejection::Revoked)
        );
    }

    #[test]
    fn rotation_keeps_old_secret_for_grace_period_only() {
        let (mut key, old) = issue();
        let new = key.rotate(NOW, 3600);
        assert_eq!(key.verify(&presented(&new), NOW), Ok(()));
        assert_eq!(key.verify(&presented(&old), NOW.plus_seconds(3599)), Ok(()));
        assert_eq!(
            key.verify(&presented(&old), NOW.plus_seconds(3600)),
            Err(KeyRejection::RotatedOut)
        );
        assert_eq!(key.verify(&presented(&new), NOW.plus_seconds(7200)), Ok(()));
        // A second rotation drops the first secret at once.
        let newest = key.rotate(NOW.plus_seconds(10), 60);
        assert_eq!(
            key.verify(&presented(&old), NOW.plus_seconds(11)),
            Err(KeyRejection::WrongSecret)
        );
        assert_eq!(key.verify(&presented(&new), NOW.plus_seconds(11)), Ok(()));
        assert_eq!(
            key.verify(&presented(&newest), NOW.plus_seconds(11)),
            Ok(())
        );
    }

    #[test]
    fn a_bound_key_accepts_only_its_certificate() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let fingerprint = certificate_fingerprint(pem).unwrap();
        let (key, _) = issue();
        assert!(key.accepts_certificate(None), "an unbound key needs none");
        let colons: String = fingerprint
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        let bound = key.with_client_certificate(&colons).unwrap();
        assert_eq!(
            bound.client_cert_sha256.as_deref(),
            Some(fingerprint.as_str())
        );
        assert!(bound.accepts_certificate(Some(pem)));
        assert!(!bound.accepts_certificate(None), "no certificate");
        let other = "-----BEGIN CERTIFICATE-----\nAAECAwQG\n-----END CERTIFICATE-----\n";
        assert!(
            !bound.accepts_certificate(Some(other)),
            "another certificate"
        );
        assert!(!bound.accepts_certificate(Some("not a certificate")));
        let (key, _) = issue();
        assert!(key.with_client_certificate("abc").is_err());
    }

    #[test]
    fn issue_validates_name_and_expiry() {
        assert!(ApiKey::issue(TenantId::new("t"), " ", NOW, None).is_err());
        assert!(ApiKey::issue(TenantId::new("t"), "k", NOW, Some(NOW)).is_err());
    }
}
