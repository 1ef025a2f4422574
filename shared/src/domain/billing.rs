//! Billing: plans, money, billing periods, budget reservations, the ledger, usage and
//! invoices. Money is always integer micro-units (1 unit = 1,000,000 micros) with an
//! ISO 4217 currency code; nothing here uses floating point.
//!
//! The flow of one generation (the store side is `ports::billing`):
//! 1. reserve the worst case ([`prompt_token_bound`] + `max_tokens`, priced by the plan)
//!    against the period's remaining budget;
//! 2. call the model;
//! 3. settle: one ledger entry with the actual usage (never more than was reserved),
//!    the rest of the reservation released; or, on failure, release it all.

use super::settings::{model_name_ok, PlanLimits};
use super::{validate_label, PlanId, TenantId, Timestamp, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How long a reservation holds budget. Far beyond the generation function's 28 s
/// timeout, so only a crashed invocation's reservation can outlive it; then the sweep
/// (or the next refused reservation of the tenant) releases it.
pub const RESERVATION_TTL_SECONDS: i64 = 300;
/// The rate limit's fixed window.
pub const RATE_WINDOW_SECONDS: i64 = 60;
/// A period may be closed once it has ended and every reservation made in it has
/// either settled or expired.
pub const CLOSE_GRACE_SECONDS: i64 = RESERVATION_TTL_SECONDS;
const MAX_MONEY_MICROS: i64 = 1_000_000_000_000_000;
const MAX_PRICE_MICROS_PER_1K: i64 = 1_000_000_000_000;
const MAX_MODEL_PRICES: usize = 50;

/// Validates an ISO 4217-shaped currency code (three capital letters).
pub fn parse_currency(value: &str) -> Result<String, ValidationError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(ValidationError(
            "currency must be a three-letter ISO 4217 code such as USD".into(),
        ))
    }
}

/// Prices of 1,000 tokens, in micro-units of the plan's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrices {
    pub prompt_micros_per_1k: i64,
    pub completion_micros_per_1k: i64,
}

/// What some tokens cost, per token type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCost {
    pub prompt_micros: i64,
    pub completion_micros: i64,
}

impl TokenCost {
    pub fn total(self) -> i64 {
        self.prompt_micros.saturating_add(self.completion_micros)
    }
}

impl TokenPrices {
    /// Each token type rounded up to a whole micro-unit; monotonic in the token counts,
    /// so the cost of actual usage never exceeds the cost of its bound.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> TokenCost {
        let part = |tokens: u64, per_1k: i64| {
            let micros = (i128::from(tokens) * i128::from(per_1k) + 999) / 1000;
            i64::try_from(micros).unwrap_or(i64::MAX)
        };
        TokenCost {
            prompt_micros: part(prompt_tokens, self.prompt_micros_per_1k),
            completion_micros: part(completion_tokens, self.completion_micros_per_1k),
        }
    }

    fn validate(&self, what: &str) -> Result<(), ValidationError> {
        for value in [self.prompt_micros_per_1k, self.completion_micros_per_1k] {
            if !(0..=MAX_PRICE_MICROS_PER_1K).contains(&value) {
                return Err(ValidationError(format!(
                    "{what} must be 0 to {MAX_PRICE_MICROS_PER_1K} micros per 1K tokens"
                )));
            }
        }
        Ok(())
    }
}

/// A billing plan. `PUT /admin/plans/{planId}` takes this shape (the `id` comes from the
/// path); unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub currency: String,
    /// Charged once per closed period.
    pub monthly_fee_micros: i64,
    /// Token prices for models without their own entry.
    pub prices: TokenPrices,
    /// Token prices of particular models.
    #[serde(default)]
    pub model_prices: BTreeMap<String, TokenPrices>,
    /// Default rate limit of the plan's tenants (their settings may lower it).
    pub requests_per_minute: u32,
    /// Default monthly usage budget of the plan's tenants, in micro-units.
    pub monthly_budget_micros: i64,
}

/// Validates a plan id: 1 to 40 lower-case letters, digits and dashes.
pub fn parse_plan_id(value: &str) -> Result<PlanId, ValidationError> {
    let ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(PlanId::new(value))
    } else {
        Err(ValidationError(
            "plan id must be 1 to 40 lower-case letters, digits and dashes".into(),
        ))
    }
}

