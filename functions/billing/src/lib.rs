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
use nutripro_shared::domain::admin::{Action, AdminPrincipal};
use nutripro_shared::domain::audit::{Actor, AuditDraft, Outcome};
use nutripro_shared::domain::billing::{
    invoices_csv, parse_invoice_id, parse_plan_id, Invoice, Period, Plan, Tally, UsageReport,
};
use nutripro_shared::domain::{Tenant, TenantId, TenantStatus, Timestamp};
use nutripro_shared::http::{
    admin_change, admin_read, handle_limited, json, parse_json, path_param, query_param, AdminCall,
    Change, HandlerResult, Problem,
};
use nutripro_shared::ports::billing::{
    all_plans, find_plan, ledger_usage, tenant_terms, BillingStore, TenantTerms,
};
use nutripro_shared::ports::{
    append_audit, AdminStore, AuditStore, Clock, PolicyStore, MAX_PAGE_SIZE,
};
use nutripro_shared::state::{AdminState, BillingAdminState, UsageState};
use serde::Serialize;

const MAX_PLAN_BODY_BYTES: usize = 16 * 1024;

/// The period named by `?period=`, else the one `now` is in.
fn period_param(request: &Request, now: Timestamp) -> Result<Period, Problem> {
    match query_param(request, "period") {
        Some(text) => Ok(Period::parse(&text)?),
        None => Ok(Period::of(now)),
    }
}

#[derive(Serialize)]
struct ModelUsage<'a> {
    model: &'a str,
    #[serde(flatten)]
    tally: Tally,
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
}

fn usage_view(
    tenant: &TenantId,
    terms: &TenantTerms,
    period: Period,
    usage: &UsageReport,
) -> HandlerResult {
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
        },
    )
}

async fn usage_of(
    store: &dyn PolicyStore,
    billing: &dyn BillingStore,
    tenant: &TenantId,
    period: Period,
) -> HandlerResult {
    let terms = tenant_terms(store, tenant)
        .await?
        .ok_or_else(Problem::not_found)?;
    let usage = billing.usage(tenant, period).await?;
    usage_view(tenant, &terms, period, &usage)
}

/// `GET /v1/usage?period=`
pub async fn get_usage(state: &UsageState, request: Request) -> Response<Body> {
    handle_limited(
        "get_usage",
        &state.limiter,
        request,
        |request, caller| async move {
            let period = period_param(&request, state.clock.now())?;
            usage_of(&*state.store, &*state.billing, &caller.tenant_id, period).await
        },
    )
    .await
}

/// `GET /admin/tenants/{tenantId}/usage?period=`
pub async fn get_tenant_usage(state: &BillingAdminState, request: Request) -> Response<Body> {
    admin_read(
        "get_tenant_usage",
        request,
        Action::UsageRead,
        |call| async move {
            let tenant = call.tenant.as_ref().ok_or_else(Problem::not_found)?;
            let period = period_param(&call.request, state.admin.clock.now())?;
            usage_of(&*state.admin.store, &*state.billing, tenant, period).await
        },
    )
    .await
}

#[derive(Serialize)]
struct PlanList {
    items: Vec<Plan>,
}

/// `GET /admin/plans`
pub async fn list_plans(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "list_plans",
        request,
        Action::PlanRead,
        |_call| async move {
            json(
                200,
                &PlanList {
                    items: all_plans(&*state.store).await?,
                },
            )
        },
    )
    .await
}

fn plan_param(call: &AdminCall) -> Result<nutripro_shared::domain::PlanId, Problem> {
    parse_plan_id(&path_param(&call.request, "planId")?).map_err(|_| Problem::not_found())
}

/// `GET /admin/plans/{planId}`
pub async fn get_plan(state: &AdminState, request: Request) -> Response<Body> {
    admin_read("get_plan", request, Action::PlanRead, |call| async move {
        let id = plan_param(&call)?;
        let plan = find_plan(&*state.store, &id)
            .await?
            .ok_or_else(Problem::not_found)?;
        json(200, &plan)
    })
    .await
}

