//! The endpoint table: every Lambda function of `template.yaml`, one row each — its name
//! (the function's `Handler` in the template, which Lambda passes as `_HANDLER`), what
//! kind of function it is, and how it is built from the state it needs. The Lambda host
//! (`bootstrap`, one binary for every function) and the local gateway build their
//! functions from this table only, so the two cannot disagree about what a function is.
//!
//! Adding an endpoint: the handler (and its use case), one row here, the template
//! resource, the OpenAPI route and a sample event in `events/`.

#[cfg(feature = "aws")]
pub mod aws;
pub mod services;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::cognito::CognitoEventUserPoolsPreTokenGenV2;
use futures_util::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use nutripro_authorizers::{AdminAuthorizer, ApiKeyAuthorizer};
use nutripro_shared::adapters::jwt::TokenVerifier;
use nutripro_shared::app::AppError;
use nutripro_shared::metrics;
use nutripro_shared::state::{
    AccountState, AdminState, AuditCheckpointState, BillingAdminState, ContentState,
    GenerationState, ReceiptKeysState, ReviewState, UsageState,
};
pub use services::{Llm, Services, WiringError};
use std::future::Future;
use std::sync::Arc;

/// An HTTP endpoint as API Gateway invokes it (REST v1 proxy event in, response out).
pub type HttpFn = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;
/// A Lambda REQUEST authorizer: its event in, a policy or the `Unauthorized` error out.
pub type AuthorizerFn = Arc<
    dyn Fn(
            ApiGatewayCustomAuthorizerRequestTypeRequest,
        )
            -> BoxFuture<'static, Result<ApiGatewayCustomAuthorizerResponse, lambda_runtime::Error>>
        + Send
        + Sync,
>;
/// A Cognito trigger: the event in, the event with its response out.
pub type TriggerFn = fn(CognitoEventUserPoolsPreTokenGenV2) -> CognitoEventUserPoolsPreTokenGenV2;
/// A scheduled job: its invocation's request id in, a report out.
pub type JobFn =
    Arc<dyn Fn(String) -> BoxFuture<'static, Result<serde_json::Value, AppError>> + Send + Sync>;

/// A built function, ready to serve.
#[derive(Clone)]
pub enum Function {
    Http(HttpFn),
    Authorizer(AuthorizerFn),
    CognitoTrigger(TriggerFn),
    Job(JobFn),
}

/// One row: a function of the template.
pub struct Endpoint {
    /// The function's `Handler` in the template.
    pub name: &'static str,
    /// Builds the function from the state it needs.
    pub build: fn(&dyn Services) -> Result<Function, WiringError>,
}

/// State lives as long as the process, as it does in a Lambda execution environment.
fn leak<S>(state: S) -> &'static S {
    Box::leak(Box::new(state))
}

/// An HTTP handler (`async fn(&State, Request) -> Response`) over its state.
fn http<S, F, Fut>(state: S, handler: F) -> Result<Function, WiringError>
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let state = leak(state);
    Ok(Function::Http(Arc::new(move |request| {
        Box::pin(handler(state, request))
    })))
}

fn account(s: &dyn Services) -> Result<AccountState, WiringError> {
    Ok(AccountState {
        store: s.control_plane()?,
        limiter: s.limiter()?,
    })
}

fn content(s: &dyn Services) -> Result<ContentState, WiringError> {
    Ok(ContentState {
        store: s.content()?,
        clock: s.clock(),
        limiter: s.limiter()?,
        sealing: s.sealing()?,
        receipts: s.receipts()?,
    })
}

fn generation(s: &dyn Services) -> Result<GenerationState, WiringError> {
    let llm = s.llm()?;
    Ok(GenerationState {
        store: s.content()?,
        audit: s.audit()?,
        clock: s.clock(),
        llm: llm.provider,
        model: llm.model,
        policy: s.generation_policy()?,
        llm_timeout: llm.timeout,
        billing: s.billing()?,
        commit: s.generation_commit()?,
        limiter: s.limiter()?,
        events: s.events()?,
        sealing: s.sealing()?,
        receipts: s.receipts()?,
    })
}

fn usage(s: &dyn Services) -> Result<UsageState, WiringError> {
    Ok(UsageState {
        store: s.control_plane()?,
        billing: s.billing()?,
        clock: s.clock(),
        limiter: s.limiter()?,
    })
}

fn admin(s: &dyn Services) -> Result<AdminState, WiringError> {
    Ok(AdminState {
        store: s.control_plane()?,
        audit: s.audit()?,
        clock: s.clock(),
    })
}

fn billing_admin(s: &dyn Services) -> Result<BillingAdminState, WiringError> {
    Ok(BillingAdminState {
        admin: admin(s)?,
        billing: s.billing()?,
    })
}

fn review(s: &dyn Services) -> Result<ReviewState, WiringError> {
    Ok(ReviewState {
        store: s.control_plane()?,
        content: s.content()?,
        clock: s.clock(),
        sealing: s.sealing()?,
    })
}

