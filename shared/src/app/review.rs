//! What the safety checks withheld, for the control plane: a tenant's blocked
//! generations of a period (codes and times, never text; platform-admin and the tenant's
//! own manager), and one stored generation whole — the withheld text included — for the
//! platform-admin's review. Reads: authorized, logged, not audited.

use super::admin::AdminCall;
use super::AppError;
use crate::domain::admin::Action;
use crate::domain::billing::Period;
use crate::domain::content::{BlockedSummary, Generation, GenerationId};
use crate::domain::{is_id, TenantId};
use crate::ports::Page;
use crate::state::ReviewState;

/// A page of a period's review list.
pub struct BlockedQuery {
    /// `None`: the current period.
    pub period: Option<Period>,
    pub limit: u32,
    pub position: Option<String>,
}

async fn existing(state: &ReviewState, tenant: Option<TenantId>) -> Result<TenantId, AppError> {
    let tenant = tenant.ok_or(AppError::NotFound)?;
    state
        .store
        .get_tenant(&tenant)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(tenant)
}

/// The tenant's blocked generations of a period, newest first. `params` are checked
/// after the permission.
pub async fn blocked_generations(
    state: &ReviewState,
    call: &AdminCall,
    params: Result<BlockedQuery, AppError>,
) -> Result<(Period, Page<BlockedSummary>), AppError> {
    let tenant = call.authorize(Action::SafetyRead)?;
    let query = params?;
    let tenant = existing(state, tenant).await?;
    let period = query
        .period
        .unwrap_or_else(|| Period::of(state.clock.now()));
    let page = state
        .content
        .list_blocked(&tenant, period, query.limit, query.position.as_deref())
        .await?;
    Ok((period, page))
}

/// One stored generation, whole, for review (platform-admin only).
pub async fn review_generation(
    state: &ReviewState,
    call: &AdminCall,
    generation_id: &str,
) -> Result<Generation, AppError> {
    let tenant = call.authorize(Action::GenerationReview)?;
    let tenant = existing(state, tenant).await?;
    if !is_id(generation_id) {
        return Err(AppError::NotFound);
    }
    let generation = state
        .content
        .get_generation(&tenant, &GenerationId::new(generation_id))
        .await?
        .ok_or(AppError::NotFound)?;
    let keyring = super::generations::keyring(&*state.sealing).await?;
    let generation = super::generations::intact(&keyring, generation)?;
    tracing::info!(
        subject = %call.principal.subject,
        tenant_id = %tenant,
        generation_id,
        status = generation.status().as_str(),
        "generation reviewed"
    );
    Ok(generation)
}
