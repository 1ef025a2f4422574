//! Money: integer micro-units of an ISO 4217 currency, and token prices.

use super::MAX_PRICE_MICROS_PER_1K;
use crate::domain::ValidationError;
use serde::{Deserialize, Serialize};

/// Validates an ISO 4217-shaped currency code (three capital letters).
pub fn parse_currency(value: &str) -> Result<String, ValidationError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(ValidationError(
            "currency must be a three-letter ISO 4217 code such as USD".into(),
        ))
    }
}

/// Prices of 1,000 tokens, in micro-units of the plan's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrices {
    pub prompt_micros_per_1k: i64,
    pub completion_micros_per_1k: i64,
}

/// What some tokens cost, per token type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCost {
    pub prompt_micros: i64,
    pub completion_micros: i64,
}

impl TokenCost {
    pub fn total(self) -> i64 {
        self.prompt_micros.saturating_add(self.completion_micros)
    }
}

impl TokenPrices {
    /// Each token type rounded up to a whole micro-unit; monotonic in the token counts,
    /// so the cost of actual usage never exceeds the cost of its bound.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> TokenCost {
        let part = |tokens: u64, per_1k: i64| {
            let micros = (i128::from(tokens) * i128::from(per_1k) + 999) / 1000;
            i64::try_from(micros).unwrap_or(i64::MAX)
        };
        TokenCost {
            prompt_micros: part(prompt_tokens, self.prompt_micros_per_1k),
            completion_micros: part(completion_tokens, self.completion_micros_per_1k),
        }
    }

    pub(super) fn validate(&self, what: &str) -> Result<(), ValidationError> {
        for value in [self.prompt_micros_per_1k, self.completion_micros_per_1k] {
            if !(0..=MAX_PRICE_MICROS_PER_1K).contains(&value) {
                return Err(ValidationError(format!(
                    "{what} must be 0 to {MAX_PRICE_MICROS_PER_1K} micros per 1K tokens"
                )));
            }
        }
        Ok(())
    }
}
