//! Audit checkpoints in S3 (threat T07): a bucket with Object Lock in compliance mode
//! (its default retention is the template's `CheckpointRetentionDays`), so no one — not
//! the account's root, not this function — can delete or overwrite a checkpoint before
//! its retention ends. Each checkpoint is `checkpoints/<seq, 20 digits>.json`; the newest
//! is also written as a new version of `latest.json` (versions are locked too).

use crate::domain::audit_checkpoint::AuditCheckpoint;
use crate::ports::checkpoints::CheckpointStore;
use crate::ports::StoreError;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

pub const LATEST: &str = "latest.json";

pub struct S3Checkpoints {
    client: Client,
    bucket: String,
}

impl S3Checkpoints {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn from_sdk_config(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .timeout_config(super::call_timeouts(
                std::time::Duration::from_secs(2),
                std::time::Duration::from_secs(6),
            ))
            .build();
        Self::new(Client::from_conf(conf), bucket)
    }

    async fn put(&self, key: &str, body: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            // Object Lock requires an integrity checksum on every put.
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "s3 put {key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })
    }
}

#[async_trait]
impl CheckpointStore for S3Checkpoints {
    async fn write(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        let body = checkpoint.to_json();
        self.put(&format!("checkpoints/{:020}.json", checkpoint.seq), &body)
            .await?;
        self.put(LATEST, &body).await
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(LATEST)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(error) => {
                return Err(StoreError::Unavailable(format!(
                    "s3 get {LATEST}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&error)
                )))
            }
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("s3 read {LATEST}: {e}")))?
            .into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        AuditCheckpoint::from_json(&text)
            .map(Some)
            .ok_or_else(|| StoreError::Unavailable(format!("{LATEST} is not a checkpoint")))
    }
}

/// A client for an S3-compatible server on loopback (tests): path-style addressing.
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .force_path_style(true)
        .credentials_provider(Credentials::new("local", "local", None, None, "local-s3"))
        .build();
    Client::from_conf(config)
}
