//! `GET /v1/me`: who the caller is and the limits that apply to it.

use super::AppError;
use crate::domain::{KeyId, Tenant, TenantId};
use crate::ports::billing::TenantTerms;
use crate::state::AccountState;

pub struct Me {
    pub tenant: Tenant,
    pub key_id: KeyId,
    /// The terms the rate check just applied (its settings, else its plan's).
    pub terms: TenantTerms,
}

pub async fn me(state: &AccountState, tenant: &TenantId, key_id: &KeyId) -> Result<Me, AppError> {
    // The authorizer saw this tenant a moment ago (or within its cache TTL); if it is
    // gone now, the credential no longer stands for anything.
    let tenant = state
        .store
        .get_tenant(tenant)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let terms = state.limiter.terms(&tenant.id).await?;
    Ok(Me {
        tenant,
        key_id: key_id.clone(),
        terms,
    })
}