impl Plan {
    pub fn validate(&self) -> Result<(), ValidationError> {
        parse_plan_id(&self.id)?;
        validate_label("name", &self.name, 100)?;
        parse_currency(&self.currency)?;
        for (field, value) in [
            ("monthly_fee_micros", self.monthly_fee_micros),
            ("monthly_budget_micros", self.monthly_budget_micros),
        ] {
            if !(0..=MAX_MONEY_MICROS).contains(&value) {
                return Err(ValidationError(format!(
                    "{field} must be 0 to {MAX_MONEY_MICROS}"
                )));
            }
        }
        self.prices.validate("prices")?;
        if self.model_prices.len() > MAX_MODEL_PRICES {
            return Err(ValidationError(format!(
                "model_prices may name at most {MAX_MODEL_PRICES} models"
            )));
        }
        for (model, prices) in &self.model_prices {
            if !model_name_ok(model) {
                return Err(ValidationError(
                    "model_prices keys must be model names (letters, digits and -_.:/)".into(),
                ));
            }
            prices.validate("model_prices")?;
        }
        if !(1..=100_000).contains(&self.requests_per_minute) {
            return Err(ValidationError(
                "requests_per_minute must be 1 to 100000".into(),
            ));
        }
        Ok(())
    }

    pub fn plan_id(&self) -> PlanId {
        PlanId::new(self.id.clone())
    }

    /// The prices of `model`: its own entry, else the plan's default prices.
    pub fn prices_for(&self, model: &str) -> TokenPrices {
        self.model_prices.get(model).copied().unwrap_or(self.prices)
    }

    pub fn limits(&self) -> PlanLimits {
        PlanLimits {
            requests_per_minute: self.requests_per_minute,
            monthly_budget_micros: self.monthly_budget_micros,
        }
    }
}

fn built_in(id: &str, name: &str, fee: i64, rpm: u32, budget: i64) -> Plan {
    Plan {
        id: id.into(),
        name: name.into(),
        currency: "USD".into(),
        monthly_fee_micros: fee,
        prices: TokenPrices {
            prompt_micros_per_1k: 300,
            completion_micros_per_1k: 1_200,
        },
        model_prices: BTreeMap::new(),
        requests_per_minute: rpm,
        monthly_budget_micros: budget,
    }
}

/// The plans every deployment starts with; a stored plan of the same id replaces one.
pub fn built_in_plans() -> Vec<Plan> {
    vec![
        built_in("enterprise", "Enterprise", 999_000_000, 600, 5_000_000_000),
        built_in("pro", "Pro", 199_000_000, 120, 500_000_000),
        built_in("standard", "Standard", 49_000_000, 60, 50_000_000),
    ]
}

/// A calendar month in UTC, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u8,
}

impl Period {
    /// Parses `YYYY-MM` (years 2000 to 9999).
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError("period must be a month written YYYY-MM".into());
        let (year, month) = value.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u8 = month.parse().map_err(|_| invalid())?;
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        Ok(Self { year, month })
    }

    fn datetime(at: Timestamp) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_millis()) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// The period `at` falls in.
    pub fn of(at: Timestamp) -> Self {
        let at = Self::datetime(at);
        Self {
            year: at.year(),
            month: u8::from(at.month()),
        }
    }

    /// Day of the month (1 to 31) of `at`.
    pub fn day_of(at: Timestamp) -> u8 {
        Self::datetime(at).day()
    }

    /// The first instant of the period.
    pub fn start(self) -> Timestamp {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let date = time::Date::from_calendar_date(self.year, month, 1).unwrap_or(time::Date::MIN);
        let seconds = date.midnight().assume_utc().unix_timestamp();
        Timestamp::from_millis(seconds.saturating_mul(1000))
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The first instant after the period.
    pub fn end(self) -> Timestamp {
        self.next().start()
    }

    /// Whether the period may be closed at `now`: it has ended, and so has the life of
    /// any reservation made in it.
    pub fn closable_at(self, now: Timestamp) -> bool {
        now >= self.end().plus_seconds(CLOSE_GRACE_SECONDS)
    }

    /// `YYYYMM`, for identifiers.
    pub fn compact(self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

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

/// A tenant's usage in a period: totals, per model, per day, and the budget still held
/// by open reservations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    pub total: Tally,
    pub by_model: BTreeMap<String, Tally>,
    /// Keyed by day of the month.
    pub by_day: BTreeMap<u8, Tally>,
    pub reserved_micros: i64,
    /// Settled plus reserved: what the budget is checked against.
    pub committed_micros: i64,
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

/// What an invoice line charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    BaseFee,
    PromptTokens,
    CompletionTokens,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BaseFee => "base_fee",
            Self::PromptTokens => "prompt_tokens",
            Self::CompletionTokens => "completion_tokens",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub model: Option<String>,
    pub description: String,
    /// Tokens for usage lines, 1 for the base fee.
    pub quantity: u64,
    pub amount_micros: i64,
}

/// An issued invoice. Stored once, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub tenant_id: TenantId,
    pub period: Period,
    pub plan_id: String,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub total_micros: i64,
    /// Settled generations the usage lines cover.
    pub generations: u64,
    pub issued_at: Timestamp,
}

