//! Writing samples of a dietitian: the style examples generations imitate.

use super::dietitians::require_consent;
use super::idempotency::{self, Created, Once};
use super::AppError;
use crate::domain::content::{
    ContentKind, DietitianId, Sample, SampleId, MAX_SAMPLES_PER_DIETITIAN,
};
use crate::domain::TenantId;
use crate::ports::Page;
use crate::state::ContentState;

/// A new sample, as the caller wrote it.
pub struct NewSample {
    pub dietitian_id: DietitianId,
    pub kind: ContentKind,
    pub title: Option<String>,
    pub content: String,
    /// The request's verified signature, kept with the sample (spec section 11).
    pub request_signature: Option<crate::domain::signatures::RequestSignature>,
}

/// Stores a sample: valid, consented, at most [`MAX_SAMPLES_PER_DIETITIAN`] per
/// dietitian, once per idempotency key.
pub async fn create_sample<'a>(
    state: &'a ContentState,
    tenant: &TenantId,
    new: NewSample,
    once: Result<Option<Once>, AppError>,
) -> Result<Created<'a, Sample>, AppError> {
    let mut sample = Sample::new(
        tenant.clone(),
        new.dietitian_id,
        new.kind,
        new.title.as_deref(),
        &new.content,
        state.clock.now(),
    )?;
    sample.request_signature = new.request_signature;
    require_consent(&*state.store, tenant, &sample.dietitian_id).await?;
    let held = match idempotency::claim(&*state.store, &*state.clock, once).await? {
        Ok(held) => held,
        Err(stored) => return Ok(Created::Replayed(stored)),
    };
    let stored = async {
        let count = state
            .store
            .count_samples(tenant, &sample.dietitian_id)
            .await?;
        if count >= MAX_SAMPLES_PER_DIETITIAN {
            return Err(AppError::SampleLimitReached);
        }
        state.store.create_sample(&sample).await?;
        super::style::refresh_after_change(
            state,
            tenant,
            &sample.dietitian_id,
            Some(&sample),
            None,
        )
        .await;
        Ok(sample)
    }
    .await;
    held.settle(stored).await
}

pub async fn list_samples(
    state: &ContentState,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
    kind: Option<ContentKind>,
    limit: u32,
    position: Option<&str>,
) -> Result<Page<Sample>, AppError> {
    Ok(state
        .store
        .list_samples(tenant, dietitian_id, kind, limit, position)
        .await?)
}

pub async fn get_sample(
    state: &ContentState,
    tenant: &TenantId,
    id: &SampleId,
) -> Result<Sample, AppError> {
    state
        .store
        .get_sample(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete_sample(
    state: &ContentState,
    tenant: &TenantId,
    id: &SampleId,
) -> Result<(), AppError> {
    let dietitian = state
        .store
        .delete_sample(tenant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    super::style::refresh_after_change(state, tenant, &dietitian, None, Some(id)).await;
    Ok(())
}
