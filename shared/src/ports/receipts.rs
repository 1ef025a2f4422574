//! The service's receipt key (spec section 11, threats T07 and T08): an ECDSA P-256 key
//! that signs generation and sample answers (RFC 9421) and the audit checkpoints. In AWS
//! an asymmetric KMS key that never leaves KMS (`kms:Sign` only for the functions that
//! sign); locally `DATA_DIR/receipt-key.p8`, owner-only. Its public half is published at
//! `/.well-known/nutripro-receipt-keys`.

use super::secrets::SecretError;
use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[async_trait]
pub trait ReceiptSigner: Send + Sync {
    /// The key's id, as receipts name it (`keyid`) and the key set lists it.
    fn key_id(&self) -> &str;
    /// ECDSA P-256 / SHA-256 over `message`: the 64-byte `r || s` RFC 9421 wants.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SecretError>;
    /// The public key, as the 65-byte uncompressed point.
    async fn public_key(&self) -> Result<Vec<u8>, SecretError>;
}

/// The key set published at the well-known endpoint (RFC 7517 JWK Set).
pub fn jwks(key_id: &str, public_key: &[u8]) -> serde_json::Value {
    let (x, y) = public_key
        .get(1..33)
        .zip(public_key.get(33..65))
        .unwrap_or_default();
    serde_json::json!({
        "keys": [{
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "kid": key_id,
            "alg": "ES256",
            "use": "sig",
        }]
    })
}

/// A local key's id: `local-` and the first 16 hex digits of its public key's SHA-256.
fn local_key_id(public_key: &[u8]) -> String {
    let digest = Sha256::digest(public_key);
    format!("local-{}", crate::domain::hex(&digest[..8]))
}

/// Local mode: `<data dir>/receipt-key.p8` (PKCS#8, base64), created on first use; or a
/// key that lives only in memory (tests, a registry without a data directory).
pub struct LocalReceiptKey {
    pair: EcdsaKeyPair,
    key_id: String,
    path: Option<PathBuf>,
}

impl LocalReceiptKey {
    pub const FILE: &'static str = "receipt-key.p8";

    pub fn open(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(Self::FILE);
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(|e| SecretError(e.to_string()))?;
            let document = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| SecretError("could not generate a receipt key".into()))?;
            super::sealing::write_private(&path, &STANDARD.encode(document.as_ref()))?;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| SecretError(format!("{}: {e}", path.display())))?;
        let der = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretError(format!("{}: not base64", path.display())))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|_| SecretError(format!("{}: not a P-256 PKCS#8 key", path.display())))?;
        let key_id = local_key_id(pair.public_key().as_ref());
        Ok(Self {
            pair,
            key_id,
            path: Some(path),
        })
    }

    /// A new key held in memory only.
    pub fn ephemeral() -> Self {
        let rng = SystemRandom::new();
        // The OS random source failing is unrecoverable, as for API keys.
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("operating system random source unavailable");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, document.as_ref())
            .expect("a generated key parses");
        let key_id = local_key_id(pair.public_key().as_ref());
        Self {
            pair,
            key_id,
            path: None,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[async_trait]
impl ReceiptSigner for LocalReceiptKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SecretError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| SecretError("receipt signing failed".into()))
    }

    async fn public_key(&self) -> Result<Vec<u8>, SecretError> {
        Ok(self.pair.public_key().as_ref().to_vec())
    }
}

/// A function that was given no receipt key (`RECEIPT_KEY_ARN`): every use fails.
pub struct NoReceiptKey;

#[async_trait]
impl ReceiptSigner for NoReceiptKey {
    fn key_id(&self) -> &str {
        "none"
    }

    async fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, SecretError> {
        Err(SecretError(
            "this function has no receipt key (RECEIPT_KEY_ARN)".into(),
        ))
    }

    async fn public_key(&self) -> Result<Vec<u8>, SecretError> {
        Err(SecretError(
            "this function has no receipt key (RECEIPT_KEY_ARN)".into(),
        ))
    }
}

/// An ECDSA signature in DER (`SEQUENCE { INTEGER r, INTEGER s }`, what KMS returns) as
/// the fixed 64-byte `r || s` of RFC 9421 section 3.3.4.
pub fn der_to_fixed(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, rest) = der.split_first()?;
    if *tag != 0x30 {
        return None;
    }
    let (len, mut rest) = der_length(rest)?;
    if len != rest.len() {
        return None;
    }
    let mut out = Vec::with_capacity(64);
    for _ in 0..2 {
        let (tag, after) = rest.split_first()?;
        if *tag != 0x02 {
            return None;
        }
        let (len, after) = der_length(after)?;
        let (integer, after) = (after.get(..len)?, after.get(len..)?);
        let trimmed: &[u8] = {
            let start = integer
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(integer.len());
            &integer[start..]
        };
        if trimmed.len() > 32 {
            return None;
        }
        out.extend(std::iter::repeat_n(0u8, 32 - trimmed.len()));
        out.extend_from_slice(trimmed);
        rest = after;
    }
    rest.is_empty().then_some(out)
}

fn der_length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (first, rest) = bytes.split_first()?;
    match *first {
        n if n < 0x80 => Some((usize::from(n), rest)),
        0x81 => {
            let (n, rest) = rest.split_first()?;
            Some((usize::from(*n), rest))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        UnparsedPublicKey, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED,
    };

    #[tokio::test]
    async fn the_local_key_signs_what_its_public_key_verifies_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalReceiptKey::open(dir.path()).unwrap();
        let signature = key.sign(b"base").await.unwrap();
        assert_eq!(signature.len(), 64);
        let public = key.public_key().await.unwrap();
        assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(b"base", &signature)
            .is_ok());
        let again = LocalReceiptKey::open(dir.path()).unwrap();
        assert_eq!(again.key_id(), key.key_id(), "the same key after a restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key.path().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let set = jwks(key.key_id(), &public);
        assert_eq!(set["keys"][0]["crv"], "P-256");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(set["keys"][0]["x"].as_str().unwrap())
                .unwrap(),
            public[1..33]
        );
    }

    #[test]
    fn der_signatures_become_fixed_ones_that_verify() {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref()).unwrap();
        for n in 0..64u8 {
            let message = [n; 7];
            let der = pair.sign(&rng, &message).unwrap();
            let fixed = der_to_fixed(der.as_ref()).expect("DER parses");
            assert!(
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                    .verify(&message, &fixed)
                    .is_ok()
            );
        }
        assert_eq!(der_to_fixed(&[0x30, 0x02, 0x02, 0x00]), None);
        assert_eq!(der_to_fixed(b""), None);
    }
}
