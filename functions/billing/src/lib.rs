//! Billing endpoints and jobs (spec section 6).
//!
//! - `GET /v1/usage?period=YYYY-MM` (data plane, the calling tenant) and
//!   `GET /admin/tenants/{tenantId}/usage?period=` (platform-admin, or the tenant's own
//!   tenant-manager): the period's aggregates — totals, per model, per day — with the
//!   budget in force, what is committed and what is left. Both read the same aggregates,
//!   which the reconciliation check proves equal to the ledger.
//! - `GET /admin/plans`, `GET /admin/plans/{planId}` (every admin role) and
//!   `PUT /admin/plans/{planId}` (platform-admin; creates or replaces; a plan's currency
//!   never changes).
//! - `POST /admin/billing/periods/{period}/close` (platform-admin) and the monthly
//!   schedule: one immutable invoice per tenant (base fee + a line per model and token
//!   type, summed from the ledger). Closing twice issues nothing new.
//! - `GET /admin/tenants/{tenantId}/invoices` and `GET /admin/invoices/{invoiceId}`
//!   (platform-admin, or the owning tenant-manager); `?format=csv` exports them as CSV.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::billing::{self, Usage};
pub use nutripro_shared::app::billing::{close, scheduled_close, CloseReport};
use nutripro_shared::app::budget_alerts;
use nutripro_shared::app::AppError;
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::billing::{invoices_csv, Invoice, Period, Tally};
use nutripro_shared::domain::Timestamp;
use nutripro_shared::http::{json, path_param, query_param, serve, HandlerResult};
use nutripro_shared::ports::billing::sweep_all;
use nutripro_shared::ports::{AdminStore, AuditStore, Clock};
use nutripro_shared::state::{AdminState, BillingAdminState, UsageState};
use serde::Serialize;

const MAX_PLAN_BODY_BYTES: usize = 16 * 1024;

/// The period named by `?period=` (none: the current one).
fn period_param(request: &Request) -> Result<Option<Period>, AppError> {
    query_param(request, "period")
        .map(|text| Ok(Period::parse(&text)?))
        .transpose()
}

#[derive(Serialize)]
struct ModelUsage<'a> {
    model: &'a str,
    #[serde(flatten)]
    tally: Tally,
}

/// A dietitian's generations of the period and how close they were to their voice.
#[derive(Serialize)]
struct DietitianView<'a> {
    dietitian_id: &'a str,
    #[serde(flatten)]
    tally: Tally,
    /// Mean style score of the generations that had one (null: none had a profile).
    style_score_mean: Option<f64>,
    style_scored: u64,
}

#[derive(Serialize)]
struct DayUsage {
    date: String,
    #[serde(flatten)]
    tally: Tally,
}

#[derive(Serialize)]
struct UsageView<'a> {
    tenant_id: &'a str,
    period: String,
    plan: &'a str,
    currency: &'a str,
    budget_micros: i64,
    /// Settled plus reserved: what the budget is checked against.
    committed_micros: i64,
    reserved_micros: i64,
    remaining_micros: i64,
    total: Tally,
    by_model: Vec<ModelUsage<'a>>,
    /// Every day of the period, zeros included (a chart's x-axis).
    by_day: Vec<DayUsage>,
    by_dietitian: Vec<DietitianView<'a>>,
    budget_alert: BudgetAlertView,
}

/// The period's budget alerts: the tenant's thresholds, those raised, and the level
/// (the highest raised; null while none is).
#[derive(Serialize)]
struct BudgetAlertView {
    thresholds: Vec<u8>,
    raised: Vec<u8>,
    level: Option<u8>,
}

fn usage_view(usage: &Usage) -> HandlerResult {
    let (tenant, terms, period, usage) = (&usage.tenant, &usage.terms, usage.period, &usage.report);
    let days = (period.end().as_millis() - period.start().as_millis()) / 86_400_000;
    let by_day = (1..=days)
        .map(|day| DayUsage {
            date: format!("{period}-{day:02}"),
            tally: u8::try_from(day)
                .ok()
                .and_then(|d| usage.by_day.get(&d))
                .copied()
                .unwrap_or_default(),
        })
        .collect();
    json(
        200,
        &UsageView {
            tenant_id: tenant.as_str(),
            period: period.to_string(),
            plan: &terms.plan.id,
            currency: &terms.plan.currency,
            budget_micros: terms.monthly_budget_micros,
            committed_micros: usage.committed_micros,
            reserved_micros: usage.reserved_micros,
            remaining_micros: (terms.monthly_budget_micros - usage.committed_micros).max(0),
            total: usage.total,
            by_model: usage
                .by_model
                .iter()
                .map(|(model, tally)| ModelUsage {
                    model,
                    tally: *tally,
                })
                .collect(),
            by_day,
            by_dietitian: usage
                .by_dietitian
                .iter()
                .map(|(dietitian, d)| DietitianView {
                    dietitian_id: dietitian,
                    tally: d.tally,
                    style_score_mean: d.mean_style(),
                    style_scored: d.style_scored,
                })
                .collect(),
            budget_alert: BudgetAlertView {
                thresholds: terms.settings.budget_alert_thresholds(),
                raised: usage.budget_alerts.clone(),
                level: budget_alerts::level(&usage.budget_alerts),
            },
        },
    )
}

