//! A dietitian's style profile, kept in step with their samples: recomputed after every
//! sample is stored or deleted (from the dietitian's samples, the one just written
//! included and the one just deleted left out, whatever the listing's lag), and checked
//! against the current samples when it is read, so a profile that missed a concurrent
//! change heals on the next read.

use super::AppError;
use crate::domain::content::{DietitianId, Sample, SampleId, MAX_SAMPLES_PER_DIETITIAN};
use crate::domain::style::DietitianStyle;
use crate::domain::TenantId;
use crate::ports::content::{ContentStore, StoredStyle};
use crate::ports::{Clock, StoreError, MAX_PAGE_SIZE};
use crate::state::ContentState;

/// How long a profile just computed is trusted over a listing that disagrees.
const LISTING_LAG_MS: i64 = 10_000;

/// Every sample of the dietitian (at most [`MAX_SAMPLES_PER_DIETITIAN`], a few more
/// after racing uploads).
async fn all_samples(
    store: &dyn ContentStore,
    tenant: &TenantId,
    dietitian: &DietitianId,
) -> Result<Vec<Sample>, StoreError> {
    let mut samples = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: the limit plus racing uploads fit in a few pages.
    for _ in 0..10 {
        let page = store
            .list_samples(tenant, dietitian, None, MAX_PAGE_SIZE, cursor.as_deref())
            .await?;
        samples.extend(page.items);
        match page.next_cursor {
            Some(next) if samples.len() < 10 * MAX_SAMPLES_PER_DIETITIAN => cursor = Some(next),
            _ => break,
        }
    }
    Ok(samples)
}

/// Recomputes and stores the profile from the dietitian's samples, with `added` in and
/// `removed` out; deletes it when no sample is left.
pub async fn refresh(
    store: &dyn ContentStore,
    clock: &dyn Clock,
    tenant: &TenantId,
    dietitian: &DietitianId,
    added: Option<&Sample>,
    removed: Option<&SampleId>,
) -> Result<Option<StoredStyle>, StoreError> {
    let mut samples = all_samples(store, tenant, dietitian).await?;
    samples.retain(|s| Some(&s.id) != removed && Some(&s.id) != added.map(|a| &a.id));
    samples.extend(added.cloned());
    match DietitianStyle::from_samples(&samples) {
        Some(style) => {
            let stored = StoredStyle {
                tenant_id: tenant.clone(),
                dietitian_id: dietitian.clone(),
                style,
                computed_at: clock.now(),
            };
            store.put_style(&stored).await?;
            Ok(Some(stored))
        }
        None => {
            store.delete_style(tenant, dietitian).await?;
            Ok(None)
        }
    }
}

/// After a sample change: a failure to refresh is logged, not returned (the sample
/// change stands; the next read heals the profile).
pub async fn refresh_after_change(
    state: &ContentState,
    tenant: &TenantId,
    dietitian: &DietitianId,
    added: Option<&Sample>,
    removed: Option<&SampleId>,
) {
    if let Err(error) = refresh(
        &*state.store,
        &*state.clock,
        tenant,
        dietitian,
        added,
        removed,
    )
    .await
    {
        tracing::warn!(%error, dietitian_id = %dietitian, "style profile not refreshed; the next read recomputes it");
    }
}

/// The dietitian's profile (`None`: no samples), recomputed first if it was not made
/// from exactly the current samples.
pub async fn style_of(
    state: &ContentState,
    tenant: &TenantId,
    dietitian: &DietitianId,
) -> Result<Option<StoredStyle>, AppError> {
    let stored = state.store.get_style(tenant, dietitian).await?;
    let current: Vec<SampleId> = all_samples(&*state.store, tenant, dietitian)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let fresh = match &stored {
        // Just computed: the listing (a DynamoDB index, eventually consistent) may not
        // show the change yet; trust the profile for a while.
        Some(s) => {
            s.style.is_of(&current)
                || s.computed_at.as_millis() + LISTING_LAG_MS > state.clock.now().as_millis()
        }
        None => current.is_empty(),
    };
    if fresh {
        return Ok(stored);
    }
    tracing::info!(dietitian_id = %dietitian, "style profile out of step with the samples: recomputed");
    Ok(refresh(&*state.store, &*state.clock, tenant, dietitian, None, None).await?)
}
