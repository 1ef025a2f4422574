//! Generations: new content in a dietitian's style.
//!
//! - `POST /v1/generations` `{"dietitian_id", "kind", "input": {...}, "sample_ids"?,
//!   "max_tokens"?}` → 201 (needs consent; `Idempotency-Key` supported). The use case
//!   ([`nutripro_shared::app::generations`]) applies, in order: the tenant's rate limit
//!   (429), the control plane's policy (503 `generation-disabled`, 403
//!   `kind-not-allowed`, the `max_tokens` caps), the input's limits, consent, the style
//!   examples, the idempotency claim, the budget reservation (402 `budget-exhausted`),
//!   the model call (504 on timeout, 502 otherwise; nothing stored or billed), the
//!   settlement and the sealed record.
//! - `GET /v1/generations/{generationId}`, `GET /v1/generations?dietitian_id=&limit=&cursor=`:
//!   stored generations, each checked against its integrity hash (500
//!   `integrity-check-failed` if it was altered).
//! - `GET /.well-known/nutripro-receipt-keys`: the receipt key's public half (JWK Set).
//!
//! A generation's answer (created, replayed or read) is a signed receipt (RFC 9421,
//! label `receipt`): status, `Content-Digest`, request id and the request's own
//! signature when it had one ([`nutripro_shared::app::receipts`]).

use lambda_http::{Body, Request, Response};
pub use nutripro_shared::app::generations::DEFAULT_LLM_TIMEOUT;
use nutripro_shared::app::generations::{self, NewGeneration, Requester};
pub use nutripro_shared::app::policy::{GenerationPolicy, TenantTerms};
use nutripro_shared::app::AppError;
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::content::{
    ContentKind, DietitianId, Generation, GenerationId, GenerationStatus, SampleId, Usage,
    MAX_INPUT_BYTES,
};
use nutripro_shared::domain::safety::{ClientProfile, SafetyReport};
use nutripro_shared::domain::signatures::RequestSignature;
use nutripro_shared::domain::style::StyleScore;
use nutripro_shared::http::{
    created, is_id, json, once, pagination, parse_json, path_param, query_param, request_id, serve,
    source_ip,
};
use nutripro_shared::ports::receipts::jwks;
pub use nutripro_shared::state::{ContentState, GenerationState, ReceiptKeysState};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// `input` is limited by its compact JSON (8 KiB), the body by that plus room for the
/// other fields, the client profile included (13 KiB).
const MAX_GENERATION_BODY_BYTES: usize = MAX_INPUT_BYTES + 5 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerationInput {
    dietitian_id: String,
    kind: String,
    input: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    client: Option<ClientProfile>,
    #[serde(default)]
    sample_ids: Option<Vec<String>>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

#[derive(Serialize)]
struct Cost<'a> {
    amount_micros: i64,
    currency: &'a str,
}

/// A generation on the data plane. A blocked text is never shown here, not even in
/// part: `content` is null and the findings say why without their excerpts.
#[derive(Serialize)]
struct GenerationOutput<'a> {
    id: &'a str,
    status: &'static str,
    kind: &'a str,
    dietitian_id: &'a str,
    content: Option<&'a str>,
    model: &'a str,
    usage: &'a Usage,
    cost: Cost<'a>,
    sample_ids: Vec<&'a str>,
    /// `null` for generations made before the safety checks existed.
    safety: Option<SafetyReport>,
    disclaimer_appended: bool,
    /// How close the text is to the dietitian's style profile.
    style: StyleScore,
    created_at: String,
    /// The signed request that asked for it (null: unsigned).
    request_signature: Option<&'a RequestSignature>,
}

