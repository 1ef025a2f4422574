//! Budget alerts (issue 17): when a tenant's spend in a period crosses a threshold of
//! its monthly budget (the tenant's `budget_alert_thresholds`, default 50, 80 and 100%),
//! exactly one alert per threshold and period, however many generations race across it:
//! the store's conditional claim picks one winner. The winner writes the audit entry
//! `budget.threshold` and publishes the event `Budget threshold crossed` (EventBridge in
//! AWS, the log locally); `GET /v1/usage` shows the level reached.
//!
//! Spend is what settled generations cost, read after each commit (one consistent read)
//! — reservations in flight are worst-case holds, mostly given back, and would raise
//! alerts for money never spent. A generation refused for the budget means the budget is
//! spent for practical purposes: it raises the 100% alert (when the tenant has one)
//! even if the settled spend stops a little short.
//!
//! Alerts never fail the generation they follow (it is stored and billed before they
//! run; a failure is logged and counted). They never start a claim unless
//! [`CLAIM_TIME_NEEDED`] is left before the caller's deadline — an unclaimed threshold is
//! raised by the next generation — and a claim, once won, is always carried through to
//! its audit entry and event: nothing cancels the work between them.

use crate::domain::audit::{Actor, AuditDraft, Outcome};
use crate::domain::billing::Period;
use crate::domain::TenantId;
use crate::metrics;
use crate::ports::billing::{BillingStore, TenantTerms};
use crate::ports::events::{EventPublisher, PlatformEvent};
use crate::ports::{append_audit, AuditStore, Clock};
use std::time::Duration;

/// The event's `detail-type`.
pub const BUDGET_EVENT: &str = "Budget threshold crossed";
/// The audit action of an alert.
pub const BUDGET_ACTION: &str = "budget.threshold";
/// The time a claim and what follows it (the audit append, the event) may need: no claim
/// starts with less left before the caller's deadline.
pub const CLAIM_TIME_NEEDED: Duration = Duration::from_secs(3);

/// What the alert check needs.
pub struct BudgetAlerts<'a> {
    pub billing: &'a dyn BillingStore,
    pub audit: &'a dyn AuditStore,
    pub events: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
}

/// Why the check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A generation was billed.
    Spent,
    /// A generation was refused: the budget cannot cover another.
    Refused,
}

/// The thresholds (percent) that `settled_micros` of `budget_micros` has reached.
pub fn reached(thresholds: &[u8], settled_micros: i64, budget_micros: i64) -> Vec<u8> {
    thresholds
        .iter()
        .copied()
        .filter(|&t| {
            // settled / budget >= t / 100, in integers; a zero budget is spent at once.
            i128::from(settled_micros) * 100 >= i128::from(budget_micros) * i128::from(t)
        })
        .collect()
}

/// The alert level reached: the highest threshold raised (none: `None`).
pub fn level(alerted: &[u8]) -> Option<u8> {
    alerted.iter().copied().max()
}

impl BudgetAlerts<'_> {
    /// Raises every threshold the tenant's spend crossed and nobody raised yet. `claim`
    /// names this caller (the generation or request id); no claim starts after
    /// `deadline` minus [`CLAIM_TIME_NEEDED`].
    pub async fn check(
        &self,
        tenant: &TenantId,
        terms: &TenantTerms,
        trigger: Trigger,
        claim: &str,
        request_id: &str,
        deadline: std::time::Instant,
    ) {
        let period = Period::of(self.clock.now());
        let thresholds = terms.settings.budget_alert_thresholds();
        let standing = match self.billing.budget_standing(tenant, period).await {
            Ok(standing) => standing,
            Err(error) => {
                tracing::error!(%error, tenant_id = %tenant, "budget alert check failed");
                return;
            }
        };
        let budget = terms.monthly_budget_micros;
        let mut due = reached(&thresholds, standing.settled_micros, budget);
        if trigger == Trigger::Refused && thresholds.contains(&100) && !due.contains(&100) {
            due.push(100);
        }
        for percent in due.into_iter().filter(|t| !standing.alerted.contains(t)) {
            if std::time::Instant::now() + CLAIM_TIME_NEEDED > deadline {
                tracing::warn!(tenant_id = %tenant, percent, "no time left to raise a budget alert; the next generation will");
                return;
            }
            match self
                .billing
                .claim_budget_alert(tenant, period, percent, claim)
                .await
            {
                Ok(true) => {
                    self.raise(
                        tenant,
                        terms,
                        period,
                        percent,
                        standing.settled_micros,
                        trigger,
                        request_id,
                    )
                    .await
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, tenant_id = %tenant, percent, "budget alert claim failed")
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn raise(
        &self,
        tenant: &TenantId,
        terms: &TenantTerms,
        period: Period,
        percent: u8,
        settled_micros: i64,
        trigger: Trigger,
        request_id: &str,
    ) {
        let detail = serde_json::json!({
            "tenant_id": tenant.as_str(),
            "period": period.to_string(),
            "threshold_percent": percent,
            "settled_micros": settled_micros,
            "budget_micros": terms.monthly_budget_micros,
            "currency": terms.plan.currency,
            "refused": trigger == Trigger::Refused,
        });
        metrics::add_tenant(metrics::BUDGET_ALERTS, 1.0);
        let draft = AuditDraft {
            at: self.clock.now(),
            actor: Actor {
                subject: "system:billing".into(),
                roles: "system".into(),
            },
            action: BUDGET_ACTION.into(),
            target: format!("tenant/{tenant}/budget/{period}"),
            tenant_id: Some(tenant.to_string()),
            request_id: request_id.to_owned(),
            source_ip: String::new(),
            outcome: Outcome::Success,
            details: detail.clone(),
        };
        match append_audit(self.audit, draft).await {
            Ok(entry) => {
                tracing::warn!(tenant_id = %tenant, percent, audit_seq = entry.seq, "budget threshold crossed")
            }
            Err(error) => {
                tracing::error!(%error, tenant_id = %tenant, percent, "budget alert could not be audited")
            }
        }
        let event = PlatformEvent {
            detail_type: BUDGET_EVENT,
            detail,
        };
        if let Err(error) = self.events.publish(&event).await {
            tracing::error!(%error, tenant_id = %tenant, percent, "budget alert event not published");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_reached_are_exact_in_integers() {
        let t = [50, 80, 100];
        assert_eq!(reached(&t, 0, 1_000), Vec::<u8>::new());
        assert_eq!(reached(&t, 499, 1_000), Vec::<u8>::new());
        assert_eq!(reached(&t, 500, 1_000), vec![50]);
        assert_eq!(reached(&t, 799, 1_000), vec![50]);
        assert_eq!(reached(&t, 800, 1_000), vec![50, 80]);
        assert_eq!(reached(&t, 1_000, 1_000), vec![50, 80, 100]);
        assert_eq!(reached(&t, i64::MAX, i64::MAX), vec![50, 80, 100]);
        assert_eq!(reached(&[1], 0, 0), vec![1]);
        assert_eq!(level(&[50, 80]), Some(80));
        assert_eq!(level(&[]), None);
    }
}
