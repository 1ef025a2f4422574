//! How every DynamoDB client of the product retries and times out (docs/architecture.md,
//! "Retries and timeouts"): the SDK's standard retry mode (bounded attempts, exponential
//! backoff with full jitter, and its retry quota — a token bucket per client that a
//! brownout drains, so retries stop instead of multiplying load), per-attempt and
//! per-operation timeouts inside the function's deadline, and one classifier of our own:
//! DynamoDB's "another transaction holds this item" answers — `TransactionConflictException`
//! on a single write, `TransactionCanceledException` whose reasons are only conflicts or
//! throttling — are retried like throttling. A failed condition is an answer and is never
//! retried (the classifier says nothing then, and the SDK's own classifiers do not retry
//! client errors).

use aws_sdk_dynamodb::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_dynamodb::config::Builder;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as TypeErasedError, InterceptorContext,
};
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::retry::{ErrorKind, RetryConfig};
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::Duration;

/// Attempts per operation (the first and up to seven retries), while the operation
/// timeout and the retry quota allow.
pub const MAX_ATTEMPTS: u32 = 8;
/// Backoff before the first retry, doubling (full jitter) up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(20);
pub const MAX_BACKOFF: Duration = Duration::from_millis(400);
/// A DynamoDB request answers in milliseconds; one that takes longer is abandoned and
/// retried (a write it abandoned may have been applied: every write path tolerates that).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// All attempts of one operation together.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(1_500);

/// The product's retry and timeout policy on a DynamoDB client configuration.
pub fn with_policy(builder: Builder) -> Builder {
    with_timeouts(builder, ATTEMPT_TIMEOUT, OPERATION_TIMEOUT)
}

/// The same kind of retries for a DynamoDB emulator on loopback (moto, DynamoDB Local)
/// under the test command's injected faults (`infra/faults`): emulators answer in tens
/// to hundreds of milliseconds under concurrent load, not DynamoDB's few, so the
/// timeouts are wider; and the faults are far denser than any real brownout (a quarter
/// of transactions fail), so there are more attempts (12: a transaction then fails for
/// good once in ~17 million) and a retry quota of its own, large enough that the
/// concurrency tests never exhaust it. The production quota is the SDK's default.
pub fn with_emulator_policy(builder: Builder) -> Builder {
    with_settings(
        builder,
        EMULATOR_MAX_ATTEMPTS,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
    .retry_partition(
        RetryPartition::custom("nutripro-emulator")
            .token_bucket(TokenBucket::new(EMULATOR_RETRY_QUOTA))
            .build(),
    )
}

/// Attempts per operation against an emulator with injected faults.
pub const EMULATOR_MAX_ATTEMPTS: u32 = 12;
const EMULATOR_RETRY_QUOTA: usize = 1_000_000;

fn with_timeouts(builder: Builder, attempt: Duration, operation: Duration) -> Builder {
    with_settings(builder, MAX_ATTEMPTS, attempt, operation)
}

fn with_settings(
    builder: Builder,
    attempts: u32,
    attempt: Duration,
    operation: Duration,
) -> Builder {
    builder
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(INITIAL_BACKOFF)
                .with_max_backoff(MAX_BACKOFF),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(attempt)
                .operation_timeout(operation)
                .build(),
        )
        .retry_classifier(TransactionConflicts)
        .interceptor(StoreHealth)
}

/// Counts what DynamoDB answered each attempt with, as metrics of the request in
/// progress (`crate::metrics`): `StoreThrottled` (throttling, whatever its form — also
/// inside a cancelled transaction) and `StoreServerErrors` (a 5xx, a timeout, a lost
/// connection). The alarms on them are the "DynamoDB throttles" and "DynamoDB system
/// errors" of `template.yaml`: what the functions met, retried or not.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreHealth;

/// Error codes that mean "throttled".
const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

impl StoreHealth {
    fn throttled(error: &TypeErasedError) -> bool {
        if let Some(TransactWriteItemsError::TransactionCanceledException(tc)) =
            error.downcast_ref::<TransactWriteItemsError>()
        {
            return tc.cancellation_reasons().iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                )
            });
        }
        error_code(error).is_some_and(|code| THROTTLING_CODES.contains(&code))
    }
}