/// `inv-YYYYMM-<tenant id>`: one invoice per tenant and period, and the id names both.
pub fn invoice_id(tenant: &TenantId, period: Period) -> String {
    format!("inv-{}-{}", period.compact(), tenant)
}

/// The tenant and period an invoice id names, if it is well formed.
pub fn parse_invoice_id(id: &str) -> Option<(TenantId, Period)> {
    let rest = id.strip_prefix("inv-")?;
    let (compact, tenant) = rest.split_once('-')?;
    if compact.len() != 6
        || tenant.len() != 32
        || !tenant
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let period = Period::parse(&format!("{}-{}", &compact[..4], &compact[4..])).ok()?;
    Some((TenantId::new(tenant), period))
}

impl Invoice {
    /// The invoice of `tenant` for `period` under `plan`: the base fee, then one line
    /// per model and token type, each the sum of the ledger entries' amounts (so the
    /// invoice equals the ledger exactly, whatever prices applied during the period).
    /// `usage` is the ledger's sums ([`UsageReport::from_ledger`]).
    pub fn issue(
        tenant: &TenantId,
        plan: &Plan,
        period: Period,
        usage: &UsageReport,
        issued_at: Timestamp,
    ) -> Self {
        let mut lines = vec![InvoiceLine {
            kind: LineKind::BaseFee,
            model: None,
            description: format!("{} plan, {period}", plan.name),
            quantity: 1,
            amount_micros: plan.monthly_fee_micros,
        }];
        for (model, tally) in &usage.by_model {
            lines.push(InvoiceLine {
                kind: LineKind::PromptTokens,
                model: Some(model.clone()),
                description: format!("{model} prompt tokens"),
                quantity: tally.prompt_tokens,
                amount_micros: tally.prompt_micros,
            });
            lines.push(InvoiceLine {
                kind: LineKind::CompletionTokens,
                model: Some(model.clone()),
                description: format!("{model} completion tokens"),
                quantity: tally.completion_tokens,
                amount_micros: tally.completion_micros,
            });
        }
        let total_micros = lines.iter().map(|l| l.amount_micros).sum();
        Self {
            id: invoice_id(tenant, period),
            tenant_id: tenant.clone(),
            period,
            plan_id: plan.id.clone(),
            currency: plan.currency.clone(),
            lines,
            total_micros,
            generations: usage.total.generations,
            issued_at,
        }
    }

    /// The usage part of the total (everything but the base fee).
    pub fn usage_micros(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.kind != LineKind::BaseFee)
            .map(|l| l.amount_micros)
            .sum()
    }
}

/// Formats micro-units as a decimal amount with six places, e.g. `12.000345`.
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

