//! Invoices: the base fee and a line per model and token type, issued once per tenant
//! and period, never changed; and their CSV export.

use super::{Period, Plan, UsageReport};
use crate::domain::{TenantId, Timestamp};
use serde::{Deserialize, Serialize};

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

pub(super) fn csv_field(value: &str) -> String {
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