/// The error code of a DynamoDB operation's error, whichever operation it was.
fn error_code(error: &TypeErasedError) -> Option<&str> {
    use aws_sdk_dynamodb::operation::{
        get_item::GetItemError, query::QueryError, transact_get_items::TransactGetItemsError,
    };
    macro_rules! code_of {
        ($($kind:ty),*) => {
            None$(.or_else(|| error.downcast_ref::<$kind>().and_then(|e| e.code())))*
        };
    }
    code_of!(
        GetItemError,
        PutItemError,
        UpdateItemError,
        DeleteItemError,
        QueryError,
        TransactWriteItemsError,
        TransactGetItemsError,
        BatchWriteItemError
    )
}

impl aws_sdk_dynamodb::config::Intercept for StoreHealth {
    fn name(&self) -> &'static str {
        "store health metrics"
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let server_error = context
            .response()
            .is_some_and(|response| response.status().is_server_error());
        let (throttled, failed_without_answer) = match context.output_or_error() {
            Some(Err(error)) => (
                error.as_operation_error().is_some_and(Self::throttled),
                error.is_timeout_error() || error.is_connector_error(),
            ),
            _ => (false, false),
        };
        if throttled {
            crate::metrics::add_function("dynamodb", crate::metrics::STORE_THROTTLED, 1.0);
        }
        if server_error || failed_without_answer {
            crate::metrics::add_function("dynamodb", crate::metrics::STORE_SERVER_ERRORS, 1.0);
        }
        Ok(())
    }
}

/// A client for the deployed stack: the loaded AWS configuration with the policy.
pub fn client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(with_policy(Builder::from(config)).build())
}

/// Reasons inside a cancelled transaction that mean "try again", not "no".
const RETRYABLE_REASONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// Whether a cancelled transaction's reasons are only retryable ones (and at least one).
pub(crate) fn cancelled_by_conflict(reasons: &[Option<String>]) -> bool {
    reasons
        .iter()
        .any(|r| r.as_deref().is_some_and(|c| RETRYABLE_REASONS.contains(&c)))
        && reasons.iter().all(|r| {
            r.as_deref()
                .is_none_or(|c| c == "None" || RETRYABLE_REASONS.contains(&c))
        })
}

#[derive(Debug, Default, Clone, Copy)]
pub struct TransactionConflicts;

impl TransactionConflicts {
    fn conflict(error: &TypeErasedError) -> bool {
        if let Some(e) = error.downcast_ref::<TransactWriteItemsError>() {
            if let TransactWriteItemsError::TransactionCanceledException(tc) = e {
                let reasons: Vec<Option<String>> = tc
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_owned))
                    .collect();
                return cancelled_by_conflict(&reasons);
            }
            return e.code() == Some("TransactionConflictException");
        }
        let code = error
            .downcast_ref::<PutItemError>()
            .and_then(|e| e.code())
            .or_else(|| {
                error
                    .downcast_ref::<UpdateItemError>()
                    .and_then(|e| e.code())
            })
            .or_else(|| {
                error
                    .downcast_ref::<DeleteItemError>()
                    .and_then(|e| e.code())
            })
            .or_else(|| {
                error
                    .downcast_ref::<BatchWriteItemError>()
                    .and_then(|e| e.code())
            });
        code == Some("TransactionConflictException")
    }
}

impl ClassifyRetry for TransactionConflicts {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match error.as_operation_error() {
            Some(operation) if Self::conflict(operation) => {
                RetryAction::retryable_error(ErrorKind::ThrottlingError)
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "DynamoDB transaction conflicts"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(
            RetryClassifierPriority::modeled_as_retryable_classifier(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<Option<String>> {
        codes.iter().map(|c| Some((*c).to_owned())).collect()
    }

    #[test]
    fn only_conflicts_and_throttling_inside_a_transaction_are_retried() {
        assert!(cancelled_by_conflict(&reasons(&[
            "None",
            "TransactionConflict"
        ])));
        assert!(cancelled_by_conflict(&reasons(&[
            "ThrottlingError",
            "None"
        ])));
        assert!(
            !cancelled_by_conflict(&reasons(&["ConditionalCheckFailed", "TransactionConflict"])),
            "a failed condition is an answer"
        );
        assert!(!cancelled_by_conflict(&reasons(&["None", "None"])));
        assert!(!cancelled_by_conflict(&reasons(&["ValidationError"])));
    }
}
