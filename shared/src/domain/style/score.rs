//! How close a text is to a style profile: 1.0 reads like the dietitian's own samples,
//! 0.0 like somebody else. Calibrated on `tests/eval/style/` (see `docs/style.md`).

use super::features::{TextFeatures, FUNCTION_WORDS, NUMERIC};
use super::profile::StyleProfile;

/// No feature counts for more than this many units of difference (one wild feature
/// must not decide).
const CAP: f64 = 3.0;
/// A function word's rate differs by this many per mille before it counts as one unit.
const FUNCTION_WORD_UNIT: f64 = 12.0;
/// The distance at which the score is 1/e (calibration).
const TEMPERATURE: f64 = 1.1;

/// Mean capped difference, in units, between a text's features and a profile's: each
/// numeric feature against its unit widened by the profile's own spread (a writer who
/// varies is allowed to vary), then the function words (Burrows' Delta, with a fixed
/// unit). The numeric features weigh twice the function words.
pub fn distance(text: &TextFeatures, profile: &StyleProfile) -> f64 {
    let numeric: Vec<f64> = NUMERIC
        .iter()
        .map(|(name, unit)| {
            let spread = profile.spread.get(*name).copied().unwrap_or(0.0);
            let d = (text.value(name) - profile.feature(name)).abs() / (unit + spread);
            d.min(CAP)
        })
        .collect();
    let words: Vec<f64> = FUNCTION_WORDS
        .iter()
        .map(|w| {
            let a = text.function_words.get(*w).copied().unwrap_or(0.0);
            let b = profile.function_words.get(*w).copied().unwrap_or(0.0);
            ((a - b).abs() / FUNCTION_WORD_UNIT).min(CAP)
        })
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    (2.0 * mean(&numeric) + mean(&words)) / 3.0
}

/// Signature lines: the profile's opening (or lead-in) and sign-off, when it has them.
/// Each one the text shares brings it closer; each it lacks, further.
fn signature(text: &str, features: &TextFeatures, profile: &StyleProfile) -> f64 {
    let key = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut adjust = 0.0;
    if !profile.openings.is_empty() || !profile.lead_ins.is_empty() {
        let start = key(&text.chars().take(60).collect::<String>());
        let shares = profile
            .openings
            .iter()
            .chain(&profile.lead_ins)
            .any(|o| start.starts_with(&key(&o.text)));
        adjust += if shares { -0.1 } else { 0.15 };
    }
    if !profile.sign_offs.is_empty() {
        let shares = features
            .sign_off
            .as_deref()
            .is_some_and(|s| profile.sign_offs.iter().any(|o| key(&o.text) == key(s)));
        adjust += if shares { -0.1 } else { 0.15 };
    }
    let (text_has, profile_has) = (!features.emoji.is_empty(), !profile.emoji.is_empty());
    if text_has != profile_has {
        adjust += 0.15;
    }
    adjust
}

/// The features' distance with the signature lines' adjustment (never below 0).
pub(crate) fn overall_distance(text: &str, profile: &StyleProfile) -> f64 {
    overall_distance_of(text, &TextFeatures::of(text), profile)
}

/// [`overall_distance`] of a text already measured.
pub(crate) fn overall_distance_of(
    text: &str,
    features: &TextFeatures,
    profile: &StyleProfile,
) -> f64 {
    (distance(features, profile) + signature(text, features, profile)).max(0.0)
}

/// The style score of `text` against `profile`, 0.0–1.0 (three decimals).
pub fn style_score(text: &str, profile: &StyleProfile) -> f64 {
    let d = overall_distance(text, profile);
    ((-d / TEMPERATURE).exp() * 1000.0).round() / 1000.0
}
