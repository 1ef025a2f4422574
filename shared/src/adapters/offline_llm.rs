//! The offline provider for local mode without an OpenAI key: deterministic text built
//! from the request (its instructions and the delimited style examples), deterministic
//! token counts, and a model name that says plainly that no model was called.

use crate::ports::llm::{
    Completion, CompletionRequest, LlmError, LlmProvider, Moderation, Role, TokenUsage,
};
use async_trait::async_trait;
use std::time::Instant;

pub const OFFLINE_MODEL: &str = "offline-deterministic (no LLM was called)";

/// About four characters per token, rounded up: deterministic, close to real tokenisers
/// for English prose.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct OfflineLlm;

#[async_trait]
impl LlmProvider for OfflineLlm {
    async fn complete(
        &self,
        request: &CompletionRequest,
        _deadline: Instant,
    ) -> Result<Completion, LlmError> {
        let user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let examples = user.matches("<style_example").count();
        // The task line only: repeating the delimited data would repeat the prompt.
        let task = user.lines().next().unwrap_or("");
        let first_words: Vec<&str> = task.split_whitespace().take(40).collect();
        let mut content = format!(
            "[Offline draft: no language model was called.] Written from {examples} style example(s). \
             Request began: \"{}\"",
            first_words.join(" ")
        );
        // What the input asked for, as plain sentences: the safety checks read it like
        // any model text (so local mode shows a blocked generation too).
        for (field, value) in input_values(user) {
            content.push_str(&format!("\n{field}: {value}"));
        }
        let limit = usize::try_from(request.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(4);
        if content.chars().count() > limit {
            content = content.chars().take(limit).collect();
        }
        let prompt_tokens = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        let completion_tokens = estimate_tokens(&content);
        let raw_response = serde_json::json!({
            "model": OFFLINE_MODEL,
            "choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })
        .to_string();
        Ok(Completion {
            content,
            model: OFFLINE_MODEL.into(),
            usage: TokenUsage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
            },
            raw_response,
        })
    }

    /// A deterministic classifier stands in for the provider's moderation.
    async fn moderate(&self, text: &str, _deadline: Instant) -> Result<Moderation, LlmError> {
        let categories = crate::domain::safety::moderation::classify(text);
        Ok(Moderation {
            flagged: !categories.is_empty(),
            categories: categories.into_iter().map(str::to_owned).collect(),
        })
    }
}

/// The string values of the request's `<input>` JSON (unescaped), field by field.
fn input_values(user: &str) -> Vec<(String, String)> {
    let Some(json) = user
        .split_once("<input>\n")
        .and_then(|(_, rest)| rest.split_once("\n</input>"))
        .map(|(json, _)| {
            json.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
    else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(input)) = serde_json::from_str(&json) else {
        return Vec::new();
    };
    input
        .into_iter()
        .filter_map(|(field, value)| match value {
            serde_json::Value::String(text) => Some((field, text)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::llm::ChatMessage;
    use std::time::Duration;

    fn request(user: &str, max_tokens: u32) -> CompletionRequest {
        CompletionRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![
                ChatMessage::new(Role::System, "You write diets."),
                ChatMessage::new(Role::User, user),
            ],
            max_tokens,
        }
    }

    #[tokio::test]
    async fn same_request_same_answer_and_labelled_offline() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let req = request(
            "<style_example id=\"1\">Eat greens.</style_example> Write an introduction.",
            500,
        );
        let a = OfflineLlm.complete(&req, deadline).await.unwrap();
        let b = OfflineLlm.complete(&req, deadline).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.model, OFFLINE_MODEL);
        assert!(a.content.contains("no language model was called"));
        assert!(a.content.contains("1 style example"));
        assert_eq!(
            a.usage.prompt_tokens,
            estimate_tokens("You write diets.") + estimate_tokens(&req.messages[1].content)
        );
        assert_eq!(
            a.usage.total_tokens,
            a.usage.prompt_tokens + a.usage.completion_tokens
        );
    }

    #[tokio::test]
    async fn respects_max_tokens() {
        let answer = OfflineLlm
            .complete(&request("word ".repeat(100).as_str(), 5), Instant::now())
            .await
            .unwrap();
        assert!(answer.usage.completion_tokens <= 5);
    }

    #[tokio::test]
    async fn the_inputs_words_are_in_the_draft() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let (_, user) = crate::domain::content::build_prompt(
            crate::domain::content::ContentKind::NutritionTips,
            r#"{"goal":"peanut butter & <jam>","days":3}"#,
            "",
            &[],
        );
        let draft = OfflineLlm
            .complete(&request(&user, 500), deadline)
            .await
            .unwrap();
        assert!(
            draft.content.ends_with("\ngoal: peanut butter & <jam>"),
            "{}",
            draft.content
        );
        assert!(!draft.content.contains("days"), "only text values");
    }
}
