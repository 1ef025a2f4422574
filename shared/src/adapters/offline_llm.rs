//! The offline provider for local mode without an OpenAI key: the deterministic style
//! composer ([`crate::domain::style::compose`]) writes a readable text of the requested
//! kind from the request's facts in the dietitian's voice, with deterministic token
//! counts and a `model` that says plainly that no model was called. Its moderation is a
//! small deterministic classifier.

use crate::domain::content::ContentKind;
use crate::domain::style::compose::{compose, Brief, COMPOSER_MODEL};
use crate::ports::llm::{
    Completion, CompletionRequest, LlmError, LlmProvider, Moderation, Role, TokenUsage,
    WritingBrief,
};
use async_trait::async_trait;
use std::time::Instant;

pub const OFFLINE_MODEL: &str = COMPOSER_MODEL;

/// About four characters per token, rounded up: deterministic, close to real tokenisers
/// for English prose.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct OfflineLlm;

/// A request without a structured brief (not one of ours): the kind from the task line,
/// the input from the `<input>` JSON, no profile.
fn brief_from_prompt(user: &str) -> WritingBrief {
    let task = user.lines().next().unwrap_or("").to_lowercase();
    let kind = if task.contains("summary of a meal plan") {
        ContentKind::MealPlanSummary
    } else if task.contains("nutrition tips") {
        ContentKind::NutritionTips
    } else if task.contains("shopping list") {
        ContentKind::ShoppingListNotes
    } else {
        ContentKind::DietIntroduction
    };
    let input = user
        .split_once("<input>\n")
        .and_then(|(_, rest)| rest.split_once("\n</input>"))
        .map(|(json, _)| {
            json.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .and_then(|json| match serde_json::from_str(&json) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    WritingBrief {
        kind,
        input,
        client: None,
        style: None,
    }
}

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
        let fallback;
        let brief = match &request.brief {
            Some(brief) => brief,
            None => {
                fallback = brief_from_prompt(user);
                &fallback
            }
        };
        let limit = usize::try_from(request.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(4);
        let content = compose(
            &Brief {
                kind: brief.kind,
                input: &brief.input,
                client: brief.client.as_ref(),
                profile: brief.style.as_ref(),
            },
            limit,
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::content::build_prompt;
    use crate::ports::llm::ChatMessage;
    use std::time::Duration;

    fn request(user: &str, max_tokens: u32, brief: Option<WritingBrief>) -> CompletionRequest {
        CompletionRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![
                ChatMessage::new(Role::System, "You write diets."),
                ChatMessage::new(Role::User, user),
            ],
            max_tokens,
            brief,
        }
    }

    fn input(json: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn same_request_same_answer_and_labelled_offline() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let brief = WritingBrief {
            kind: ContentKind::DietIntroduction,
            input: input(r#"{"client":"Ann","goal":"more energy"}"#),
            client: None,
            style: None,
        };
        let req = request("Task: Write an introduction.", 500, Some(brief));
        let a = OfflineLlm.complete(&req, deadline).await.unwrap();
        let b = OfflineLlm.complete(&req, deadline).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.model, "offline-style-composer (no LLM was called)");
        assert!(a.content.contains("Ann"), "{}", a.content);
        assert!(a.content.contains("more energy"), "{}", a.content);
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
        let brief = WritingBrief {
            kind: ContentKind::MealPlanSummary,
            input: input(r#"{"breakfast":"oats","lunch":"soup","dinner":"fish"}"#),
            client: None,
            style: None,
        };
        let answer = OfflineLlm
            .complete(&request("Task", 5, Some(brief)), Instant::now())
            .await
            .unwrap();
        assert!(answer.usage.completion_tokens <= 5);
    }

    /// Without a structured brief the composer reads the prompt: the kind from the task
    /// line, the facts from the `<input>` JSON (unescaped).
    #[tokio::test]
    async fn a_plain_prompt_is_read_for_its_kind_and_facts() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let (_, user) = build_prompt(
            ContentKind::ShoppingListNotes,
            r#"{"items":"peanut butter & <jam>, oats","days":3}"#,
            "",
            &[],
            None,
        );
        let draft = OfflineLlm
            .complete(&request(&user, 500, None), deadline)
            .await
            .unwrap();
        assert!(
            draft.content.contains("peanut butter & <jam>, oats"),
            "{}",
            draft.content
        );
        assert!(draft.content.contains("shopping"), "{}", draft.content);
    }
}
