//! A secret read from AWS Secrets Manager, cached in memory for a TTL so a warm Lambda
//! does not fetch it per request, and re-read on demand (e.g. after the OpenAI API
//! rejects the cached key because it was rotated). The value is the secret's
//! `SecretString`, used as is.

use crate::cache::TtlCache;
use crate::ports::secrets::{Secret, SecretError, SecretSource};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use std::time::Duration;

pub struct SecretsManagerSecret {
    client: Client,
    secret_id: String,
    /// One entry; concurrent callers share one fetch.
    cached: TtlCache<(), Secret>,
}

impl SecretsManagerSecret {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    pub fn new(client: Client, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            cached: TtlCache::new(ttl, 1),
        }
    }

    /// From an already loaded AWS configuration; nothing is fetched until first use.
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        secret_id: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self::new(Client::new(config), secret_id, ttl)
    }

    async fn fetch(&self) -> Result<Secret, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                SecretError(format!(
                    "GetSecretValue: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        let value = output
            .secret_string
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError("the secret has no string value".into()))?;
        Ok(Secret::new(value))
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSecret {
    async fn current(&self) -> Result<Secret, SecretError> {
        self.cached.get_or_try_load(&(), || self.fetch()).await
    }

    async fn refresh(&self) -> Result<Secret, SecretError> {
        self.cached.invalidate(&()).await;
        self.current().await
    }
}

/// A client for a Secrets Manager-compatible server on loopback (tests).
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-secrets",
        ))
        .build();
    Client::from_conf(config)
}