fn api_key_authorizer(s: &dyn Services) -> Result<Function, WiringError> {
    let authorizer = leak(
        ApiKeyAuthorizer::new(
            s.control_plane()?,
            s.clock(),
            s.key_last_used_interval_seconds()?,
        )
        .with_audit(s.audit()?),
    );
    Ok(Function::Authorizer(Arc::new(move |event| {
        Box::pin(authorizer.authorize(event))
    })))
}

fn admin_authorizer(s: &dyn Services) -> Result<Function, WiringError> {
    let authorizer = leak(AdminAuthorizer::new(
        TokenVerifier::new(s.admin_identity()?),
        s.clock(),
    ));
    Ok(Function::Authorizer(Arc::new(move |event| {
        Box::pin(authorizer.authorize(event))
    })))
}

fn close_period_scheduled(s: &dyn Services) -> Result<Function, WiringError> {
    let (state, billing) = (leak(admin(s)?), s.billing()?);
    Ok(Function::Job(Arc::new(move |request_id| {
        let billing = billing.clone();
        Box::pin(metrics::job("close_period_scheduled", async move {
            nutripro_billing::run_scheduled_close(
                &*state.store,
                &*state.audit,
                &*billing,
                &*state.clock,
                &request_id,
            )
            .await
        }))
    })))
}

fn sweep_reservations(s: &dyn Services) -> Result<Function, WiringError> {
    let (tenants, billing, clock) = (s.control_plane()?, s.billing()?, s.clock());
    Ok(Function::Job(Arc::new(move |_request_id| {
        let (tenants, billing, clock) = (tenants.clone(), billing.clone(), clock.clone());
        Box::pin(metrics::job("sweep_reservations", async move {
            nutripro_billing::run_sweep(&*billing, &*tenants, clock.now()).await
        }))
    })))
}

fn audit_checkpoints(s: &dyn Services) -> Result<AuditCheckpointState, WiringError> {
    Ok(AuditCheckpointState {
        audit: s.audit()?,
        checkpoints: s.checkpoints()?,
        signer: s.receipts()?,
        clock: s.clock(),
        reanchor: None,
    })
}

/// Every few minutes: the audit chain's head, signed, kept under Object Lock (T07).
fn audit_checkpoint(s: &dyn Services) -> Result<Function, WiringError> {
    let state = Arc::new(AuditCheckpointState {
        reanchor: s.audit_reanchor()?,
        ..audit_checkpoints(s)?
    });
    Ok(Function::Job(Arc::new(move |_request_id| {
        let state = state.clone();
        Box::pin(metrics::job("audit_checkpoint", async move {
            nutripro_audit::run_checkpoint(&state).await
        }))
    })))
}

