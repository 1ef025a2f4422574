//! Dietitians: consent to AI processing, and GDPR erasure.
//!
//! - `PUT /v1/dietitians/{dietitianId}/consent` `{"granted": bool}` records (or
//!   withdraws) consent, with the time and the API key that recorded it;
//! - `GET /v1/dietitians/{dietitianId}/consent` the current decision (404 if none);
//! - `DELETE /v1/dietitians/{dietitianId}` erases the dietitian's samples, generations,
//!   consent and stored responses — of the calling tenant only. Always 204.

use lambda_http::{Body, Request, Response};
use nutripro_shared::domain::content::{Consent, DietitianId};
use nutripro_shared::http::{handle_limited, json, no_content, parse_json, path_param, Problem};
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentInput {
    granted: bool,
}

#[derive(Serialize)]
struct ConsentOutput<'a> {
    dietitian_id: &'a str,
    granted: bool,
    recorded_at: String,
    key_id: &'a str,
}

fn consent_json(consent: &Consent, status: u16) -> nutripro_shared::http::HandlerResult {
    json(
        status,
        &ConsentOutput {
            dietitian_id: consent.dietitian_id.as_str(),
            granted: consent.granted,
            recorded_at: consent.recorded_at.to_rfc3339(),
            key_id: consent.key_id.as_str(),
        },
    )
}

fn dietitian(request: &Request) -> Result<DietitianId, Problem> {
    Ok(DietitianId::parse(&path_param(request, "dietitianId")?)?)
}

/// `PUT /v1/dietitians/{dietitianId}/consent`
pub async fn put_consent(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "put_consent",
        &state.limiter,
        request,
        |request, caller| async move {
            let dietitian_id = dietitian(&request)?;
            let input: ConsentInput = parse_json(&request, 1024)?;
            let consent = Consent {
                tenant_id: caller.tenant_id,
                dietitian_id,
                granted: input.granted,
                recorded_at: state.clock.now(),
                key_id: caller.key_id,
            };
            state.store.put_consent(&consent).await?;
            consent_json(&consent, 200)
        },
    )
    .await
}

/// `GET /v1/dietitians/{dietitianId}/consent`
pub async fn get_consent(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "get_consent",
        &state.limiter,
        request,
        |request, caller| async move {
            let dietitian_id = dietitian(&request)?;
            let consent = state
                .store
                .get_consent(&caller.tenant_id, &dietitian_id)
                .await?
                .ok_or_else(Problem::not_found)?;
            consent_json(&consent, 200)
        },
    )
    .await
}

/// `DELETE /v1/dietitians/{dietitianId}`
pub async fn erase_dietitian(state: &ContentState, request: Request) -> Response<Body> {
    handle_limited(
        "erase_dietitian",
        &state.limiter,
        request,
        |request, caller| async move {
            let dietitian_id = dietitian(&request)?;
            let erased = state
                .store
                .erase_dietitian(&caller.tenant_id, &dietitian_id)
                .await?;
            tracing::info!(
                samples = erased.samples,
                generations = erased.generations,
                consent = erased.consent,
                "dietitian erased"
            );
            no_content()
        },
    )
    .await
}
