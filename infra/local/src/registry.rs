//! The in-process stand-ins for the template's Lambda functions: binary name → the very
//! handler (or authorizer) that binary runs in AWS, wired to the embedded store.

use crate::llm::LlmChoice;
use lambda_http::{Body, Request, Response};
use nutripro_authorizers::ApiKeyAuthorizer;
use nutripro_generations::GenerationState;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::config::DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS;
use nutripro_shared::domain::content::Pricing;
use nutripro_shared::ports::Clock;
use nutripro_shared::state::ContentState;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
pub type HttpHandler = Arc<dyn Fn(Request) -> ResponseFuture + Send + Sync>;

pub struct Registry {
    pub handlers: BTreeMap<&'static str, HttpHandler>,
    pub authorizers: BTreeMap<&'static str, Arc<ApiKeyAuthorizer>>,
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
    pub fn new(store: Arc<SqliteStore>, clock: Arc<dyn Clock>, llm: LlmChoice) -> Self {
        let account = leak(nutripro_account::AccountState {
            store: store.clone(),
        });
        let content = leak(ContentState {
            store: store.clone(),
            clock: clock.clone(),
        });
        let generation = leak(GenerationState {
            store: store.clone(),
            clock: clock.clone(),
            llm: llm.provider,
            model: llm.model,
            llm_timeout: llm.timeout,
            pricing: Pricing::DEFAULT,
        });
        let handlers = BTreeMap::from([
            ("get_me", http_handler(account, nutripro_account::get_me)),
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
        let authorizers = BTreeMap::from([(
            "api_key_authorizer",
            Arc::new(ApiKeyAuthorizer::new(
                store,
                clock,
                DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS,
            )),
        )]);
        Self {
            handlers,
            authorizers,
        }
    }
}
