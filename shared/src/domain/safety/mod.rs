//! Nutrition safety (spec section 9): no generation tells a client something dangerous.
//!
//! - [`precheck`]: a request that asks for something unsafe — an adult's calorie target
//!   under the floor, any weight loss for a minor or in pregnancy, a minor's or pregnant
//!   client's target under the minors' floor, loss faster than the maximum — is refused
//!   before any model call.
//! - [`check_output`]: every model text is read for allergen conflicts (negations and
//!   substitutions understood), a daily intake under the client's floor, dangerous
//!   practices, prompt leaks and medical claims; the provider's moderation verdict joins
//!   them in a [`SafetyReport`]. A `block` finding withholds the text; a `warn` flags it.
//!
//! Everything here is deterministic and does no I/O (`docs/safety.md`: sources, the
//! evaluation corpus and its figures).

mod checks;
pub mod eval;
mod lexicon;
pub mod moderation;
mod profile;
mod text;

pub use profile::{
    Allergen, ClientProfile, DietPattern, SafetyThresholds, DEFAULT_ADULT_CALORIE_FLOOR_KCAL,
    DEFAULT_MAX_WEEKLY_LOSS_G, DEFAULT_MINOR_CALORIE_FLOOR_KCAL,
};
use serde::{Deserialize, Serialize};

/// What a finding is about. The codes are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    // Requests (checked before the model is called).
    /// A daily calorie target under the client's floor.
    CalorieTarget,
    /// Weight loss planned for a minor.
    MinorWeightLoss,
    /// Weight loss planned in pregnancy.
    PregnancyWeightLoss,
    /// Planned loss faster than the maximum.
    LossRate,
    // Model output.
    AllergenConflict,
    CalorieFloor,
    DangerousPractice,
    Moderation,
    ModerationUnavailable,
    PromptLeak,
    MedicalClaim,
}

impl FindingCode {
    pub const ALL: [FindingCode; 11] = [
        Self::CalorieTarget,
        Self::MinorWeightLoss,
        Self::PregnancyWeightLoss,
        Self::LossRate,
        Self::AllergenConflict,
        Self::CalorieFloor,
        Self::DangerousPractice,
        Self::Moderation,
        Self::ModerationUnavailable,
        Self::PromptLeak,
        Self::MedicalClaim,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CalorieTarget => "calorie-target",
            Self::MinorWeightLoss => "minor-weight-loss",
            Self::PregnancyWeightLoss => "pregnancy-weight-loss",
            Self::LossRate => "loss-rate",
            Self::AllergenConflict => "allergen-conflict",
            Self::CalorieFloor => "calorie-floor",
            Self::DangerousPractice => "dangerous-practice",
            Self::Moderation => "moderation",
            Self::ModerationUnavailable => "moderation-unavailable",
            Self::PromptLeak => "prompt-leak",
            Self::MedicalClaim => "medical-claim",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The text (or request) must not go out.
    Block,
    /// It may go out, flagged.
    Warn,
}

/// One thing a check found. `excerpt` quotes the text around it (for the caller and the
/// reviewer; never logged or audited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    pub message: String,
    pub excerpt: String,
}

impl Finding {
    pub fn new(code: FindingCode, message: String, excerpt: String) -> Self {
        Self {
            code,
            severity: Severity::Block,
            message,
            excerpt,
        }
    }

    pub fn warn(code: FindingCode, message: String, excerpt: String) -> Self {
        Self {
            severity: Severity::Warn,
            ..Self::new(code, message, excerpt)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafetyStatus {
    /// Nothing found.
    Passed,
    /// Only warnings: the text goes out with them.
    Flagged,
    /// A `block` finding: the text is withheld.
    Blocked,
}

impl SafetyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Flagged => "flagged",
            Self::Blocked => "blocked",
        }
    }
}

/// The verdict on one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyReport {
    pub status: SafetyStatus,
    pub findings: Vec<Finding>,
}

impl SafetyReport {
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        let status = if findings.iter().any(|f| f.severity == Severity::Block) {
            SafetyStatus::Blocked
        } else if findings.is_empty() {
            SafetyStatus::Passed
        } else {
            SafetyStatus::Flagged
        };
        Self { status, findings }
    }

    /// The report as the data plane shows it for a withheld text: the findings' codes
    /// and messages without their excerpts (which quote the text).
    pub fn withheld(&self) -> Self {
        Self {
            status: self.status,
            findings: self
                .findings
                .iter()
                .map(|f| Finding {
                    excerpt: String::new(),
                    ..f.clone()
                })
                .collect(),
        }
    }

    /// The codes found, each once, in order (for audit entries and counts: no text).
    pub fn codes(&self) -> Vec<FindingCode> {
        let mut codes: Vec<FindingCode> = self.findings.iter().map(|f| f.code).collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

/// The request checks: findings that refuse it before any model call (empty: go on).
pub fn precheck(profile: &ClientProfile, thresholds: &SafetyThresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    let floor = profile.calorie_floor(thresholds);
    let who = if profile.is_pregnant() {
        "a pregnant client"
    } else if profile.is_minor() {
        "a client under 18"
    } else {
        "an adult"
    };
    if let Some(target) = profile.calorie_target_kcal.filter(|t| *t < floor) {
        findings.push(Finding::new(
            FindingCode::CalorieTarget,
            format!(
                "A daily target of {target} kcal is under the floor of {floor} kcal for {who}."
            ),
            format!("client.calorie_target_kcal = {target}"),
        ));
    }
    let loss = profile.weekly_loss_g();
    let change = format!(
        "client.weekly_weight_change_kg = {}",
        profile.weekly_weight_change_kg.unwrap_or_default()
    );
    if loss > 0 && profile.is_minor() {
        findings.push(Finding::new(
            FindingCode::MinorWeightLoss,
            "Weight loss is not planned for a client under 18 (a paediatric clinician decides)."
                .into(),
            change.clone(),
        ));
    }
    if loss > 0 && profile.is_pregnant() {
        findings.push(Finding::new(
            FindingCode::PregnancyWeightLoss,
            "Weight loss is not planned during pregnancy (healthy gain is the goal).".into(),
            change.clone(),
        ));
    }
    if loss > thresholds.max_weekly_loss_g {
        findings.push(Finding::new(
            FindingCode::LossRate,
            format!(
                "A loss of {:.1} kg a week is faster than the maximum of {:.1} kg.",
                f64::from(loss) / 1000.0,
                f64::from(thresholds.max_weekly_loss_g) / 1000.0
            ),
            change,
        ));
    }
    findings
}

/// The checks on a model's text (moderation is the provider's, joined by the caller).
pub fn check_output(
    text: &str,
    profile: &ClientProfile,
    thresholds: &SafetyThresholds,
    system_prompt: &str,
) -> Vec<Finding> {
    checks::check_text(text, profile, thresholds, system_prompt)
}

/// The disclaimer a passed or flagged text ends with, unless the tenant set its own.
pub const DEFAULT_DISCLAIMER: &str = "This text was drafted with AI assistance from your \
dietitian's notes and reviewed against safety checks. It is general guidance, not \
medical advice: talk to your dietitian or doctor before changing your diet, especially \
if you have a medical condition, are pregnant, or take medication.";

/// Longest disclaimer a tenant may set.
pub const MAX_DISCLAIMER_CHARS: usize = 500;

#[cfg(test)]
mod tests;
