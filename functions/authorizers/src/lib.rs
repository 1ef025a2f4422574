//! Lambda authorizers: [`admin::AdminAuthorizer`] checks the control plane's JWTs; the
//! data-plane one, below, checks API keys:
//! `Authorization: Bearer nutripro_<key id>_<secret>`.
//!
//! Outcomes, as API Gateway (REST, REQUEST authorizer) expects them:
//! - missing, malformed, unknown, wrong, expired, revoked or rotated-out key, offboarded
//!   tenant → the error `Unauthorized`, which the gateway answers with 401;
//! - valid key of a suspended tenant → a `Deny` policy, answered with 403;
//! - valid key of an active tenant → an `Allow` policy for the whole stage (results are
//!   cached per key for the TTL set in the template) and the tenant context that
//!   handlers read: `tenant_id`, `key_id`, `plan`.
//!
//! A real key id presented with a wrong, revoked or rotated-out secret is a sign that a
//! key leaked or is being guessed (threat T01): besides the 401, it raises a `key.anomaly`
//! audit entry, at most one per key per [`ANOMALY_INTERVAL_SECONDS`] (a conditional write
//! on the key decides which of many attempts records it).

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::audit::{Actor, AuditDraft, Outcome};
use nutripro_shared::domain::{ApiKey, PresentedKey, TenantStatus};
use nutripro_shared::http::{
    TenantContext, AUTHORIZER_CLIENT_CERT, AUTHORIZER_KEY_ID, AUTHORIZER_KEY_RPM, AUTHORIZER_PLAN,
    AUTHORIZER_SCOPES, AUTHORIZER_SIGNATURE_REQUIRED, AUTHORIZER_SIGNING_ALG,
    AUTHORIZER_SIGNING_KEY, AUTHORIZER_TENANT_ID,
};
use nutripro_shared::ports::{append_audit, AuditStore, Clock, ControlPlaneStore};
use std::sync::Arc;
use tracing::Instrument;

pub mod admin;
pub mod claims;
pub use admin::AdminAuthorizer;

/// The exact error message API Gateway turns into a 401.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// At most one `key.anomaly` audit entry per key per this many seconds.
pub const ANOMALY_INTERVAL_SECONDS: i64 = 3600;

/// Rejections that point at a leaked or guessed key rather than a stale client.
const ANOMALIES: [&str; 3] = ["wrong_secret", "revoked", "rotated_out"];

/// What the authorizer decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(TenantContext),
    /// Authenticated, but the tenant may not use the API now (suspended).
    Deny(TenantContext),
    /// Not authenticated; the reason is for logs only.
    Unauthorized(&'static str),
    /// The store could not be read: fail closed (the gateway answers 500).
    Unavailable,
}

pub struct ApiKeyAuthorizer {
    store: Arc<dyn ControlPlaneStore>,
    clock: Arc<dyn Clock>,
    last_used_interval_seconds: i64,
    audit: Option<Arc<dyn AuditStore>>,
}

impl ApiKeyAuthorizer {
    pub fn new(
        store: Arc<dyn ControlPlaneStore>,
        clock: Arc<dyn Clock>,
        last_used_interval_seconds: i64,
    ) -> Self {
        Self {
            store,
            clock,
            last_used_interval_seconds,
            audit: None,
        }
    }

