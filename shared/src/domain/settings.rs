//! Tenant settings (per tenant) and system settings (whole platform).
//!
//! An unset tenant value means "the plan's (or the system's) default". A tenant-manager
//! may change its own tenant's settings only within its plan's limits
//! ([`crate::domain::billing::Plan::limits`]).

use super::content::{ContentKind, MAX_MAX_TOKENS};
use super::safety::{SafetyThresholds, DEFAULT_DISCLAIMER, MAX_DISCLAIMER_CHARS};
use super::ValidationError;
use serde::{Deserialize, Serialize};

/// Largest `max_tokens` any generation may ask for (the API's own cap).
pub const MAX_TOKENS_CEILING: u32 = MAX_MAX_TOKENS;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Requests per minute for this tenant.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Monthly spending limit in micro-units of the plan's currency.
    #[serde(default)]
    pub monthly_budget_micros: Option<i64>,
    /// Content kinds this tenant may generate (unset: all).
    #[serde(default)]
    pub allowed_kinds: Option<Vec<String>>,
    /// Model for this tenant's generations (unset: the system default).
    #[serde(default)]
    pub model: Option<String>,
    /// Largest `max_tokens` this tenant's generations may use.
    #[serde(default)]
    pub max_tokens_cap: Option<u32>,
    /// Days generations are kept (unset: the platform default).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// The text every passed or flagged generation ends with (unset: the platform's
    /// default disclaimer), at most 500 characters.
    #[serde(default)]
    pub disclaimer: Option<String>,
    /// Percentages of the monthly budget whose crossing raises a budget alert, once per
    /// threshold per period (unset: 50, 80, 100). 1 to 5 values, each 1 to 100, rising.
    #[serde(default)]
    pub budget_alert_thresholds: Option<Vec<u8>>,
}

/// The budget alert thresholds of a tenant that set none, in percent.
pub const DEFAULT_BUDGET_ALERT_THRESHOLDS: [u8; 3] = [50, 80, 100];

/// What a plan allows a tenant to configure for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    pub requests_per_minute: u32,
    pub monthly_budget_micros: i64,
}

pub(crate) fn model_name_ok(model: &str) -> bool {
    (1..=100).contains(&model.len())
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
}

impl TenantSettings {
    /// Checks every value against the platform's own bounds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |message: &str| Err(ValidationError(message.to_owned()));
        if self
            .requests_per_minute
            .is_some_and(|v| !(1..=100_000).contains(&v))
        {
            return fail("requests_per_minute must be 1 to 100000");
        }
        if self.monthly_budget_micros.is_some_and(|v| v < 0) {
            return fail("monthly_budget_micros must not be negative");
        }
        if let Some(kinds) = &self.allowed_kinds {
            if kinds.len() > ContentKind::ALL.len()
                || kinds.iter().any(|k| ContentKind::parse(k).is_none())
            {
                return fail("allowed_kinds must list known content kinds");
            }
        }
        if self.model.as_deref().is_some_and(|m| !model_name_ok(m)) {
            return fail("model must be 1 to 100 characters of letters, digits and -_.:/");
        }
        if self
            .max_tokens_cap
            .is_some_and(|v| !(1..=MAX_TOKENS_CEILING).contains(&v))
        {
            return fail("max_tokens_cap must be 1 to 2000");
        }
        if self
            .retention_days
            .is_some_and(|v| !(1..=3650).contains(&v))
        {
            return fail("retention_days must be 1 to 3650");
        }
        if let Some(thresholds) = &self.budget_alert_thresholds {
            if !(1..=5).contains(&thresholds.len())
                || thresholds.iter().any(|t| !(1..=100).contains(t))
                || thresholds.windows(2).any(|w| w[0] >= w[1])
            {
                return fail(
                    "budget_alert_thresholds must list 1 to 5 rising percentages, each 1 to 100",
                );
            }
        }
        if let Some(disclaimer) = &self.disclaimer {
            let chars = disclaimer.trim().chars().count();
            if chars == 0 || chars > MAX_DISCLAIMER_CHARS {
                return fail("disclaimer must be 1 to 500 characters");
            }
            if disclaimer.chars().any(|c| c.is_control() && c != '\n') {
                return fail("disclaimer must not contain control characters");
            }
        }
        Ok(())
    }

    /// Whether a tenant-manager may set these values for itself under `limits`: rate
    /// limit and budget may not exceed the plan's (unset counts as the plan's default).
    pub fn within(&self, limits: &PlanLimits) -> bool {
        self.requests_per_minute
            .is_none_or(|v| v <= limits.requests_per_minute)
            && self
                .monthly_budget_micros
                .is_none_or(|v| v <= limits.monthly_budget_micros)
    }

    /// The budget alert thresholds in force, in percent, rising.
    pub fn budget_alert_thresholds(&self) -> Vec<u8> {
        self.budget_alert_thresholds
            .clone()
            .unwrap_or_else(|| DEFAULT_BUDGET_ALERT_THRESHOLDS.to_vec())
    }

    /// The disclaimer this tenant's texts end with.
    pub fn disclaimer(&self) -> &str {
        self.disclaimer.as_deref().unwrap_or(DEFAULT_DISCLAIMER)
    }

    /// Whether generations of `kind` are allowed.
    pub fn allows_kind(&self, kind: ContentKind) -> bool {
        self.allowed_kinds
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| k == kind.as_str()))
    }
}

