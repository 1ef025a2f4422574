//! Which LLM the local gateway uses: the real OpenAI client when `OPENAI_API_KEY` is set
//! (with `OPENAI_BASE_URL` for any OpenAI-compatible server, `OPENAI_MODEL` for the
//! model), otherwise the offline provider, which says so in every response's `model`.

use nutripro_shared::adapters::offline_llm::{OfflineLlm, OFFLINE_MODEL};
use nutripro_shared::adapters::openai::{OpenAiClient, OpenAiConfig};
use nutripro_shared::app::generations::DEFAULT_LLM_TIMEOUT;
use nutripro_shared::ports::llm::LlmProvider;
use nutripro_shared::ports::secrets::{Secret, StaticSecret};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

#[derive(Clone)]
pub struct LlmChoice {
    pub provider: Arc<dyn LlmProvider>,
    pub model: String,
    pub timeout: Duration,
    /// For the start-up banner: which provider, never the key.
    pub description: String,
}

impl LlmChoice {
    pub fn offline() -> Self {
        Self {
            provider: Arc::new(OfflineLlm),
            model: OFFLINE_MODEL.into(),
            timeout: DEFAULT_LLM_TIMEOUT,
            description: "offline provider (set OPENAI_API_KEY to use OpenAI)".into(),
        }
    }

    /// An OpenAI-compatible server at `base_url`.
    pub fn openai(
        api_key: &str,
        base_url: Option<&str>,
        model: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let mut config = OpenAiConfig::default();
        if let Some(url) = base_url {
            config.base_url = url.to_owned();
        }
        Self::openai_with(api_key, config, model, timeout)
    }

    /// The OpenAI client with a whole configuration (base URL, moderation model).
    pub fn openai_with(
        api_key: &str,
        config: OpenAiConfig,
        model: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let description = format!("OpenAI-compatible API at {}", config.base_url);
        let client = OpenAiClient::new(config, Arc::new(StaticSecret::new(Secret::new(api_key))))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            provider: Arc::new(client),
            model: model.unwrap_or(DEFAULT_MODEL).to_owned(),
            timeout,
            description,
        })
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let timeout = match lookup("LLM_TIMEOUT_MS") {
            None => DEFAULT_LLM_TIMEOUT,
            Some(ms) => {
                Duration::from_millis(ms.parse().map_err(|_| "LLM_TIMEOUT_MS must be a number")?)
            }
        };
        match lookup("OPENAI_API_KEY") {
            None => Ok(Self {
                timeout,
                ..Self::offline()
            }),
            Some(key) => {
                let mut config = OpenAiConfig::default();
                if let Some(url) = lookup("OPENAI_BASE_URL") {
                    config.base_url = url;
                }
                if let Some(model) = lookup("OPENAI_MODERATION_MODEL") {
                    config.moderation_model = model;
                }
                Self::openai_with(&key, config, lookup("OPENAI_MODEL").as_deref(), timeout)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn choice(pairs: &[(&str, &str)]) -> Result<LlmChoice, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LlmChoice::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn offline_without_a_key_openai_with_one() {
        let offline = choice(&[]).unwrap();
        assert_eq!(offline.model, OFFLINE_MODEL);
        let openai = choice(&[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ])
        .unwrap();
        assert_eq!(openai.model, DEFAULT_MODEL);
        assert!(openai.description.contains("http://127.0.0.1:9/v1"));
        assert!(
            !openai.description.contains("sk-test"),
            "the key is never shown"
        );
        let custom = choice(&[
            ("OPENAI_API_KEY", "k"),
            ("OPENAI_MODEL", "gpt-x"),
            ("LLM_TIMEOUT_MS", "1500"),
        ])
        .unwrap();
        assert_eq!(
            (custom.model.as_str(), custom.timeout),
            ("gpt-x", Duration::from_millis(1500))
        );
        assert!(choice(&[("LLM_TIMEOUT_MS", "soon")]).is_err());
    }
}
