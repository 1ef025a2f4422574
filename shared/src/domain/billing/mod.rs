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

mod invoices;
mod ledger;
mod money;
mod period;
mod plans;

pub use invoices::*;
pub use ledger::*;
pub use money::*;
pub use period::*;
pub use plans::*;

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

#[cfg(test)]
mod tests {
    use super::invoices::csv_field;
    use super::*;
    use crate::domain::{TenantId, Timestamp};

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
            dietitian_id: if id.len().is_multiple_of(2) {
                "dr-a"
            } else {
                "dr-b"
            }
            .into(),
            style_milli: (!prompt.is_multiple_of(3)).then_some(700 + (prompt % 300) as u32),
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
