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

    /// From an already loaded AWS configuration, with [`with_policy`]; nothing is
    /// fetched until first use.
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        secret_id: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        let client = Client::from_conf(
            with_policy(aws_sdk_secretsmanager::config::Builder::from(config)).build(),
        );
        Self::new(client, secret_id, ttl)
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

/// The retry and timeout policy of the Secrets Manager client (docs/architecture.md,
/// "Retries and timeouts"): the key is read once per cold start (and again only when
/// OpenAI rejects it), before the model is called — three attempts of at most 1 s each,
/// 3 s in all, standard retry mode with its retry quota.
pub fn with_policy(
    builder: aws_sdk_secretsmanager::config::Builder,
) -> aws_sdk_secretsmanager::config::Builder {
    use aws_sdk_secretsmanager::config::retry::RetryConfig;
    use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
    builder
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(500)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
}

/// A client for a Secrets Manager-compatible server on loopback (tests).
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = with_policy(aws_sdk_secretsmanager::Config::builder())
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
