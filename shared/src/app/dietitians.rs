//! A dietitian's consent to AI processing of their writing, and GDPR erasure.

use super::AppError;
use crate::domain::content::{Consent, DietitianId};
use crate::domain::{KeyId, TenantId};
use crate::ports::content::{ContentStore, Erasure};
use crate::state::ContentState;

/// Records (or withdraws) consent, with the time and the key that recorded it.
pub async fn record_consent(
    state: &ContentState,
    tenant: &TenantId,
    key_id: &KeyId,
    dietitian_id: DietitianId,
    granted: bool,
) -> Result<Consent, AppError> {
    let consent = Consent {
        tenant_id: tenant.clone(),
        dietitian_id,
        granted,
        recorded_at: state.clock.now(),
        key_id: key_id.clone(),
    };
    state.store.put_consent(&consent).await?;
    Ok(consent)
}

/// The dietitian's current decision (none recorded: not found).
pub async fn consent(
    state: &ContentState,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
) -> Result<Consent, AppError> {
    state
        .store
        .get_consent(tenant, dietitian_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The consent gate: samples and generations need the dietitian's latest decision to
/// be a grant.
pub async fn require_consent(
    store: &dyn ContentStore,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
) -> Result<(), AppError> {
    match store.get_consent(tenant, dietitian_id).await? {
        Some(consent) if consent.granted => Ok(()),
        _ => Err(AppError::ConsentRequired),
    }
}

/// Erases the dietitian's samples, generations, consent and stored responses — of the
/// calling tenant only.
pub async fn erase(
    state: &ContentState,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
) -> Result<Erasure, AppError> {
    let erased = state.store.erase_dietitian(tenant, dietitian_id).await?;
    tracing::info!(
        samples = erased.samples,
        generations = erased.generations,
        consent = erased.consent,
        "dietitian erased"
    );
    Ok(erased)
}
