//! Scoring the checks against a labelled corpus (`tests/eval/safety.jsonl`): for every
//! output code, how many expected findings were found (recall) and how many found ones
//! were expected (precision); for the texts labelled safe, how many got any finding.
//! `scripts/eval-safety` prints it; `shared/tests/safety_eval.rs` holds it to targets.

use super::{check_output, moderation, ClientProfile, Finding, FindingCode, SafetyThresholds};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One labelled text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalCase {
    pub text: String,
    #[serde(default)]
    pub client: ClientProfile,
    /// The codes the checks must find (empty: a safe text).
    pub expect: Vec<FindingCode>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub true_positives: u32,
    pub false_positives: u32,
    pub false_negatives: u32,
}

impl Score {
    pub fn precision(&self) -> f64 {
        let found = self.true_positives + self.false_positives;
        if found == 0 {
            1.0
        } else {
            f64::from(self.true_positives) / f64::from(found)
        }
    }

    pub fn recall(&self) -> f64 {
        let expected = self.true_positives + self.false_negatives;
        if expected == 0 {
            1.0
        } else {
            f64::from(self.true_positives) / f64::from(expected)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    pub cases: usize,
    pub per_code: BTreeMap<FindingCode, Score>,
    pub safe_texts: u32,
    /// Safe texts with any finding.
    pub safe_flagged: u32,
    /// (text, expected, found) of every case that did not come out as labelled.
    pub mistakes: Vec<(String, Vec<FindingCode>, Vec<FindingCode>)>,
}

impl EvalReport {
    pub fn false_positive_rate(&self) -> f64 {
        if self.safe_texts == 0 {
            0.0
        } else {
            f64::from(self.safe_flagged) / f64::from(self.safe_texts)
        }
    }
}

/// What the checks (and the offline moderation) find in `case`'s text.
pub fn findings_of(
    case: &EvalCase,
    thresholds: &SafetyThresholds,
    system_prompt: &str,
) -> Vec<Finding> {
    let mut findings = check_output(&case.text, &case.client, thresholds, system_prompt);
    if !moderation::classify(&case.text).is_empty() {
        findings.push(Finding::new(
            FindingCode::Moderation,
            String::new(),
            String::new(),
        ));
    }
    findings
}

pub fn evaluate(
    cases: &[EvalCase],
    thresholds: &SafetyThresholds,
    system_prompt: &str,
) -> EvalReport {
    let mut report = EvalReport {
        cases: cases.len(),
        ..Default::default()
    };
    for case in cases {
        let mut found: Vec<FindingCode> = findings_of(case, thresholds, system_prompt)
            .iter()
            .map(|f| f.code)
            .collect();
        found.sort();
        found.dedup();
        let mut expected = case.expect.clone();
        expected.sort();
        expected.dedup();
        for code in FindingCode::ALL {
            let (e, f) = (expected.contains(&code), found.contains(&code));
            let score = report.per_code.entry(code).or_default();
            match (e, f) {
                (true, true) => score.true_positives += 1,
                (false, true) => score.false_positives += 1,
                (true, false) => score.false_negatives += 1,
                (false, false) => {}
            }
        }
        if expected.is_empty() {
            report.safe_texts += 1;
            if !found.is_empty() {
                report.safe_flagged += 1;
            }
        }
        if found != expected {
            report.mistakes.push((case.text.clone(), expected, found));
        }
    }
    report.per_code.retain(|_, s| *s != Score::default());
    report
}
