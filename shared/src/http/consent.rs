//! The consent gate: samples and generations need the dietitian's recorded consent.

use super::Problem;
use crate::domain::content::DietitianId;
use crate::domain::TenantId;
use crate::ports::content::ContentStore;

/// 403 `consent-required` unless the dietitian's latest decision is a grant.
pub async fn require_consent(
    store: &dyn ContentStore,
    tenant: &TenantId,
    dietitian: &DietitianId,
) -> Result<(), Problem> {
    match store.get_consent(tenant, dietitian).await? {
        Some(consent) if consent.granted => Ok(()),
        _ => Err(Problem::new(
            403,
            "consent-required",
            "Consent Required",
            "This dietitian has not consented to AI processing of their writing; record consent with PUT /v1/dietitians/{dietitianId}/consent.",
        )),
    }
}