fn csv_field(value: &str) -> String {
    // Quote always; double inner quotes; neutralise spreadsheet formulas.
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// Invoices as CSV, one row per line: a header, then the lines of each invoice.
pub fn invoices_csv(invoices: &[Invoice]) -> String {
    let mut out = String::from(
        "invoice_id,tenant_id,period,currency,line,kind,model,description,quantity,amount_micros,amount,invoice_total_micros\n",
    );
    for invoice in invoices {
        for (number, line) in invoice.lines.iter().enumerate() {
            let row = [
                csv_field(&invoice.id),
                csv_field(invoice.tenant_id.as_str()),
                csv_field(&invoice.period.to_string()),
                csv_field(&invoice.currency),
                (number + 1).to_string(),
                csv_field(line.kind.as_str()),
                csv_field(line.model.as_deref().unwrap_or("")),
                csv_field(&line.description),
                line.quantity.to_string(),
                line.amount_micros.to_string(),
                format_micros(line.amount_micros),
                invoice.total_micros.to_string(),
            ];
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::new("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f")
    }

    fn entry(id: &str, model: &str, at: Timestamp, prompt: u64, completion: u64) -> LedgerEntry {
        let cost = built_in_plans()[2]
            .prices_for(model)
            .cost(prompt, completion);
        LedgerEntry {
            request_id: id.into(),
            tenant_id: tenant(),
            period: Period::of(at),
            at,
            model: model.into(),
            prompt_tokens: prompt,
            completion_tokens: completion,
            prompt_micros: cost.prompt_micros,
            completion_micros: cost.completion_micros,
            currency: "USD".into(),
        }
    }

    #[test]
    fn periods_parse_bound_and_step() {
        let p = Period::parse("2026-11").unwrap();
        assert_eq!(p.to_string(), "2026-11");
        assert_eq!(p.next().to_string(), "2026-12");
        assert_eq!(p.next().next().to_string(), "2027-01");
        assert_eq!(
            Period::parse("2027-01").unwrap().previous(),
            Period::parse("2026-12").unwrap()
        );
        assert_eq!(p.start().to_rfc3339(), "2026-11-01T00:00:00.000Z");
        assert_eq!(p.end().to_rfc3339(), "2026-12-01T00:00:00.000Z");
        assert_eq!(Period::of(p.end().plus_seconds(-1)), p);
        assert_eq!(Period::of(p.end()), p.next());
        for bad in [
            "2026-13",
            "2026-00",
            "26-11",
            "2026-1",
            "2026/11",
            "1999-12",
            "",
            "2026-11-01",
            "２０２６-11",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert!(!p.closable_at(p.end()));
        assert!(p.closable_at(p.end().plus_seconds(CLOSE_GRACE_SECONDS)));
    }

    #[test]
    fn costs_round_up_per_token_type_and_never_exceed_their_bound() {
        let prices = TokenPrices {
            prompt_micros_per_1k: 300,
            completion_micros_per_1k: 1_200,
        };
        assert_eq!(
            prices.cost(1, 1),
            TokenCost {
                prompt_micros: 1,
                completion_micros: 2
            }
        );
        assert_eq!(prices.cost(1000, 2000).total(), 300 + 2_400);
        for (p, c) in [(0, 0), (7, 13), (999, 1001), (12_345, 678)] {
            assert!(prices.cost(p, c).total() <= prices.cost(p + 1, c + 1).total());
        }
        assert_eq!(prompt_token_bound(["ab", "cde"]), 5 + 16 + 8);
    }

    #[test]
    fn plans_validate_every_field_and_price_models() {
        let mut plan = built_in_plans()[2].clone();
        assert!(plan.validate().is_ok());
        plan.model_prices.insert(
            "big-model".into(),
            TokenPrices {
                prompt_micros_per_1k: 5_000,
                completion_micros_per_1k: 15_000,
            },
        );
        assert_eq!(plan.prices_for("big-model").prompt_micros_per_1k, 5_000);
        assert_eq!(plan.prices_for("other").prompt_micros_per_1k, 300);
        let broken: Vec<fn(&mut Plan)> = vec![
            |p| p.id = "Bad Id".into(),
            |p| p.currency = "usd".into(),
            |p| p.monthly_fee_micros = -1,
            |p| p.monthly_budget_micros = MAX_MONEY_MICROS + 1,
            |p| p.prices.prompt_micros_per_1k = -5,
            |p| p.requests_per_minute = 0,
            |p| p.name = " ".into(),
            |p| {
                p.model_prices.insert("bad model".into(), p.prices);
            },
        ];
        for breaks in broken {
            let mut bad = plan.clone();
            breaks(&mut bad);
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Plan>(r#"{"name":"x","currency":"USD","monthly_fee_micros":0,"prices":{"prompt_micros_per_1k":1,"completion_micros_per_1k":1},"requests_per_minute":1,"monthly_budget_micros":0,"fee":1}"#).is_err());
    }

    #[test]
    fn usage_reconciles_with_its_ledger_and_finds_any_drift() {
        let day1 = Period::parse("2026-11").unwrap().start().plus_seconds(3600);
        let day2 = day1.plus_seconds(86_400);
        let entries = vec![
            entry("a", "m1", day1, 100, 50),
            entry("b", "m2", day1, 10, 5),
            entry("c", "m1", day2, 1, 1),
        ];
        let ledger = UsageReport::from_ledger(&entries);
        let mut stored = ledger.clone();
        assert!(stored.reconcile(&ledger).is_empty());
        assert_eq!(
            stored.by_day.keys().copied().collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(stored.by_model["m1"].generations, 2);
        stored.by_model.get_mut("m1").unwrap().prompt_tokens += 1;
        assert_eq!(stored.reconcile(&ledger).len(), 1);
        let mut reserved = ledger.clone();
        reserved.reserved_micros = 10;
        assert_eq!(
            reserved.reconcile(&ledger).len(),
            1,
            "committed must be settled + reserved"
        );
        reserved.committed_micros += 10;
        assert!(reserved.reconcile(&ledger).is_empty());
        assert!(!UsageReport::default().reconcile(&ledger).is_empty());
    }

    #[test]
    fn invoices_total_the_ledger_by_model_and_token_type() {
        let plan = &built_in_plans()[2];
        let period = Period::parse("2026-11").unwrap();
        let at = period.start().plus_seconds(60);
        let entries = vec![
            entry("a", "m1", at, 1000, 500),
            entry("b", "m2", at, 2000, 0),
            entry("c", "m1", at, 1, 1),
        ];
        let usage = UsageReport::from_ledger(&entries);
        let invoice = Invoice::issue(&tenant(), plan, period, &usage, period.end());
        let ledger_sum: i64 = entries.iter().map(LedgerEntry::amount_micros).sum();
        assert_eq!(invoice.usage_micros(), ledger_sum);
        assert_eq!(invoice.total_micros, ledger_sum + plan.monthly_fee_micros);
        assert_eq!(invoice.lines.len(), 1 + 2 * 2);
        assert_eq!(invoice.generations, 3);
        assert_eq!(parse_invoice_id(&invoice.id), Some((tenant(), period)));
        assert_eq!(
            parse_invoice_id("inv-202613-0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"),
            None
        );
        assert_eq!(parse_invoice_id("inv-202611-../../x"), None);
        let csv = invoices_csv(std::slice::from_ref(&invoice));
        assert_eq!(csv.lines().count(), 1 + invoice.lines.len());
        assert!(csv.contains("\"base_fee\""));
        assert!(csv.contains(&format_micros(plan.monthly_fee_micros)));
    }

    #[test]
    fn reservations_bound_the_budget_condition_and_their_settlement() {
        let at = Period::parse("2026-11").unwrap().start();
        let r = Reservation {
            id: "r".into(),
            tenant_id: tenant(),
            period: Period::of(at),
            amount_micros: 700,
            currency: "USD".into(),
            expires_at: at.plus_seconds(RESERVATION_TTL_SECONDS),
        };
        assert_eq!(r.most_committed_before(1_000), Some(300));
        assert_eq!(r.most_committed_before(700), Some(0));
        assert_eq!(r.most_committed_before(699), None);
        assert_eq!(r.most_committed_before(i64::MIN), None);
        let mut e = entry("r", "m", at, 100, 100);
        e.prompt_micros = 400;
        e.completion_micros = 300;
        assert!(r.covers(&e));
        e.completion_micros = 301;
        assert!(!r.covers(&e), "dearer than reserved");
        e.completion_micros = 0;
        e.period = r.period.next();
        assert!(!r.covers(&e), "another period");
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=SUM(A1)"), "\"'=SUM(A1)\"");
        assert_eq!(format_micros(1_500_001), "1.500001");
        assert_eq!(format_micros(-5), "-0.000005");
    }
}
