//! The wiring in AWS: DynamoDB tables, the OpenAI key in Secrets Manager, Cognito as the
//! admin identity provider, each named by the function's environment. Clients are built
//! once per cold start from one loaded AWS configuration; nothing is fetched until a
//! request needs it.

use crate::services::{Llm, Services, WiringError};
use nutripro_shared::adapters::dynamodb::admin::DynamoAuditStore;
use nutripro_shared::adapters::dynamodb::billing::DynamoBillingStore;
use nutripro_shared::adapters::dynamodb::commit::DynamoGenerationCommit;
use nutripro_shared::adapters::dynamodb::content::DynamoContentStore;
use nutripro_shared::adapters::dynamodb::DynamoStore;
use nutripro_shared::adapters::eventbridge::EventBridgePublisher;
use nutripro_shared::adapters::jwt::IdpConfig;
use nutripro_shared::adapters::kms::KmsReceiptSigner;
use nutripro_shared::adapters::openai::{OpenAiClient, OpenAiConfig};
use nutripro_shared::adapters::s3::S3Checkpoints;
use nutripro_shared::adapters::secrets_manager::SecretsManagerSecret;
use nutripro_shared::app::generations::DEFAULT_LLM_TIMEOUT;
use nutripro_shared::app::policy::SETTINGS_TTL;
use nutripro_shared::config::DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS;
use nutripro_shared::ports::billing::{BillingStore, GenerationCommit};
use nutripro_shared::ports::checkpoints::{CheckpointStore, NoCheckpoints};
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::events::EventPublisher;
use nutripro_shared::ports::receipts::{NoReceiptKey, ReceiptSigner};
use nutripro_shared::ports::sealing::{NoKeyring, SealingKeys, SecretKeyring};
use nutripro_shared::ports::{AdminStore, AuditStore, Clock, SystemClock};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct AwsServices {
    config: aws_config::SdkConfig,
    env: Lookup,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
}

impl AwsServices {
    /// The function's own environment.
    pub fn from_env(config: aws_config::SdkConfig) -> Self {
        Self::with_lookup(config, |name| std::env::var(name).ok())
    }

    /// An environment given as a lookup (tests build every function of the template
    /// from the variables the template gives it).
    pub fn with_lookup(
        config: aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            config,
            env: Box::new(lookup),
            dynamodb: OnceLock::new(),
        }
    }

    fn required(&self, name: &'static str) -> Result<String, WiringError> {
        (self.env)(name)
            .filter(|value| !value.trim().is_empty())
            .ok_or(WiringError::Missing(name))
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| nutripro_shared::adapters::dynamodb::retry::client(&self.config))
            .clone()
    }
}

impl Services for AwsServices {
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    fn control_plane(&self) -> Result<Arc<dyn AdminStore>, WiringError> {
        let table = self.required("CONTROL_PLANE_TABLE")?;
        Ok(Arc::new(DynamoStore::new(self.dynamodb(), table)))
    }

    fn content(&self) -> Result<Arc<dyn ContentStore>, WiringError> {
        let table = self.required("CONTENT_TABLE")?;
        Ok(Arc::new(DynamoContentStore::new(self.dynamodb(), table)))
    }

    fn generation_commit(&self) -> Result<Arc<dyn GenerationCommit>, WiringError> {
        Ok(Arc::new(DynamoGenerationCommit::new(
            self.dynamodb(),
            self.required("CONTENT_TABLE")?,
            self.required("BILLING_TABLE")?,
        )))
    }

    fn billing(&self) -> Result<Arc<dyn BillingStore>, WiringError> {
        let table = self.required("BILLING_TABLE")?;
        Ok(Arc::new(DynamoBillingStore::new(self.dynamodb(), table)))
    }

    fn audit(&self) -> Result<Arc<dyn AuditStore>, WiringError> {
        let table = self.required("AUDIT_TABLE")?;
        Ok(Arc::new(DynamoAuditStore::new(self.dynamodb(), table)))
    }

    /// The stack's event bus (`EVENT_BUS_NAME`).
    fn events(&self) -> Result<Arc<dyn EventPublisher>, WiringError> {
        Ok(Arc::new(EventBridgePublisher::from_sdk_config(
            &self.config,
            self.required("EVENT_BUS_NAME")?,
        )))
    }

