//! The envelope of every control-plane endpoint: read the admin principal from the
//! authorizer context, decide the action with the permission table, and, for changes,
//! append exactly one audit entry whatever the outcome (threats T07, T16, S08).

use super::{handle, is_id, path_param, query_param, request_id, source_ip, Problem};
use crate::domain::admin::{Action, AdminPrincipal, Denial, Scope};
use crate::domain::audit::{Actor, AuditDraft, Outcome};
use crate::domain::{TenantId, TenantStatus};
use crate::http::admin_principal;
use crate::ports::append_audit;
use crate::state::AdminState;
use lambda_http::{Body, Request, Response};
use std::future::Future;

/// The path parameter naming the tenant of tenant-scoped admin routes.
pub const TENANT_PARAM: &str = "tenantId";

/// What a successful change did: the response, and what the audit entry records.
pub struct Change {
    pub response: Response<Body>,
    /// What it was done to, e.g. `tenant/<id>`, `key/<id>`.
    pub target: String,
    /// The tenant concerned (for creations: the new tenant).
    pub tenant: Option<TenantId>,
    /// Facts worth keeping (names, plans, grace periods; never secrets).
    pub details: serde_json::Value,
}

/// The caller and the tenant a request concerns, once authorized.
pub struct AdminCall {
    pub principal: AdminPrincipal,
    /// The path's tenant, for tenant-scoped routes.
    pub tenant: Option<TenantId>,
    pub request: Request,
}

fn denial_problem(denial: Denial) -> Problem {
    match denial {
        Denial::Forbidden => Problem::forbidden("Your role does not allow this action."),
        Denial::NotFound => Problem::not_found(),
    }
}

fn path_tenant_text(request: &Request) -> Option<String> {
    path_param(request, TENANT_PARAM).ok()
}

/// Authenticates and authorizes; `Err` is the problem to answer with.
fn authorize(
    request: &Request,
    action: Action,
) -> Result<(AdminPrincipal, Option<TenantId>), Problem> {
    let principal = admin_principal(request)?;
    // The tenant comes from the path, else (listings such as the audit log) from the
    // `tenant_id` filter, else, for a tenant-manager, is its own tenant.
    let named = path_tenant_text(request).or_else(|| {
        (action.scope() == Scope::Tenant)
            .then(|| query_param(request, "tenant_id"))
            .flatten()
    });
    let tenant = match named {
        None => None,
        Some(id) if is_id(&id) => Some(TenantId::new(id)),
        Some(_) => {
            // A malformed id names no tenant (404), but a role without the permission
            // learns no more than its 403.
            return Err(match principal.authorize(action, None) {
                Err(Denial::Forbidden) => denial_problem(Denial::Forbidden),
                _ => Problem::not_found(),
            });
        }
    };
    let tenant = tenant.or_else(|| {
        (action.scope() == Scope::Tenant && !principal.sees_all_tenants(action))
            .then(|| principal.tenant.clone())
            .flatten()
    });
    principal
        .authorize(action, tenant.as_ref())
        .map_err(denial_problem)?;
    Ok((principal, tenant))
}

/// 409 `tenant-offboarded`: the one answer to any change of an offboarded tenant.
pub fn tenant_offboarded() -> Problem {
    Problem::new(
        409,
        "tenant-offboarded",
        "Conflict",
        "This tenant has been offboarded and is read-only; its usage, invoices and audit entries can still be read.",
    )
}

/// An offboarded tenant is read-only for every role: every change of it is refused
/// (and audited as rejected) here, once for every changing route, before the handler
/// runs. Offboarding itself is the exception: repeating it changes nothing and stays
/// an idempotent 204. A tenant that does not exist is left to the handler (404).
async fn writable(
    state: &AdminState,
    action: Action,
    tenant: Option<&TenantId>,
) -> Result<(), Problem> {
    let Some(tenant) = tenant.filter(|_| action != Action::TenantOffboard) else {
        return Ok(());
    };
    match state.store.get_tenant(tenant).await? {
        Some(found) if found.status == TenantStatus::Offboarded => Err(tenant_offboarded()),
        _ => Ok(()),
    }
}

/// A read-only admin endpoint: authorized, not audited.
pub async fn admin_read<F, Fut>(
    function: &'static str,
    request: Request,
    action: Action,
    logic: F,
) -> Response<Body>
where
    F: FnOnce(AdminCall) -> Fut,
    Fut: Future<Output = super::HandlerResult>,
{
    handle(function, request, |request| async move {
        let (principal, tenant) = authorize(&request, action)?;
        logic(AdminCall {
            principal,
            tenant,
            request,
        })
        .await
    })
    .await
}

/// A changing admin endpoint: authorized, and audited exactly once with its outcome
/// (success, denied, or rejected). Unauthenticated requests (401) are not attributable
/// and are not audited. If the entry cannot be written the caller gets 503: a change
/// must not succeed silently without its record.
pub async fn admin_change<F, Fut>(
    function: &'static str,
    audit_action: &'static str,
    state: &AdminState,
    request: Request,
    action: Action,
    logic: F,
) -> Response<Body>
where
    F: FnOnce(AdminCall) -> Fut,
    Fut: Future<Output = Result<Change, Problem>>,
{
    handle(function, request, |request| async move {
        let principal = admin_principal(&request)?;
        let path_target = request.uri().path().to_owned();
        let path_tenant_id = path_tenant_text(&request);
        let (request_id, source_ip) = (request_id(&request), source_ip(&request));
        let draft = |outcome, target: String, tenant: Option<String>, details| AuditDraft {
            at: state.clock.now(),
            actor: Actor {
                subject: principal.subject.clone(),
                roles: principal.roles_text(),
            },
            action: audit_action.to_owned(),
            target,
            tenant_id: tenant,
            request_id: request_id.clone(),
            source_ip: source_ip.clone().unwrap_or_default(),
            outcome,
            details,
        };
        let result = match authorize(&request, action) {
            Err(problem) => Err((Outcome::Denied, problem)),
            Ok((principal, tenant)) => match writable(state, action, tenant.as_ref()).await {
                Err(problem) => Err((Outcome::Rejected, problem)),
                Ok(()) => logic(AdminCall {
                    principal,
                    tenant,
                    request,
                })
                .await
                .map_err(|problem| (Outcome::Rejected, problem)),
            },
        };
        let (entry, answer) = match result {
            Ok(change) => (
                draft(
                    Outcome::Success,
                    change.target,
                    change.tenant.map(|t| t.to_string()),
                    change.details,
                ),
                Ok(change.response),
            ),
            Err((outcome, problem)) => (
                draft(
                    outcome,
                    path_target,
                    path_tenant_id,
                    serde_json::json!({"status": problem.status, "problem": problem.slug}),
                ),
                Err(problem),
            ),
        };
        let (subject, outcome) = (entry.actor.subject.clone(), entry.outcome.as_str());
        match append_audit(&*state.audit, entry).await {
            Ok(recorded) => {
                tracing::info!(audit_action, outcome, %subject, audit_seq = recorded.seq, "audited");
            }
            Err(error) => {
                tracing::error!(%error, audit_action, "audit append failed");
                return Err(Problem::unavailable());
            }
        }
        answer
    })
    .await
}
