//! Writing samples of a dietitian, the style examples generations imitate.
//!
//! - `POST /v1/samples` `{"dietitian_id", "kind", "title"?, "content"}` → 201 (needs
//!   consent; `Idempotency-Key` supported; at most 50 samples per dietitian);
//! - `GET /v1/samples?dietitian_id=&kind=&limit=&cursor=` newest first;
//! - `GET /v1/samples/{sampleId}`, `DELETE /v1/samples/{sampleId}` (204).
//!
//! Another tenant's sample is 404, exactly like a sample that does not exist.

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::content::{
    ContentKind, DietitianId, Sample, SampleId, MAX_SAMPLES_PER_DIETITIAN, MAX_SAMPLE_CHARS,
    MAX_TITLE_CHARS,
};
use nutripro_shared::http::{
    handle_limited, is_id, json, no_content, pagination, parse_json, path_param, query_param,
    require_consent, run_idempotently, Problem, TenantContext,
};
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};

/// Largest `POST /v1/samples` body: the content and title limits at JSON's worst case
/// of 12 bytes a character (a `\uXXXX\uXXXX` escaped surrogate pair), plus room, so a
/// body within the documented limits is never refused for how it was escaped.
const MAX_SAMPLE_BODY_BYTES: usize = (MAX_SAMPLE_CHARS + MAX_TITLE_CHARS) * 12 + 1024;

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
        }
    }
}

#[derive(Serialize)]
struct SamplePage<'a> {
    items: Vec<SampleOutput<'a>>,
    next_cursor: Option<String>,
}

pub fn parse_kind(text: &str) -> Result<ContentKind, Problem> {
    ContentKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = ContentKind::ALL.iter().map(|k| k.as_str()).collect();
        Problem::validation(format!("kind must be one of {}", kinds.join(", ")))
    })
}

fn sample_id(request: &Request) -> Result<SampleId, Problem> {
    let id = path_param(request, "sampleId")?;
    if !is_id(&id) {
        return Err(Problem::not_found());
    }
    Ok(SampleId::new(id))
}

/// `POST /v1/samples`
pub async fn create_sample(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited("create_sample", &state.limiter, request, |request, caller| async move {
        let input: SampleInput = parse_json(&request, MAX_SAMPLE_BODY_BYTES)?;
        let dietitian_id = DietitianId::parse(&input.dietitian_id)?;
        let kind = parse_kind(&input.kind)?;
        let sample = Sample::new(
            caller.tenant_id.clone(),
            dietitian_id.clone(),
            kind,
            input.title.as_deref(),
            &input.content,
            state.clock.now(),
        )?;
        require_consent(&*state.store, &caller.tenant_id, &dietitian_id).await?;
        run_idempotently(&*state.store, &*state.clock, &request, "create_sample", &caller.tenant_id, &dietitian_id, || async {
            if state.store.count_samples(&caller.tenant_id, &dietitian_id).await? >= MAX_SAMPLES_PER_DIETITIAN {
                return Err(Problem::new(
                    422,
                    "sample-limit-reached",
                    "Sample Limit Reached",
                    format!("A dietitian may have at most {MAX_SAMPLES_PER_DIETITIAN} samples; delete one first."),
                ));
            }
            state.store.create_sample(&sample).await?;
            json(201, &SampleOutput::from(&sample))
        })
        .await
    })
    .await
}

/// `GET /v1/samples?dietitian_id=&kind=&limit=&cursor=`
pub async fn list_samples(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "list_samples",
        &state.limiter,
        request,
        |request, caller| async move {
            let dietitian = query_param(&request, "dietitian_id").ok_or_else(|| {
                Problem::validation("the dietitian_id query parameter is required")
            })?;
            let dietitian_id = DietitianId::parse(&dietitian)?;
            let kind = query_param(&request, "kind")
                .map(|k| parse_kind(&k))
                .transpose()?;
            let kind_text = kind.map_or("", |k| k.as_str());
            let paging = pagination(
                &request,
                &[
                    "samples",
                    caller.tenant_id.as_str(),
                    dietitian_id.as_str(),
                    kind_text,
                ],
            )?;
            let page = state
                .store
                .list_samples(
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
        },
    )
    .await
}

fn caller_and_id(request: &Request) -> Result<(TenantContext, SampleId), Problem> {
    Ok((TenantContext::from_request(request)?, sample_id(request)?))
}

/// `GET /v1/samples/{sampleId}`
pub async fn get_sample(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "get_sample",
        &state.limiter,
        request,
        |request, _caller| async move {
            let (caller, id) = caller_and_id(&request)?;
            let sample = state
                .store
                .get_sample(&caller.tenant_id, &id)
                .await?
                .ok_or_else(Problem::not_found)?;
            json(200, &SampleOutput::from(&sample))
        },
    )
    .await
}

/// `DELETE /v1/samples/{sampleId}`
pub async fn delete_sample(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "delete_sample",
        &state.limiter,
        request,
        |request, _caller| async move {
            let (caller, id) = caller_and_id(&request)?;
            if !state.store.delete_sample(&caller.tenant_id, &id).await? {
                return Err(Problem::not_found());
            }
            no_content()
        },
    )
    .await
}
