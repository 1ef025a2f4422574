//! Dietitians: consent to AI processing, and GDPR erasure.
//!
//! - `PUT /v1/dietitians/{dietitianId}/consent` `{"granted": bool}` records (or
//!   withdraws) consent, with the time and the API key that recorded it;
//! - `GET /v1/dietitians/{dietitianId}/consent` the current decision (404 if none);
//! - `DELETE /v1/dietitians/{dietitianId}` erases the dietitian's samples, style profile,
//!   generations, consent and stored responses — of the calling tenant only. Always 204;
//! - `GET /v1/dietitians/{dietitianId}/style` the dietitian's style profile (overall and
//!   per kind), the samples it came from, the guidance the prompt carries, and warnings.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::AppError;
use nutripro_shared::app::{dietitians, style};
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::content::ContentKind;
use nutripro_shared::domain::content::{Consent, DietitianId};
use nutripro_shared::domain::style::{
    DietitianStyle, StyleProfile, StyleWarning, WarningCode, MIN_SAMPLES,
};
use nutripro_shared::http::{json, no_content, parse_json, path_param, serve, HandlerResult};
use nutripro_shared::state::ContentState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
        let caller = call.admit_for(&state.limiter, Scope::ContentWrite).await?;
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
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let dietitian_id = dietitian(&call.request)?;
        consent_json(&dietitians::consent(state, &caller.tenant_id, &dietitian_id).await?)
    })
    .await
}

/// `DELETE /v1/dietitians/{dietitianId}`
pub async fn erase_dietitian(state: &ContentState, request: Request) -> Response<Body> {
    serve("erase_dietitian", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentWrite).await?;
        let dietitian_id = dietitian(&call.request)?;
        dietitians::erase(state, &caller.tenant_id, &dietitian_id).await?;
        no_content()
    })
    .await
}

/// A dietitian's style as the API shows it. No samples: `profile` is null and the
/// warnings say why.
#[derive(Serialize)]
struct StyleOutput<'a> {
    dietitian_id: &'a str,
    computed_at: Option<String>,
    /// The samples the profile was computed from.
    sample_ids: Vec<&'a str>,
    profile: Option<&'a StyleProfile>,
    by_kind: BTreeMap<&'a str, &'a StyleProfile>,
    /// The register analysis the prompt carries for each kind.
    guidance: BTreeMap<&'static str, String>,
    warnings: Vec<StyleWarning>,
}

/// `GET /v1/dietitians/{dietitianId}/style`
pub async fn get_style(state: &ContentState, request: Request) -> Response<Body> {
    serve("get_style", request, |call| async move {
        let caller = call.admit_for(&state.limiter, Scope::ContentRead).await?;
        let dietitian_id = dietitian(&call.request)?;
        let stored = style::style_of(state, &caller.tenant_id, &dietitian_id).await?;
        let style: Option<&DietitianStyle> = stored.as_ref().map(|s| &s.style);
        let no_samples = StyleWarning {
            code: WarningCode::TooFewSamples,
            message: format!(
                "No samples yet: upload at least {MIN_SAMPLES} of the dietitian's own texts."
            ),
            sample_id: None,
        };
        json(
            200,
            &StyleOutput {
                dietitian_id: dietitian_id.as_str(),
                computed_at: stored.as_ref().map(|s| s.computed_at.to_rfc3339()),
                sample_ids: style
                    .map(|s| s.sample_ids.iter().map(String::as_str).collect())
                    .unwrap_or_default(),
                profile: style.map(|s| &s.overall),
                by_kind: style
                    .map(|s| s.by_kind.iter().map(|(k, p)| (k.as_str(), p)).collect())
                    .unwrap_or_default(),
                guidance: style
                    .map(|s| {
                        ContentKind::ALL
                            .iter()
                            .map(|k| (k.as_str(), s.for_kind(*k).guidance()))
                            .collect()
                    })
                    .unwrap_or_default(),
                warnings: style.map_or_else(|| vec![no_samples], |s| s.warnings.clone()),
            },
        )
    })
    .await
}