/// Every function of the template. `tests/routes.rs` and `tests/template.rs` hold it
/// and the template together.
pub const ENDPOINTS: &[Endpoint] = &[
    // Authorizers and the Cognito trigger.
    Endpoint {
        name: "api_key_authorizer",
        build: api_key_authorizer,
    },
    Endpoint {
        name: "admin_authorizer",
        build: admin_authorizer,
    },
    Endpoint {
        name: "admin_token_claims",
        build: |_| {
            Ok(Function::CognitoTrigger(
                nutripro_authorizers::claims::add_tenant_claim,
            ))
        },
    },
    // Data plane.
    Endpoint {
        name: "get_me",
        build: |s| http(account(s)?, nutripro_account::get_me),
    },
    Endpoint {
        name: "put_consent",
        build: |s| http(content(s)?, nutripro_dietitians::put_consent),
    },
    Endpoint {
        name: "get_consent",
        build: |s| http(content(s)?, nutripro_dietitians::get_consent),
    },
    Endpoint {
        name: "get_style",
        build: |s| http(content(s)?, nutripro_dietitians::get_style),
    },
    Endpoint {
        name: "erase_dietitian",
        build: |s| http(content(s)?, nutripro_dietitians::erase_dietitian),
    },
    Endpoint {
        name: "create_sample",
        build: |s| http(content(s)?, nutripro_samples::create_sample),
    },
    Endpoint {
        name: "list_samples",
        build: |s| http(content(s)?, nutripro_samples::list_samples),
    },
    Endpoint {
        name: "get_sample",
        build: |s| http(content(s)?, nutripro_samples::get_sample),
    },
    Endpoint {
        name: "delete_sample",
        build: |s| http(content(s)?, nutripro_samples::delete_sample),
    },
    Endpoint {
        name: "create_generation",
        build: |s| http(generation(s)?, nutripro_generations::create_generation),
    },
    Endpoint {
        name: "get_generation",
        build: |s| http(content(s)?, nutripro_generations::get_generation),
    },
    Endpoint {
        name: "receipt_keys",
        build: |s| {
            http(
                ReceiptKeysState {
                    receipts: s.receipts()?,
                },
                nutripro_generations::receipt_keys,
            )
        },
    },
    Endpoint {
        name: "list_generations",
        build: |s| http(content(s)?, nutripro_generations::list_generations),
    },
    Endpoint {
        name: "get_usage",
        build: |s| http(usage(s)?, nutripro_billing::get_usage),
    },
    // Control plane.
    Endpoint {
        name: "create_tenant",
        build: |s| http(admin(s)?, nutripro_tenants::create_tenant),
    },
    Endpoint {
        name: "list_tenants",
        build: |s| http(admin(s)?, nutripro_tenants::list_tenants),
    },
    Endpoint {
        name: "get_tenant",
        build: |s| http(admin(s)?, nutripro_tenants::get_tenant),
    },
    Endpoint {
        name: "update_tenant",
        build: |s| http(admin(s)?, nutripro_tenants::update_tenant),
    },
    Endpoint {
        name: "offboard_tenant",
        build: |s| http(admin(s)?, nutripro_tenants::offboard_tenant),
    },
    Endpoint {
        name: "issue_key",
        build: |s| http(admin(s)?, nutripro_keys::issue_key),
    },
    Endpoint {
        name: "list_keys",
        build: |s| http(admin(s)?, nutripro_keys::list_keys),
    },
    Endpoint {
        name: "rotate_key",
        build: |s| http(admin(s)?, nutripro_keys::rotate_key),
    },
    Endpoint {
        name: "revoke_key",
        build: |s| http(admin(s)?, nutripro_keys::revoke_key),
    },
    Endpoint {
        name: "set_signing_key",
        build: |s| http(admin(s)?, nutripro_keys::set_signing_key),
    },
    Endpoint {
        name: "remove_signing_key",
        build: |s| http(admin(s)?, nutripro_keys::remove_signing_key),
    },
    Endpoint {
        name: "set_client_certificate",
        build: |s| http(admin(s)?, nutripro_keys::set_client_certificate),
    },
    Endpoint {
        name: "get_tenant_settings",
        build: |s| http(admin(s)?, nutripro_settings::get_tenant_settings),
    },
    Endpoint {
        name: "put_tenant_settings",
        build: |s| http(admin(s)?, nutripro_settings::put_tenant_settings),
    },
    Endpoint {
        name: "get_system_settings",
        build: |s| http(admin(s)?, nutripro_settings::get_system_settings),
    },
    Endpoint {
        name: "put_system_settings",
        build: |s| http(admin(s)?, nutripro_settings::put_system_settings),
    },
    Endpoint {
        name: "list_audit",
        build: |s| http(admin(s)?, nutripro_audit::list_audit),
    },
    Endpoint {
        name: "verify_audit",
        build: |s| http(audit_checkpoints(s)?, nutripro_audit::verify_audit),
    },
    // Billing.
    Endpoint {
        name: "get_tenant_usage",
        build: |s| http(billing_admin(s)?, nutripro_billing::get_tenant_usage),
    },
    Endpoint {
        name: "list_plans",
        build: |s| http(admin(s)?, nutripro_billing::list_plans),
    },
    Endpoint {
        name: "get_plan",
        build: |s| http(admin(s)?, nutripro_billing::get_plan),
    },
    Endpoint {
        name: "put_plan",
        build: |s| http(admin(s)?, nutripro_billing::put_plan),
    },
    Endpoint {
        name: "close_period",
        build: |s| http(billing_admin(s)?, nutripro_billing::close_period),
    },
    Endpoint {
        name: "list_invoices",
        build: |s| http(billing_admin(s)?, nutripro_billing::list_invoices),
    },
    Endpoint {
        name: "get_invoice",
        build: |s| http(billing_admin(s)?, nutripro_billing::get_invoice),
    },
    // Safety review.
    Endpoint {
        name: "list_blocked_generations",
        build: |s| http(review(s)?, nutripro_safety::list_blocked_generations),
    },
    Endpoint {
        name: "review_generation",
        build: |s| http(review(s)?, nutripro_safety::review_generation),
    },
    // Scheduled jobs.
    Endpoint {
        name: "close_period_scheduled",
        build: close_period_scheduled,
    },
    Endpoint {
        name: "sweep_reservations",
        build: sweep_reservations,
    },
    Endpoint {
        name: "audit_checkpoint",
        build: audit_checkpoint,
    },
];

/// The row named `name`.
pub fn find(name: &str) -> Result<&'static Endpoint, WiringError> {
    ENDPOINTS
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| WiringError::UnknownFunction(name.to_owned()))
}

/// Builds the function `name` from `services`.
pub fn build(name: &str, services: &dyn Services) -> Result<Function, WiringError> {
    (find(name)?.build)(services)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), ENDPOINTS.len());
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            find("get_everything").err(),
            Some(WiringError::UnknownFunction("get_everything".into()))
        );
    }
}
