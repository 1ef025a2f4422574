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