/// Platform-wide properties (platform-admin only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSettings {
    /// Kill switch: when false every generation is refused with 503 before any model
    /// call (threat T14).
    pub generation_enabled: bool,
    /// Model used when a tenant has none set (unset: the deployment's configured model).
    #[serde(default)]
    pub default_model: Option<String>,
    /// Platform-wide cap on `max_tokens`.
    pub max_tokens_cap: u32,
    /// The nutrition safety limits (cited defaults; may be tightened, never loosened).
    #[serde(default)]
    pub safety: SafetyThresholds,
}

impl Default for SystemSettings {
    fn default() -> Self {
        Self {
            generation_enabled: true,
            default_model: None,
            max_tokens_cap: MAX_TOKENS_CEILING,
            safety: SafetyThresholds::default(),
        }
    }
}

impl SystemSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self
            .default_model
            .as_deref()
            .is_some_and(|m| !model_name_ok(m))
        {
            return Err(ValidationError(
                "default_model must be 1 to 100 characters of letters, digits and -_.:/".into(),
            ));
        }
        if !(1..=MAX_TOKENS_CEILING).contains(&self.max_tokens_cap) {
            return Err(ValidationError("max_tokens_cap must be 1 to 2000".into()));
        }
        self.safety.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_bounds_every_field() {
        assert!(TenantSettings::default().validate().is_ok());
        let bad = [
            TenantSettings {
                requests_per_minute: Some(0),
                ..Default::default()
            },
            TenantSettings {
                monthly_budget_micros: Some(-1),
                ..Default::default()
            },
            TenantSettings {
                allowed_kinds: Some(vec!["poetry".into()]),
                ..Default::default()
            },
            TenantSettings {
                model: Some("gpt 4".into()),
                ..Default::default()
            },
            TenantSettings {
                max_tokens_cap: Some(MAX_TOKENS_CEILING + 1),
                ..Default::default()
            },
            TenantSettings {
                retention_days: Some(0),
                ..Default::default()
            },
            TenantSettings {
                budget_alert_thresholds: Some(vec![]),
                ..Default::default()
            },
            TenantSettings {
                budget_alert_thresholds: Some(vec![80, 50]),
                ..Default::default()
            },
            TenantSettings {
                budget_alert_thresholds: Some(vec![50, 101]),
                ..Default::default()
            },
            TenantSettings {
                budget_alert_thresholds: Some(vec![0]),
                ..Default::default()
            },
            TenantSettings {
                budget_alert_thresholds: Some(vec![10, 20, 30, 40, 50, 60]),
                ..Default::default()
            },
        ];
        for settings in bad {
            assert!(settings.validate().is_err(), "{settings:?}");
        }
    }

    #[test]
    fn plan_limits_bound_what_a_tenant_may_set() {
        let limits = PlanLimits {
            requests_per_minute: 60,
            monthly_budget_micros: 50_000_000,
        };
        let mut settings = TenantSettings {
            requests_per_minute: Some(limits.requests_per_minute),
            ..Default::default()
        };
        assert!(settings.within(&limits));
        settings.requests_per_minute = Some(limits.requests_per_minute + 1);
        assert!(!settings.within(&limits));
        settings.requests_per_minute = None;
        settings.monthly_budget_micros = Some(limits.monthly_budget_micros + 1);
        assert!(!settings.within(&limits));
    }

    #[test]
    fn allowed_kinds_filter_generation_kinds() {
        let settings = TenantSettings {
            allowed_kinds: Some(vec!["nutrition_tips".into()]),
            ..Default::default()
        };
        assert!(settings.allows_kind(ContentKind::NutritionTips));
        assert!(!settings.allows_kind(ContentKind::MealPlanSummary));
        assert!(TenantSettings::default().allows_kind(ContentKind::MealPlanSummary));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<TenantSettings>(r#"{"rpm": 5}"#).is_err());
        assert!(serde_json::from_str::<SystemSettings>(
            r#"{"generation_enabled": true, "max_tokens_cap": 10, "x": 1}"#
        )
        .is_err());
    }
}
