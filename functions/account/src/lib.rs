//! Data-plane endpoints about the calling tenant itself.
//!
//! `GET /v1/me` proves the whole path: API Gateway event → authorizer context →
//! handler → use case → store → response.

use lambda_http::{Body, Request, Response};
use nutripro_shared::app::account::{me, Me};
use nutripro_shared::http::{json, serve, MAX_BODY_BYTES};
pub use nutripro_shared::state::AccountState;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct MeResponse<'a> {
    tenant_id: &'a str,
    tenant_name: &'a str,
    key_id: &'a str,
    plan: &'a str,
    status: &'a str,
    limits: Limits<'a>,
}

/// The limits that apply to this tenant's requests (its settings, else its plan's).
#[derive(Debug, Serialize)]
struct Limits<'a> {
    max_request_body_bytes: usize,
    requests_per_minute: u32,
    monthly_budget_micros: i64,
    currency: &'a str,
}

impl<'a> From<&'a Me> for MeResponse<'a> {
    fn from(me: &'a Me) -> Self {
        Self {
            tenant_id: me.tenant.id.as_str(),
            tenant_name: &me.tenant.name,
            key_id: me.key_id.as_str(),
            plan: me.tenant.plan.as_str(),
            status: me.tenant.status.as_str(),
            limits: Limits {
                max_request_body_bytes: MAX_BODY_BYTES,
                requests_per_minute: me.terms.requests_per_minute,
                monthly_budget_micros: me.terms.monthly_budget_micros,
                currency: &me.terms.plan.currency,
            },
        }
    }
}

/// `GET /v1/me`: the caller's tenant id and name, key id, plan and limits.
pub async fn get_me(state: &AccountState, request: Request) -> Response<Body> {
    serve("get_me", request, |call| async move {
        let caller = call.admit(&state.limiter).await?;
        let me = me(state, &caller.tenant_id, &caller.key_id).await?;
        json(200, &MeResponse::from(&me))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    use nutripro_shared::adapters::sqlite::SqliteStore;
    use nutripro_shared::domain::{PlanId, Tenant, TenantName, Timestamp};
    use nutripro_shared::ports::TenantStore;
    use std::sync::Arc;

    const EVENT: &str = include_str!("../../../events/get_me.json");

    async fn state_with_tenant() -> (AccountState, Tenant) {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let tenant = Tenant::new(
            TenantName::parse("Acme").unwrap(),
            PlanId::new("pro"),
            Timestamp::from_millis(1),
        );
        store.create_tenant(&tenant).await.unwrap();
        let limiter = Arc::new(nutripro_shared::http::RateLimiter::new(
            store.clone(),
            store.clone(),
            Arc::new(nutripro_shared::ports::SystemClock),
        ));
        (AccountState { store, limiter }, tenant)
    }

    /// The sample event with its authorizer context pointed at `tenant_id`.
    fn event_for(tenant_id: &str) -> Request {
        let request =
            lambda_http::request::from_str(EVENT).expect("events/get_me.json is a REST v1 event");
        let Some(RequestContext::ApiGatewayV1(mut context)) =
            request.request_context_ref().cloned()
        else {
            panic!("REST v1 context");
        };
        context
            .authorizer
            .fields
            .insert("tenant_id".into(), tenant_id.into());
        request.with_request_context(RequestContext::ApiGatewayV1(context))
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        serde_json::from_str(text).unwrap()
    }

    #[tokio::test]
    async fn returns_the_callers_tenant() {
        let (state, tenant) = state_with_tenant().await;
        let response = get_me(&state, event_for(tenant.id.as_str())).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["x-request-id"],
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        );
        let body = body_json(&response);
        assert_eq!(body["tenant_id"], tenant.id.as_str());
        assert_eq!(body["tenant_name"], "Acme");
        assert_eq!(body["key_id"], "0193a0e2b7c87f1aa0e5c7d3f4a5b6c7");
        assert_eq!(body["plan"], "pro");
        assert_eq!(body["limits"]["max_request_body_bytes"], MAX_BODY_BYTES);
    }

    /// Threat T03: a request that did not pass the authorizer is refused.
    #[tokio::test]
    async fn request_without_authorizer_context_is_401() {
        let (state, _) = state_with_tenant().await;
        let bare = http::Request::builder()
            .uri("/v1/me")
            .body(Body::Empty)
            .unwrap();
        let response = get_me(&state, bare).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );

        let mut event = event_for("ignored");
        if let Some(RequestContext::ApiGatewayV1(mut context)) =
            event.request_context_ref().cloned()
        {
            context.authorizer.fields.clear();
            event = event.with_request_context(RequestContext::ApiGatewayV1(context));
        }
        assert_eq!(get_me(&state, event).await.status(), 401);
    }

    #[tokio::test]
    async fn tenant_gone_since_authorization_is_401() {
        let (state, _) = state_with_tenant().await;
        assert_eq!(
            get_me(&state, event_for("deleted-tenant")).await.status(),
            401
        );
    }
}