/// `GET /v1/usage?period=`
pub async fn get_usage(state: &UsageState, request: Request) -> Response<Body> {
    serve("get_usage", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::UsageRead).await?;
        let period = period_param(&call.request)?;
        usage_view(&billing::tenant_usage(state, &caller.tenant_id, period).await?)
    })
    .await
}

/// `GET /admin/tenants/{tenantId}/usage?period=`
pub async fn get_tenant_usage(state: &BillingAdminState, request: Request) -> Response<Body> {
    serve("get_tenant_usage", request, |call| async move {
        let admin = call.admin()?;
        let period = period_param(&call.request);
        usage_view(&billing::admin_usage(state, &admin, period).await?)
    })
    .await
}

#[derive(Serialize)]
struct PlanList {
    items: Vec<nutripro_shared::domain::billing::Plan>,
}

/// `GET /admin/plans`
pub async fn list_plans(state: &AdminState, request: Request) -> Response<Body> {
    serve("list_plans", request, |call| async move {
        let items = billing::list_plans(state, &call.admin()?).await?;
        json(200, &PlanList { items })
    })
    .await
}

/// `GET /admin/plans/{planId}`
pub async fn get_plan(state: &AdminState, request: Request) -> Response<Body> {
    serve("get_plan", request, |call| async move {
        let admin = call.admin()?;
        let id = path_param(&call.request, "planId")?;
        json(200, &billing::get_plan(state, &admin, &id).await?)
    })
    .await
}

/// `PUT /admin/plans/{planId}`
pub async fn put_plan(state: &AdminState, request: Request) -> Response<Body> {
    serve("put_plan", request, |call| async move {
        let admin = call.admin()?;
        let id = path_param(&call.request, "planId")?;
        let input = nutripro_shared::http::parse_json(&call.request, MAX_PLAN_BODY_BYTES);
        json(200, &billing::put_plan(state, &admin, &id, input).await?)
    })
    .await
}

/// `POST /admin/billing/periods/{period}/close`
pub async fn close_period(state: &BillingAdminState, request: Request) -> Response<Body> {
    serve("close_period", request, |call| async move {
        let admin = call.admin()?;
        let period = path_param(&call.request, "period")?;
        json(200, &billing::close_period(state, &admin, &period).await?)
    })
    .await
}

fn wants_csv(request: &Request) -> Result<bool, AppError> {
    match query_param(request, "format").as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::Validation("format must be json or csv".into())),
    }
}

fn csv_response(invoices: &[Invoice], filename: &str) -> HandlerResult {
    Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            format!("attachment; filename=\"{filename}.csv\""),
        )
        .body(Body::Text(invoices_csv(invoices)))
        .map_err(|error| AppError::Internal(format!("csv response: {error}")))
}

#[derive(Serialize)]
struct InvoiceList {
    items: Vec<Invoice>,
}

/// `GET /admin/tenants/{tenantId}/invoices[?format=csv]`
pub async fn list_invoices(state: &BillingAdminState, request: Request) -> Response<Body> {
    serve("list_invoices", request, |call| async move {
        let (tenant, invoices) = billing::list_invoices(state, &call.admin()?).await?;
        if wants_csv(&call.request)? {
            csv_response(&invoices, &format!("invoices-{tenant}"))
        } else {
            json(200, &InvoiceList { items: invoices })
        }
    })
    .await
}

/// `GET /admin/invoices/{invoiceId}[?format=csv]`
pub async fn get_invoice(state: &BillingAdminState, request: Request) -> Response<Body> {
    serve("get_invoice", request, |call| async move {
        let admin = call.admin()?;
        let id = path_param(&call.request, "invoiceId")?;
        let invoice = billing::get_invoice(state, &admin, &id).await?;
        if wants_csv(&call.request)? {
            csv_response(std::slice::from_ref(&invoice), &invoice.id)
        } else {
            json(200, &invoice)
        }
    })
    .await
}

/// The monthly close job (EventBridge schedule): what `scheduled_close` reports.
pub async fn run_scheduled_close(
    store: &dyn AdminStore,
    audit: &dyn AuditStore,
    billing: &dyn nutripro_shared::ports::billing::BillingStore,
    clock: &dyn Clock,
    request_id: &str,
) -> Result<serde_json::Value, AppError> {
    let report = scheduled_close(store, audit, billing, clock, request_id).await?;
    serde_json::to_value(report).map_err(|error| AppError::Internal(error.to_string()))
}

/// The reservation sweep job (EventBridge, every few minutes): releases every tenant's
/// expired reservations, left by crashed invocations.
pub async fn run_sweep(
    billing: &dyn nutripro_shared::ports::billing::BillingStore,
    tenants: &dyn nutripro_shared::ports::TenantStore,
    now: Timestamp,
) -> Result<serde_json::Value, AppError> {
    let released = sweep_all(billing, tenants, now).await?;
    tracing::info!(released, "reservation sweep done");
    Ok(serde_json::json!({ "released": released }))
}
