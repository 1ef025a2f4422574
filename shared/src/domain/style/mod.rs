//! The dietitian's voice (spec section 10): a style profile computed from their samples
//! ([`DietitianStyle`]), turned into style guidance for the prompt, a score for how close
//! a text is to it ([`style_score`]), and a deterministic composer that writes in it
//! ([`compose`]) for local mode without a model. Deterministic; no I/O
//! (`docs/style.md`: the features, the score's calibration and the evaluation).

pub mod compose;
pub mod eval;
mod features;
mod profile;
mod score;

pub use features::{TextFeatures, FUNCTION_WORDS, NUMERIC};
pub use profile::{
    DietitianStyle, Recurring, StyleProfile, StyleWarning, WarningCode, MIN_KIND_SAMPLES,
    MIN_SAMPLES,
};
pub use score::{distance, style_score};
use serde::{Deserialize, Serialize};

/// A generation's style: how close its text is to the profile it was written against,
/// and how many samples that profile came from (0: no profile, no score).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StyleScore {
    pub score: Option<f64>,
    pub profile_samples: u32,
}

/// Scores are finite, rounded to three decimals (never NaN), so equality is total.
impl Eq for StyleScore {}

impl StyleScore {
    pub const NONE: StyleScore = StyleScore {
        score: None,
        profile_samples: 0,
    };

    /// The score of `text` against `profile`, or none without one.
    pub fn of(text: &str, profile: Option<&StyleProfile>) -> Self {
        match profile {
            Some(p) if p.samples > 0 => StyleScore {
                score: Some(style_score(text, p)),
                profile_samples: p.samples,
            },
            _ => Self::NONE,
        }
    }
}

#[cfg(test)]
mod tests;
