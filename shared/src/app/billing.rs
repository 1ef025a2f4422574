//! Billing (spec section 6): usage of a period (the same aggregates for the tenant and
//! its admins, which reconciliation proves equal to the ledger), plans, closing a period
//! into immutable invoices (by an admin or the monthly schedule), and reading invoices.

use super::admin::{audited, AdminCall, Changed, Refused};
use super::AppError;
use crate::domain::admin::{Action, AdminPrincipal};
use crate::domain::audit::{Actor, AuditDraft, Outcome};
use crate::domain::billing::{parse_invoice_id, parse_plan_id, Invoice, Period, Plan, UsageReport};
use crate::domain::{PlanId, Tenant, TenantId, TenantStatus, Timestamp};
use crate::ports::billing::{
    all_plans, find_plan, ledger_usage, tenant_terms, BillingStore, TenantTerms,
};
use crate::ports::{append_audit, AdminStore, AuditStore, Clock, PolicyStore, MAX_PAGE_SIZE};
use crate::state::{AdminState, BillingAdminState, UsageState};
use serde::Serialize;

/// A tenant's usage of a period with the terms in force.
pub struct Usage {
    pub tenant: TenantId,
    pub period: Period,
    pub terms: TenantTerms,
    pub report: UsageReport,
}

async fn usage_of(
    store: &dyn PolicyStore,
    billing: &dyn BillingStore,
    tenant: &TenantId,
    period: Period,
) -> Result<Usage, AppError> {
    let terms = tenant_terms(store, tenant)
        .await?
        .ok_or(AppError::NotFound)?;
    let report = billing.usage(tenant, period).await?;
    Ok(Usage {
        tenant: tenant.clone(),
        period,
        terms,
        report,
    })
}

/// The calling tenant's usage (`None`: the current period).
pub async fn tenant_usage(
    state: &UsageState,
    tenant: &TenantId,
    period: Option<Period>,
) -> Result<Usage, AppError> {
    let period = period.unwrap_or_else(|| Period::of(state.clock.now()));
    usage_of(&*state.store, &*state.billing, tenant, period).await
}

/// A tenant's usage for platform-admins and its own manager.
pub async fn admin_usage(
    state: &BillingAdminState,
    call: &AdminCall,
    period: Result<Option<Period>, AppError>,
) -> Result<Usage, AppError> {
    let tenant = call
        .authorize(Action::UsageRead)?
        .ok_or(AppError::NotFound)?;
    let period = period?.unwrap_or_else(|| Period::of(state.admin.clock.now()));
    usage_of(&*state.admin.store, &*state.billing, &tenant, period).await
}

pub async fn list_plans(state: &AdminState, call: &AdminCall) -> Result<Vec<Plan>, AppError> {
    call.authorize(Action::PlanRead)?;
    Ok(all_plans(&*state.store).await?)
}

