//! Reading the audit log (spec section 7): entries newest first, filtered, and the
//! verification of the whole hash chain.

use super::admin::AdminCall;
use super::AppError;
use crate::domain::admin::Action;
use crate::domain::audit::{AuditEntry, BrokenLink, ChainVerifier};
use crate::domain::audit_checkpoint::{standing, AuditCheckpoint, CheckpointStanding};
use crate::domain::Timestamp;
use crate::ports::AuditStore;
use crate::state::{AdminState, AuditCheckpointState};

/// Most entries one listing request reads from the store.
pub const MAX_SCANNED: usize = 2_000;
const BATCH: u32 = 200;
const VERIFY_BATCH: u32 = 500;

/// What a listing keeps. The tenant is not part of it: the permission check decides it
/// (the requested tenant, or a tenant-manager's own).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// One page of matching entries and the sequence number to continue below (none at the
/// end of the chain).
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<u64>,
    /// The tenant the listing was narrowed to.
    pub tenant: Option<String>,
}

impl AuditFilter {
    fn matches(&self, tenant: Option<&str>, entry: &AuditEntry) -> bool {
        let d = &entry.draft;
        tenant.is_none_or(|t| d.tenant_id.as_deref() == Some(t))
            && self.actor.as_deref().is_none_or(|a| d.actor.subject == a)
            && self.action.as_deref().is_none_or(|a| d.action == a)
            && self.to.is_none_or(|to| d.at <= to)
    }
}

/// Walks the chain backwards from `before`, applying the filter, reading at most
/// [`MAX_SCANNED`] entries: a page can hold fewer than `limit` matches and still have a
/// continuation.
///
/// `params` (filter, page size, the sequence number to continue below) are checked
/// after the permission.
pub async fn list_audit(
    state: &AdminState,
    call: &AdminCall,
    params: Result<(AuditFilter, usize, Option<u64>), AppError>,
) -> Result<AuditPage, AppError> {
    let tenant = call.authorize(Action::AuditRead)?.map(|t| t.to_string());
    let (filter, limit, before) = params?;
    let filter = &filter;
    let mut before = before.unwrap_or(u64::MAX);
    let mut matches = Vec::new();
    let mut scanned = 0;
    let mut exhausted = false;
    while matches.len() < limit && scanned < MAX_SCANNED {
        let batch = state.audit.audit_before(before, BATCH).await?;
        let Some(last) = batch.last() else {
            exhausted = true;
            break;
        };
        let batch_len = batch.len();
        before = last.seq;
        for entry in batch {
            scanned += 1;
            if filter.from.is_some_and(|from| entry.draft.at < from) {
                exhausted = true;
                break;
            }
            if filter.matches(tenant.as_deref(), &entry) {
                matches.push(entry);
                if matches.len() == limit {
                    before = matches[limit - 1].seq;
                    break;
                }
            }
        }
        if exhausted || (batch_len < BATCH as usize && matches.len() < limit) {
            exhausted = true;
            break;
        }
    }
    Ok(AuditPage {
        entries: matches,
        next_before: (!exhausted && before > 1).then_some(before),
        tenant,
    })
}

/// The result of walking the whole chain.
pub struct Verification {
    pub checked: u64,
    pub head: Option<AuditEntry>,
    pub first_broken: Option<BrokenLink>,
    /// How the chain stands against the newest signed checkpoint (threat T07): a deleted
    /// or rewritten tail shows here even when every remaining link is consistent.
    pub checkpoint: CheckpointStanding,
    pub checkpoint_at: Option<Timestamp>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none() && self.checkpoint.is_consistent()
    }
}

/// Writes a checkpoint of the chain's head, signed with the service's key, unless the
/// newest one already names it. `None`: nothing new to checkpoint.
pub async fn write_checkpoint(
    state: &AuditCheckpointState,
) -> Result<Option<AuditCheckpoint>, AppError> {
    let Some(head) = state.audit.audit_head().await? else {
        return Ok(None);
    };
    let latest = state.checkpoints.latest().await?;
    // An unchanged head is not signed twice, unless the key changed: after a receipt-key
    // rotation the head is signed again with the new key, which verify then checks with.
    let key_id = state.signer.key_id().to_owned();
    if latest
        .as_ref()
        .is_some_and(|c| c.seq == head.seq && c.hash == head.hash && c.key_id == key_id)
    {
        return Ok(None);
    }
    if let Some(latest) = &latest {
        // Only a chain that still holds the newest checkpoint is checkpointed again:
        // signing the head of a deleted or rewritten tail would make the newest
        // checkpoint agree with the tampered chain, and verify would call it consistent.
        if let Err(reason) = extends(state, latest).await? {
            match state.reanchor.as_ref().filter(|r| r.names(&head)) {
                Some(reanchor) => tracing::warn!(
                    checkpoint_seq = latest.seq,
                    reanchor_seq = reanchor.seq,
                    reason,
                    "audit chain re-anchored at the operator's word (AUDIT_REANCHOR); remove it now"
                ),
                None => {
                    tracing::error!(
                        checkpoint_seq = latest.seq,
                        reason,
                        "audit chain no longer holds its newest checkpoint; not checkpointing over it"
                    );
                    return Err(AppError::IntegrityCheckFailed);
                }
            }
        } else if state.reanchor.is_some() {
            tracing::warn!("AUDIT_REANCHOR is set but the chain needs no re-anchor; remove it");
        }
    }
    sign_head(state, head, key_id).await.map(Some)
}

