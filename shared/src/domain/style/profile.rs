//! A dietitian's style profile: their samples' features averaged (overall and per kind),
//! how much the samples vary, recurring openings, sign-offs and phrases, and warnings
//! about the samples themselves. Turned into style guidance for the prompt.

use super::features::{frame, sentences, TextFeatures, FUNCTION_WORDS, NUMERIC};
use crate::domain::content::{ContentKind, Sample, SampleId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Fewer samples than this: the profile is unreliable (a warning).
pub const MIN_SAMPLES: usize = 3;
/// A kind's own profile is used for that kind from this many samples on.
pub const MIN_KIND_SAMPLES: usize = 3;

/// A line or phrase that recurs, and in how many samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    pub text: String,
    pub samples: u32,
}

/// The style of a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleProfile {
    pub samples: u32,
    pub words: u32,
    /// The samples' mean of each numeric feature.
    pub features: BTreeMap<String, f64>,
    /// How much the samples differ from each other, per feature (standard deviation).
    pub spread: BTreeMap<String, f64>,
    /// Mean per-thousand-words rate of each function word.
    pub function_words: BTreeMap<String, f64>,
    /// Openings on their own line ("Dear friend,"), most frequent first.
    pub openings: Vec<Recurring>,
    /// Lead-ins the first sentence starts with ("Right then,"), in two samples or more.
    pub lead_ins: Vec<Recurring>,
    pub sign_offs: Vec<Recurring>,
    /// Phrases of two to four words found in two samples or more.
    pub phrases: Vec<Recurring>,
    pub emoji: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningCode {
    TooFewSamples,
    MixedKinds,
    MachineWritten,
    Outlier,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StyleWarning {
    pub code: WarningCode,
    pub message: String,
    /// The sample it is about, if one.
    pub sample_id: Option<String>,
}

/// A dietitian's style: overall, per kind, what it came from, and warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DietitianStyle {
    pub overall: StyleProfile,
    pub by_kind: BTreeMap<String, StyleProfile>,
    /// The samples it was computed from, in id order.
    pub sample_ids: Vec<String>,
    pub warnings: Vec<StyleWarning>,
}

impl DietitianStyle {
    /// The style of `samples` (any order); `None` when there are none.
    pub fn from_samples(samples: &[Sample]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<&Sample> = samples.iter().collect();
        sorted.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        let texts: Vec<&str> = sorted.iter().map(|s| s.content.as_str()).collect();
        let overall = StyleProfile::of(&texts);
        let mut by_kind = BTreeMap::new();
        for kind in ContentKind::ALL {
            let of_kind: Vec<&str> = sorted
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| s.content.as_str())
                .collect();
            if !of_kind.is_empty() {
                by_kind.insert(kind.as_str().to_owned(), StyleProfile::of(&of_kind));
            }
        }
        let warnings = warnings(&sorted, &by_kind);
        Some(Self {
            overall,
            by_kind,
            sample_ids: sorted.iter().map(|s| s.id.as_str().to_owned()).collect(),
            warnings,
        })
    }

    /// The profile a text of `kind` is written and scored against: the kind's own when
    /// it has enough samples, else the overall one.
    pub fn for_kind(&self, kind: ContentKind) -> &StyleProfile {
        self.by_kind
            .get(kind.as_str())
            .filter(|p| p.samples as usize >= MIN_KIND_SAMPLES)
            .unwrap_or(&self.overall)
    }

    /// Whether it was computed from exactly these samples.
    pub fn is_of(&self, ids: &[SampleId]) -> bool {
        let mut ids: Vec<&str> = ids.iter().map(SampleId::as_str).collect();
        ids.sort_unstable();
        ids == self
            .sample_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Lines and phrases are compared without case, punctuation or spacing.
fn key(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Counts in how many texts each line occurs (by [`key`]), keeping the first spelling.
fn recurring(lines: impl Iterator<Item = Option<String>>, minimum: u32) -> Vec<Recurring> {
    let mut counts: BTreeMap<String, (String, u32)> = BTreeMap::new();
    for line in lines.flatten() {
        let entry = counts.entry(key(&line)).or_insert((line, 0));
        entry.1 += 1;
    }
    let mut out: Vec<Recurring> = counts
        .into_values()
        .filter(|(_, n)| *n >= minimum)
        .map(|(text, samples)| Recurring { text, samples })
        .collect();
    out.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.text.cmp(&b.text)));
    out
}