pub async fn get_plan(state: &AdminState, call: &AdminCall, id: &str) -> Result<Plan, AppError> {
    call.authorize(Action::PlanRead)?;
    let id = parse_plan_id(id).map_err(|_| AppError::NotFound)?;
    find_plan(&*state.store, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Creates or replaces plan `id`; a plan's currency never changes.
pub async fn put_plan(
    state: &AdminState,
    call: &AdminCall,
    id: &str,
    input: Result<Plan, AppError>,
) -> Result<Plan, AppError> {
    let attempt = put(state, call, id, input).await;
    audited(state, call, "plan.put", attempt).await
}

async fn put(
    state: &AdminState,
    call: &AdminCall,
    id: &str,
    input: Result<Plan, AppError>,
) -> Result<Changed<Plan>, Refused> {
    call.authorize_change(&*state.store, Action::PlanWrite)
        .await?;
    let id: PlanId = parse_plan_id(id)?;
    let mut plan = input?;
    if !plan.id.is_empty() && plan.id != id.as_str() {
        return Err(AppError::Validation("the body's id must match the path's".into()).into());
    }
    plan.id = id.to_string();
    plan.validate()?;
    let before = find_plan(&*state.store, &id).await?;
    if let Some(current) = &before {
        if current.currency != plan.currency {
            return Err(AppError::CurrencyMismatch(format!(
                "Plan {id} is priced in {}; a plan's currency never changes (create a new plan instead).",
                current.currency
            ))
            .into());
        }
    }
    state.store.put_plan(&plan).await?;
    Ok(Changed {
        target: format!("plan/{id}"),
        tenant: None,
        details: serde_json::json!({"before": before, "after": plan}),
        value: plan,
    })
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

async fn close_tenant(
    store: &dyn AdminStore,
    billing: &dyn BillingStore,
    tenant: &Tenant,
    period: Period,
    now: Timestamp,
    report: &mut CloseReport,
) -> Result<(), AppError> {
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
        return Err(AppError::Internal(format!(
            "tenant {} on a missing plan {}",
            tenant.id, tenant.plan
        )));
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
) -> Result<CloseReport, AppError> {
    if !period.closable_at(now) {
        return Err(AppError::PeriodNotClosable(period));
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

/// `POST /admin/billing/periods/{period}/close` (platform-admin, audited).
pub async fn close_period(
    state: &BillingAdminState,
    call: &AdminCall,
    period: &str,
) -> Result<CloseReport, AppError> {
    let attempt = close_by_admin(state, call, period).await;
    audited(&state.admin, call, "billing.close", attempt).await
}

async fn close_by_admin(
    state: &BillingAdminState,
    call: &AdminCall,
    period: &str,
) -> Result<Changed<CloseReport>, Refused> {
    call.authorize_change(&*state.admin.store, Action::BillingClose)
        .await?;
    let period = Period::parse(period)?;
    let report = close(
        &*state.admin.store,
        &*state.billing,
        period,
        state.admin.clock.now(),
    )
    .await?;
    Ok(Changed {
        target: format!("billing/period/{period}"),
        tenant: None,
        details: close_details(&report),
        value: report,
    })
}

/// The scheduled monthly close: the period that ended before `clock`'s now, audited
/// with the scheduler as the actor.
pub async fn scheduled_close(
    store: &dyn AdminStore,
    audit: &dyn AuditStore,
    billing: &dyn BillingStore,
    clock: &dyn Clock,
    request_id: &str,
) -> Result<CloseReport, AppError> {
    let now = clock.now();
    let period = Period::of(now).previous();
    let outcome = close(store, billing, period, now).await;
    // A failed close, or tenants invoiced from a ledger their aggregates disagree with.
    let failures = match &outcome {
        Ok(report) => report.reconciliation_failures.len(),
        Err(_) => 1,
    };
    crate::metrics::add_function(
        "close_period_scheduled",
        crate::metrics::BILLING_CLOSE_FAILURES,
        failures as f64,
    );
    let (result, details) = match &outcome {
        Ok(report) => (Outcome::Success, close_details(report)),
        Err(error) => {
            let described = error.describe();
            (
                Outcome::Rejected,
                serde_json::json!({"status": described.status, "problem": described.slug}),
            )
        }
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
    .await?;
    outcome
}

/// The tenant's invoices, oldest period first.
pub async fn list_invoices(
    state: &BillingAdminState,
    call: &AdminCall,
) -> Result<(TenantId, Vec<Invoice>), AppError> {
    let tenant = call
        .authorize(Action::InvoiceRead)?
        .ok_or(AppError::NotFound)?;
    state
        .admin
        .store
        .get_tenant(&tenant)
        .await?
        .ok_or(AppError::NotFound)?;
    let invoices = state.billing.list_invoices(&tenant).await?;
    Ok((tenant, invoices))
}

/// Whether `principal` may see `tenant`'s billing (a tenant-manager only its own).
fn reaches(principal: &AdminPrincipal, tenant: &TenantId) -> bool {
    principal.sees_all_tenants(Action::InvoiceRead) || principal.tenant.as_ref() == Some(tenant)
}

/// One invoice by id; another tenant's is as absent as a missing one (threat S15).
pub async fn get_invoice(
    state: &BillingAdminState,
    call: &AdminCall,
    id: &str,
) -> Result<Invoice, AppError> {
    call.authorize(Action::InvoiceRead)?;
    let (tenant, period) = parse_invoice_id(id).ok_or(AppError::NotFound)?;
    if !reaches(&call.principal, &tenant) {
        return Err(AppError::NotFound);
    }
    state
        .billing
        .get_invoice(&tenant, period)
        .await?
        .ok_or(AppError::NotFound)
}
