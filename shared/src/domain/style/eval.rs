//! Scoring the style profile and the composer against the committed corpus of fictional
//! dietitians (`tests/eval/style/`): attribution (is a text nearest its own dietitian's
//! profile among all?) and separation (does it score higher against its own profile than
//! against every other?). `scripts/eval-style` prints it; `shared/tests/style_eval.rs`
//! holds it to the targets.

use super::compose::{compose, Brief};
use super::{distance, style_score, DietitianStyle, StyleProfile, TextFeatures};
use crate::domain::content::{ContentKind, DietitianId, Sample};
use crate::domain::safety::ClientProfile;
use crate::domain::{TenantId, Timestamp};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusSample {
    pub kind: ContentKind,
    pub title: String,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusDietitian {
    pub id: String,
    pub name: String,
    /// How the voice was meant to sound (for readers of the corpus).
    pub voice: String,
    pub samples: Vec<CorpusSample>,
}

/// One generation request of the evaluation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalBrief {
    pub kind: ContentKind,
    pub input: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub client: Option<ClientProfile>,
}

impl CorpusDietitian {
    /// The samples as stored samples (ids in corpus order), optionally without one.
    pub fn samples_without(&self, left_out: Option<usize>) -> Vec<Sample> {
        self.samples
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != left_out)
            .map(|(i, s)| {
                let mut sample = Sample::new(
                    TenantId::new("eval"),
                    DietitianId::new(&self.id),
                    s.kind,
                    Some(&s.title),
                    &s.content,
                    Timestamp::from_millis(1_800_000_000_000 + i as i64),
                )
                .expect("corpus samples are valid");
                sample.id = crate::domain::content::SampleId::new(format!("{:032x}", i + 1));
                sample
            })
            .collect()
    }

    pub fn style(&self, left_out: Option<usize>) -> DietitianStyle {
        DietitianStyle::from_samples(&self.samples_without(left_out))
            .expect("corpus dietitians have samples")
    }
}

/// The verdicts on a set of texts, each written by (or for) a known dietitian.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    pub texts: usize,
    /// Texts whose features are nearest their own dietitian's profile.
    pub nearest_own: usize,
    /// Texts whose score against their own profile is above every other dietitian's.
    pub own_above_all: usize,
    pub own_scores: Vec<f64>,
    pub other_scores: Vec<f64>,
    /// (dietitian, text index, nearest dietitian, own score, best other score) of every
    /// text not attributed to its own dietitian.
    pub misses: Vec<(String, usize, String, f64, f64)>,
}

impl Attribution {
    pub fn accuracy(&self) -> f64 {
        self.nearest_own as f64 / self.texts.max(1) as f64
    }

    pub fn separation(&self) -> f64 {
        self.own_above_all as f64 / self.texts.max(1) as f64
    }

    fn record(&mut self, own: &str, index: usize, text: &str, profiles: &[(&str, &StyleProfile)]) {
        let features = TextFeatures::of(text);
        let nearest = profiles
            .iter()
            .min_by(|a, b| distance(&features, a.1).total_cmp(&distance(&features, b.1)))
            .map(|(id, _)| *id)
            .unwrap_or("");
        let mut own_score = 0.0;
        let mut best_other: f64 = 0.0;
        for (id, profile) in profiles {
            let score = style_score(text, profile);
            if *id == own {
                own_score = score;
                self.own_scores.push(score);
            } else {
                best_other = best_other.max(score);
                self.other_scores.push(score);
            }
        }
        self.texts += 1;
        if nearest == own {
            self.nearest_own += 1;
        }
        if own_score > best_other {
            self.own_above_all += 1;
        }
        if nearest != own || own_score <= best_other {
            self.misses.push((
                own.to_owned(),
                index,
                nearest.to_owned(),
                own_score,
                best_other,
            ));
        }
    }
}

/// Each sample against its own dietitian's profile built without it, and against every
/// other dietitian's whole profile.
pub fn leave_one_out(dietitians: &[CorpusDietitian]) -> Attribution {
    let full: Vec<DietitianStyle> = dietitians.iter().map(|d| d.style(None)).collect();
    let mut result = Attribution::default();
    for (a, dietitian) in dietitians.iter().enumerate() {
        for (i, sample) in dietitian.samples.iter().enumerate() {
            let own = dietitian.style(Some(i));
            let profiles: Vec<(&str, &StyleProfile)> = dietitians
                .iter()
                .enumerate()
                .map(|(b, d)| {
                    let style = if a == b { &own } else { &full[b] };
                    (d.id.as_str(), &style.overall)
                })
                .collect();
            result.record(&dietitian.id, i, &sample.content, &profiles);
        }
    }
    result
}

/// Texts written for every dietitian and brief by `write` (given the dietitian's whole
/// style), each against every dietitian's profile for the brief's kind.
pub fn written(
    dietitians: &[CorpusDietitian],
    briefs: &[EvalBrief],
    mut write: impl FnMut(&CorpusDietitian, &DietitianStyle, &EvalBrief) -> String,
) -> (Attribution, Vec<(String, String)>) {
    let styles: Vec<DietitianStyle> = dietitians.iter().map(|d| d.style(None)).collect();
    let mut result = Attribution::default();
    let mut texts = Vec::new();
    for (a, dietitian) in dietitians.iter().enumerate() {
        for (i, brief) in briefs.iter().enumerate() {
            let text = write(dietitian, &styles[a], brief);
            let profiles: Vec<(&str, &StyleProfile)> = dietitians
                .iter()
                .zip(&styles)
                .map(|(d, s)| (d.id.as_str(), s.for_kind(brief.kind)))
                .collect();
            result.record(&dietitian.id, i, &text, &profiles);
            texts.push((dietitian.id.clone(), text));
        }
    }
    (result, texts)
}

/// The composer as the local provider runs it.
pub fn composed(style: &DietitianStyle, brief: &EvalBrief, max_chars: usize) -> String {
    compose(
        &Brief {
            kind: brief.kind,
            input: &brief.input,
            client: brief.client.as_ref(),
            profile: Some(style.for_kind(brief.kind)),
        },
        max_chars,
    )
}