impl<'a> From<&'a Generation> for GenerationOutput<'a> {
    fn from(g: &'a Generation) -> Self {
        let status = g.status();
        Self {
            id: g.id.as_str(),
            status: status.as_str(),
            kind: g.kind.as_str(),
            dietitian_id: g.dietitian_id.as_str(),
            content: (status != GenerationStatus::Blocked).then_some(g.content.as_str()),
            safety: g.safety.as_ref().map(|report| match status {
                GenerationStatus::Blocked => report.withheld(),
                GenerationStatus::Succeeded => report.clone(),
            }),
            disclaimer_appended: g.disclaimer_appended,
            style: g.style,
            model: &g.model,
            usage: &g.usage,
            cost: Cost {
                amount_micros: g.cost.amount_micros,
                currency: &g.cost.currency,
            },
            sample_ids: g.sample_ids.iter().map(SampleId::as_str).collect(),
            created_at: g.created_at.to_rfc3339(),
            request_signature: g.request_signature.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct GenerationPage<'a> {
    items: Vec<GenerationOutput<'a>>,
    next_cursor: Option<String>,
}

/// `POST /v1/generations`
pub async fn create_generation(state: &GenerationState, request: Request) -> Response<Body> {
    let started = Instant::now();
    serve("create_generation", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::Generate).await?;
        let input: GenerationInput = parse_json(&call.request, MAX_GENERATION_BODY_BYTES)?;
        let new = NewGeneration {
            dietitian_id: DietitianId::parse(&input.dietitian_id)?,
            kind: ContentKind::parse_or_list(&input.kind)?,
            input: input.input,
            client: input.client,
            sample_ids: input.sample_ids,
            max_tokens: input.max_tokens,
        };
        let once = once(
            &call.request,
            "create_generation",
            &caller.tenant_id,
            &new.dietitian_id,
        );
        let (request_id, source_ip) = (
            request_id(&call.request),
            source_ip(&call.request).unwrap_or_default(),
        );
        let who = Requester {
            tenant: &caller.tenant_id,
            key_id: &caller.key_id,
            started,
            request_id: &request_id,
            source_ip: &source_ip,
            request_signature: caller.request_signature.as_ref(),
        };
        let outcome = generations::create_generation(state, who, new, once).await?;
        let response = created(outcome, |generation| {
            json(201, &GenerationOutput::from(generation))
        })
        .await?;
        Ok(call
            .receipted(&caller, &*state.receipts, state.clock.now(), response)
            .await)
    })
    .await
}

/// `GET /v1/generations/{generationId}`
pub async fn get_generation(state: &ContentState, request: Request) -> Response<Body> {
    serve("get_generation", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let id = path_param(&call.request, "generationId")?;
        if !is_id(&id) {
            return Err(AppError::NotFound);
        }
        let generation =
            generations::get_generation(state, &caller.tenant_id, &GenerationId::new(id)).await?;
        let response = json(200, &GenerationOutput::from(&generation))?;
        Ok(call
            .receipted(&caller, &*state.receipts, state.clock.now(), response)
            .await)
    })
    .await
}

/// `GET /.well-known/nutripro-receipt-keys`: the JWK Set receipts are checked with. No
/// credential: a public key.
pub async fn receipt_keys(state: &ReceiptKeysState, request: Request) -> Response<Body> {
    serve("receipt_keys", request, |_call| async move {
        let public_key = state
            .receipts
            .public_key()
            .await
            .map_err(|error| AppError::Unavailable(format!("receipt key: {error}")))?;
        json(200, &jwks(state.receipts.key_id(), &public_key))
    })
    .await
}

/// `GET /v1/generations?dietitian_id=&limit=&cursor=`
pub async fn list_generations(state: &ContentState, request: Request) -> Response<Body> {
    serve("list_generations", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let dietitian = query_param(&call.request, "dietitian_id").ok_or_else(|| {
            AppError::Validation("the dietitian_id query parameter is required".into())
        })?;
        let dietitian_id = DietitianId::parse(&dietitian)?;
        let paging = pagination(
            &call.request,
            &[
                "generations",
                caller.tenant_id.as_str(),
                dietitian_id.as_str(),
            ],
        )?;
        let page = generations::list_generations(
            state,
            &caller.tenant_id,
            &dietitian_id,
            paging.limit,
            paging.position.as_deref(),
        )
        .await?;
        json(
            200,
            &GenerationPage {
                items: page.items.iter().map(GenerationOutput::from).collect(),
                next_cursor: paging.next_cursor(page.next_cursor),
            },
        )
    })
    .await
}
