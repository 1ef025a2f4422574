//! Implementations of the [`crate::ports`] traits.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "kms")]
pub mod kms;
#[cfg(feature = "local-idp")]
pub mod local_idp;
pub mod offline_llm;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "secretsmanager")]
pub mod secrets_manager;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Timeouts for an AWS call made inside a request or a short job (EventBridge, KMS, S3):
/// 500 ms to connect, `attempt` per try, `total` for all of the SDK's standard retries.
#[cfg(any(feature = "eventbridge", feature = "kms", feature = "s3"))]
pub(crate) fn call_timeouts(
    attempt: std::time::Duration,
    total: std::time::Duration,
) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(500))
        .operation_attempt_timeout(attempt)
        .operation_timeout(total)
        .build()
}

/// Opaque pagination cursors: base64url of an adapter-specific position, so callers
/// cannot depend on (or easily forge) their contents. Decoding failures are
/// `InvalidCursor`.
#[cfg(any(feature = "sqlite", feature = "dynamodb"))]
pub(crate) mod cursor {
    use crate::ports::StoreError;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    pub fn encode(position: &str) -> String {
        URL_SAFE_NO_PAD.encode(position)
    }

    pub fn decode(cursor: &str) -> Result<String, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StoreError::InvalidCursor)?;
        String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)
    }
}
