//! The steps every control-plane use case shares: who is asking and about which tenant
//! ([`AdminCall`]), what the permission table allows them ([`AdminCall::authorize`]),
//! the offboarded rule for changes ([`AdminCall::authorize_change`]), and exactly one
//! audit entry per change attempt, whatever its outcome ([`audited`]) — threats T07,
//! T16, S08.

use super::AppError;
use crate::domain::admin::{Action, AdminPrincipal, Denial, Scope};
use crate::domain::audit::{Actor, AuditDraft, Outcome};
use crate::domain::{is_id, TenantId, TenantStatus};
use crate::ports::{append_audit, TenantStore};
use crate::state::AdminState;

/// An authenticated control-plane request, as the use cases see it.
#[derive(Debug, Clone)]
pub struct AdminCall {
    pub principal: AdminPrincipal,
    /// The tenant the path names (`{tenantId}`), as written.
    pub path_tenant: Option<String>,
    /// The `tenant_id` filter of a listing, as written.
    pub query_tenant: Option<String>,
    /// What the request addressed (its path), for the audit entry of a refusal.
    pub target: String,
    pub request_id: String,
    pub source_ip: String,
}

fn denied(denial: Denial) -> AppError {
    match denial {
        Denial::Forbidden => AppError::RoleForbidden,
        Denial::NotFound => AppError::NotFound,
    }
}

impl AdminCall {
    /// Decides `action` with the permission table. The tenant it concerns: the path's,
    /// else (listings such as the audit log) the `tenant_id` filter, else, for a
    /// tenant-manager, its own. A malformed tenant id names no tenant (404), but a role
    /// without the permission learns no more than its 403.
    pub fn authorize(&self, action: Action) -> Result<Option<TenantId>, AppError> {
        let principal = &self.principal;
        let named = self.path_tenant.clone().or_else(|| {
            (action.scope() == Scope::Tenant)
                .then(|| self.query_tenant.clone())
                .flatten()
        });
        let tenant = match named {
            None => None,
            Some(id) if is_id(&id) => Some(TenantId::new(id)),
            Some(_) => {
                return Err(match principal.authorize(action, None) {
                    Err(Denial::Forbidden) => AppError::RoleForbidden,
                    _ => AppError::NotFound,
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
            .map_err(denied)?;
        Ok(tenant)
    }

    /// [`Self::authorize`] for a change, which an offboarded tenant never accepts: it is
    /// read-only for every role (409 `tenant-offboarded`, audited as rejected).
    /// Offboarding itself is the exception: repeating it changes nothing and stays an
    /// idempotent success. A tenant that does not exist is left to the use case (404).
    pub async fn authorize_change(
        &self,
        store: &dyn TenantStore,
        action: Action,
    ) -> Result<Option<TenantId>, Refused> {
        let tenant = self.authorize(action).map_err(Refused::denied)?;
        if let Some(id) = tenant.as_ref().filter(|_| action != Action::TenantOffboard) {
            if let Some(found) = store.get_tenant(id).await.map_err(AppError::from)? {
                if found.status == TenantStatus::Offboarded {
                    return Err(AppError::TenantOffboarded.into());
                }
            }
        }
        Ok(tenant)
    }
}

/// A change that was made: its result, and what its audit entry records.
pub struct Changed<T> {
    pub value: T,
    /// What it was done to, e.g. `tenant/<id>`, `key/<id>`.
    pub target: String,
    /// The tenant concerned (for creations: the new tenant).
    pub tenant: Option<TenantId>,
    /// Facts worth keeping (names, plans, grace periods; never secrets).
    pub details: serde_json::Value,
}

/// A change that was not made: denied by the permission table, or rejected (bad
/// input, a conflict, a failure).
#[derive(Debug)]
pub struct Refused {
    outcome: Outcome,
    error: AppError,
}

impl Refused {
    pub fn denied(error: AppError) -> Self {
        Self {
            outcome: Outcome::Denied,
            error,
        }
    }
}

impl From<AppError> for Refused {
    fn from(error: AppError) -> Self {
        Self {
            outcome: Outcome::Rejected,
            error,
        }
    }
}

impl From<crate::ports::StoreError> for Refused {
    fn from(error: crate::ports::StoreError) -> Self {
        AppError::from(error).into()
    }
}

impl From<crate::domain::ValidationError> for Refused {
    fn from(error: crate::domain::ValidationError) -> Self {
        AppError::from(error).into()
    }
}

/// Appends exactly one audit entry for a change attempt — success, denied or rejected —
/// and returns the attempt's result. If the entry cannot be written the change is not
/// reported as done: a change must not succeed silently without its record (503).
pub async fn audited<T>(
    state: &AdminState,
    call: &AdminCall,
    action: &'static str,
    attempt: Result<Changed<T>, Refused>,
) -> Result<T, AppError> {
    let (outcome, target, tenant, details, result) = match attempt {
        Ok(changed) => (
            Outcome::Success,
            changed.target,
            changed.tenant.map(|t| t.to_string()),
            changed.details,
            Ok(changed.value),
        ),
        Err(refused) => {
            let described = refused.error.describe();
            (
                refused.outcome,
                call.target.clone(),
                call.path_tenant.clone(),
                serde_json::json!({"status": described.status, "problem": described.slug}),
                Err(refused.error),
            )
        }
    };
    let draft = AuditDraft {
        at: state.clock.now(),
        actor: Actor {
            subject: call.principal.subject.clone(),
            roles: call.principal.roles_text(),
        },
        action: action.to_owned(),
        target,
        tenant_id: tenant,
        request_id: call.request_id.clone(),
        source_ip: call.source_ip.clone(),
        outcome,
        details,
    };
    let (subject, outcome) = (draft.actor.subject.clone(), draft.outcome.as_str());
    match append_audit(&*state.audit, draft).await {
        Ok(recorded) => {
            tracing::info!(audit_action = action, outcome, %subject, audit_seq = recorded.seq, "audited");
            result
        }
        Err(error) => Err(AppError::Unavailable(format!(
            "audit append failed for {action}: {error}"
        ))),
    }
}
