//! Control-plane endpoints for the audit log (spec section 7).
//!
//! - `GET /admin/audit?tenant_id=&actor=&action=&from=&to=&limit=&cursor=`: entries,
//!   newest first. A platform-admin sees every entry; a tenant-manager its own tenant's
//!   only (naming another tenant is 404). Filters are applied while walking the chain
//!   backwards, at most [`MAX_SCANNED`] entries per request: a page can hold fewer than
//!   `limit` matches and still have a `next_cursor`.
//! - `GET /admin/audit/verify`: walks the whole chain and reports the first broken link,
//!   and compares the chain with the newest signed checkpoint (a deleted or rewritten
//!   tail).
//! - the scheduled `audit_checkpoint` job: signs the chain's head and keeps it where the
//!   database's writers cannot reach it ([`run_checkpoint`]).

use lambda_http::{Body, Request, Response};
pub use nutripro_shared::app::audit_log::MAX_SCANNED;
use nutripro_shared::app::audit_log::{self, AuditFilter};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::audit::{AuditEntry, BrokenLink};
use nutripro_shared::domain::audit_checkpoint::CheckpointStanding;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::http::{json, pagination, query_param, serve};
use nutripro_shared::state::{AdminState, AuditCheckpointState};
use serde::Serialize;

#[derive(Serialize)]
struct EntryView<'a> {
    seq: u64,
    at: String,
    actor: &'a str,
    roles: &'a str,
    action: &'a str,
    target: &'a str,
    tenant_id: Option<&'a str>,
    request_id: &'a str,
    source_ip: &'a str,
    outcome: &'a str,
    details: &'a serde_json::Value,
    prev_hash: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a AuditEntry> for EntryView<'a> {
    fn from(entry: &'a AuditEntry) -> Self {
        let d = &entry.draft;
        Self {
            seq: entry.seq,
            at: d.at.to_rfc3339(),
            actor: &d.actor.subject,
            roles: &d.actor.roles,
            action: &d.action,
            target: &d.target,
            tenant_id: d.tenant_id.as_deref(),
            request_id: &d.request_id,
            source_ip: &d.source_ip,
            outcome: d.outcome.as_str(),
            details: &d.details,
            prev_hash: &entry.prev_hash,
            hash: &entry.hash,
        }
    }
}

#[derive(Serialize)]
struct EntryPage<'a> {
    items: Vec<EntryView<'a>>,
    next_cursor: Option<String>,
}

fn time_param(request: &Request, name: &str) -> Result<Option<Timestamp>, AppError> {
    query_param(request, name)
        .map(|text| {
            Timestamp::parse_rfc3339(&text)
                .ok_or_else(|| AppError::Validation(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

fn text_param(request: &Request, name: &str) -> Result<Option<String>, AppError> {
    match query_param(request, name).filter(|v| !v.is_empty()) {
        Some(value) if value.chars().count() > 200 => Err(AppError::Validation(format!(
            "{name} must be at most 200 characters"
        ))),
        other => Ok(other),
    }
}

/// `GET /admin/audit`
pub async fn list_audit(state: &AdminState, request: Request) -> Response<Body> {
    serve("list_audit", request, |call| async move {
        let admin = call.admin()?;
        let request = &call.request;
        let filter = (|| {
            Ok::<_, AppError>(AuditFilter {
                actor: text_param(request, "actor")?,
                action: text_param(request, "action")?,
                from: time_param(request, "from")?,
                to: time_param(request, "to")?,
            })
        })();
        // A cursor belongs to one listing: the tenant asked for (or a tenant-manager's
        // own) and every filter.
        let paging = filter.clone().and_then(|filter| {
            let (from, to) = (
                filter.from.map(Timestamp::to_rfc3339).unwrap_or_default(),
                filter.to.map(Timestamp::to_rfc3339).unwrap_or_default(),
            );
            pagination(
                request,
                &[
                    "audit",
                    admin.query_tenant.as_deref().unwrap_or(""),
                    admin.principal.tenant.as_ref().map_or("", |t| t.as_str()),
                    filter.actor.as_deref().unwrap_or(""),
                    filter.action.as_deref().unwrap_or(""),
                    &from,
                    &to,
                ],
            )
        });
        let params = paging.clone().and_then(|paging| {
            let before = paging
                .position
                .as_deref()
                .map(|position| {
                    position
                        .parse::<u64>()
                        .ok()
                        .filter(|seq| *seq > 0)
                        .ok_or(AppError::InvalidCursor)
                })
                .transpose()?;
            Ok((filter?, paging.limit as usize, before))
        });
        let page = audit_log::list_audit(state, &admin, params).await?;
        // The use case checked the parameters: paging is good here.
        let paging = paging?;
        json(
            200,
            &EntryPage {
                items: page.entries.iter().map(EntryView::from).collect(),
                next_cursor: paging.next_cursor(page.next_before.map(|seq| seq.to_string())),
            },
        )
    })
    .await
}

#[derive(Serialize)]
struct Verification {
    ok: bool,
    checked: u64,
    head_seq: Option<u64>,
    head_hash: Option<String>,
    first_broken: Option<BrokenLink>,
    /// The chain against the newest signed checkpoint: `none`, `consistent`,
    /// `tail_deleted` (with `chain_head`), `rewritten` or `bad_signature`.
    checkpoint: CheckpointStanding,
    checkpoint_at: Option<String>,
}

/// `GET /admin/audit/verify`
pub async fn verify_audit(state: &AuditCheckpointState, request: Request) -> Response<Body> {
    serve("verify_audit", request, |call| async move {
        let verification = audit_log::verify_audit(state, &call.admin()?).await?;
        json(
            200,
            &Verification {
                ok: verification.ok(),
                checked: verification.checked,
                head_seq: verification.head.as_ref().map(|h| h.seq),
                head_hash: verification.head.map(|h| h.hash),
                first_broken: verification.first_broken,
                checkpoint: verification.checkpoint,
                checkpoint_at: verification.checkpoint_at.map(Timestamp::to_rfc3339),
            },
        )
    })
    .await
}

/// The scheduled checkpoint: the chain's head, signed, kept. Reports what it wrote.
pub async fn run_checkpoint(state: &AuditCheckpointState) -> Result<serde_json::Value, AppError> {
    Ok(match audit_log::write_checkpoint(state).await? {
        Some(checkpoint) => serde_json::json!({"written": true, "seq": checkpoint.seq}),
        None => serde_json::json!({"written": false}),
    })
}
