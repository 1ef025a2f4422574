//! The requests every DynamoDB store makes the same way: a consistent `GetItem` by
//! primary key, a create-only `PutItem`, and a `Query` of one partition (of the table or
//! of `gsi1`) that follows DynamoDB's own pages until it has what was asked for. Values
//! travel as expression attribute values only (threat S01).

use super::{applied, s, unavailable, Item, GSI1, GSI1_PK, PK, SK};
use crate::ports::StoreError;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A consistent `GetItem` by primary key.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    pk: String,
    sk: &str,
) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .key(PK, s(pk))
        .key(SK, s(sk))
        .consistent_read(true)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(output.item)
}

/// Counts the attempts the SDK makes for one operation (its retries are internal): a
/// write whose condition failed after a retry may have failed on its own earlier,
/// applied attempt whose answer was lost.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attempts(Arc<AtomicU32>);

impl Attempts {
    pub(crate) fn retried(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 1
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "count attempts"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A `PutItem` that only creates: `false` (and no change) if the primary key is taken.
/// When the SDK had to retry and the item there is exactly this one, the earlier attempt
/// was applied and its answer lost (a timeout, a 500): that is this write's success.
pub(crate) async fn put_new(client: &Client, table: &str, item: Item) -> Result<bool, StoreError> {
    put_unless_live(client, table, item, None).await
}

/// [`put_new`] that may also replace an item whose `expires_at_ms` is at or before `now`
/// (a claim that lapsed but DynamoDB's TTL has not removed yet).
pub(crate) async fn put_unless_live(
    client: &Client,
    table: &str,
    item: Item,
    now: Option<crate::domain::Timestamp>,
) -> Result<bool, StoreError> {
    let attempts = Attempts::default();
    let mut put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item.clone()))
        .expression_attribute_names("#pk", PK);
    put = match now {
        // Create-only: an existing item with this key is never replaced.
        None => put.condition_expression("attribute_not_exists(#pk)"),
        Some(now) => put
            .condition_expression("attribute_not_exists(#pk) OR expires_at_ms <= :now")
            .expression_attribute_values(":now", super::n(now.as_millis())),
    };
    let put = put.customize().interceptor(attempts.clone()).send().await;
    if applied(put)? {
        return Ok(true);
    }
    Ok(attempts.retried() && is_stored(client, table, &item).await?)
}

/// Whether `item` is stored exactly as given (read consistently by its key): how a
/// retried write whose condition failed tells its own earlier, applied attempt from
/// somebody else's item.
pub(crate) async fn is_stored(
    client: &Client,
    table: &str,
    item: &Item,
) -> Result<bool, StoreError> {
    let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get(PK), item.get(SK))
    else {
        return Ok(false);
    };
    Ok(get(client, table, pk.clone(), sk).await?.as_ref() == Some(item))
}

/// Which items of which partition a [`query`] reads.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    index: Option<&'static str>,
    key_attribute: &'static str,
    key: String,
    /// A condition on the sort key (`#sk`, the table's; the index's sort key is not
    /// conditioned) with its one value, `:bound`.
    sort: Option<(&'static str, AttributeValue)>,
    forward: bool,
    consistent: bool,
    /// Keep only items whose attribute equals the value (applied after the read).
    filter: Option<(&'static str, AttributeValue)>,
    keys_only: bool,
}

impl Partition {
    /// A partition of the table, read consistently, oldest sort key first.
    pub(crate) fn table(key: impl Into<String>) -> Self {
        Self {
            index: None,
            key_attribute: PK,
            key: key.into(),
            sort: None,
            forward: true,
            consistent: true,
            filter: None,
            keys_only: false,
        }
    }

    /// A partition of `gsi1` (eventually consistent, as every GSI), oldest first.
    pub(crate) fn gsi1(key: impl Into<String>) -> Self {
        Self {
            index: Some(GSI1),
            key_attribute: GSI1_PK,
            consistent: false,
            ..Self::table(key)
        }
    }

    /// Sort keys starting with `prefix`.
    pub(crate) fn sort_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sort = Some(("begins_with(#sk, :bound)", s(prefix)));
        self
    }

    /// Sort keys after (`>`) or before (`<`) `bound`.
    pub(crate) fn sort_beyond(mut self, after: bool, bound: impl Into<String>) -> Self {
        let condition = if after {
            "#sk > :bound"
        } else {
            "#sk < :bound"
        };
        self.sort = Some((condition, s(bound)));
        self
    }

    pub(crate) fn newest_first(mut self) -> Self {
        self.forward = false;
        self
    }

    pub(crate) fn oldest_first(mut self, forward: bool) -> Self {
        self.forward = forward;
        self
    }

    pub(crate) fn only(mut self, attribute: &'static str, value: AttributeValue) -> Self {
        self.filter = Some((attribute, value));
        self
    }

    /// Read only the primary keys (for deletes).
    pub(crate) fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }
}

/// Up to `limit` items of `partition` after `start` (exclusive), following DynamoDB's
/// pages; and the key to continue from when the partition has more.
pub(crate) async fn query(
    client: &Client,
    table: &str,
    partition: &Partition,
    mut start: Option<Item>,
    limit: usize,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let mut items = Vec::new();
    loop {
        let mut request = client
            .query()
            .table_name(table)
            .set_index_name(partition.index.map(str::to_owned))
            .expression_attribute_names("#pk", partition.key_attribute)
            .expression_attribute_values(":pk", s(&partition.key))
            .scan_index_forward(partition.forward)
            .consistent_read(partition.consistent)
            .set_exclusive_start_key(start.take())
            .limit((limit - items.len()).clamp(1, i32::MAX as usize) as i32);
        request = match &partition.sort {
            None => request.key_condition_expression("#pk = :pk"),
            Some((condition, bound)) => request
                .key_condition_expression(format!("#pk = :pk AND {condition}"))
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":bound", bound.clone()),
        };
        if let Some((attribute, value)) = &partition.filter {
            request = request
                .filter_expression("#filtered = :filtered")
                .expression_attribute_names("#filtered", *attribute)
                .expression_attribute_values(":filtered", value.clone());
        }
        if partition.keys_only {
            request = request
                .projection_expression("#key_pk, #key_sk")
                .expression_attribute_names("#key_pk", PK)
                .expression_attribute_names("#key_sk", SK);
        }
        let output = request.send().await.map_err(unavailable)?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(key) if items.len() < limit => start = Some(key),
            last => {
                items.truncate(limit);
                return Ok((items, last));
            }
        }
    }
}

/// Every item of `partition`, at most `bound` of them (a bigger partition is a broken
/// store, not something to read into memory).
pub(crate) async fn query_all(
    client: &Client,
    table: &str,
    partition: &Partition,
    bound: usize,
) -> Result<Vec<Item>, StoreError> {
    let (items, more) = query(client, table, partition, None, bound).await?;
    if more.is_some() && items.len() >= bound {
        return Err(StoreError::Unavailable(format!(
            "dynamodb: partition {} holds more than {bound} items",
            partition.key
        )));
    }
    Ok(items)
}
