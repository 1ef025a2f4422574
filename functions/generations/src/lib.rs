//! Generations: new content in a dietitian's style.
//!
//! - `POST /v1/generations` `{"dietitian_id", "kind", "input": {...}, "sample_ids"?,
//!   "max_tokens"?}` → 201 (needs consent; `Idempotency-Key` supported). The prompt is
//!   the fixed system prompt plus the task, the input and the style examples (the given
//!   `sample_ids`, else the dietitian's most recent samples of the kind), delimited and
//!   escaped. What was sent to the model and what came back are stored with the
//!   generation under an integrity hash. A model timeout is 504, any other model failure
//!   502; nothing is stored (or billed) then. The tenant's rate limit applies first (429
//!   `rate-limited` with `Retry-After`; every answer carries the `RateLimit-*` headers),
//!   then the control plane's settings ([`policy`]): the system kill switch (503
//!   `generation-disabled`), the tenant's allowed kinds (403 `kind-not-allowed`), the
//!   `max_tokens` caps and the model. Billing is reserve-then-settle: the worst case
//!   (a bound on the prompt's tokens plus `max_tokens`, at the plan's prices) is reserved
//!   against the monthly budget before the model is called (402 `budget-exhausted` when
//!   it does not fit), the actual usage is settled with its ledger entry afterwards, and
//!   a failed call releases the reservation.
//! - `GET /v1/generations/{generationId}`, `GET /v1/generations?dietitian_id=&limit=&cursor=`:
//!   stored generations, each checked against its integrity hash (500
//!   `integrity-check-failed` if it was altered).

use lambda_http::{Body, Request, Response};
use nutripro_samples::parse_kind;
use nutripro_shared::domain::billing::{
    prompt_token_bound, LedgerEntry, Period, Reservation, RESERVATION_TTL_SECONDS,
};
use nutripro_shared::domain::content::{
    build_prompt, cap_output, DietitianId, Generation, GenerationId, Money, Sample, SampleId,
    Usage, DEFAULT_STYLE_EXAMPLES, MAX_INPUT_BYTES, MAX_INPUT_KEYS, MAX_STYLE_EXAMPLES,
};
use nutripro_shared::http::{
    handle_limited, is_id, json, pagination, parse_json, path_param, query_param, require_consent,
    run_idempotently, Problem, RateLimiter, TenantContext,
};
use nutripro_shared::ports::billing::{sweep_tenant, BillingStore, Settlement};
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::llm::{ChatMessage, CompletionRequest, LlmError, LlmProvider, Role};
use nutripro_shared::ports::Clock;
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod policy;
pub use policy::{GenerationPolicy, TenantTerms};

/// How long the model may take, retries included: inside API Gateway's 29 s with room
/// for storing the result (the function's timeout in the template is 28 s).
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(25);
/// `input` is limited by its compact JSON (8 KiB); the body may escape every byte of it
/// (`\uXXXX`, six bytes), plus room for the other fields.
const MAX_GENERATION_BODY_BYTES: usize = MAX_INPUT_BYTES * 6 + 4 * 1024;

