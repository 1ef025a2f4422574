//! Generations: new content in a dietitian's style, billed reserve-then-settle.
//!
//! Creating one is a sequence of explicit steps, each of which may refuse:
//! the tenant's terms (read by the rate check a moment ago) → the control plane's policy
//! (kill switch, allowed kinds, `max_tokens` caps, model, safety thresholds) → the
//! input's limits → the client profile's safety pre-checks (refused and audited, nothing
//! reserved) → consent → the style examples → the idempotency claim → the reservation of
//! the worst case against the monthly budget → the model call (a failure releases the
//! reservation) → the provider's moderation and the safety checks of the text → the
//! settlement of the actual usage with its ledger entry (a blocked text is billed too:
//! the model was called) → the sealed record, its disclaimer, and for a blocked text its
//! audit entry.

use super::dietitians::require_consent;
use super::idempotency::{self, Created, Once};
use super::AppError;
use crate::app::budget_alerts::{BudgetAlerts, Trigger};
use crate::domain::audit::{Actor, AuditDraft, Outcome};
use crate::domain::billing::{
    prompt_token_bound, LedgerEntry, Period, Reservation, RESERVATION_TTL_SECONDS,
};
use crate::domain::content::SYSTEM_PROMPT;
use crate::domain::content::{
    build_prompt, cap_output, ContentKind, DietitianId, Generation, GenerationId, Money, Sample,
    SampleId, StylePrompt, Usage, DEFAULT_STYLE_EXAMPLES, MAX_INPUT_BYTES, MAX_INPUT_KEYS,
    MAX_STYLE_EXAMPLES,
};
use crate::domain::safety::{
    check_output, precheck, ClientProfile, Finding, FindingCode, SafetyReport, SafetyStatus,
    SafetyThresholds,
};
use crate::domain::sealing::{Keyring, SealCheck};
use crate::domain::signatures::RequestSignature;
use crate::domain::style::{StyleProfile, StyleScore};
use crate::domain::{is_id, KeyId, TenantId};
use crate::metrics;
use crate::ports::append_audit;
use crate::ports::billing::{sweep_tenant, Settlement};
use crate::ports::llm::{ChatMessage, CompletionRequest, Role, WritingBrief};
use crate::ports::sealing::SealingKeys;
use crate::ports::Page;
use crate::state::{ContentState, GenerationState};
use std::time::{Duration, Instant};

/// How long the model (and its moderation) may take from the start of the request,
/// retries included. The function's timeout is 28 s (API Gateway gives up at 29 s); what
/// follows the model — the commit, the idempotent answer and, for a blocked text, the
/// audit entry — is at most four DynamoDB operations of at most 1.5 s each
/// (`adapters::dynamodb::retry`), so 20 + 6 = 26 s always fits (docs/architecture.md,
/// "Retries and timeouts").
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(20);

/// Budget alerts start no claim they could not finish by this long after the request
/// began (the function's timeout is 28 s).
pub const ALERT_DEADLINE: Duration = Duration::from_secs(26);

/// A generation as the caller asked for it.
pub struct NewGeneration {
    pub dietitian_id: DietitianId,
    pub kind: ContentKind,
    pub input: serde_json::Map<String, serde_json::Value>,
    /// Who the text is for; drives the safety checks.
    pub client: Option<ClientProfile>,
    pub sample_ids: Option<Vec<String>>,
    pub max_tokens: Option<u32>,
}

/// Who asks: the tenant and the key the authorizer vouched for.
pub struct Requester<'a> {
    pub tenant: &'a TenantId,
    pub key_id: &'a KeyId,
    /// When the request began: the model's deadline counts from here.
    pub started: Instant,
    /// For the audit entries of refused and blocked generations.
    pub request_id: &'a str,
    pub source_ip: &'a str,
    /// The request's verified signature, kept with the generation (spec section 11).
    pub request_signature: Option<&'a RequestSignature>,
}