/// `PUT /admin/plans/{planId}`
pub async fn put_plan(state: &AdminState, request: Request) -> Response<Body> {
    admin_change(
        "put_plan",
        "plan.put",
        state,
        request,
        Action::PlanWrite,
        |call| async move {
            let id = parse_plan_id(&path_param(&call.request, "planId")?)?;
            let mut plan: Plan = parse_json(&call.request, MAX_PLAN_BODY_BYTES)?;
            if !plan.id.is_empty() && plan.id != id.as_str() {
                return Err(Problem::validation("the body's id must match the path's"));
            }
            plan.id = id.to_string();
            plan.validate()?;
            let before = find_plan(&*state.store, &id).await?;
            if let Some(current) = &before {
                if current.currency != plan.currency {
                    return Err(Problem::new(
                        409,
                        "currency-mismatch",
                        "Conflict",
                        format!(
                            "Plan {id} is priced in {}; a plan's currency never changes (create a new plan instead).",
                            current.currency
                        ),
                    ));
                }
            }
            state.store.put_plan(&plan).await?;
            Ok(Change {
                response: json(200, &plan)?,
                target: format!("plan/{id}"),
                tenant: None,
                details: serde_json::json!({"before": before, "after": plan}),
            })
        },
    )
    .await
}

/// What closing a period did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct CloseReport {
    pub period: String,
    /// Invoices this close issued.
    pub issued: Vec<String>,
    /// Tenants that already had their invoice (an earlier close).
    pub already_invoiced: u32,
    /// Tenants with nothing to invoice (created after the period, or offboarded
    /// without usage in it).
    pub skipped: u32,
    /// Tenants whose stored aggregates differ from their ledger (invoiced from the
    /// ledger all the same; the difference is logged as an error).
    pub reconciliation_failures: Vec<String>,
}

fn period_not_over(period: Period) -> Problem {
    Problem::new(
        409,
        "period-not-closable",
        "Conflict",
        format!(
            "Period {period} can be closed once it has ended and its last reservations have expired."
        ),
    )
}

async fn close_tenant(
    store: &dyn AdminStore,
    billing: &dyn BillingStore,
    tenant: &Tenant,
    period: Period,
    now: Timestamp,
    report: &mut CloseReport,
) -> Result<(), Problem> {
    if tenant.created_at >= period.end() {
        report.skipped += 1;
        return Ok(());
    }
    if billing.get_invoice(&tenant.id, period).await?.is_some() {
        report.already_invoiced += 1;
        return Ok(());
    }
    let ledger = ledger_usage(billing, &tenant.id, period).await?;
    if tenant.status == TenantStatus::Offboarded && ledger.total.generations == 0 {
        report.skipped += 1;
        return Ok(());
    }
    let stored = billing.usage(&tenant.id, period).await?;
    let mismatches = stored.reconcile(&ledger);
    if !mismatches.is_empty() {
        tracing::error!(tenant_id = %tenant.id, %period, ?mismatches, "usage aggregates differ from the ledger; invoicing from the ledger");
        report.reconciliation_failures.push(tenant.id.to_string());
    }
    let Some(plan) = find_plan(store, &tenant.plan).await? else {
        tracing::error!(tenant_id = %tenant.id, plan = %tenant.plan, "tenant on a missing plan");
        return Err(Problem::internal());
    };
    let invoice = Invoice::issue(&tenant.id, &plan, period, &ledger, now);
    if billing.create_invoice(&invoice).await? {
        report.issued.push(invoice.id);
    } else {
        report.already_invoiced += 1;
    }
    Ok(())
}