    /// Records key anomalies in this audit chain.
    pub fn with_audit(mut self, audit: Arc<dyn AuditStore>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Decides on the value of the `Authorization` header and the client certificate the
    /// request presented over mutual TLS, if any (API Gateway's
    /// `requestContext.identity.clientCert.clientCertPem`).
    pub async fn decide(
        &self,
        authorization: Option<&str>,
        client_cert_pem: Option<&str>,
    ) -> Decision {
        self.decide_with_key(authorization, client_cert_pem).await.0
    }

    /// The decision, and the stored key the header named (if any).
    async fn decide_with_key(
        &self,
        authorization: Option<&str>,
        client_cert_pem: Option<&str>,
    ) -> (Decision, Option<ApiKey>) {
        let Some(token) = authorization.and_then(bearer_token) else {
            return (Decision::Unauthorized("missing_or_not_bearer"), None);
        };
        let Some(presented) = PresentedKey::parse(token) else {
            return (Decision::Unauthorized("malformed_key"), None);
        };
        let key = match self.store.get_key(presented.key_id()).await {
            Ok(Some(key)) => key,
            Ok(None) => return (Decision::Unauthorized("unknown_key"), None),
            Err(error) => {
                tracing::error!(%error, "key lookup failed");
                return (Decision::Unavailable, None);
            }
        };
        let now = self.clock.now();
        if let Err(rejection) = key.verify(&presented, now) {
            return (Decision::Unauthorized(rejection.as_str()), Some(key));
        }
        // A key bound to a client certificate is refused without exactly that one.
        if !key.accepts_certificate(client_cert_pem) {
            return (
                Decision::Unauthorized("client_certificate_mismatch"),
                Some(key),
            );
        }
        let tenant = match self.store.get_tenant(&key.tenant_id).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => return (Decision::Unauthorized("tenant_missing"), Some(key)),
            Err(error) => {
                tracing::error!(%error, "tenant lookup failed");
                return (Decision::Unavailable, Some(key));
            }
        };
        self.record_use(&key, now).await;
        let context = TenantContext {
            tenant_id: tenant.id.clone(),
            key_id: key.key_id.clone(),
            plan: tenant.plan.clone(),
            scopes: key.scopes.clone(),
            key_requests_per_minute: key.requests_per_minute,
            signing_key: key.signing_key.clone(),
            request_signature: None,
            client_cert_sha256: key.client_cert_sha256.clone(),
        };
        let decision = match tenant.status {
            TenantStatus::Active => Decision::Allow(context),
            TenantStatus::Suspended => Decision::Deny(context),
            TenantStatus::Offboarded => Decision::Unauthorized("tenant_offboarded"),
        };
        (decision, Some(key))
    }

    /// Raises a `key.anomaly` audit entry for `key`, unless one was raised within the
    /// interval. Failures are logged, never turned into a different answer.
    async fn flag_anomaly(
        &self,
        key: &ApiKey,
        reason: &'static str,
        request_id: &str,
        source_ip: &str,
    ) {
        let Some(audit) = &self.audit else { return };
        let now = self.clock.now();
        let since = now.plus_seconds(-ANOMALY_INTERVAL_SECONDS);
        match self.store.flag_key_anomaly(&key.key_id, now, since).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, key_id = %key.key_id, "could not flag key anomaly");
                return;
            }
        }
        let draft = AuditDraft {
            at: now,
            actor: Actor {
                subject: format!("key:{}", key.key_id),
                roles: String::new(),
            },
            action: "key.anomaly".into(),
            target: format!("key/{}", key.key_id),
            tenant_id: Some(key.tenant_id.to_string()),
            request_id: request_id.to_owned(),
            source_ip: source_ip.to_owned(),
            outcome: Outcome::Denied,
            details: serde_json::json!({
                "reason": reason,
                "interval_seconds": ANOMALY_INTERVAL_SECONDS,
            }),
        };
        match append_audit(&**audit, draft).await {
            Ok(entry) => {
                tracing::warn!(reason, key_id = %key.key_id, audit_seq = entry.seq, "key anomaly recorded")
            }
            Err(error) => {
                tracing::error!(%error, key_id = %key.key_id, "could not record key anomaly")
            }
        }
    }

    /// Records the key's last use, at most once per interval (a conditional write that
    /// most requests skip without touching the store).
    async fn record_use(&self, key: &ApiKey, now: nutripro_shared::domain::Timestamp) {
        let threshold = now.plus_seconds(-self.last_used_interval_seconds);
        if key.last_used_at.is_some_and(|at| at >= threshold) {
            return;
        }
        if let Err(error) = self.store.record_key_use(&key.key_id, now, threshold).await {
            tracing::warn!(%error, key_id = %key.key_id, "could not record key use");
        }
    }

    /// The Lambda entry point: an API Gateway REQUEST authorizer event in, a policy out
    /// (or the `Unauthorized` error).
    pub async fn authorize(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, lambda_runtime::Error> {
        nutripro_shared::metrics::authorizer(
            "api_key_authorizer",
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
            function = "api_key_authorizer",
            tenant_id = tracing::field::Empty,
            key_id = tracing::field::Empty,
        );
        let (decision, key) = match authorization(&event) {
            Ok(authorization) => {
                let client_cert = event
                    .request_context
                    .identity
                    .as_ref()
                    .and_then(|identity| identity.client_cert.as_ref())
                    .and_then(|cert| cert.client_cert_pem.as_deref());
                self.decide_with_key(authorization, client_cert)
                    .instrument(span.clone())
                    .await
            }
            Err(Ambiguous) => (Decision::Unauthorized("ambiguous_credential"), None),
        };
        if let (Decision::Unauthorized(reason), Some(key)) = (&decision, &key) {
            if ANOMALIES.contains(reason) {
                nutripro_shared::metrics::add_function(
                    "api_key_authorizer",
                    nutripro_shared::metrics::ANOMALIES,
                    1.0,
                );
                let source_ip = event
                    .request_context
                    .identity
                    .as_ref()
                    .and_then(|i| i.source_ip.clone())
                    .unwrap_or_default();
                self.flag_anomaly(key, reason, &request_id, &source_ip)
                    .instrument(span.clone())
                    .await;
            }
        }
        let resource = event.method_arn.as_deref().and_then(stage_wildcard);
        let _entered = span.enter();
        if let Decision::Allow(context) | Decision::Deny(context) = &decision {
            span.record("tenant_id", context.tenant_id.as_str());
            span.record("key_id", context.key_id.as_str());
        }
        // Only key ids and reasons are logged; the Authorization header never is.
        match (decision, resource) {
            (Decision::Allow(context), Some(resource)) => {
                tracing::info!("allow");
                Ok(policy(IamPolicyEffect::Allow, resource, &context))
            }
            (Decision::Deny(context), Some(resource)) => {
                tracing::warn!("deny: tenant suspended");
                Ok(policy(IamPolicyEffect::Deny, resource, &context))
            }
            (Decision::Unavailable, _) => Err("authorizer dependency unavailable".into()),
            (Decision::Unauthorized(reason), _) => {
                tracing::warn!(reason, "unauthorized");
                Err(UNAUTHORIZED.into())
            }
            (_, None) => {
                tracing::error!("event has no usable methodArn");
                Err(UNAUTHORIZED.into())
            }
        }
    }
}