async fn sign_head(
    state: &AuditCheckpointState,
    head: AuditEntry,
    key_id: String,
) -> Result<AuditCheckpoint, AppError> {
    let at = state.clock.now();
    let signature = state
        .signer
        .sign(&AuditCheckpoint::message(head.seq, &head.hash, at))
        .await
        .map_err(|error| AppError::Unavailable(format!("checkpoint signing: {error}")))?;
    let checkpoint = AuditCheckpoint {
        seq: head.seq,
        hash: head.hash,
        at_ms: at.as_millis(),
        key_id,
        signature: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signature),
    };
    state.checkpoints.write(&checkpoint).await?;
    tracing::info!(seq = checkpoint.seq, "audit checkpoint written");
    Ok(checkpoint)
}

/// Whether the chain still holds `checkpoint` (its entry, intact, with its hash) and every
/// entry after it links on from there: the entries since the last checkpoint, a few pages
/// at most between two runs of the job.
async fn extends(
    state: &AuditCheckpointState,
    checkpoint: &AuditCheckpoint,
) -> Result<Result<(), &'static str>, AppError> {
    let mut verifier = ChainVerifier {
        expected_seq: checkpoint.seq + 1,
        expected_prev: checkpoint.hash.clone(),
        checked: 0,
    };
    let mut outcome = Err("the checkpointed entry is gone");
    let mut first = true;
    walk(&*state.audit, checkpoint.seq.saturating_sub(1), |entry| {
        outcome = if std::mem::take(&mut first) {
            let holds =
                entry.seq == checkpoint.seq && entry.hash == checkpoint.hash && entry.is_intact();
            if holds {
                Ok(())
            } else {
                Err("the checkpointed entry is gone or changed")
            }
        } else {
            verifier
                .check(&entry)
                .map_err(|_| "an entry after the checkpoint does not link on")
        };
        outcome.is_ok()
    })
    .await?;
    Ok(outcome)
}

/// Reads the chain forward from the entry after `after`, page by page, handing each entry
/// to `visit` until it answers `false` or the chain ends.
async fn walk(
    audit: &dyn AuditStore,
    mut after: u64,
    mut visit: impl FnMut(AuditEntry) -> bool,
) -> Result<(), AppError> {
    loop {
        let page = audit.audit_after(after, VERIFY_BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.seq;
        for entry in page {
            if !visit(entry) {
                return Ok(());
            }
        }
    }
}

pub async fn verify_audit(
    state: &AuditCheckpointState,
    call: &AdminCall,
) -> Result<Verification, AppError> {
    call.authorize(Action::AuditVerify)?;
    let mut verifier = ChainVerifier::default();
    let mut head: Option<AuditEntry> = None;
    let mut broken = None;
    walk(&*state.audit, 0, |entry| match verifier.check(&entry) {
        Err(link) => {
            broken = Some(link);
            false
        }
        Ok(()) => {
            head = Some(entry);
            true
        }
    })
    .await?;
    if broken.is_some() {
        tracing::error!(?broken, "audit chain verification failed");
    }
    let latest = state.checkpoints.latest().await?;
    let checkpoint = match &latest {
        None => CheckpointStanding::None,
        Some(checkpoint) => {
            let public_key = state
                .signer
                .public_key()
                .await
                .map_err(|error| AppError::Unavailable(format!("checkpoint key: {error}")))?;
            let at_seq = if head.as_ref().is_some_and(|h| h.seq == checkpoint.seq) {
                head.clone()
            } else {
                state
                    .audit
                    .audit_after(checkpoint.seq.saturating_sub(1), 1)
                    .await?
                    .into_iter()
                    .find(|e| e.seq == checkpoint.seq)
            };
            standing(
                Some(checkpoint),
                &public_key,
                at_seq.as_ref(),
                head.as_ref().map(|h| h.seq),
            )
        }
    };
    if !checkpoint.is_consistent() {
        tracing::error!(
            ?checkpoint,
            "audit chain does not match its newest checkpoint"
        );
    }
    Ok(Verification {
        checked: verifier.checked,
        head,
        first_broken: broken,
        checkpoint,
        checkpoint_at: latest.map(|c| c.at()),
    })
}
