//! The receipt key in AWS KMS: an asymmetric `ECC_NIST_P256` / `SIGN_VERIFY` key that
//! never leaves KMS. `Sign` (`ECDSA_SHA_256` over the raw signature base) answers DER,
//! turned into RFC 9421's fixed `r || s`; `GetPublicKey` answers a
//! `SubjectPublicKeyInfo`, read once per instance.

use crate::domain::signatures::p256_raw_from_spki;
use crate::ports::receipts::{der_to_fixed, ReceiptSigner};
use crate::ports::secrets::SecretError;
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use tokio::sync::OnceCell;

pub struct KmsReceiptSigner {
    client: Client,
    /// The key's ARN (or id), as the template passes it.
    key: String,
    /// The key id without its ARN prefix (`arn:aws:kms:…:key/<id>` → `<id>`).
    key_id: String,
    public_key: OnceCell<Vec<u8>>,
}

impl KmsReceiptSigner {
    pub fn new(client: Client, key: impl Into<String>) -> Self {
        let key = key.into();
        Self {
            client,
            key_id: key.rsplit('/').next().unwrap_or(&key).to_owned(),
            key,
            public_key: OnceCell::new(),
        }
    }

    /// A client with the SDK's standard retries and short timeouts: a receipt is signed
    /// inside the request, after its work is done.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, key: impl Into<String>) -> Self {
        let conf = aws_sdk_kms::config::Builder::from(config)
            .timeout_config(super::call_timeouts(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(3),
            ))
            .build();
        Self::new(Client::from_conf(conf), key)
    }
}

fn kms_error<E: std::error::Error + 'static>(what: &str, error: E) -> SecretError {
    SecretError(format!(
        "kms {what}: {}",
        aws_sdk_kms::error::DisplayErrorContext(&error)
    ))
}

#[async_trait]
impl ReceiptSigner for KmsReceiptSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SecretError> {
        let output = self
            .client
            .sign()
            .key_id(&self.key)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| kms_error("sign", e))?;
        let der = output
            .signature()
            .ok_or_else(|| SecretError("kms sign: no signature".into()))?;
        der_to_fixed(der.as_ref())
            .ok_or_else(|| SecretError("kms sign: not a P-256 DER signature".into()))
    }

    async fn public_key(&self) -> Result<Vec<u8>, SecretError> {
        self.public_key
            .get_or_try_init(|| async {
                let output = self
                    .client
                    .get_public_key()
                    .key_id(&self.key)
                    .send()
                    .await
                    .map_err(|e| kms_error("get public key", e))?;
                let der = output
                    .public_key()
                    .ok_or_else(|| SecretError("kms: no public key".into()))?;
                p256_raw_from_spki(der.as_ref())
                    .ok_or_else(|| SecretError("kms: not a P-256 public key".into()))
            })
            .await
            .cloned()
    }
}

/// A client for a KMS-compatible server on loopback (tests).
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new("local", "local", None, None, "local-kms"))
        .build();
    Client::from_conf(config)
}