/// More than one `Authorization` header: which one API Gateway hands over (first or
/// last) is not something a credential decision may depend on, so it is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ambiguous;

/// The one `Authorization` header of an authorizer event. API Gateway puts the last
/// value of a repeated header in `headers` and every value in `multiValueHeaders`; both
/// are counted, so a repeated header is refused whichever map carries it.
pub(crate) fn authorization(
    event: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Option<&str>, Ambiguous> {
    let name = http::header::AUTHORIZATION;
    let count = event
        .headers
        .get_all(&name)
        .iter()
        .count()
        .max(event.multi_value_headers.get_all(&name).iter().count());
    if count > 1 {
        return Err(Ambiguous);
    }
    Ok(event
        .headers
        .get(&name)
        .or_else(|| event.multi_value_headers.get(&name))
        .and_then(|v| v.to_str().ok()))
}

/// `Bearer <token>`, scheme case-insensitive (RFC 9110), exactly one space.
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// `arn:...:api-id/stage/METHOD/path` → `arn:...:api-id/stage/*`: the cached policy must
/// cover every route of the stage, since one key's result is reused for all of them.
pub fn stage_wildcard(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let api = parts
        .next()
        .filter(|p| p.starts_with("arn:") && p.contains(":execute-api:"))?;
    let stage = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{api}/{stage}/*"))
}

fn policy(
    effect: IamPolicyEffect,
    resource: String,
    context: &TenantContext,
) -> ApiGatewayCustomAuthorizerResponse {
    policy_response(effect, resource, context.key_id.to_string(), {
        let mut fields = serde_json::json!({
            AUTHORIZER_TENANT_ID: context.tenant_id.as_str(),
            AUTHORIZER_KEY_ID: context.key_id.as_str(),
            AUTHORIZER_PLAN: context.plan.as_str(),
            AUTHORIZER_SCOPES: Scope::join(&context.scopes),
        });
        if let Some(limit) = context.key_requests_per_minute {
            fields[AUTHORIZER_KEY_RPM] = serde_json::json!(limit.to_string());
        }
        if let Some(fingerprint) = &context.client_cert_sha256 {
            fields[AUTHORIZER_CLIENT_CERT] = serde_json::json!(fingerprint);
        }
        if let Some(key) = &context.signing_key {
            fields[AUTHORIZER_SIGNING_ALG] = serde_json::json!(key.algorithm.as_str());
            fields[AUTHORIZER_SIGNING_KEY] = serde_json::json!(key.public_key_text());
            fields[AUTHORIZER_SIGNATURE_REQUIRED] = serde_json::json!(key.required.to_string());
        }
        fields
    })
}

/// An authorizer answer: `effect` on `execute-api:Invoke` for `resource`, with the
/// principal and the context handlers read.
pub(crate) fn policy_response(
    effect: IamPolicyEffect,
    resource: String,
    principal_id: String,
    context: serde_json::Value,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal_id);
    response.policy_document = document;
    response.context = context;
    response
}

#[cfg(test)]
mod tests;