pub async fn create_generation<'a>(
    state: &'a GenerationState,
    who: Requester<'_>,
    new: NewGeneration,
    once: Result<Option<Once>, AppError>,
) -> Result<Created<'a, Generation>, AppError> {
    let tenant = who.tenant;
    // Read (or cached) a moment ago by the rate check.
    let terms = state.limiter.terms(tenant).await?;
    // Kill switch, allowed kinds and the max_tokens caps, before any other work.
    let allowance = state.policy.allow(&terms, new.kind, new.max_tokens).await?;
    let model = allowance
        .model
        .clone()
        .unwrap_or_else(|| state.model.clone());
    let input_json = input_json(new.input)?;
    let client = new.client.unwrap_or_default();
    client.validate()?;
    let refused = precheck(&client, &allowance.safety);
    if !refused.is_empty() {
        let codes = SafetyReport::from_findings(refused.clone()).codes();
        audit_safety(
            state,
            &who,
            "generation.refused",
            Outcome::Rejected,
            &new.dietitian_id,
            None,
            &codes,
        )
        .await?;
        return Err(AppError::UnsafeRequest(refused));
    }
    let client_json = if client == ClientProfile::default() {
        String::new()
    } else {
        serde_json::to_string(&client).map_err(|e| AppError::Internal(format!("client: {e}")))?
    };
    require_consent(&*state.store, tenant, &new.dietitian_id).await?;
    let examples =
        style_examples(state, tenant, &new.dietitian_id, new.kind, new.sample_ids).await?;
    // The dietitian's profile for the kind (kept in step with the samples on every
    // change; one read here).
    let style = state
        .store
        .get_style(tenant, &new.dietitian_id)
        .await?
        .map(|stored| {
            (
                StylePrompt::of(&stored.style, new.kind),
                stored.style.for_kind(new.kind).clone(),
            )
        });
    let held = match idempotency::claim(&*state.store, &*state.clock, once).await? {
        Ok(held) => held,
        Err(stored) => return Ok(Created::Replayed(stored)),
    };
    let plan = Plan {
        tenant,
        key_id: who.key_id,
        request_signature: who.request_signature,
        dietitian_id: &new.dietitian_id,
        kind: new.kind,
        input_json,
        client,
        client_json,
        examples,
        style,
        model,
        max_tokens: allowance.max_tokens,
        terms: &terms,
        thresholds: allowance.safety,
        deadline: who.started + state.llm_timeout,
    };
    let generated = generate(state, plan).await;
    let trigger = match &generated {
        Ok(_) => Some(Trigger::Spent),
        Err(AppError::BudgetExhausted { .. }) => Some(Trigger::Refused),
        Err(_) => None,
    };
    if let Some(trigger) = trigger {
        let claim = match &generated {
            Ok(generation) => generation.id.to_string(),
            Err(_) => crate::domain::new_id(),
        };
        BudgetAlerts {
            billing: &*state.billing,
            audit: &*state.audit,
            events: &*state.events,
            clock: &*state.clock,
        }
        .check(
            tenant,
            &terms,
            trigger,
            &claim,
            who.request_id,
            who.started + ALERT_DEADLINE,
        )
        .await;
    }
    if let Ok(generation) = &generated {
        if let Some(blocked) = generation.blocked_summary() {
            // The text is stored for review; what the audit log keeps is the codes.
            let recorded = audit_safety(
                state,
                &who,
                "generation.blocked",
                Outcome::Denied,
                &new.dietitian_id,
                Some(&blocked.generation_id),
                &blocked.codes,
            )
            .await;
            if let Err(error) = recorded {
                tracing::error!(%error, "a blocked generation could not be audited");
            }
        }
    }
    held.settle(generated).await
}

/// The input's limits: at most [`MAX_INPUT_KEYS`] keys and [`MAX_INPUT_BYTES`] of JSON.
fn input_json(input: serde_json::Map<String, serde_json::Value>) -> Result<String, AppError> {
    if input.len() > MAX_INPUT_KEYS {
        return Err(AppError::Validation(format!(
            "input may have at most {MAX_INPUT_KEYS} keys"
        )));
    }
    let json = serde_json::Value::Object(input).to_string();
    if json.len() > MAX_INPUT_BYTES {
        return Err(AppError::Validation(format!(
            "input must be at most {MAX_INPUT_BYTES} bytes of JSON"
        )));
    }
    Ok(json)
}