    /// The sealing keyring in Secrets Manager (`SEALING_SECRET_ARN`), read on first use
    /// and cached like the OpenAI key. A function without the variable gets a keyring
    /// that fails every use (the functions that touch generations have it: a template
    /// test).
    fn sealing(&self) -> Result<Arc<dyn SealingKeys>, WiringError> {
        Ok(
            match (self.env)("SEALING_SECRET_ARN").filter(|v| !v.trim().is_empty()) {
                Some(arn) => Arc::new(SecretKeyring::new(Arc::new(
                    SecretsManagerSecret::from_sdk_config(
                        &self.config,
                        arn,
                        SecretsManagerSecret::DEFAULT_TTL,
                    ),
                ))),
                None => Arc::new(NoKeyring),
            },
        )
    }

    /// The receipt key in KMS (`RECEIPT_KEY_ARN`); a function without the variable gets
    /// a key that fails every use (the functions that sign have it: a template test).
    fn receipts(&self) -> Result<Arc<dyn ReceiptSigner>, WiringError> {
        Ok(
            match (self.env)("RECEIPT_KEY_ARN").filter(|v| !v.trim().is_empty()) {
                Some(arn) => Arc::new(KmsReceiptSigner::from_sdk_config(&self.config, arn)),
                None => Arc::new(NoReceiptKey),
            },
        )
    }

    /// The checkpoint bucket (`CHECKPOINT_BUCKET`, Object Lock in compliance mode); a
    /// function without the variable gets a store that fails every use.
    fn checkpoints(&self) -> Result<Arc<dyn CheckpointStore>, WiringError> {
        Ok(
            match (self.env)("CHECKPOINT_BUCKET").filter(|v| !v.trim().is_empty()) {
                Some(bucket) => Arc::new(S3Checkpoints::from_sdk_config(&self.config, bucket)),
                None => Arc::new(NoCheckpoints),
            },
        )
    }

    /// The OpenAI client, its key from Secrets Manager (read on first use, cached,
    /// re-read when OpenAI rejects it).
    fn llm(&self) -> Result<Llm, WiringError> {
        let key = SecretsManagerSecret::from_sdk_config(
            &self.config,
            self.required("OPENAI_SECRET_ARN")?,
            SecretsManagerSecret::DEFAULT_TTL,
        );
        let mut config = OpenAiConfig::default();
        if let Some(base_url) = (self.env)("OPENAI_BASE_URL").filter(|v| !v.is_empty()) {
            config.base_url = base_url;
        }
        if let Some(model) = (self.env)("OPENAI_MODERATION_MODEL").filter(|v| !v.is_empty()) {
            config.moderation_model = model;
        }
        let client = OpenAiClient::new(config, Arc::new(key))
            .map_err(|error| WiringError::Other(format!("OpenAI client: {error}")))?;
        Ok(Llm {
            provider: Arc::new(client),
            model: self.required("OPENAI_MODEL")?,
            timeout: DEFAULT_LLM_TIMEOUT,
        })
    }

    /// The Cognito user pool: its issuer URL and the admin app client. The JWKS is
    /// fetched on the first token, not during init.
    fn admin_identity(&self) -> Result<IdpConfig, WiringError> {
        Ok(IdpConfig::cognito(
            &self.required("ADMIN_ISSUER")?,
            &self.required("ADMIN_CLIENT_ID")?,
        ))
    }

    fn settings_ttl(&self) -> Duration {
        SETTINGS_TTL
    }

    /// `AUDIT_REANCHOR=<seq>:<hash>` (template parameter `AuditCheckpointReanchor`,
    /// empty by default); a value that does not parse stops the job, loudly.
    fn audit_reanchor(
        &self,
    ) -> Result<Option<nutripro_shared::domain::audit_checkpoint::Reanchor>, WiringError> {
        let name = "AUDIT_REANCHOR";
        match (self.env)(name).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(text) => nutripro_shared::domain::audit_checkpoint::Reanchor::parse(&text)
                .map(Some)
                .map_err(|why| WiringError::Invalid(name, why)),
        }
    }

    fn key_last_used_interval_seconds(&self) -> Result<i64, WiringError> {
        let name = "KEY_LAST_USED_INTERVAL_SECONDS";
        match (self.env)(name) {
            None => Ok(DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS),
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=86_400).contains(v))
                .ok_or_else(|| WiringError::Invalid(name, "expected 0..=86400".into())),
        }
    }
}