/// Phrases of 2–4 words that recur across texts, not made only of function words, each
/// with its spelling as first written.
fn phrases(texts: &[&str]) -> Vec<Recurring> {
    let mut seen: BTreeMap<Vec<String>, BTreeSet<usize>> = BTreeMap::new();
    for (t, text) in texts.iter().enumerate() {
        let (_, body, _) = frame(text);
        for paragraph in &body {
            for sentence in sentences(paragraph) {
                let words = &sentence.words;
                for n in 2..=4 {
                    for window in words.windows(n) {
                        let content = window
                            .iter()
                            .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
                            .count();
                        let numeric = window.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()));
                        if content >= 2 && !numeric {
                            seen.entry(window.to_vec()).or_default().insert(t);
                        }
                    }
                }
            }
        }
    }
    let mut found: Vec<(Vec<String>, usize)> = seen
        .into_iter()
        .filter(|(_, in_texts)| in_texts.len() >= 2)
        .map(|(words, in_texts)| (words, in_texts.len()))
        .collect();
    // Longest and most frequent first; a phrase inside a kept one (as often) is dropped.
    found.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.0.len().cmp(&a.0.len()))
            .then(a.0.cmp(&b.0))
    });
    let mut kept: Vec<(Vec<String>, usize)> = Vec::new();
    for (words, count) in found {
        let inside = kept.iter().any(|(longer, n)| {
            *n >= count && longer.windows(words.len()).any(|w| w == words.as_slice())
        });
        if !inside {
            kept.push((words, count));
        }
        if kept.len() == 6 {
            break;
        }
    }
    kept.into_iter()
        .map(|(words, count)| Recurring {
            // As spelled where it starts a sentence, if it ever does (the composer may
            // then use it as a sentence of its own), else as first written.
            text: texts
                .iter()
                .flat_map(|t| spellings(t, &words))
                .max_by_key(|s| s.starts_with(char::is_uppercase))
                .unwrap_or_else(|| words.join(" ")),
            samples: count as u32,
        })
        .collect()
}

/// Every spelling of `words` in `text` (case and punctuation between them kept).
fn spellings(text: &str, words: &[String]) -> Vec<String> {
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inner = c == '\'' && start.is_some();
        if c.is_alphanumeric() || inner {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            spans.push((s, i, text[s..i].to_lowercase()));
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len(), text[s..].to_lowercase()));
    }
    spans
        .windows(words.len())
        .filter(|w| w.iter().zip(words).all(|(span, word)| span.2 == *word))
        .map(|w| text[w[0].0..w[words.len() - 1].1].to_owned())
        .collect()
}

impl StyleProfile {
    pub fn of(texts: &[&str]) -> Self {
        let measured: Vec<TextFeatures> = texts.iter().map(|t| TextFeatures::of(t)).collect();
        let refs: Vec<&TextFeatures> = measured.iter().collect();
        Self::from_measured(&refs, phrases(texts))
    }

