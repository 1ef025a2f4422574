//! Dietitians: consent to AI processing, and GDPR erasure.
//!
//! - `PUT /v1/dietitians/{dietitianId}/consent` `{"granted": bool}` records (or
//!   withdraws) consent, with the time and the API key that recorded it;
//! - `GET /v1/dietitians/{dietitianId}/consent` the current decision (404 if none);
//! - `DELETE /v1/dietitians/{dietitianId}` erases the dietitian's samples, generations,
//!   consent and stored responses — of the calling tenant only. Always 204.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::dietitians;
use nutripro_shared::app::AppError;
use nutripro_shared::domain::content::{Consent, DietitianId};
use nutripro_shared::http::{json, no_content, parse_json, path_param, serve, HandlerResult};
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};

const MAX_CONSENT_BODY_BYTES: usize = 1024;

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

fn consent_json(consent: &Consent) -> HandlerResult {
    json(
        200,
        &ConsentOutput {
            dietitian_id: consent.dietitian_id.as_str(),
            granted: consent.granted,
            recorded_at: consent.recorded_at.to_rfc3339(),
            key_id: consent.key_id.as_str(),
        },
    )
}

fn dietitian(request: &Request) -> Result<DietitianId, AppError> {
    Ok(DietitianId::parse(&path_param(request, "dietitianId")?)?)
}

/// `PUT /v1/dietitians/{dietitianId}/consent`
pub async fn put_consent(state: &ContentState, request: Request) -> Response<Body> {
    serve("put_consent", request, |call| async move {
        let caller = call.admit(&state.limiter).await?;
        let dietitian_id = dietitian(&call.request)?;
        let input: ConsentInput = parse_json(&call.request, MAX_CONSENT_BODY_BYTES)?;
        let consent = dietitians::record_consent(
            state,
            &caller.tenant_id,
            &caller.key_id,
            dietitian_id,
            input.granted,
        )
        .await?;
        consent_json(&consent)
    })
    .await
}

/// `GET /v1/dietitians/{dietitianId}/consent`
pub async fn get_consent(state: &ContentState, request: Request) -> Response<Body> {
    serve("get_consent", request, |call| async move {
        let caller = call.admit(&state.limiter).await?;
        let dietitian_id = dietitian(&call.request)?;
        consent_json(&dietitians::consent(state, &caller.tenant_id, &dietitian_id).await?)
    })
    .await
}

/// `DELETE /v1/dietitians/{dietitianId}`
pub async fn erase_dietitian(state: &ContentState, request: Request) -> Response<Body> {
    serve("erase_dietitian", request, |call| async move {
        let caller = call.admit(&state.limiter).await?;
        let dietitian_id = dietitian(&call.request)?;
        dietitians::erase(state, &caller.tenant_id, &dietitian_id).await?;
        no_content()
    })
    .await
}
