//! The in-process stand-ins for the template's Lambda functions: binary name → the very
//! handler (or authorizer) that binary runs in AWS, wired to the embedded store.

use crate::llm::LlmChoice;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use lambda_http::{Body, Request, Response};
use nutripro_authorizers::{AdminAuthorizer, ApiKeyAuthorizer};
use nutripro_generations::GenerationState;
use nutripro_shared::adapters::jwt::{IdpConfig, TokenVerifier};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::config::DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS;
use nutripro_shared::http::RateLimiter;
use nutripro_shared::ports::Clock;
use nutripro_shared::state::{AdminState, BillingAdminState, ContentState, UsageState};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
pub type HttpHandler = Arc<dyn Fn(Request) -> ResponseFuture + Send + Sync>;
pub type AuthorizerResult =
    Result<ApiGatewayCustomAuthorizerResponse, Box<dyn std::error::Error + Send + Sync>>;
pub type AuthorizerFuture = Pin<Box<dyn Future<Output = AuthorizerResult> + Send>>;
/// A Lambda authorizer as API Gateway invokes it: REQUEST event in, policy or error out.
pub type Authorizer =
    Arc<dyn Fn(ApiGatewayCustomAuthorizerRequestTypeRequest) -> AuthorizerFuture + Send + Sync>;

pub struct Registry {
    pub handlers: BTreeMap<&'static str, HttpHandler>,
    pub authorizers: BTreeMap<&'static str, Authorizer>,
}

/// Adapts a Lambda handler (`fn(&State, Request) -> Response`, the same signature
/// `run_http` serves in AWS) to the gateway. State lives as long as the process, as it
/// does in a Lambda execution environment.
fn http_handler<S, F, Fut>(state: &'static S, handler: F) -> HttpHandler
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(handler(state, request)))
}

fn leak<S>(state: S) -> &'static S {
    Box::leak(Box::new(state))
}

