//! Secrets (the OpenAI API key, later signing keys): where they come from, and a type
//! that never shows its value in logs or debug output.

use async_trait::async_trait;
use std::fmt;

/// A secret value. `Debug` and `Display` are redacted; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret unavailable: {0}")]
pub struct SecretError(pub String);

#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value, from a cache where the source has one.
    async fn current(&self) -> Result<Secret, SecretError>;
    /// Bypasses any cache (e.g. after the secret was rejected as stale).
    async fn refresh(&self) -> Result<Secret, SecretError>;
}

/// A fixed secret (local mode: `OPENAI_API_KEY` from the environment).
pub struct StaticSecret(Secret);

impl StaticSecret {
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }
}

#[async_trait]
impl SecretSource for StaticSecret {
    async fn current(&self) -> Result<Secret, SecretError> {
        Ok(self.0.clone())
    }

    async fn refresh(&self) -> Result<Secret, SecretError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_themselves() {
        let secret = Secret::new("sk-live-123");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "Secret(redacted) [redacted]"
        );
        assert_eq!(secret.expose(), "sk-live-123");
    }
}
