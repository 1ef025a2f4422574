//! Reservations, the append-only ledger and the usage aggregates computed from it.

use super::Period;
use crate::domain::{TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An upper bound on the prompt tokens of a chat request with these message texts: a
/// token covers at least one byte of UTF-8, plus the chat format's per-message and
/// per-reply overhead. Reserving on this bound (not a guess) is what keeps settled
/// spend within the budget.
pub fn prompt_token_bound<'a>(messages: impl IntoIterator<Item = &'a str>) -> u64 {
    const PER_MESSAGE: u64 = 8;
    const PER_REPLY: u64 = 8;
    messages
        .into_iter()
        .map(|text| text.len() as u64 + PER_MESSAGE)
        .sum::<u64>()
        + PER_REPLY
}

/// Budget held for one generation until it settles, is released, or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The request it is for (the generation id); the ledger entry carries the same id.
    pub id: String,
    pub tenant_id: TenantId,
    pub period: Period,
    pub amount_micros: i64,
    pub currency: String,
    pub expires_at: Timestamp,
}

impl Reservation {
    /// The most the period's committed spend may be for this reservation to fit in
    /// `budget_micros` (the bound of the reserve condition); `None` if it never fits.
    pub fn most_committed_before(&self, budget_micros: i64) -> Option<i64> {
        budget_micros
            .checked_sub(self.amount_micros)
            .filter(|most| *most >= 0)
    }

    /// Whether `entry` may settle this reservation: same period, and no dearer.
    pub fn covers(&self, entry: &LedgerEntry) -> bool {
        entry.period == self.period && entry.amount_micros() <= self.amount_micros
    }
}

/// One billed generation. Entries are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Idempotency: one entry per request id.
    pub request_id: String,
    pub tenant_id: TenantId,
    pub period: Period,
    pub at: Timestamp,
    /// The model as priced (the one requested from the provider).
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub prompt_micros: i64,
    pub completion_micros: i64,
    pub currency: String,
    /// The dietitian the text was written for ("" in entries made before it was kept).
    #[serde(default)]
    pub dietitian_id: String,
    /// The text's style score in thousandths (`None`: no profile, no score).
    #[serde(default)]
    pub style_milli: Option<u32>,
}

impl LedgerEntry {
    pub fn amount_micros(&self) -> i64 {
        self.prompt_micros.saturating_add(self.completion_micros)
    }

    pub fn day(&self) -> u8 {
        Period::day_of(self.at)
    }
}

/// Sums over a set of ledger entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub generations: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub prompt_micros: i64,
    pub completion_micros: i64,
    pub amount_micros: i64,
}

impl Tally {
    pub fn add(&mut self, entry: &LedgerEntry) {
        self.generations += 1;
        self.prompt_tokens += entry.prompt_tokens;
        self.completion_tokens += entry.completion_tokens;
        self.prompt_micros += entry.prompt_micros;
        self.completion_micros += entry.completion_micros;
        self.amount_micros += entry.amount_micros();
    }
}

/// A dietitian's share of a period: the tallies of their generations and the sum of
/// their style scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DietitianUsage {
    pub tally: Tally,
    /// Generations that had a style score.
    pub style_scored: u64,
    /// Their scores summed, in thousandths.
    pub style_milli_sum: u64,
}

impl DietitianUsage {
    pub fn add(&mut self, entry: &LedgerEntry) {
        self.tally.add(entry);
        if let Some(milli) = entry.style_milli {
            self.style_scored += 1;
            self.style_milli_sum += u64::from(milli);
        }
    }

    /// The mean style score (three decimals), if any generation had one.
    pub fn mean_style(&self) -> Option<f64> {
        (self.style_scored > 0)
            .then(|| (self.style_milli_sum as f64 / self.style_scored as f64).round() / 1000.0)
    }
}

/// A tenant's usage in a period: totals, per model, per day, per dietitian, and the
/// budget still held by open reservations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    pub total: Tally,
    pub by_model: BTreeMap<String, Tally>,
    /// Keyed by day of the month.
    pub by_day: BTreeMap<u8, Tally>,
    pub by_dietitian: BTreeMap<String, DietitianUsage>,
    pub reserved_micros: i64,
    /// Settled plus reserved: what the budget is checked against.
    pub committed_micros: i64,
    /// The budget alert thresholds (percent) raised this period, rising.
    pub budget_alerts: Vec<u8>,
}

impl UsageReport {
    /// Adds one settled entry.
    pub fn add(&mut self, entry: &LedgerEntry) {
        self.total.add(entry);
        self.by_model
            .entry(entry.model.clone())
            .or_default()
            .add(entry);
        self.by_day.entry(entry.day()).or_default().add(entry);
        if !entry.dietitian_id.is_empty() {
            self.by_dietitian
                .entry(entry.dietitian_id.clone())
                .or_default()
                .add(entry);
        }
        self.committed_micros += entry.amount_micros();
    }

    /// The report the ledger implies (nothing reserved).
    pub fn from_ledger(entries: &[LedgerEntry]) -> Self {
        let mut report = Self::default();
        for entry in entries {
            report.add(entry);
        }
        report
    }

    /// Differences between these stored aggregates and `expected`, the sums of the
    /// ledger ([`UsageReport::from_ledger`]); empty when they agree exactly. The
    /// committed total must equal settled plus reserved.
    pub fn reconcile(&self, expected: &UsageReport) -> Vec<String> {
        let mut mismatches = Vec::new();
        if self.total != expected.total {
            mismatches.push(format!(
                "total: stored {:?}, ledger {:?}",
                self.total, expected.total
            ));
        }
        for (what, stored, ledger) in [
            ("model", keyed(&self.by_model), keyed(&expected.by_model)),
            ("day", keyed(&self.by_day), keyed(&expected.by_day)),
        ] {
            for key in stored.keys().chain(ledger.keys()) {
                let (a, b) = (stored.get(key), ledger.get(key));
                let zero = Tally::default();
                if a.unwrap_or(&zero) != b.unwrap_or(&zero) {
                    mismatches.push(format!("{what} {key}: stored {a:?}, ledger {b:?}"));
                }
            }
        }
        for key in self.by_dietitian.keys().chain(expected.by_dietitian.keys()) {
            let (a, b) = (self.by_dietitian.get(key), expected.by_dietitian.get(key));
            let zero = DietitianUsage::default();
            if a.unwrap_or(&zero) != b.unwrap_or(&zero) {
                mismatches.push(format!("dietitian {key}: stored {a:?}, ledger {b:?}"));
            }
        }
        if self.committed_micros != self.total.amount_micros + self.reserved_micros {
            mismatches.push(format!(
                "committed {} != settled {} + reserved {}",
                self.committed_micros, self.total.amount_micros, self.reserved_micros
            ));
        }
        mismatches.sort();
        mismatches.dedup();
        mismatches
    }
}

fn keyed<K: ToString>(map: &BTreeMap<K, Tally>) -> BTreeMap<String, Tally> {
    map.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}
