//! Configuration from the environment, read once per cold start.

/// Settings every control-plane-backed function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Name of the control-plane DynamoDB table (`CONTROL_PLANE_TABLE`).
    pub control_plane_table: String,
    /// A key's last-used time is written at most once per this many seconds
    /// (`KEY_LAST_USED_INTERVAL_SECONDS`, default 300).
    pub key_last_used_interval_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
}

pub const DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS: i64 = 300;

/// A required, non-empty environment variable.
pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let control_plane_table = lookup("CONTROL_PLANE_TABLE")
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConfigError::Missing("CONTROL_PLANE_TABLE"))?;
        let key_last_used_interval_seconds = match lookup("KEY_LAST_USED_INTERVAL_SECONDS") {
            None => DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS,
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=86_400).contains(v))
                .ok_or_else(|| {
                    ConfigError::Invalid(
                        "KEY_LAST_USED_INTERVAL_SECONDS",
                        "expected 0..=86400".into(),
                    )
                })?,
        };
        Ok(Self {
            control_plane_table,
            key_last_used_interval_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_table_and_defaults() {
        let config = Config::from_lookup(lookup(&[("CONTROL_PLANE_TABLE", "cp")])).unwrap();
        assert_eq!(config.control_plane_table, "cp");
        assert_eq!(config.key_last_used_interval_seconds, 300);
    }

    #[test]
    fn rejects_missing_and_invalid_values() {
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("CONTROL_PLANE_TABLE"))
        );
        let bad = lookup(&[
            ("CONTROL_PLANE_TABLE", "cp"),
            ("KEY_LAST_USED_INTERVAL_SECONDS", "-1"),
        ]);
        assert!(matches!(
            Config::from_lookup(bad),
            Err(ConfigError::Invalid(..))
        ));
    }
}