impl Registry {
    /// `admin_idp` is the identity provider the admin authorizer trusts (the local one,
    /// see [`crate::idp`]).
    pub fn new(
        store: Arc<SqliteStore>,
        clock: Arc<dyn Clock>,
        llm: LlmChoice,
        admin_idp: IdpConfig,
    ) -> Self {
        // One limiter for every /v1 function, as they share one window per tenant in
        // AWS; local mode reads limits on every request, so changes apply at once.
        let limiter = Arc::new(RateLimiter::with_ttl(
            store.clone(),
            store.clone(),
            clock.clone(),
            std::time::Duration::ZERO,
        ));
        let account = leak(nutripro_account::AccountState {
            store: store.clone(),
            limiter: limiter.clone(),
        });
        let content = leak(ContentState {
            store: store.clone(),
            clock: clock.clone(),
            limiter: limiter.clone(),
        });
        let generation = leak(GenerationState {
            store: store.clone(),
            clock: clock.clone(),
            llm: llm.provider,
            model: llm.model,
            // Local mode reads settings on every generation: changes apply at once.
            policy: nutripro_generations::GenerationPolicy::with_ttl(
                store.clone(),
                std::time::Duration::ZERO,
            ),
            llm_timeout: llm.timeout,
            billing: store.clone(),
            limiter: limiter.clone(),
        });
        let admin = leak(AdminState {
            store: store.clone(),
            audit: store.clone(),
            clock: clock.clone(),
        });
        let billing_admin = leak(BillingAdminState {
            admin: AdminState {
                store: store.clone(),
                audit: store.clone(),
                clock: clock.clone(),
            },
            billing: store.clone(),
        });
        let usage = leak(UsageState {
            store: store.clone(),
            billing: store.clone(),
            clock: clock.clone(),
            limiter,
        });
        let handlers = BTreeMap::from([
            ("get_me", http_handler(account, nutripro_account::get_me)),
            (
                "get_usage",
                http_handler(usage, nutripro_billing::get_usage),
            ),
            (
                "get_tenant_usage",
                http_handler(billing_admin, nutripro_billing::get_tenant_usage),
            ),
            (
                "list_plans",
                http_handler(admin, nutripro_billing::list_plans),
            ),
            ("get_plan", http_handler(admin, nutripro_billing::get_plan)),
            ("put_plan", http_handler(admin, nutripro_billing::put_plan)),
            (
                "close_period",
                http_handler(billing_admin, nutripro_billing::close_period),
            ),
            (
                "list_invoices",
                http_handler(billing_admin, nutripro_billing::list_invoices),
            ),
            (
                "get_invoice",
                http_handler(billing_admin, nutripro_billing::get_invoice),
            ),
            (
                "create_tenant",
                http_handler(admin, nutripro_tenants::create_tenant),
            ),
            (
                "list_tenants",
                http_handler(admin, nutripro_tenants::list_tenants),
            ),
            (
                "get_tenant",
                http_handler(admin, nutripro_tenants::get_tenant),
            ),
            (
                "update_tenant",
                http_handler(admin, nutripro_tenants::update_tenant),
            ),
            (
                "offboard_tenant",
                http_handler(admin, nutripro_tenants::offboard_tenant),
            ),
            ("issue_key", http_handler(admin, nutripro_keys::issue_key)),
            ("list_keys", http_handler(admin, nutripro_keys::list_keys)),
            ("rotate_key", http_handler(admin, nutripro_keys::rotate_key)),
            ("revoke_key", http_handler(admin, nutripro_keys::revoke_key)),
            (
                "get_tenant_settings",
                http_handler(admin, nutripro_settings::get_tenant_settings),
            ),
            (
                "put_tenant_settings",
                http_handler(admin, nutripro_settings::put_tenant_settings),
            ),
            (
                "get_system_settings",
                http_handler(admin, nutripro_settings::get_system_settings),
            ),
            (
                "put_system_settings",
                http_handler(admin, nutripro_settings::put_system_settings),
            ),
            (
                "list_audit",
                http_handler(admin, nutripro_audit::list_audit),
            ),
            (
                "verify_audit",
                http_handler(admin, nutripro_audit::verify_audit),
            ),
            (
                "put_consent",
                http_handler(content, nutripro_dietitians::put_consent),
            ),
            (
                "get_consent",
                http_handler(content, nutripro_dietitians::get_consent),
            ),
            (
                "erase_dietitian",
                http_handler(content, nutripro_dietitians::erase_dietitian),
            ),
            (
                "create_sample",
                http_handler(content, nutripro_samples::create_sample),
            ),
            (
                "list_samples",
                http_handler(content, nutripro_samples::list_samples),
            ),
            (
                "get_sample",
                http_handler(content, nutripro_samples::get_sample),
            ),
            (
                "delete_sample",
                http_handler(content, nutripro_samples::delete_sample),
            ),
            (
                "create_generation",
                http_handler(generation, nutripro_generations::create_generation),
            ),
            (
                "get_generation",
                http_handler(content, nutripro_generations::get_generation),
            ),
            (
                "list_generations",
                http_handler(content, nutripro_generations::list_generations),
            ),
        ]);
        let api_key = Arc::new(
            ApiKeyAuthorizer::new(
                store.clone(),
                clock.clone(),
                DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS,
            )
            .with_audit(store),
        );
        let admin_authorizer = Arc::new(AdminAuthorizer::new(TokenVerifier::new(admin_idp), clock));
        let authorizers: BTreeMap<&'static str, Authorizer> = BTreeMap::from([
            (
                "api_key_authorizer",
                Arc::new(move |event| {
                    let authorizer = api_key.clone();
                    Box::pin(async move { authorizer.authorize(event).await }) as AuthorizerFuture
                }) as Authorizer,
            ),
            (
                "admin_authorizer",
                Arc::new(move |event| {
                    let authorizer = admin_authorizer.clone();
                    Box::pin(async move { authorizer.authorize(event).await }) as AuthorizerFuture
                }) as Authorizer,
            ),
        ]);
        Self {
            handlers,
            authorizers,
        }
    }
}