/// What `create_generation` is built with, once per cold start.
pub struct GenerationState {
    pub store: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
    pub llm: Arc<dyn LlmProvider>,
    /// The model requested from the provider unless settings name another.
    pub model: String,
    /// The control plane's say: kill switch, allowed kinds, caps, model.
    pub policy: GenerationPolicy,
    pub llm_timeout: Duration,
    /// Reservations and the ledger.
    pub billing: Arc<dyn BillingStore>,
    /// The tenant's requests-per-minute limit, shared with every `/v1` function.
    pub limiter: Arc<RateLimiter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerationInput {
    dietitian_id: String,
    kind: String,
    input: serde_json::Map<String, serde_json::Value>,
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

#[derive(Serialize)]
struct GenerationOutput<'a> {
    id: &'a str,
    status: &'static str,
    kind: &'a str,
    dietitian_id: &'a str,
    content: &'a str,
    model: &'a str,
    usage: &'a Usage,
    cost: Cost<'a>,
    sample_ids: Vec<&'a str>,
    created_at: String,
}

impl<'a> From<&'a Generation> for GenerationOutput<'a> {
    fn from(g: &'a Generation) -> Self {
        Self {
            id: g.id.as_str(),
            status: "succeeded",
            kind: g.kind.as_str(),
            dietitian_id: g.dietitian_id.as_str(),
            content: &g.content,
            model: &g.model,
            usage: &g.usage,
            cost: Cost {
                amount_micros: g.cost.amount_micros,
                currency: &g.cost.currency,
            },
            sample_ids: g.sample_ids.iter().map(SampleId::as_str).collect(),
            created_at: g.created_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
struct GenerationPage<'a> {
    items: Vec<GenerationOutput<'a>>,
    next_cursor: Option<String>,
}

fn llm_problem(error: &LlmError) -> Problem {
    tracing::warn!(%error, "model call failed; nothing stored or billed");
    match error {
        LlmError::Timeout => Problem::new(
            504,
            "upstream-timeout",
            "Upstream Timeout",
            "The language model did not answer in time. Nothing was billed; retry later.",
        ),
        _ => Problem::new(
            502,
            "upstream-error",
            "Upstream Error",
            "The language model failed to answer. Nothing was billed; retry later.",
        ),
    }
}

fn integrity_problem(generation: &Generation) -> Problem {
    tracing::error!(generation_id = %generation.id, "stored generation failed its integrity check");
    Problem::new(
        500,
        "integrity-check-failed",
        "Integrity Check Failed",
        "The stored generation does not match its integrity hash and is withheld.",
    )
}

/// The style examples: the caller's `sample_ids` (all this tenant's and this
/// dietitian's), else the most recent samples of the kind.
async fn style_examples(
    state: &GenerationState,
    caller: &TenantContext,
    dietitian_id: &DietitianId,
    kind: nutripro_shared::domain::content::ContentKind,
    sample_ids: Option<Vec<String>>,
) -> Result<Vec<Sample>, Problem> {
    let Some(ids) = sample_ids else {
        let page = state
            .store
            .list_samples(
                &caller.tenant_id,
                dietitian_id,
                Some(kind),
                DEFAULT_STYLE_EXAMPLES as u32,
                None,
            )
            .await?;
        return Ok(page.items);
    };
    if ids.is_empty() || ids.len() > MAX_STYLE_EXAMPLES {
        return Err(Problem::validation(format!(
            "sample_ids must list 1 to {MAX_STYLE_EXAMPLES} samples"
        )));
    }
    let mut samples = Vec::with_capacity(ids.len());
    for id in ids {
        let missing = || Problem::new(404, "not-found", "Not Found", format!("No sample {id}."));
        if !is_id(&id) {
            return Err(missing());
        }
        let sample = state
            .store
            .get_sample(&caller.tenant_id, &SampleId::new(id.clone()))
            .await?
            .ok_or_else(missing)?;
        if &sample.dietitian_id != dietitian_id {
            return Err(Problem::validation(format!(
                "sample {id} belongs to another dietitian"
            )));
        }
        samples.push(sample);
    }
    Ok(samples)
}

fn budget_problem(reservation: &Reservation, budget_micros: i64) -> Problem {
    Problem::new(
        402,
        "budget-exhausted",
        "Budget Exhausted",
        format!(
            "This tenant's monthly budget ({budget_micros} micro-{cur}) cannot cover this \
             generation, which may cost up to {} micro-{cur}. Nothing was billed; a smaller \
             max_tokens may fit, or the budget can be raised.",
            reservation.amount_micros,
            cur = reservation.currency,
        ),
    )
}

/// Reserves the worst case against the tenant's budget. A refusal first releases the
/// tenant's expired reservations (left by crashed invocations) and tries once more, so
/// an expired reservation never blocks a generation.
async fn reserve(
    state: &GenerationState,
    reservation: &Reservation,
    budget_micros: i64,
) -> Result<(), Problem> {
    if state.billing.reserve(reservation, budget_micros).await? {
        return Ok(());
    }
    let released = sweep_tenant(&*state.billing, &reservation.tenant_id, state.clock.now()).await?;
    if released > 0 && state.billing.reserve(reservation, budget_micros).await? {
        return Ok(());
    }
    Err(budget_problem(reservation, budget_micros))
}

/// Gives a reservation back after a failure; a failed release is left to expire.
async fn release(state: &GenerationState, reservation: &Reservation) {
    if let Err(error) = state.billing.release(reservation).await {
        tracing::error!(%error, reservation = %reservation.id, "release failed; the reservation will expire");
    }
}

/// `POST /v1/generations`
pub async fn create_generation(state: &GenerationState, request: Request) -> Response<Body> {
    let started = Instant::now();
    handle_limited("create_generation", &state.limiter, request, |request, caller| async move {
        // Read (or cached) a moment ago by the rate check.
        let terms = state.limiter.terms(&caller.tenant_id).await?;
        let input: GenerationInput = parse_json(&request, MAX_GENERATION_BODY_BYTES)?;
        let dietitian_id = DietitianId::parse(&input.dietitian_id)?;
        let kind = parse_kind(&input.kind)?;
        // Kill switch, allowed kinds and the max_tokens caps, before any other work.
        let allowance = state.policy.allow(&terms, kind, input.max_tokens).await?;
        let max_tokens = allowance.max_tokens;
        let model = allowance.model.unwrap_or_else(|| state.model.clone());
        if input.input.len() > MAX_INPUT_KEYS {
            return Err(Problem::validation(format!(
                "input may have at most {MAX_INPUT_KEYS} keys"
            )));
        }
        let input_json = serde_json::Value::Object(input.input).to_string();
        if input_json.len() > MAX_INPUT_BYTES {
            return Err(Problem::validation(format!(
                "input must be at most {MAX_INPUT_BYTES} bytes of JSON"
            )));
        }
        require_consent(&*state.store, &caller.tenant_id, &dietitian_id).await?;
        let examples =
            style_examples(state, &caller, &dietitian_id, kind, input.sample_ids).await?;
        run_idempotently(
            &*state.store,
            &*state.clock,
            &request,
            "create_generation",
            &caller.tenant_id,
            &dietitian_id,
            || async {
                let (system, user) = build_prompt(kind, &input_json, &examples);
                let generation_id = GenerationId::generate();
                let prices = terms.plan.prices_for(&model);
                let prompt_bound = prompt_token_bound([system.as_str(), user.as_str()]);
                let now = state.clock.now();
                let reservation = Reservation {
                    id: generation_id.to_string(),
                    tenant_id: caller.tenant_id.clone(),
                    period: Period::of(now),
                    amount_micros: prices.cost(prompt_bound, u64::from(max_tokens)).total(),
                    currency: terms.plan.currency.clone(),
                    expires_at: now.plus_seconds(RESERVATION_TTL_SECONDS),
                };
                reserve(state, &reservation, terms.monthly_budget_micros).await?;
                let llm_request = CompletionRequest {
                    model: model.clone(),
                    messages: vec![
                        ChatMessage::new(Role::System, system),
                        ChatMessage::new(Role::User, user),
                    ],
                    max_tokens,
                };
                let completion = match state
                    .llm
                    .complete(&llm_request, started + state.llm_timeout)
                    .await
                {
                    Ok(completion) => completion,
                    Err(error) => {
                        release(state, &reservation).await;
                        return Err(llm_problem(&error));
                    }
                };
                let usage = Usage {
                    prompt_tokens: completion.usage.prompt_tokens,
                    completion_tokens: completion.usage.completion_tokens,
                    total_tokens: completion.usage.total_tokens,
                };
                // Billed usage never exceeds what was reserved: the bound holds for any
                // honest provider, and a provider reporting more is billed the bound.
                let billed_prompt = usage.prompt_tokens.min(prompt_bound);
                let billed_completion = usage.completion_tokens.min(u64::from(max_tokens));
                if (billed_prompt, billed_completion) != (usage.prompt_tokens, usage.completion_tokens) {
                    tracing::warn!(
                        prompt_tokens = usage.prompt_tokens,
                        completion_tokens = usage.completion_tokens,
                        "provider reported more tokens than the reserved bound; billed the bound"
                    );
                }
                let cost = prices.cost(billed_prompt, billed_completion);
                let entry = LedgerEntry {
                    request_id: reservation.id.clone(),
                    tenant_id: caller.tenant_id.clone(),
                    period: reservation.period,
                    at: state.clock.now(),
                    model: model.clone(),
                    prompt_tokens: billed_prompt,
                    completion_tokens: billed_completion,
                    prompt_micros: cost.prompt_micros,
                    completion_micros: cost.completion_micros,
                    currency: reservation.currency.clone(),
                };
                match state.billing.settle(&reservation, &entry, state.clock.now()).await {
                    Ok(Settlement::Settled | Settlement::AlreadySettled) => {}
                    Ok(Settlement::Lapsed) => {
                        tracing::error!(reservation = %reservation.id, "reservation lapsed before settling; nothing billed or stored");
                        return Err(Problem::unavailable());
                    }
                    Err(error) => {
                        tracing::error!(%error, "settlement failed; nothing billed or stored");
                        release(state, &reservation).await;
                        return Err(Problem::unavailable());
                    }
                }
                let generation = Generation {
                    id: generation_id,
                    tenant_id: caller.tenant_id.clone(),
                    dietitian_id: dietitian_id.clone(),
                    kind,
                    input: input_json.clone(),
                    sample_ids: examples.iter().map(|s| s.id.clone()).collect(),
                    content: cap_output(&completion.content),
                    model: completion.model,
                    usage,
                    cost: Money {
                        amount_micros: entry.amount_micros(),
                        currency: entry.currency.clone(),
                    },
                    created_at: state.clock.now(),
                    key_id: caller.key_id.clone(),
                    llm_request: serde_json::to_string(&llm_request)
                        .map_err(|_| Problem::internal())?,
                    llm_response: completion.raw_response,
                    integrity: String::new(),
                }
                .seal();
                state.store.create_generation(&generation).await?;
                tracing::info!(
                    generation_id = %generation.id,
                    prompt_tokens = usage.prompt_tokens,
                    completion_tokens = usage.completion_tokens,
                    cost_micros = generation.cost.amount_micros,
                    "generation stored"
                );
                json(201, &GenerationOutput::from(&generation))
            },
        )
        .await
    })
    .await
}

/// `GET /v1/generations/{generationId}`
pub async fn get_generation(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "get_generation",
        &state.limiter,
        request,
        |request, caller| async move {
            let id = path_param(&request, "generationId")?;
            if !is_id(&id) {
                return Err(Problem::not_found());
            }
            let generation = state
                .store
                .get_generation(&caller.tenant_id, &GenerationId::new(id))
                .await?
                .ok_or_else(Problem::not_found)?;
            if !generation.is_intact() {
                return Err(integrity_problem(&generation));
            }
            json(200, &GenerationOutput::from(&generation))
        },
    )
    .await
}

/// `GET /v1/generations?dietitian_id=&limit=&cursor=`
pub async fn list_generations(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "list_generations",
        &state.limiter,
        request,
        |request, caller| async move {
            let dietitian = query_param(&request, "dietitian_id").ok_or_else(|| {
                Problem::validation("the dietitian_id query parameter is required")
            })?;
            let dietitian_id = DietitianId::parse(&dietitian)?;
            let paging = pagination(
                &request,
                &[
                    "generations",
                    caller.tenant_id.as_str(),
                    dietitian_id.as_str(),
                ],
            )?;
            let page = state
                .store
                .list_generations(
                    &caller.tenant_id,
                    &dietitian_id,
                    paging.limit,
                    paging.position.as_deref(),
                )
                .await?;
            if let Some(altered) = page.items.iter().find(|g| !g.is_intact()) {
                return Err(integrity_problem(altered));
            }
            json(
                200,
                &GenerationPage {
                    items: page.items.iter().map(GenerationOutput::from).collect(),
                    next_cursor: paging.next_cursor(page.next_cursor),
                },
            )
        },
    )
    .await
}
