//! What a text's style is made of, measured: sentence and paragraph length, vocabulary,
//! function words, person and address, punctuation habits, contractions, capitals,
//! lists, and the opening and sign-off lines. Deterministic; no I/O.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Function words whose rates tell authors apart (Mosteller & Wallace; Burrows' Delta):
/// frequent, topic-independent, chosen without thinking.
pub const FUNCTION_WORDS: [&str; 36] = [
    "the", "a", "and", "but", "or", "of", "to", "in", "on", "for", "with", "at", "as", "is", "are",
    "be", "it", "this", "that", "not", "will", "can", "should", "would", "so", "if", "just", "all",
    "your", "you", "we", "our", "i", "my", "me", "us",
];

/// The measurable features of one text (its body: the opening and sign-off lines are
/// taken apart, so a short text is not all greeting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextFeatures {
    pub words: u32,
    pub sentences: u32,
    pub paragraphs: u32,
    /// Rates and means, by feature name (see [`NUMERIC`]).
    pub values: BTreeMap<String, f64>,
    /// Per-thousand-words rate of each of [`FUNCTION_WORDS`].
    pub function_words: BTreeMap<String, f64>,
    pub opening: Option<String>,
    /// The words the first sentence starts with, when they read as a greeting ("Right
    /// then,"): up to three words before a comma or an exclamation mark.
    #[serde(default)]
    pub lead_in: Option<String>,
    pub sign_off: Option<String>,
    /// Emoji in the text, in order of first use.
    pub emoji: Vec<String>,
}

/// The numeric features: name, and what one unit of difference is worth when two texts
/// are compared (the smallest spread that still tells two writers apart; see
/// `docs/style.md`). Rates are per sentence unless the name says otherwise.
pub const NUMERIC: [(&str, f64); 16] = [
    ("sentence_words", 2.5),
    ("sentence_words_spread", 2.0),
    ("paragraph_sentences", 0.8),
    ("word_length", 0.25),
    ("vocabulary_richness", 0.05),
    ("first_singular_per_100_words", 0.8),
    ("first_plural_per_100_words", 0.8),
    ("second_person_per_100_words", 1.0),
    ("exclamations", 0.08),
    ("questions", 0.06),
    ("dashes", 0.08),
    ("ellipses", 0.05),
    ("semicolons", 0.05),
    ("parentheses", 0.05),
    ("contractions_per_100_words", 0.8),
    ("capitals_per_100_words", 0.4),
];

/// Also measured, reported, not part of the distance (they are folded into the others,
/// or are counted as emoji and list lines in the composer).
pub const EXTRA: [&str; 3] = ["emoji_per_100_words", "list_lines", "formality"];

/// One sentence of a text, as words and its closing mark.
#[derive(Debug, Clone)]
pub(crate) struct Sentence {
    pub words: Vec<String>,
    pub end: char,
}

/// A word: letters, digits and inner apostrophes, lower-cased; `raw` keeps its case.
fn words_of(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner_apostrophe = (c == '\'' || c == '\u{2019}')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if c.is_alphanumeric() || inner_apostrophe {
            current.push(if inner_apostrophe { '\'' } else { c });
        } else if !current.is_empty() {
            out.push((current.to_lowercase(), std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        out.push((current.to_lowercase(), current));
    }
    out
}

pub(crate) fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

/// Paragraphs: separated by blank lines.
pub(crate) fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        out.push(current.join("\n"));
    }
    out
}

/// A short first paragraph is an opening ("Dear friend,", "Hey champ!").
const MAX_OPENING_WORDS: usize = 6;
/// A short last paragraph is a sign-off ("Kind regards,\nDr. M. Lee, RD", "— Anna").
const MAX_SIGN_OFF_WORDS: usize = 8;

/// Splits a text into its opening, body and sign-off.
pub(crate) fn frame(text: &str) -> (Option<String>, Vec<String>, Option<String>) {
    let mut body = paragraphs(text);
    let short = |p: &String, max: usize| {
        let n = words_of(p).len();
        n <= max
            && !p
                .lines()
                .any(|l| l.trim_start().starts_with(['–', '-', '*', '•']))
    };
    let opening = if body.len() > 1 && short(&body[0], MAX_OPENING_WORDS) {
        Some(body.remove(0))
    } else {
        None
    };
    let sign_off = if body.len() > 1 && short(body.last().expect("non-empty"), MAX_SIGN_OFF_WORDS) {
        body.pop()
    } else {
        None
    };
    (opening, body, sign_off)
}