/// Closes `period`: an invoice for every tenant that had one coming and has none yet.
/// Safe to run twice or concurrently (invoices are create-only).
pub async fn close(
    store: &dyn AdminStore,
    billing: &dyn BillingStore,
    period: Period,
    now: Timestamp,
) -> Result<CloseReport, Problem> {
    if !period.closable_at(now) {
        return Err(period_not_over(period));
    }
    let mut report = CloseReport {
        period: period.to_string(),
        ..Default::default()
    };
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_tenants(MAX_PAGE_SIZE, cursor.as_deref()).await?;
        for tenant in &page.items {
            close_tenant(store, billing, tenant, period, now, &mut report).await?;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(%period, issued = report.issued.len(), already = report.already_invoiced, "period closed");
    Ok(report)
}

fn close_details(report: &CloseReport) -> serde_json::Value {
    serde_json::json!({
        "issued": report.issued.len(),
        "already_invoiced": report.already_invoiced,
        "skipped": report.skipped,
        "reconciliation_failures": report.reconciliation_failures,
    })
}

/// `POST /admin/billing/periods/{period}/close`
pub async fn close_period(state: &BillingAdminState, request: Request) -> Response<Body> {
    admin_change(
        "close_period",
        "billing.close",
        &state.admin,
        request,
        Action::BillingClose,
        |call| async move {
            let period = Period::parse(&path_param(&call.request, "period")?)?;
            let report = close(
                &*state.admin.store,
                &*state.billing,
                period,
                state.admin.clock.now(),
            )
            .await?;
            Ok(Change {
                response: json(200, &report)?,
                target: format!("billing/period/{period}"),
                tenant: None,
                details: close_details(&report),
            })
        },
    )
    .await
}

/// The scheduled monthly close: the period that ended before `clock`'s now, audited
/// with the scheduler as the actor.
pub async fn scheduled_close(
    store: &dyn AdminStore,
    audit: &dyn AuditStore,
    billing: &dyn BillingStore,
    clock: &dyn Clock,
    request_id: &str,
) -> Result<CloseReport, Problem> {
    let now = clock.now();
    let period = Period::of(now).previous();
    let outcome = close(store, billing, period, now).await;
    let (result, details) = match &outcome {
        Ok(report) => (Outcome::Success, close_details(report)),
        Err(problem) => (
            Outcome::Rejected,
            serde_json::json!({"status": problem.status, "problem": problem.slug}),
        ),
    };
    append_audit(
        audit,
        AuditDraft {
            at: now,
            actor: Actor {
                subject: "system:billing-scheduler".into(),
                roles: "scheduler".into(),
            },
            action: "billing.close".into(),
            target: format!("billing/period/{period}"),
            tenant_id: None,
            request_id: request_id.to_owned(),
            source_ip: String::new(),
            outcome: result,
            details,
        },
    )
    .await
    .map_err(Problem::from)?;
    outcome
}

fn wants_csv(request: &Request) -> Result<bool, Problem> {
    match query_param(request, "format").as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(Problem::validation("format must be json or csv")),
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
        .map_err(|_| Problem::internal())
}

#[derive(Serialize)]
struct InvoiceList {
    items: Vec<Invoice>,
}

/// `GET /admin/tenants/{tenantId}/invoices[?format=csv]`
pub async fn list_invoices(state: &BillingAdminState, request: Request) -> Response<Body> {
    admin_read(
        "list_invoices",
        request,
        Action::InvoiceRead,
        |call| async move {
            let tenant = call.tenant.as_ref().ok_or_else(Problem::not_found)?;
            let csv = wants_csv(&call.request)?;
            state
                .admin
                .store
                .get_tenant(tenant)
                .await?
                .ok_or_else(Problem::not_found)?;
            let invoices = state.billing.list_invoices(tenant).await?;
            if csv {
                csv_response(&invoices, &format!("invoices-{tenant}"))
            } else {
                json(200, &InvoiceList { items: invoices })
            }
        },
    )
    .await
}

/// Whether `principal` may see `tenant`'s billing (a tenant-manager only its own).
fn reaches(principal: &AdminPrincipal, tenant: &TenantId) -> bool {
    principal.sees_all_tenants(Action::InvoiceRead) || principal.tenant.as_ref() == Some(tenant)
}

/// `GET /admin/invoices/{invoiceId}[?format=csv]`
pub async fn get_invoice(state: &BillingAdminState, request: Request) -> Response<Body> {
    admin_read(
        "get_invoice",
        request,
        Action::InvoiceRead,
        |call| async move {
            let id = path_param(&call.request, "invoiceId")?;
            let (tenant, period) = parse_invoice_id(&id).ok_or_else(Problem::not_found)?;
            // Another tenant's invoice is as absent as a missing one (threat S15).
            if !reaches(&call.principal, &tenant) {
                return Err(Problem::not_found());
            }
            let csv = wants_csv(&call.request)?;
            let invoice = state
                .billing
                .get_invoice(&tenant, period)
                .await?
                .ok_or_else(Problem::not_found)?;
            if csv {
                csv_response(std::slice::from_ref(&invoice), &invoice.id)
            } else {
                json(200, &invoice)
            }
        },
    )
    .await
}
