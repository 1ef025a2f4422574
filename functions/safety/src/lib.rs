//! Control-plane endpoints for what the safety checks withheld
//! ([`nutripro_shared::app::review`]).
//!
//! - `GET /admin/tenants/{tenantId}/blocked-generations?period=&limit=&cursor=`: the
//!   tenant's blocked generations of a month, newest first — codes and times, never the
//!   text (platform-admin, or the tenant's own manager).
//! - `GET /admin/tenants/{tenantId}/generations/{generationId}`: one stored generation
//!   whole, a withheld text included, for review (platform-admin only).

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::review::{self, BlockedQuery};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::billing::Period;
use nutripro_shared::domain::content::{BlockedSummary, Generation};
use nutripro_shared::domain::safety::{FindingCode, SafetyReport};
use nutripro_shared::http::{json, pagination, path_param, query_param, serve};
use nutripro_shared::state::ReviewState;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct BlockedView<'a> {
    generation_id: &'a str,
    dietitian_id: &'a str,
    kind: &'a str,
    codes: Vec<&'static str>,
    created_at: String,
}

impl<'a> From<&'a BlockedSummary> for BlockedView<'a> {
    fn from(b: &'a BlockedSummary) -> Self {
        Self {
            generation_id: b.generation_id.as_str(),
            dietitian_id: b.dietitian_id.as_str(),
            kind: b.kind.as_str(),
            codes: b.codes.iter().map(|c| c.as_str()).collect(),
            created_at: b.created_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
struct BlockedPage<'a> {
    tenant_id: String,
    period: String,
    items: Vec<BlockedView<'a>>,
    /// How often each code blocked a text on this page.
    codes: BTreeMap<&'static str, u32>,
    next_cursor: Option<String>,
}

/// `GET /admin/tenants/{tenantId}/blocked-generations`
pub async fn list_blocked_generations(state: &ReviewState, request: Request) -> Response<Body> {
    serve("list_blocked_generations", request, |call| async move {
        let admin = call.admin()?;
        let request = &call.request;
        let period = query_param(request, "period")
            .map(|text| Period::parse(&text).map_err(AppError::from))
            .transpose();
        let paging = period.clone().and_then(|period| {
            let text = period.map(|p| p.to_string()).unwrap_or_default();
            pagination(
                request,
                &[
                    "blocked-generations",
                    admin.path_tenant.as_deref().unwrap_or(""),
                    &text,
                ],
            )
        });
        let params = period.and_then(|period| {
            paging.clone().map(|paging| BlockedQuery {
                period,
                limit: paging.limit,
                position: paging.position,
            })
        });
        let (period, page) = review::blocked_generations(state, &admin, params).await?;
        // The use case checked the parameters: paging is good here.
        let paging = paging?;
        let mut codes: BTreeMap<&'static str, u32> = BTreeMap::new();
        for item in &page.items {
            for code in &item.codes {
                *codes.entry(code.as_str()).or_default() += 1;
            }
        }
        json(
            200,
            &BlockedPage {
                tenant_id: admin.path_tenant.clone().unwrap_or_default(),
                period: period.to_string(),
                items: page.items.iter().map(BlockedView::from).collect(),
                codes,
                next_cursor: paging.next_cursor(page.next_cursor),
            },
        )
    })
    .await
}

/// A stored generation as its reviewer sees it: the text the data plane withholds, the
/// client it was for, and every finding.
#[derive(Serialize)]
struct ReviewView<'a> {
    id: &'a str,
    tenant_id: &'a str,
    dietitian_id: &'a str,
    kind: &'a str,
    status: &'static str,
    content: &'a str,
    input: serde_json::Value,
    client: Option<serde_json::Value>,
    model: &'a str,
    safety: Option<&'a SafetyReport>,
    codes: Vec<&'static str>,
    disclaimer_appended: bool,
    created_at: String,
}

impl<'a> From<&'a Generation> for ReviewView<'a> {
    fn from(g: &'a Generation) -> Self {
        Self {
            id: g.id.as_str(),
            tenant_id: g.tenant_id.as_str(),
            dietitian_id: g.dietitian_id.as_str(),
            kind: g.kind.as_str(),
            status: g.status().as_str(),
            content: &g.content,
            input: serde_json::from_str(&g.input).unwrap_or_default(),
            client: (!g.client.is_empty())
                .then(|| serde_json::from_str(&g.client).unwrap_or_default()),
            model: &g.model,
            safety: g.safety.as_ref(),
            codes: g
                .safety
                .as_ref()
                .map(SafetyReport::codes)
                .unwrap_or_default()
                .into_iter()
                .map(FindingCode::as_str)
                .collect(),
            disclaimer_appended: g.disclaimer_appended,
            created_at: g.created_at.to_rfc3339(),
        }
    }
}

/// `GET /admin/tenants/{tenantId}/generations/{generationId}`
pub async fn review_generation(state: &ReviewState, request: Request) -> Response<Body> {
    serve("review_generation", request, |call| async move {
        let admin = call.admin()?;
        let id = path_param(&call.request, "generationId").unwrap_or_default();
        let generation = review::review_generation(state, &admin, &id).await?;
        json(200, &ReviewView::from(&generation))
    })
    .await
}
