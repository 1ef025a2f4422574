//! The LLM port: one chat completion, and the provider's moderation of a text, each
//! bounded by a deadline. Adapters: the OpenAI client (`adapters::openai`:
//! `/chat/completions` and `/moderations`) and the offline provider for local mode
//! (`adapters::offline_llm`).

use async_trait::async_trait;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What is sent to the model. It is stored with the generation, as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    /// The same request as structured data, for a provider that writes without a
    /// language model (the offline style composer). Never sent or stored.
    #[serde(skip)]
    pub brief: Option<WritingBrief>,
}

/// What to write, as data: the kind, the caller's input, the client profile and the
/// dietitian's style profile for the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct WritingBrief {
    pub kind: crate::domain::content::ContentKind,
    pub input: serde_json::Map<String, serde_json::Value>,
    pub client: Option<crate::domain::safety::ClientProfile>,
    pub style: Option<crate::domain::style::StyleProfile>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The model's answer. `content` is untrusted text: stored and returned, never executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub content: String,
    /// The model that answered, as the provider reports it.
    pub model: String,
    pub usage: TokenUsage,
    /// The provider's response body as received (size-capped), stored with the generation.
    pub raw_response: String,
}

/// Why no completion came back. Callers map `Timeout` to 504 and the rest to 502; none
/// of them is billed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within the deadline")]
    Timeout,
    #[error("the model provider answered with status {status}")]
    Upstream { status: u16 },
    #[error("the model provider rejected our credentials")]
    Unauthorized,
    #[error("the model's response was not understood: {0}")]
    InvalidResponse(String),
    #[error("the model's response exceeded {0} bytes")]
    ResponseTooLarge(usize),
    #[error("the model provider could not be reached: {0}")]
    Unavailable(String),
}

impl LlmError {
    /// HTTP status a handler answers with.
    pub fn gateway_status(&self) -> u16 {
        match self {
            Self::Timeout => 504,
            _ => 502,
        }
    }
}

/// The provider's verdict on a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderation {
    pub flagged: bool,
    /// The categories it was flagged for (e.g. `self-harm`).
    pub categories: Vec<String>,
}

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// One chat completion that must finish (retries included) before `deadline`.
    async fn complete(
        &self,
        request: &CompletionRequest,
        deadline: Instant,
    ) -> Result<Completion, LlmError>;

    /// The provider's moderation of `text` (self-harm, eating disorders included,
    /// harassment, …), finished before `deadline`. A failure is an error: the caller
    /// fails closed.
    async fn moderate(&self, text: &str, deadline: Instant) -> Result<Moderation, LlmError>;
}
