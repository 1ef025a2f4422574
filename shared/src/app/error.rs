//! Every way a use case (or the parsing of its input) can refuse or fail, and — in
//! [`AppError::describe`], the one place it is decided — the RFC 9457 problem each is
//! answered with: status, type slug, title and a detail written for the caller. The HTTP
//! envelope renders it (`impl From<AppError> for crate::http::Problem`); the audit log
//! records its status and slug for refused changes. Causes of `Unavailable` and
//! `Internal` go to the log (the envelope writes them), never to the caller.

use super::limits::RateLimitStatus;
use crate::domain::billing::Period;
use crate::domain::content::ContentKind;
use crate::domain::ValidationError;
use crate::ports::llm::LlmError;
use crate::ports::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// No (valid) credential behind the request.
    #[error("unauthorized")]
    Unauthorized,
    /// The caller's role does not allow the action.
    #[error("forbidden by the permission table")]
    RoleForbidden,
    /// No such resource — or one the caller may not know exists.
    #[error("not found")]
    NotFound,
    /// Named in the request body, and not found (the detail names it).
    #[error("{0} not found")]
    Missing(String),
    #[error("invalid input: {0}")]
    Validation(String),
    /// The body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is over the endpoint's limit (bytes).
    #[error("payload over {0} bytes")]
    PayloadTooLarge(usize),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("the dietitian has not consented")]
    ConsentRequired,
    /// The API key lacks the scope the route requires (spec section 11).
    #[error("insufficient scope")]
    InsufficientScope(crate::domain::api_key::Scope),
    /// The request's HTTP message signature is missing (where required), invalid or
    /// replayed (spec section 11).
    #[error("invalid signature: {0}")]
    InvalidSignature(crate::domain::signatures::Rejection),
    /// The request asks for something unsafe for its client (refused before any model
    /// call); the findings say what.
    #[error("unsafe request")]
    UnsafeRequest(Vec<crate::domain::safety::Finding>),
    #[error("rate limited")]
    RateLimited(RateLimitStatus),
    #[error("budget exhausted")]
    BudgetExhausted {
        budget_micros: i64,
        amount_micros: i64,
        currency: String,
    },
    #[error("generation is switched off")]
    GenerationDisabled,
    #[error("kind {0} not allowed")]
    KindNotAllowed(ContentKind),
    #[error("beyond the plan's limits")]
    PlanLimitExceeded {
        requests_per_minute: u32,
        monthly_budget_micros: i64,
    },
    /// A change that would mix two currencies (the detail says which).
    #[error("currency mismatch: {0}")]
    CurrencyMismatch(String),
    #[error("the tenant is offboarded")]
    TenantOffboarded,
    #[error("the key is revoked")]
    KeyRevoked,
    #[error("period {0} cannot be closed yet")]
    PeriodNotClosable(Period),
    #[error("sample limit reached")]
    SampleLimitReached,
    #[error("idempotency key reused with another body")]
    IdempotencyKeyReused,
    #[error("idempotency key in progress")]
    IdempotencyInProgress,
    /// The resource changed concurrently or already exists.
    #[error("conflict")]
    Conflict,
    #[error("the model timed out")]
    UpstreamTimeout,
    #[error("the model failed")]
    UpstreamError,
    #[error("a stored record failed its integrity check")]
    IntegrityCheckFailed,
    /// A dependency failed; the cause is for logs only.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The data store did not answer, retries exhausted (throttling, conflicts, errors,
    /// timeouts): nothing unconfirmed was changed or billed; the caller may retry. The
    /// cause is for logs only.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// A bug or a broken invariant; the cause is for logs only.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::AlreadyExists | StoreError::Conflict => Self::Conflict,
            StoreError::InvalidCursor => Self::InvalidCursor,
            StoreError::Unavailable(cause) => Self::StoreUnavailable(cause),
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(error: ValidationError) -> Self {
        Self::Validation(error.0)
    }
}

impl From<LlmError> for AppError {
    fn from(error: LlmError) -> Self {
        tracing::warn!(%error, "model call failed; nothing stored or billed");
        match error {
            LlmError::Timeout => Self::UpstreamTimeout,
            _ => Self::UpstreamError,
        }
    }
}

/// What `Retry-After` says on a `store-unavailable` answer.
pub const STORE_RETRY_AFTER_SECONDS: u64 = 1;

impl AppError {
    /// The `Retry-After` (seconds) an answer carries, if any (rate limits set theirs with
    /// the `RateLimit-*` headers).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::StoreUnavailable(_) => Some(STORE_RETRY_AFTER_SECONDS),
            _ => None,
        }
    }
}