/// Sentences: ended by `.`, `!`, `?` or `…` before a space or the end (a run such as
/// "?!" or "..." ends once), and by a line break (list items are sentences).
pub(crate) fn sentences(paragraph: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    for line in paragraph.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut start = 0;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if matches!(c, '.' | '!' | '?' | '…') {
                let mut j = i;
                while j + 1 < chars.len() && matches!(chars[j + 1], '.' | '!' | '?' | '…') {
                    j += 1;
                }
                let at_break = chars
                    .get(j + 1)
                    .is_none_or(|n| n.is_whitespace() || *n == '"' || *n == ')');
                // "Dr." and "e.g." are not ends: a lone dot after a short capitalised or
                // dotted abbreviation.
                let piece: String = chars[start..=j].iter().collect();
                let last_word = piece.split_whitespace().last().unwrap_or("");
                let abbreviation = c == '.'
                    && j == i
                    && (["dr.", "mr.", "ms.", "mrs.", "e.g.", "i.e.", "etc.", "vs."]
                        .contains(&last_word.to_lowercase().as_str()));
                if at_break && !abbreviation {
                    let words: Vec<String> = words_of(&piece).into_iter().map(|(w, _)| w).collect();
                    if !words.is_empty() {
                        let end = if chars[i..=j].contains(&'?') {
                            '?'
                        } else if chars[i..=j].contains(&'!') {
                            '!'
                        } else if j > i || c == '…' {
                            '…'
                        } else {
                            '.'
                        };
                        out.push(Sentence { words, end });
                    }
                    start = j + 1;
                }
                i = j + 1;
                continue;
            }
            i += 1;
        }
        let rest: String = chars[start.min(chars.len())..].iter().collect();
        let words: Vec<String> = words_of(&rest).into_iter().map(|(w, _)| w).collect();
        if !words.is_empty() {
            out.push(Sentence { words, end: ' ' });
        }
    }
    out
}

