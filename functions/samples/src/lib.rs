//! Writing samples of a dietitian, the style examples generations imitate.
//!
//! - `POST /v1/samples` `{"dietitian_id", "kind", "title"?, "content"}` → 201 (needs
//!   consent; `Idempotency-Key` supported; at most 50 samples per dietitian);
//! - `GET /v1/samples?dietitian_id=&kind=&limit=&cursor=` newest first;
//! - `GET /v1/samples/{sampleId}`, `DELETE /v1/samples/{sampleId}` (204).
//!
//! A created or read sample's answer is a signed receipt (spec section 11), as a
//! generation's is.
//!
//! Another tenant's sample is 404, exactly like a sample that does not exist.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::samples::{self, NewSample};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::content::{
    ContentKind, DietitianId, Sample, SampleId, MAX_SAMPLE_CHARS, MAX_TITLE_CHARS,
};
use nutripro_shared::domain::signatures::RequestSignature;
use nutripro_shared::http::{
    created, is_id, json, no_content, once, pagination, parse_json, path_param, query_param, serve,
};
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};

/// Largest `POST /v1/samples` body: the content and title limits in 4-byte characters
/// plus room (81,824 bytes). A body that spells its characters as `\uXXXX` escapes can
/// reach it with less text: the limit is on the bytes sent, and documented so.
const MAX_SAMPLE_BODY_BYTES: usize = (MAX_SAMPLE_CHARS + MAX_TITLE_CHARS) * 4 + 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleInput {
    dietitian_id: String,
    kind: String,
    #[serde(default)]
    title: Option<String>,
    content: String,
}

#[derive(Serialize)]
pub struct SampleOutput<'a> {
    id: &'a str,
    dietitian_id: &'a str,
    kind: &'a str,
    title: Option<&'a str>,
    content: &'a str,
    created_at: String,
    /// The signed request that created it (null: unsigned).
    request_signature: Option<&'a RequestSignature>,
}

impl<'a> From<&'a Sample> for SampleOutput<'a> {
    fn from(s: &'a Sample) -> Self {
        Self {
            id: s.id.as_str(),
            dietitian_id: s.dietitian_id.as_str(),
            kind: s.kind.as_str(),
            title: s.title.as_deref(),
            content: &s.content,
            created_at: s.created_at.to_rfc3339(),
            request_signature: s.request_signature.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct SamplePage<'a> {
    items: Vec<SampleOutput<'a>>,
    next_cursor: Option<String>,
}

fn sample_id(request: &Request) -> Result<SampleId, AppError> {
    let id = path_param(request, "sampleId")?;
    if !is_id(&id) {
        return Err(AppError::NotFound);
    }
    Ok(SampleId::new(id))
}

/// `POST /v1/samples`
pub async fn create_sample(state: &ContentState, request: Request) -> Response<Body> {
    serve("create_sample", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentWrite).await?;
        let input: SampleInput = parse_json(&call.request, MAX_SAMPLE_BODY_BYTES)?;
        let new = NewSample {
            dietitian_id: DietitianId::parse(&input.dietitian_id)?,
            kind: ContentKind::parse_or_list(&input.kind)?,
            title: input.title,
            content: input.content,
            request_signature: caller.request_signature.clone(),
        };
        let once = once(
            &call.request,
            "create_sample",
            &caller.tenant_id,
            &new.dietitian_id,
        );
        let outcome = samples::create_sample(state, &caller.tenant_id, new, once).await?;
        let response = created(outcome, |sample| json(201, &SampleOutput::from(sample))).await?;
        // A receipt: the service accepted this text from this (signed) request.
        Ok(call
            .receipted(&caller, &*state.receipts, state.clock.now(), response)
            .await)
    })
    .await
}

/// `GET /v1/samples?dietitian_id=&kind=&limit=&cursor=`
pub async fn list_samples(state: &ContentState, request: Request) -> Response<Body> {
    serve("list_samples", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let request = &call.request;
        let dietitian = query_param(request, "dietitian_id").ok_or_else(|| {
            AppError::Validation("the dietitian_id query parameter is required".into())
        })?;
        let dietitian_id = DietitianId::parse(&dietitian)?;
        let kind = query_param(request, "kind")
            .map(|k| ContentKind::parse_or_list(&k))
            .transpose()?;
        let kind_text = kind.map_or("", |k| k.as_str());
        let paging = pagination(
            request,
            &[
                "samples",
                caller.tenant_id.as_str(),
                dietitian_id.as_str(),
                kind_text,
            ],
        )?;
        let page = samples::list_samples(
            state,
            &caller.tenant_id,
            &dietitian_id,
            kind,
            paging.limit,
            paging.position.as_deref(),
        )
        .await?;
        json(
            200,
            &SamplePage {
                items: page.items.iter().map(SampleOutput::from).collect(),
                next_cursor: paging.next_cursor(page.next_cursor),
            },
        )
    })
    .await
}

/// `GET /v1/samples/{sampleId}`
pub async fn get_sample(state: &ContentState, request: Request) -> Response<Body> {
    serve("get_sample", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let id = sample_id(&call.request)?;
        let sample = samples::get_sample(state, &caller.tenant_id, &id).await?;
        let response = json(200, &SampleOutput::from(&sample))?;
        Ok(call
            .receipted(&caller, &*state.receipts, state.clock.now(), response)
            .await)
    })
    .await
}

/// `DELETE /v1/samples/{sampleId}`
pub async fn delete_sample(state: &ContentState, request: Request) -> Response<Body> {
    serve("delete_sample", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentWrite).await?;
        let id = sample_id(&call.request)?;
        samples::delete_sample(state, &caller.tenant_id, &id).await?;
        no_content()
    })
    .await
}
