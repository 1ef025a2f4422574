//! Control-plane endpoints for the audit log (spec section 7).
//!
//! - `GET /admin/audit?tenant_id=&actor=&action=&from=&to=&limit=&cursor=`: entries,
//!   newest first. A platform-admin sees every entry; a tenant-manager its own tenant's
//!   only (naming another tenant is 404). Filters are applied while walking the chain
//!   backwards, at most [`MAX_SCANNED`] entries per request: a page can hold fewer than
//!   `limit` matches and still have a `next_cursor`.
//! - `GET /admin/audit/verify`: walks the whole chain and reports the first broken link.

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::admin::Action;
use nutripro_shared::domain::audit::{AuditEntry, BrokenLink, ChainVerifier};
use nutripro_shared::domain::Timestamp;
use nutripro_shared::http::{admin_read, invalid_cursor, json, pagination, query_param, Problem};
use nutripro_shared::state::AdminState;
use serde::Serialize;

/// Most entries one listing request reads from the store.
pub const MAX_SCANNED: usize = 2_000;
const BATCH: u32 = 200;
const VERIFY_BATCH: u32 = 500;

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

struct Filter {
    tenant: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl Filter {
    fn matches(&self, entry: &AuditEntry) -> bool {
        let d = &entry.draft;
        self.tenant
            .as_deref()
            .is_none_or(|t| d.tenant_id.as_deref() == Some(t))
            && self.actor.as_deref().is_none_or(|a| d.actor.subject == a)
            && self.action.as_deref().is_none_or(|a| d.action == a)
            && self.to.is_none_or(|to| d.at <= to)
    }
}

fn time_param(request: &Request, name: &str) -> Result<Option<Timestamp>, Problem> {
    query_param(request, name)
        .map(|text| {
            Timestamp::parse_rfc3339(&text)
                .ok_or_else(|| Problem::validation(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

fn text_param(request: &Request, name: &str) -> Result<Option<String>, Problem> {
    match query_param(request, name).filter(|v| !v.is_empty()) {
        Some(value) if value.chars().count() > 200 => Err(Problem::validation(format!(
            "{name} must be at most 200 characters"
        ))),
        other => Ok(other),
    }
}

/// `GET /admin/audit`
pub async fn list_audit(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "list_audit",
        request,
        Action::AuditRead,
        |call| async move {
            let request = &call.request;
            let filter = Filter {
                // Set by the envelope: the requested tenant (authorized) or, for a
                // tenant-manager, its own.
                tenant: call.tenant.as_ref().map(|t| t.to_string()),
                actor: text_param(request, "actor")?,
                action: text_param(request, "action")?,
                from: time_param(request, "from")?,
                to: time_param(request, "to")?,
            };
            let (from_text, to_text) = (
                filter.from.map(Timestamp::to_rfc3339).unwrap_or_default(),
                filter.to.map(Timestamp::to_rfc3339).unwrap_or_default(),
            );
            let paging = pagination(
                request,
                &[
                    "audit",
                    filter.tenant.as_deref().unwrap_or(""),
                    filter.actor.as_deref().unwrap_or(""),
                    filter.action.as_deref().unwrap_or(""),
                    &from_text,
                    &to_text,
                ],
            )?;
            let limit = paging.limit as usize;
            let mut before = match paging.position.as_deref() {
                None => u64::MAX,
                Some(position) => position
                    .parse::<u64>()
                    .ok()
                    .filter(|seq| *seq > 0)
                    .ok_or_else(invalid_cursor)?,
            };
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
                    if filter.matches(&entry) {
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
            let next_cursor =
                paging.next_cursor((!exhausted && before > 1).then(|| before.to_string()));
            json(
                200,
                &EntryPage {
                    items: matches.iter().map(EntryView::from).collect(),
                    next_cursor,
                },
            )
        },
    )
    .await
}

#[derive(Serialize)]
struct Verification {
    ok: bool,
    checked: u64,
    head_seq: Option<u64>,
    head_hash: Option<String>,
    first_broken: Option<BrokenLink>,
}

/// `GET /admin/audit/verify`
pub async fn verify_audit(state: &AdminState, request: Request) -> Response<Body> {
    admin_read(
        "verify_audit",
        request,
        Action::AuditVerify,
        |_call| async move {
            let mut verifier = ChainVerifier::default();
            let mut after = 0;
            let mut head: Option<AuditEntry> = None;
            let mut broken = None;
            'walk: loop {
                let page = state.audit.audit_after(after, VERIFY_BATCH).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for entry in page {
                    if let Err(link) = verifier.check(&entry) {
                        broken = Some(link);
                        break 'walk;
                    }
                    head = Some(entry);
                }
            }
            if broken.is_some() {
                tracing::error!(?broken, "audit chain verification failed");
            }
            json(
                200,
                &Verification {
                    ok: broken.is_none(),
                    checked: verifier.checked,
                    head_seq: head.as_ref().map(|h| h.seq),
                    head_hash: head.map(|h| h.hash),
                    first_broken: broken,
                },
            )
        },
    )
    .await
}