    /// The profile of texts already measured, with their recurring phrases.
    fn from_measured(measured: &[&TextFeatures], phrases: Vec<Recurring>) -> Self {
        let mut features = BTreeMap::new();
        let mut spread = BTreeMap::new();
        let names = NUMERIC
            .iter()
            .map(|(n, _)| *n)
            .chain(super::features::EXTRA);
        for name in names {
            let values: Vec<f64> = measured.iter().map(|f| f.value(name)).collect();
            let m = mean(&values);
            let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                / values.len().max(1) as f64)
                .sqrt();
            features.insert(name.to_owned(), round3(m));
            spread.insert(name.to_owned(), round3(sd));
        }
        let function_words = FUNCTION_WORDS
            .iter()
            .map(|fw| {
                let values: Vec<f64> = measured
                    .iter()
                    .map(|f| f.function_words.get(*fw).copied().unwrap_or(0.0))
                    .collect();
                ((*fw).to_owned(), round3(mean(&values)))
            })
            .collect();
        let mut emoji: Vec<String> = Vec::new();
        for e in measured.iter().flat_map(|f| f.emoji.iter()) {
            if !emoji.contains(e) {
                emoji.push(e.clone());
            }
        }
        let minimum = if measured.len() >= 2 { 2 } else { 1 };
        Self {
            samples: measured.len() as u32,
            words: measured.iter().map(|f| f.words).sum(),
            features,
            spread,
            function_words,
            // A line used once is a topic sentence, not a habit: openings and sign-offs
            // must recur (when there are two samples or more).
            openings: recurring(measured.iter().map(|f| f.opening.clone()), minimum),
            lead_ins: recurring(measured.iter().map(|f| f.lead_in.clone()), minimum),
            sign_offs: recurring(measured.iter().map(|f| f.sign_off.clone()), minimum),
            phrases,
            emoji,
        }
    }

    pub fn feature(&self, name: &str) -> f64 {
        self.features.get(name).copied().unwrap_or(0.0)
    }

    /// The register analysis the prompt carries (data for the model, like the
    /// examples): what the samples measurably do.
    pub fn guidance(&self) -> String {
        let f = |name: &str| self.feature(name);
        let mut lines = vec![format!(
            "Measured on {} of the dietitian's own samples ({} words):",
            self.samples, self.words
        )];
        let length = match f("sentence_words") {
            n if n < 9.0 => "short",
            n if n < 16.0 => "medium-length",
            _ => "long",
        };
        lines.push(format!(
            "- Sentences average {:.0} words ({length}); paragraphs of about {:.0} sentences.",
            f("sentence_words"),
            f("paragraph_sentences").max(1.0)
        ));
        let mut voice = Vec::new();
        if f("second_person_per_100_words") >= 2.0 {
            voice.push("addresses the reader as \"you\"");
        }
        if f("first_plural_per_100_words") >= 1.5 {
            voice.push("writes as \"we\" (\"we'll\", \"let's\")");
        }
        if f("first_singular_per_100_words") >= 1.5 {
            voice.push("speaks as \"I\", from personal experience");
        }
        if voice.is_empty() {
            voice.push("impersonal: little \"I\", \"we\" or \"you\"");
        }
        lines.push(format!("- Voice: {}.", voice.join("; ")));
        let often = |rate: f64| match rate {
            r if r >= 0.3 => "often",
            r if r >= 0.1 => "sometimes",
            r if r > 0.0 => "rarely",
            _ => "never",
        };
        lines.push(format!(
            "- Punctuation: exclamation marks {}, questions {}, dashes {}, ellipses {}, semicolons {}, parentheses {}.",
            often(f("exclamations")),
            often(f("questions")),
            often(f("dashes")),
            often(f("ellipses")),
            often(f("semicolons")),
            often(f("parentheses")),
        ));
        lines.push(format!(
            "- Contractions {} ({:.1} per 100 words); formality {:.2} of 1 (average word {:.1} letters).",
            if f("contractions_per_100_words") >= 2.0 { "used freely" } else if f("contractions_per_100_words") > 0.3 { "used now and then" } else { "avoided" },
            f("contractions_per_100_words"),
            f("formality"),
            f("word_length"),
        ));
        if f("capitals_per_100_words") >= 0.5 {
            lines.push("- Puts single words in CAPITALS for emphasis.".into());
        }
        if f("list_lines") >= 0.3 {
            lines.push("- Writes in short dash lists.".into());
        }
        if !self.emoji.is_empty() {
            lines.push(format!("- Uses emoji: {}.", self.emoji.join(" ")));
        }
        let quoted = |items: &[Recurring]| {
            items
                .iter()
                .take(3)
                .map(|r| format!("\"{}\"", r.text.replace('\n', " / ")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.openings.is_empty() {
            lines.push(format!("- Opens with {}.", quoted(&self.openings)));
        } else if !self.lead_ins.is_empty() {
            lines.push(format!("- Starts with {}.", quoted(&self.lead_ins)));
        }
        if !self.sign_offs.is_empty() {
            lines.push(format!("- Signs off {}.", quoted(&self.sign_offs)));
        }
        if !self.phrases.is_empty() {
            lines.push(format!("- Recurring phrases: {}.", quoted(&self.phrases)));
        }
        lines.join("\n")
    }
}

/// Phrases that large language models use and people rarely do.
const MACHINE_TELLS: &[&str] = &[
    "as an ai",
    "language model",
    "i hope this helps",
    "certainly!",
    "delve",
    "it's important to note",
    "it is important to note",
    "in conclusion",
    "tapestry",
    "embark on",
    "in today's fast-paced",
    "navigating the",
    "feel free to reach out",
    "here's a comprehensive",
    "**",
    "###",
    "a testament to",
    "holistic approach",
];

/// What a sample's wording gives away: the tells it contains.
fn machine_tells(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    MACHINE_TELLS
        .iter()
        .copied()
        .filter(|t| lower.contains(t))
        .collect()
}

fn warnings(samples: &[&Sample], by_kind: &BTreeMap<String, StyleProfile>) -> Vec<StyleWarning> {
    let mut out = Vec::new();
    if samples.len() < MIN_SAMPLES {
        out.push(StyleWarning {
            code: WarningCode::TooFewSamples,
            message: format!(
                "{} sample(s): the profile needs at least {MIN_SAMPLES} to be reliable.",
                samples.len()
            ),
            sample_id: None,
        });
    }
    if by_kind.len() > 1 {
        let kinds: Vec<String> = by_kind
            .iter()
            .map(|(k, p)| format!("{k} ({})", p.samples))
            .collect();
        out.push(StyleWarning {
            code: WarningCode::MixedKinds,
            message: format!(
                "Samples of {} kinds: {}. Each kind with at least {MIN_KIND_SAMPLES} samples gets its own profile; the others use the mixed overall one.",
                by_kind.len(),
                kinds.join(", ")
            ),
            sample_id: None,
        });
    }
    for sample in samples {
        let tells = machine_tells(&sample.content);
        let strong = tells
            .iter()
            .any(|t| ["as an ai", "language model", "i hope this helps"].contains(t));
        if strong || tells.len() >= 2 {
            out.push(StyleWarning {
                code: WarningCode::MachineWritten,
                message: format!(
                    "Looks machine-written ({}): a model imitating a model's text drifts from the dietitian's voice.",
                    tells.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
                ),
                sample_id: Some(sample.id.as_str().to_owned()),
            });
        }
    }
    // An outlier: far from the others, compared with how far the samples usually are
    // from each other (leave one out; four samples or more).
    if samples.len() >= 4 {
        // Each sample measured once; each left-out profile built from the others'
        // measurements (phrases play no part in the distance).
        let measured: Vec<TextFeatures> = samples
            .iter()
            .map(|s| TextFeatures::of(&s.content))
            .collect();
        let distances: Vec<f64> = (0..samples.len())
            .map(|i| {
                let others: Vec<&TextFeatures> = measured
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, f)| f)
                    .collect();
                let profile = StyleProfile::from_measured(&others, Vec::new());
                super::score::overall_distance_of(&samples[i].content, &measured[i], &profile)
            })
            .collect();
        let mut sorted = distances.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        for (sample, d) in samples.iter().zip(&distances) {
            if *d > (2.0 * median).max(0.8) {
                out.push(StyleWarning {
                    code: WarningCode::Outlier,
                    message: format!(
                        "Unlike the other samples (distance {d:.2}, typical {median:.2}): another author, another kind of text, or a template?"
                    ),
                    sample_id: Some(sample.id.as_str().to_owned()),
                });
            }
        }
    }
    out
}