/// Moving-average type-token ratio over windows of 40 words (stable across lengths,
/// unlike a plain ratio); the plain ratio for shorter texts.
fn vocabulary_richness(words: &[String]) -> f64 {
    const WINDOW: usize = 40;
    if words.is_empty() {
        return 0.0;
    }
    let window = WINDOW.min(words.len());
    // Distinct words of a sliding window, kept up to date as it moves (one step each).
    let mut counts: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for w in &words[..window] {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut total = counts.len() as f64;
    let windows = words.len() - window + 1;
    for i in 1..windows {
        let out = words[i - 1].as_str();
        if let Some(n) = counts.get_mut(out) {
            *n -= 1;
            if *n == 0 {
                counts.remove(out);
            }
        }
        *counts.entry(words[i + window - 1].as_str()).or_default() += 1;
        total += counts.len() as f64;
    }
    total / windows as f64 / window as f64
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

fn spread(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len().max(1) as f64).sqrt()
}

impl TextFeatures {
    /// Measures `text`.
    pub fn of(text: &str) -> Self {
        let (opening, body, sign_off) = frame(text);
        let body_text = body.join("\n\n");
        let all_sentences: Vec<Sentence> = body.iter().flat_map(|p| sentences(p)).collect();
        let words: Vec<(String, String)> = words_of(&body_text);
        let lower: Vec<String> = words.iter().map(|(w, _)| w.clone()).collect();
        let n_words = lower.len().max(1) as f64;
        let n_sentences = all_sentences.len().max(1) as f64;
        let per_100 = |count: usize| count as f64 * 100.0 / n_words;
        let per_sentence = |count: usize| count as f64 / n_sentences;
        let count_words = |set: &[&str]| lower.iter().filter(|w| set.contains(&w.as_str())).count();
        let lengths: Vec<f64> = all_sentences.iter().map(|s| s.words.len() as f64).collect();
        let paragraph_sentences: Vec<f64> = body
            .iter()
            .map(|p| sentences(p).len() as f64)
            .filter(|n| *n > 0.0)
            .collect();
        let chars: Vec<char> = body_text.chars().collect();
        let count_char = |c: char| chars.iter().filter(|x| **x == c).count();
        // Dashes between words: spaced ("a – b", "a - b", "a — b") or an unspaced em
        // dash ("a—b"); a dash that starts a list line is a list, not a dash.
        let spaced_em = body_text.matches(" \u{2014} ").count();
        let dashes = spaced_em
            + body_text.matches(" \u{2013} ").count()
            + body_text.matches(" - ").count()
            + count_char('\u{2014}').saturating_sub(spaced_em);
        let ellipses = body_text.matches("...").count() + count_char('…');
        let lines: Vec<&str> = body_text.lines().filter(|l| !l.trim().is_empty()).collect();
        let list_lines = lines
            .iter()
            .filter(|l| l.trim_start().starts_with(['–', '-', '*', '•']))
            .count();
        let mut emoji: Vec<String> = Vec::new();
        for c in text.chars().filter(|c| is_emoji(*c)) {
            let e = c.to_string();
            if !emoji.contains(&e) {
                emoji.push(e);
            }
        }
        let emoji_count = body_text.chars().filter(|c| is_emoji(*c)).count();
        let capitals = words
            .iter()
            .filter(|(_, raw)| {
                raw.chars().count() >= 2
                    && raw.chars().all(|c| c.is_uppercase())
                    && !["RD", "TV", "OK", "UK", "US", "EU", "BMI", "GP"].contains(&raw.as_str())
            })
            .count();
        let contractions = lower
            .iter()
            .filter(|w| {
                (w.contains('\'') && !w.ends_with("'s"))
                    || [
                        "let's", "it's", "that's", "what's", "here's", "there's", "he's", "she's",
                    ]
                    .contains(&w.as_str())
            })
            .count();
        let word_length = mean(
            &lower
                .iter()
                .filter(|w| w.chars().all(char::is_alphabetic))
                .map(|w| w.chars().count() as f64)
                .collect::<Vec<_>>(),
        );
        let mut values = BTreeMap::new();
        let mut set = |name: &str, value: f64| {
            values.insert(name.to_owned(), (value * 1000.0).round() / 1000.0);
        };
        set("sentence_words", mean(&lengths));
        set("sentence_words_spread", spread(&lengths));
        set("paragraph_sentences", mean(&paragraph_sentences));
        set("word_length", word_length);
        set("vocabulary_richness", vocabulary_richness(&lower));
        set(
            "first_singular_per_100_words",
            per_100(count_words(&[
                "i", "me", "my", "i'm", "i've", "i'd", "i'll", "mine",
            ])),
        );
        set(
            "first_plural_per_100_words",
            per_100(count_words(&[
                "we", "us", "our", "we'll", "we're", "we've", "let's", "ours",
            ])),
        );
        set(
            "second_person_per_100_words",
            per_100(count_words(&[
                "you", "your", "you're", "you'll", "you've", "you'd", "yours", "yourself",
            ])),
        );
        set(
            "exclamations",
            per_sentence(all_sentences.iter().filter(|s| s.end == '!').count()),
        );
        set(
            "questions",
            per_sentence(all_sentences.iter().filter(|s| s.end == '?').count()),
        );
        set("dashes", per_sentence(dashes));
        set("ellipses", per_sentence(ellipses));
        set("semicolons", per_sentence(count_char(';')));
        set("parentheses", per_sentence(count_char('(')));
        set("contractions_per_100_words", per_100(contractions));
        set("capitals_per_100_words", per_100(capitals));
        set("emoji_per_100_words", per_100(emoji_count));
        set("list_lines", list_lines as f64 / lines.len().max(1) as f64);
        let formality = formality(&values);
        values.insert("formality".into(), (formality * 1000.0).round() / 1000.0);
        let function_words = FUNCTION_WORDS
            .iter()
            .map(|fw| {
                let count = lower.iter().filter(|w| w == fw).count();
                ((*fw).to_owned(), (count as f64 * 1000.0 / n_words).round())
            })
            .collect();
        Self {
            words: lower.len() as u32,
            sentences: all_sentences.len() as u32,
            paragraphs: body.len() as u32,
            values,
            function_words,
            opening: opening.map(|o| o.trim().to_owned()),
            lead_in: body.first().and_then(|p| lead_in(p)),
            sign_off: sign_off.map(|s| s.trim().to_owned()),
            emoji,
        }
    }

    pub fn value(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }
}

/// "Right then," or "Hey champ!" at the start of the first sentence: up to three words
/// followed by a comma or an exclamation mark.
fn lead_in(body_first: &str) -> Option<String> {
    let first_line = body_first.lines().next()?;
    let cut = first_line.find([',', '!'])?;
    let candidate = &first_line[..=cut];
    let words = candidate.split_whitespace().count();
    (1..=3)
        .contains(&words)
        .then(|| candidate.trim().to_owned())
        .filter(|c| c.len() < first_line.trim().len())
}

/// 0 (chatty) to 1 (formal): longer words and sentences, no contractions, exclamations,
/// capitals, emoji or direct address raise it. A reading aid for the guidance and the
/// composer, not part of the distance (its parts are).
fn formality(values: &BTreeMap<String, f64>) -> f64 {
    let v = |name: &str| values.get(name).copied().unwrap_or(0.0);
    let score = 0.5 + 0.35 * (v("word_length") - 4.4) + 0.02 * (v("sentence_words") - 12.0)
        - 0.06 * v("contractions_per_100_words")
        - 0.6 * v("exclamations")
        - 0.05 * v("capitals_per_100_words")
        - 0.05 * v("emoji_per_100_words")
        - 0.01 * (v("second_person_per_100_words") + v("first_plural_per_100_words"));
    score.clamp(0.0, 1.0)
}
