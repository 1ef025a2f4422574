//! The control-plane authorizer: `Authorization: Bearer <JWT>` from the Cognito user
//! pool (or the local identity provider), verified by [`TokenVerifier`] (threat T02).
//!
//! - no, malformed, forged, expired or misdirected token (an API key included, threat
//!   T15) → the error `Unauthorized`, which the gateway answers with 401;
//! - a valid token → `Allow` for the stage, with the principal in the context
//!   (`admin_subject`, `admin_username`, `admin_roles`, `admin_tenant_id`). Whether the
//!   principal may do what it asks is decided by each handler from the permission table,
//!   so a cached decision stays correct for every route;
//! - the JWKS cannot be fetched → an error other than `Unauthorized` (the gateway
//!   answers 500): fail closed, visibly as an outage.

use crate::{authorization, bearer_token, policy_response, stage_wildcard, UNAUTHORIZED};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::IamPolicyEffect;
use nutripro_shared::adapters::jwt::{TokenVerifier, VerifyError};
use nutripro_shared::domain::admin::AdminPrincipal;
use nutripro_shared::http::{ADMIN_ROLES, ADMIN_SUBJECT, ADMIN_TENANT, ADMIN_USERNAME};
use nutripro_shared::ports::Clock;
use std::sync::Arc;
use tracing::Instrument;

pub struct AdminAuthorizer {
    verifier: TokenVerifier,
    clock: Arc<dyn Clock>,
}

impl AdminAuthorizer {
    pub fn new(verifier: TokenVerifier, clock: Arc<dyn Clock>) -> Self {
        Self { verifier, clock }
    }

    /// The Lambda entry point: a REQUEST authorizer event in, a policy (or the
    /// `Unauthorized` error) out.
    pub async fn authorize(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, lambda_runtime::Error> {
        nutripro_shared::metrics::authorizer(
            "admin_authorizer",
            UNAUTHORIZED,
            self.decide_event(event),
        )
        .await
    }

    async fn decide_event(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, lambda_runtime::Error> {
        let request_id = event.request_context.request_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "authorize",
            %request_id,
            function = "admin_authorizer",
            subject = tracing::field::Empty,
        );
        // A repeated Authorization header counts as no credential at all.
        let token = authorization(&event).ok().flatten().and_then(bearer_token);
        let resource = event.method_arn.as_deref().and_then(stage_wildcard);
        let outcome = match token {
            None => None,
            Some(token) => Some(
                self.verifier
                    .verify(token, self.clock.now())
                    .instrument(span.clone())
                    .await,
            ),
        };
        let _entered = span.enter();
        // The token itself is never logged; subjects and reasons are.
        match (outcome, resource) {
            (Some(Ok(principal)), Some(resource)) => {
                span.record("subject", principal.subject.as_str());
                tracing::info!(roles = %principal.roles_text(), "allow");
                Ok(policy(resource, &principal))
            }
            (Some(Err(VerifyError::Unavailable(error))), _) => {
                tracing::error!(%error, "cannot verify admin tokens");
                Err("identity provider keys unavailable".into())
            }
            (Some(Err(VerifyError::Rejected(reason))), _) => {
                tracing::warn!(%reason, "unauthorized");
                Err(UNAUTHORIZED.into())
            }
            (None, _) => {
                tracing::warn!(reason = "missing_or_not_bearer", "unauthorized");
                Err(UNAUTHORIZED.into())
            }
            (Some(Ok(_)), None) => {
                tracing::error!("event has no usable methodArn");
                Err(UNAUTHORIZED.into())
            }
        }
    }
}

fn policy(resource: String, principal: &AdminPrincipal) -> ApiGatewayCustomAuthorizerResponse {
    policy_response(
        IamPolicyEffect::Allow,
        resource,
        principal.subject.clone(),
        serde_json::json!({
            ADMIN_SUBJECT: principal.subject,
            ADMIN_USERNAME: principal.username,
            ADMIN_ROLES: principal.roles_text(),
            ADMIN_TENANT: principal.tenant.as_ref().map(|t| t.as_str()).unwrap_or(""),
        }),
    )
}