/// The style examples: the caller's `sample_ids` (all this tenant's and this
/// dietitian's), else the most recent samples of the kind.
async fn style_examples(
    state: &GenerationState,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
    kind: ContentKind,
    sample_ids: Option<Vec<String>>,
) -> Result<Vec<Sample>, AppError> {
    let Some(ids) = sample_ids else {
        let page = state
            .store
            .list_samples(
                tenant,
                dietitian_id,
                Some(kind),
                DEFAULT_STYLE_EXAMPLES as u32,
                None,
            )
            .await?;
        return Ok(page.items);
    };
    if ids.is_empty() || ids.len() > MAX_STYLE_EXAMPLES {
        return Err(AppError::Validation(format!(
            "sample_ids must list 1 to {MAX_STYLE_EXAMPLES} samples"
        )));
    }
    let mut samples = Vec::with_capacity(ids.len());
    for id in ids {
        let missing = || AppError::Missing(format!("sample {id}"));
        if !is_id(&id) {
            return Err(missing());
        }
        let sample = state
            .store
            .get_sample(tenant, &SampleId::new(id.clone()))
            .await?
            .ok_or_else(missing)?;
        if &sample.dietitian_id != dietitian_id {
            return Err(AppError::Validation(format!(
                "sample {id} belongs to another dietitian"
            )));
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// One audit entry about a generation's safety: the codes, never the text.
async fn audit_safety(
    state: &GenerationState,
    who: &Requester<'_>,
    action: &str,
    outcome: Outcome,
    dietitian_id: &DietitianId,
    generation: Option<&GenerationId>,
    codes: &[FindingCode],
) -> Result<(), AppError> {
    let draft = AuditDraft {
        at: state.clock.now(),
        actor: Actor {
            subject: format!("key:{}", who.key_id),
            roles: String::new(),
        },
        action: action.to_owned(),
        target: match generation {
            Some(id) => format!("generation/{id}"),
            None => format!("dietitian/{dietitian_id}"),
        },
        tenant_id: Some(who.tenant.to_string()),
        request_id: who.request_id.to_owned(),
        source_ip: who.source_ip.to_owned(),
        outcome,
        details: serde_json::json!({
            "codes": codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "dietitian_id": dietitian_id.as_str(),
        }),
    };
    append_audit(&*state.audit, draft)
        .await
        .map(|_| ())
        .map_err(|error| {
            AppError::Unavailable(format!("audit append failed for {action}: {error}"))
        })
}

/// Everything decided before the model is called.
struct Plan<'a> {
    tenant: &'a TenantId,
    key_id: &'a KeyId,
    request_signature: Option<&'a RequestSignature>,
    dietitian_id: &'a DietitianId,
    kind: ContentKind,
    input_json: String,
    client: ClientProfile,
    client_json: String,
    examples: Vec<Sample>,
    /// The style guidance for the prompt and the profile the text is scored against.
    style: Option<(StylePrompt, StyleProfile)>,
    model: String,
    max_tokens: u32,
    terms: &'a crate::ports::billing::TenantTerms,
    thresholds: SafetyThresholds,
    deadline: Instant,
}

/// The provider's moderation and our checks of the model's text. A moderation that
/// fails (down, timed out, unreadable) fails closed.
async fn safety_of(state: &GenerationState, plan: &Plan<'_>, text: &str) -> SafetyReport {
    let mut findings = check_output(text, &plan.client, &plan.thresholds, SYSTEM_PROMPT);
    match state.llm.moderate(text, plan.deadline).await {
        Ok(moderation) if moderation.flagged => findings.push(Finding::new(
            FindingCode::Moderation,
            format!(
                "The provider's moderation flagged the text ({}).",
                moderation.categories.join(", ")
            ),
            String::new(),
        )),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "moderation unavailable: the text is withheld");
            findings.push(Finding::new(
                FindingCode::ModerationUnavailable,
                "The provider's moderation could not be reached, so the text is withheld.".into(),
                String::new(),
            ));
        }
    }
    SafetyReport::from_findings(findings)
}

