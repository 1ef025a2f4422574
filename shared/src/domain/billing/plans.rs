//! Plans: fee, token prices (per model), default rate limit and budget; the built-in ones.

use super::{parse_currency, TokenPrices, MAX_MODEL_PRICES, MAX_MONEY_MICROS};
use crate::domain::settings::{model_name_ok, PlanLimits};
use crate::domain::{validate_label, PlanId, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A billing plan. `PUT /admin/plans/{planId}` takes this shape (the `id` comes from the
/// path); unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub currency: String,
    /// Charged once per closed period.
    pub monthly_fee_micros: i64,
    /// Token prices for models without their own entry.
    pub prices: TokenPrices,
    /// Token prices of particular models.
    #[serde(default)]
    pub model_prices: BTreeMap<String, TokenPrices>,
    /// Default rate limit of the plan's tenants (their settings may lower it).
    pub requests_per_minute: u32,
    /// Default monthly usage budget of the plan's tenants, in micro-units.
    pub monthly_budget_micros: i64,
}

/// Validates a plan id: 1 to 40 lower-case letters, digits and dashes.
pub fn parse_plan_id(value: &str) -> Result<PlanId, ValidationError> {
    let ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(PlanId::new(value))
    } else {
        Err(ValidationError(
            "plan id must be 1 to 40 lower-case letters, digits and dashes".into(),
        ))
    }
}

impl Plan {
    pub fn validate(&self) -> Result<(), ValidationError> {
        parse_plan_id(&self.id)?;
        validate_label("name", &self.name, 100)?;
        parse_currency(&self.currency)?;
        for (field, value) in [
            ("monthly_fee_micros", self.monthly_fee_micros),
            ("monthly_budget_micros", self.monthly_budget_micros),
        ] {
            if !(0..=MAX_MONEY_MICROS).contains(&value) {
                return Err(ValidationError(format!(
                    "{field} must be 0 to {MAX_MONEY_MICROS}"
                )));
            }
        }
        self.prices.validate("prices")?;
        if self.model_prices.len() > MAX_MODEL_PRICES {
            return Err(ValidationError(format!(
                "model_prices may name at most {MAX_MODEL_PRICES} models"
            )));
        }
        for (model, prices) in &self.model_prices {
            if !model_name_ok(model) {
                return Err(ValidationError(
                    "model_prices keys must be model names (letters, digits and -_.:/)".into(),
                ));
            }
            prices.validate("model_prices")?;
        }
        if !(1..=100_000).contains(&self.requests_per_minute) {
            return Err(ValidationError(
                "requests_per_minute must be 1 to 100000".into(),
            ));
        }
        Ok(())
    }

    pub fn plan_id(&self) -> PlanId {
        PlanId::new(self.id.clone())
    }

    /// The prices of `model`: its own entry, else the plan's default prices.
    pub fn prices_for(&self, model: &str) -> TokenPrices {
        self.model_prices.get(model).copied().unwrap_or(self.prices)
    }

    pub fn limits(&self) -> PlanLimits {
        PlanLimits {
            requests_per_minute: self.requests_per_minute,
            monthly_budget_micros: self.monthly_budget_micros,
        }
    }
}

fn built_in(id: &str, name: &str, fee: i64, rpm: u32, budget: i64) -> Plan {
    Plan {
        id: id.into(),
        name: name.into(),
        currency: "USD".into(),
        monthly_fee_micros: fee,
        prices: TokenPrices {
            prompt_micros_per_1k: 300,
            completion_micros_per_1k: 1_200,
        },
        model_prices: BTreeMap::new(),
        requests_per_minute: rpm,
        monthly_budget_micros: budget,
    }
}

/// The plans every deployment starts with; a stored plan of the same id replaces one.
pub fn built_in_plans() -> Vec<Plan> {
    vec![
        built_in("enterprise", "Enterprise", 999_000_000, 600, 5_000_000_000),
        built_in("pro", "Pro", 199_000_000, 120, 500_000_000),
        built_in("standard", "Standard", 49_000_000, 60, 50_000_000),
    ]
}