/// What a caller is told about an [`AppError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub status: u16,
    /// Stable slug of the problem type, e.g. `budget-exhausted`.
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members of the problem (RFC 9457 §3.2), e.g. `findings`.
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl AppError {
    /// The problem this error is answered with. Causes of `Unavailable` and `Internal`
    /// are never part of it (the envelope logs them).
    pub fn describe(&self) -> Described {
        let (status, slug, title, detail): (u16, &'static str, &'static str, String) = match self {
            Self::Unauthorized => (401, "unauthorized", "Unauthorized", "A valid credential is required.".into()),
            Self::RoleForbidden => (403, "forbidden", "Forbidden", "Your role does not allow this action.".into()),
            Self::NotFound => (404, "not-found", "Not Found", "No such resource.".into()),
            Self::Missing(what) => (404, "not-found", "Not Found", format!("No {what}.")),
            Self::Validation(detail) => (422, "validation-failed", "Unprocessable Content", detail.clone()),
            Self::UnsupportedMediaType => (415, "unsupported-media-type", "Unsupported Media Type", "Send the body as application/json.".into()),
            Self::PayloadTooLarge(max) => (413, "payload-too-large", "Content Too Large", format!("The body exceeds {max} bytes.")),
            Self::InvalidCursor => (422, "invalid-cursor", "Invalid Cursor", "cursor is not one this listing issued; start again without it".into()),
            Self::UnsafeRequest(_) => (422, "unsafe-request", "Unsafe Request", "This request asks for something unsafe for its client (see findings). Nothing was generated or billed.".into()),
            Self::InvalidSignature(rejection) => (401, "invalid-signature", "Invalid Signature", format!("{rejection} Nothing was done.")),
            Self::InsufficientScope(scope) => (403, "insufficient-scope", "Insufficient Scope", format!("This API key may not do this: the route requires the scope {scope}, which the key was not issued with. Nothing was done.")),
            Self::ConsentRequired => (403, "consent-required", "Consent Required", "This dietitian has not consented to AI processing of their writing; record consent with PUT /v1/dietitians/{dietitianId}/consent.".into()),
            Self::RateLimited(status) => (429, "rate-limited", "Too Many Requests", format!(
                "This {} may make {} requests per minute; retry in {} s.",
                if status.per_key { "API key" } else { "tenant" },
                status.limit, status.reset_seconds
            )),
            Self::BudgetExhausted { budget_micros, amount_micros, currency } => (402, "budget-exhausted", "Budget Exhausted", format!(
                "This tenant's monthly budget ({budget_micros} micro-{currency}) cannot cover this \
                 generation, which may cost up to {amount_micros} micro-{currency}. Nothing was billed; a smaller \
                 max_tokens may fit, or the budget can be raised."
            )),
            Self::GenerationDisabled => (503, "generation-disabled", "Service Unavailable", "Generation is switched off by the operator for now. Nothing was billed; retry later.".into()),
            Self::KindNotAllowed(kind) => (403, "kind-not-allowed", "Forbidden", format!("This tenant may not generate {}.", kind.as_str())),
            Self::PlanLimitExceeded { requests_per_minute, monthly_budget_micros } => (403, "plan-limit-exceeded", "Forbidden", format!(
                "Your plan allows at most {requests_per_minute} requests per minute and a monthly budget of {monthly_budget_micros} micro-units."
            )),
            Self::CurrencyMismatch(detail) => (409, "currency-mismatch", "Conflict", detail.clone()),
            Self::TenantOffboarded => (409, "tenant-offboarded", "Conflict", "This tenant has been offboarded and is read-only; its usage, invoices and audit entries can still be read.".into()),
            Self::KeyRevoked => (409, "key-revoked", "Conflict", "A revoked key cannot be rotated, given a signing key or bound to a certificate.".into()),
            Self::PeriodNotClosable(period) => (409, "period-not-closable", "Conflict", format!(
                "Period {period} can be closed once it has ended and its last reservations have expired."
            )),
            Self::SampleLimitReached => (422, "sample-limit-reached", "Sample Limit Reached", format!(
                "A dietitian may have at most {} samples; delete one first.",
                crate::domain::content::MAX_SAMPLES_PER_DIETITIAN
            )),
            Self::IdempotencyKeyReused => (422, "idempotency-key-reused", "Idempotency Key Reused", "This Idempotency-Key was used with a different request body.".into()),
            Self::IdempotencyInProgress => (409, "idempotency-in-progress", "Request In Progress", "A request with this Idempotency-Key is still running; retry later.".into()),
            Self::Conflict => (409, "conflict", "Conflict", "The resource changed or already exists; reload and retry.".into()),
            Self::UpstreamTimeout => (504, "upstream-timeout", "Upstream Timeout", "The language model did not answer in time. Nothing was billed; retry later.".into()),
            Self::UpstreamError => (502, "upstream-error", "Upstream Error", "The language model failed to answer. Nothing was billed; retry later.".into()),
            Self::IntegrityCheckFailed => (500, "integrity-check-failed", "Integrity Check Failed", "The stored generation does not match its integrity hash and is withheld.".into()),
            Self::Unavailable(_) => (503, "service-unavailable", "Service Unavailable", "The service could not complete the request; retry later.".into()),
            Self::StoreUnavailable(_) => (503, "store-unavailable", "Service Unavailable", format!(
                "The data store is busy or unreachable right now. Nothing was billed and nothing unconfirmed was changed; retry in {STORE_RETRY_AFTER_SECONDS} s (with the same Idempotency-Key, if you sent one)."
            )),
            Self::Internal(_) => (500, "internal-error", "Internal Server Error", "An unexpected error occurred.".into()),
        };
        let extensions = match self {
            Self::UnsafeRequest(findings) => Some(serde_json::Map::from_iter([(
                "findings".to_owned(),
                serde_json::to_value(findings).unwrap_or_default(),
            )])),
            Self::InvalidSignature(rejection) => Some(serde_json::Map::from_iter([(
                "reason".to_owned(),
                serde_json::Value::from(rejection.code()),
            )])),
            _ => None,
        };
        Described {
            status,
            slug,
            title,
            detail,
            extensions,
        }
    }
}