/// Reserve, call, check, then store and settle in one commit.
async fn generate(state: &GenerationState, plan: Plan<'_>) -> Result<Generation, AppError> {
    let (system, user) = build_prompt(
        plan.kind,
        &plan.input_json,
        &plan.client_json,
        &plan.examples,
        plan.style.as_ref().map(|(prompt, _)| prompt),
    );
    let generation_id = GenerationId::generate();
    let prices = plan.terms.plan.prices_for(&plan.model);
    let prompt_bound = prompt_token_bound([system.as_str(), user.as_str()]);
    let now = state.clock.now();
    let reservation = Reservation {
        id: generation_id.to_string(),
        tenant_id: plan.tenant.clone(),
        period: Period::of(now),
        amount_micros: prices
            .cost(prompt_bound, u64::from(plan.max_tokens))
            .total(),
        currency: plan.terms.plan.currency.clone(),
        expires_at: now.plus_seconds(RESERVATION_TTL_SECONDS),
    };
    // The sealing keys before anything is reserved: without them nothing could be stored.
    let keyring = keyring(&*state.sealing).await?;
    reserve(state, &reservation, plan.terms.monthly_budget_micros).await?;
    let llm_request = CompletionRequest {
        model: plan.model.clone(),
        messages: vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, user),
        ],
        max_tokens: plan.max_tokens,
        brief: Some(WritingBrief {
            kind: plan.kind,
            input: serde_json::from_str(&plan.input_json).unwrap_or_default(),
            client: (!plan.client_json.is_empty()).then(|| plan.client.clone()),
            style: plan.style.as_ref().map(|(_, profile)| profile.clone()),
        }),
    };
    let completion = match state.llm.complete(&llm_request, plan.deadline).await {
        Ok(completion) => completion,
        Err(error) => {
            release(state, &reservation).await;
            return Err(error.into());
        }
    };
    let text = cap_output(&completion.content);
    let safety = safety_of(state, &plan, &text).await;
    // The model's own text against the profile (before the disclaimer).
    let style = StyleScore::of(&text, plan.style.as_ref().map(|(_, profile)| profile));
    let usage = Usage {
        prompt_tokens: completion.usage.prompt_tokens,
        completion_tokens: completion.usage.completion_tokens,
        total_tokens: completion.usage.total_tokens,
    };
    // Billed usage never exceeds what was reserved: the bound holds for any honest
    // provider, and a provider reporting more is billed the bound.
    let billed_prompt = usage.prompt_tokens.min(prompt_bound);
    let billed_completion = usage.completion_tokens.min(u64::from(plan.max_tokens));
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
        tenant_id: plan.tenant.clone(),
        period: reservation.period,
        at: state.clock.now(),
        model: plan.model.clone(),
        prompt_tokens: billed_prompt,
        completion_tokens: billed_completion,
        prompt_micros: cost.prompt_micros,
        completion_micros: cost.completion_micros,
        currency: reservation.currency.clone(),
        dietitian_id: plan.dietitian_id.to_string(),
        style_milli: style.score.map(|s| (s * 1000.0).round() as u32),
    };
    // Passed and flagged texts end with the tenant's disclaimer; a blocked one is kept
    // as the model wrote it, for review.
    let blocked = safety.status == SafetyStatus::Blocked;
    let content = if blocked {
        text
    } else {
        format!(
            "{}\n\n{}",
            text.trim_end(),
            plan.terms.settings.disclaimer()
        )
    };
    let generation = Generation {
        id: generation_id,
        tenant_id: plan.tenant.clone(),
        dietitian_id: plan.dietitian_id.clone(),
        kind: plan.kind,
        input: plan.input_json,
        sample_ids: plan.examples.iter().map(|s| s.id.clone()).collect(),
        content,
        model: completion.model,
        usage,
        cost: Money {
            amount_micros: entry.amount_micros(),
            currency: entry.currency.clone(),
        },
        created_at: state.clock.now(),
        key_id: plan.key_id.clone(),
        llm_request: serde_json::to_string(&llm_request)
            .map_err(|error| AppError::Internal(format!("llm request: {error}")))?,
        llm_response: completion.raw_response,
        client: plan.client_json,
        disclaimer_appended: !blocked,
        style,
        safety: Some(safety),
        request_signature: plan.request_signature.cloned(),
        integrity: String::new(),
    }
    .seal_keyed(&keyring);
    // Stored and billed in one write: both or neither. Whatever fails here, the
    // reservation is given back and nothing is billed (a commit whose answer was lost and
    // that is retried finds itself done).
    match state
        .commit
        .commit_generation(&generation, &reservation, &entry, state.clock.now())
        .await
    {
        Ok(Settlement::Settled | Settlement::AlreadySettled) => {}
        Ok(Settlement::Lapsed) => {
            return Err(AppError::StoreUnavailable(format!(
                "reservation {} lapsed before the commit; nothing billed or stored",
                reservation.id
            )));
        }
        Err(error) => {
            release(state, &reservation).await;
            return Err(AppError::StoreUnavailable(format!(
                "commit failed, nothing billed or stored: {error}"
            )));
        }
    }
    tracing::info!(
        generation_id = %generation.id,
        prompt_tokens = usage.prompt_tokens,
        completion_tokens = usage.completion_tokens,
        cost_micros = generation.cost.amount_micros,
        safety = generation.safety.as_ref().map_or("", |s| s.status.as_str()),
        "generation stored"
    );
    metrics::add_tenant(metrics::GENERATIONS, 1.0);
    metrics::add_tenant(metrics::PROMPT_TOKENS, entry.prompt_tokens as f64);
    metrics::add_tenant(metrics::COMPLETION_TOKENS, entry.completion_tokens as f64);
    metrics::add_tenant(metrics::COST_MICROS, entry.amount_micros() as f64);
    if blocked {
        metrics::add_tenant(metrics::SAFETY_BLOCKED, 1.0);
    }
    Ok(generation)
}

