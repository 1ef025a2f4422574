//! OpenAI chat completions over HTTPS (reqwest + rustls), or any server that speaks the
//! same wire format (`base_url`).
//!
//! Every call is bounded by the caller's deadline, retries included: the per-attempt
//! timeout is whatever time is left, a retry is only attempted if its wait still fits,
//! and nothing is retried past the deadline. 429 and 5xx are retried (honouring
//! `Retry-After`, else exponential backoff with full jitter) at most `max_retries` times;
//! a 401 refreshes the API key from its source once. Response bodies are capped. The API
//! key is sent only in the `Authorization` header and never logged.

use crate::ports::llm::{
    Completion, CompletionRequest, LlmError, LlmProvider, Moderation, TokenUsage,
};
use crate::ports::secrets::{SecretError, SecretSource};
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to and including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and connection failures.
    pub max_retries: u32,
    /// First backoff step; attempt n waits a random time in [0, base * 2^n].
    pub base_backoff: Duration,
    /// Larger responses are refused (the model output is untrusted).
    pub max_response_bytes: usize,
    /// The model of `/moderations`.
    pub moderation_model: String,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            connect_timeout: Duration::from_secs(2),
            max_retries: 2,
            base_backoff: Duration::from_millis(250),
            max_response_bytes: 1024 * 1024,
            moderation_model: "omni-moderation-latest".into(),
        }
    }
}

pub struct OpenAiClient {
    /// Built on first use: creating it loads the system's TLS roots, which requests that
    /// fail validation or consent never need (keeps cold starts short).
    http: OnceLock<Result<reqwest::Client, String>>,
    config: OpenAiConfig,
    api_key: Arc<dyn SecretSource>,
}

impl From<SecretError> for LlmError {
    fn from(error: SecretError) -> Self {
        LlmError::Unavailable(error.to_string())
    }
}

#[derive(Deserialize)]
struct WireResponse {
    model: String,
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig, api_key: Arc<dyn SecretSource>) -> Result<Self, LlmError> {
        Ok(Self {
            http: OnceLock::new(),
            config,
            api_key,
        })
    }

    fn http_client(&self) -> Result<&reqwest::Client, LlmError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(self.config.connect_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("http client: {e}"))
            })
            .as_ref()
            .map_err(|e| LlmError::Unavailable(e.clone()))
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Full-jitter exponential backoff for retry `attempt` (0-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .config
            .base_backoff
            .saturating_mul(1 << attempt.min(10));
        let mut bytes = [0u8; 4];
        let fraction = match getrandom::fill(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 0.5,
        };
        ceiling.mul_f64(fraction)
    }

    /// Reads the body up to the cap; the request's own timeout still applies.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<String, LlmError> {
        let cap = self.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length as usize > cap)
        {
            return Err(LlmError::ResponseTooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > cap {
                return Err(LlmError::ResponseTooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| LlmError::InvalidResponse("body is not UTF-8".into()))
    }
}

fn transport_error(error: reqwest::Error) -> LlmError {
    if error.is_timeout() {
        LlmError::Timeout
    } else {
        // reqwest's Display includes the URL but never headers, so no key leaks here.
        LlmError::Unavailable(error.without_url().to_string())
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn parse_completion(raw: String) -> Result<Completion, LlmError> {
    let wire: WireResponse = serde_json::from_str(&raw)
        .map_err(|e| LlmError::InvalidResponse(format!("not a chat completion: {e}")))?;
    let content = wire
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or_else(|| LlmError::InvalidResponse("no message content".into()))?;
    let usage = wire
        .usage
        .ok_or_else(|| LlmError::InvalidResponse("no token usage".into()))?;
    Ok(Completion {
        content,
        model: wire.model,
        usage: TokenUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
        },
        raw_response: raw,
    })
}

#[derive(Deserialize)]
struct WireModeration {
    results: Vec<WireModerationResult>,
}

#[derive(Deserialize)]
struct WireModerationResult {
    flagged: bool,
    #[serde(default)]
    categories: std::collections::BTreeMap<String, bool>,
}

fn parse_moderation(raw: &str) -> Result<Moderation, LlmError> {
    let wire: WireModeration = serde_json::from_str(raw)
        .map_err(|e| LlmError::InvalidResponse(format!("not a moderation: {e}")))?;
    let result = wire
        .results
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::InvalidResponse("no moderation result".into()))?;
    Ok(Moderation {
        flagged: result.flagged,
        categories: result
            .categories
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name)
            .collect(),
    })
}

impl OpenAiClient {
    /// POSTs `body` to `path` until it succeeds, fails for good, or the deadline comes;
    /// the body of the successful answer.
    async fn post(&self, path: &str, body: Vec<u8>, deadline: Instant) -> Result<String, LlmError> {
        let http = self.http_client()?;
        let url = self.endpoint(path);
        let mut key = self.api_key.current().await?;
        let mut refreshed_key = false;
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LlmError::Timeout);
            }
            let sent = http
                .post(&url)
                .bearer_auth(key.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .timeout(remaining)
                .send()
                .await;
            let (status, wait) = match sent {
                Ok(response) if response.status().is_success() => {
                    return self.read_capped(response).await;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    match status {
                        401 if !refreshed_key => {
                            tracing::warn!(
                                "model provider rejected the API key; refreshing it once"
                            );
                            refreshed_key = true;
                            key = self.api_key.refresh().await?;
                            continue;
                        }
                        401 | 403 => return Err(LlmError::Unauthorized),
                        429 | 500 | 502 | 503 | 504 => (status, retry_after(&response)),
                        _ => return Err(LlmError::Upstream { status }),
                    }
                }
                Err(error) => match transport_error(error) {
                    LlmError::Timeout => return Err(LlmError::Timeout),
                    other => {
                        tracing::warn!(error = %other, "model provider unreachable");
                        (0, None)
                    }
                },
            };
            let failure = || match status {
                0 => LlmError::Unavailable("connection failed".into()),
                status => LlmError::Upstream { status },
            };
            if retries >= self.config.max_retries {
                return Err(failure());
            }
            let wait = wait.unwrap_or_else(|| self.backoff(retries));
            if Instant::now() + wait >= deadline {
                return Err(failure());
            }
            tracing::info!(
                status,
                retry = retries + 1,
                wait_ms = wait.as_millis() as u64,
                path,
                "retrying model call"
            );
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

#[async_trait]
impl LlmProvider for OpenAiClient {
    async fn complete(
        &self,
        request: &CompletionRequest,
        deadline: Instant,
    ) -> Result<Completion, LlmError> {
        let body = serde_json::to_vec(request).map_err(|e| LlmError::Unavailable(e.to_string()))?;
        parse_completion(self.post("/chat/completions", body, deadline).await?)
    }

    async fn moderate(&self, text: &str, deadline: Instant) -> Result<Moderation, LlmError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "model": self.config.moderation_model,
            "input": text,
        }))
        .map_err(|e| LlmError::Unavailable(e.to_string()))?;
        parse_moderation(&self.post("/moderations", body, deadline).await?)
    }
}
