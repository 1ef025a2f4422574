//! The in-process stand-ins for the template's Lambda functions: binary name → the very
//! handler (or authorizer) that binary runs in AWS, wired to the embedded store.

use lambda_http::{Body, Request, Response};
use nutripro_authorizers::ApiKeyAuthorizer;
use nutripro_shared::config::DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS;
use nutripro_shared::ports::{Clock, ControlPlaneStore};
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
    pub fn new(store: Arc<dyn ControlPlaneStore>, clock: Arc<dyn Clock>) -> Self {
        let account = leak(nutripro_account::AccountState {
            store: store.clone(),
        });
        let handlers =
            BTreeMap::from([("get_me", http_handler(account, nutripro_account::get_me))]);
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