/// Reserves the worst case against the tenant's budget. A refusal first releases the
/// tenant's expired reservations (left by crashed invocations) and tries once more, so
/// an expired reservation never blocks a generation.
async fn reserve(
    state: &GenerationState,
    reservation: &Reservation,
    budget_micros: i64,
) -> Result<(), AppError> {
    if state.billing.reserve(reservation, budget_micros).await? {
        return Ok(());
    }
    let released = sweep_tenant(&*state.billing, &reservation.tenant_id, state.clock.now()).await?;
    if released > 0 && state.billing.reserve(reservation, budget_micros).await? {
        return Ok(());
    }
    Err(AppError::BudgetExhausted {
        budget_micros,
        amount_micros: reservation.amount_micros,
        currency: reservation.currency.clone(),
    })
}

/// Gives a reservation back after a failure; a failed release is left to expire.
async fn release(state: &GenerationState, reservation: &Reservation) {
    if let Err(error) = state.billing.release(reservation).await {
        tracing::error!(%error, reservation = %reservation.id, "release failed; the reservation will expire");
    }
}

/// The sealing keyring (threat T05); unavailable keys fail the request, never the check.
pub async fn keyring(keys: &dyn SealingKeys) -> Result<Keyring, AppError> {
    keys.keyring()
        .await
        .map_err(|error| AppError::Unavailable(format!("sealing keys: {error}")))
}

/// A stored generation whose seal holds under `keyring`; anything else is withheld
/// (500 `integrity-check-failed`).
pub fn intact(keyring: &Keyring, generation: Generation) -> Result<Generation, AppError> {
    match generation.check_seal(keyring) {
        SealCheck::Intact | SealCheck::IntactOldKey | SealCheck::Unkeyed => Ok(generation),
        SealCheck::Broken => {
            tracing::error!(generation_id = %generation.id, "stored generation failed its integrity check");
            Err(AppError::IntegrityCheckFailed)
        }
    }
}

/// One stored generation, checked against its integrity seal.
pub async fn get_generation(
    state: &ContentState,
    tenant: &TenantId,
    id: &GenerationId,
) -> Result<Generation, AppError> {
    let generation = state
        .store
        .get_generation(tenant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let keyring = keyring(&*state.sealing).await?;
    let check = generation.check_seal(&keyring);
    let generation = intact(&keyring, generation)?;
    if matches!(check, SealCheck::Unkeyed | SealCheck::IntactOldKey) {
        reseal_on_read(state, &keyring, &generation).await;
    }
    Ok(generation)
}

/// A record sealed with a plain hash (accepted while the keyring says so) or under an
/// older key is sealed again with the current key when it is read (threat T05): the
/// deployed stack's migration, one record at a time. Failure leaves the old seal, which
/// still verifies; it is logged, never answered.
async fn reseal_on_read(state: &ContentState, keyring: &Keyring, generation: &Generation) {
    let resealed = generation.clone().seal_keyed(keyring);
    match state
        .store
        .reseal_generation(&resealed, &generation.integrity)
        .await
    {
        Ok(true) => {
            tracing::info!(generation_id = %generation.id, "generation re-sealed with the current key")
        }
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, generation_id = %generation.id, "could not re-seal a generation")
        }
    }
}

/// A dietitian's generations, newest first, each checked against its seal.
pub async fn list_generations(
    state: &ContentState,
    tenant: &TenantId,
    dietitian_id: &DietitianId,
    limit: u32,
    position: Option<&str>,
) -> Result<Page<Generation>, AppError> {
    let page = state
        .store
        .list_generations(tenant, dietitian_id, limit, position)
        .await?;
    let keyring = keyring(&*state.sealing).await?;
    let items = page
        .items
        .into_iter()
        .map(|generation| intact(&keyring, generation))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}
