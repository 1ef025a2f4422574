//! The client a text is written for (`client` on `POST /v1/generations`), and the
//! thresholds the checks hold it to.

use crate::domain::ValidationError;
use serde::{Deserialize, Serialize};

/// The EU's 14 major allergens (Regulation (EU) No 1169/2011, Annex II).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allergen {
    Peanuts,
    TreeNuts,
    Milk,
    Eggs,
    Fish,
    Crustaceans,
    Molluscs,
    Gluten,
    Soy,
    Sesame,
    Celery,
    Mustard,
    Lupin,
    Sulphites,
}

impl Allergen {
    pub const ALL: [Allergen; 14] = [
        Self::Peanuts,
        Self::TreeNuts,
        Self::Milk,
        Self::Eggs,
        Self::Fish,
        Self::Crustaceans,
        Self::Molluscs,
        Self::Gluten,
        Self::Soy,
        Self::Sesame,
        Self::Celery,
        Self::Mustard,
        Self::Lupin,
        Self::Sulphites,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Peanuts => "peanuts",
            Self::TreeNuts => "tree_nuts",
            Self::Milk => "milk",
            Self::Eggs => "eggs",
            Self::Fish => "fish",
            Self::Crustaceans => "crustaceans",
            Self::Molluscs => "molluscs",
            Self::Gluten => "gluten",
            Self::Soy => "soy",
            Self::Sesame => "sesame",
            Self::Celery => "celery",
            Self::Mustard => "mustard",
            Self::Lupin => "lupin",
            Self::Sulphites => "sulphites",
        }
    }

    /// How a text names it for a reader.
    pub fn label(self) -> &'static str {
        match self {
            Self::TreeNuts => "tree nuts",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DietPattern {
    Omnivore,
    Vegetarian,
    Vegan,
    Pescatarian,
}

/// What a generation knows about the client. Every field is optional; what is given
/// goes into the prompt as data and drives the checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_years: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allergies: Vec<Allergen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calorie_target_kcal: Option<u32>,
    /// Planned change per week; negative is a loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_weight_change_kg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diet_pattern: Option<DietPattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnant: Option<bool>,
}

/// Largest calorie target a profile may name.
pub const MAX_CALORIE_TARGET_KCAL: u32 = 10_000;
/// Largest weekly change (either way) a profile may name.
pub const MAX_WEEKLY_CHANGE_KG: f64 = 5.0;

impl ClientProfile {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |message: &str| Err(ValidationError(message.to_owned()));
        if self.age_years.is_some_and(|age| age > 120) {
            return fail("client.age_years must be 0 to 120");
        }
        if self
            .calorie_target_kcal
            .is_some_and(|kcal| kcal > MAX_CALORIE_TARGET_KCAL)
        {
            return fail("client.calorie_target_kcal must be 0 to 10000");
        }
        if self
            .weekly_weight_change_kg
            .is_some_and(|kg| !kg.is_finite() || kg.abs() > MAX_WEEKLY_CHANGE_KG)
        {
            return fail("client.weekly_weight_change_kg must be -5 to 5");
        }
        let mut seen = self.allergies.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.allergies.len() {
            return fail("client.allergies must not repeat an allergen");
        }
        Ok(())
    }

    /// Under 18: the minors' rules apply.
    pub fn is_minor(&self) -> bool {
        self.age_years.is_some_and(|age| age < 18)
    }

    pub fn is_pregnant(&self) -> bool {
        self.pregnant == Some(true)
    }

    /// The daily intake no text for this client may go under.
    pub fn calorie_floor(&self, thresholds: &SafetyThresholds) -> u32 {
        if self.is_minor() || self.is_pregnant() {
            thresholds.minor_calorie_floor_kcal
        } else {
            thresholds.adult_calorie_floor_kcal
        }
    }

    /// Planned loss per week in grams (0 for no loss or a gain).
    pub fn weekly_loss_g(&self) -> u32 {
        self.weekly_weight_change_kg
            .filter(|kg| *kg < 0.0)
            .map_or(0, |kg| (-kg * 1000.0).round() as u32)
    }
}

/// The limits the checks apply. The defaults cite their sources in `docs/safety.md`;
/// a platform-admin may tighten them in the system settings, never loosen them past
/// these defaults (the hard limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyThresholds {
    /// No adult's daily intake under this.
    pub adult_calorie_floor_kcal: u32,
    /// No minor's or pregnant client's daily intake under this.
    pub minor_calorie_floor_kcal: u32,
    /// No planned loss faster than this many grams a week.
    pub max_weekly_loss_g: u32,
}

pub const DEFAULT_ADULT_CALORIE_FLOOR_KCAL: u32 = 1_200;
pub const DEFAULT_MINOR_CALORIE_FLOOR_KCAL: u32 = 1_600;
pub const DEFAULT_MAX_WEEKLY_LOSS_G: u32 = 1_000;

impl Default for SafetyThresholds {
    fn default() -> Self {
        Self {
            adult_calorie_floor_kcal: DEFAULT_ADULT_CALORIE_FLOOR_KCAL,
            minor_calorie_floor_kcal: DEFAULT_MINOR_CALORIE_FLOOR_KCAL,
            max_weekly_loss_g: DEFAULT_MAX_WEEKLY_LOSS_G,
        }
    }
}

impl SafetyThresholds {
    /// Tighter than the defaults is fine; looser is refused.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |message: String| Err(ValidationError(message));
        if !(DEFAULT_ADULT_CALORIE_FLOOR_KCAL..=4_000).contains(&self.adult_calorie_floor_kcal) {
            return fail(format!(
                "safety.adult_calorie_floor_kcal must be {DEFAULT_ADULT_CALORIE_FLOOR_KCAL} to 4000 (it may be raised, never lowered)"
            ));
        }
        if !(DEFAULT_MINOR_CALORIE_FLOOR_KCAL..=4_000).contains(&self.minor_calorie_floor_kcal) {
            return fail(format!(
                "safety.minor_calorie_floor_kcal must be {DEFAULT_MINOR_CALORIE_FLOOR_KCAL} to 4000 (it may be raised, never lowered)"
            ));
        }
        if !(100..=DEFAULT_MAX_WEEKLY_LOSS_G).contains(&self.max_weekly_loss_g) {
            return fail(format!(
                "safety.max_weekly_loss_g must be 100 to {DEFAULT_MAX_WEEKLY_LOSS_G} (it may be lowered, never raised)"
            ));
        }
        Ok(())
    }
}
