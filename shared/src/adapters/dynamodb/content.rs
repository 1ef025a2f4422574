//! [`ContentStore`] on the DynamoDB content table. Design: `docs/data-model.md`.
//! Every key starts with `T#<tenant id>#`, so no request can address another tenant's
//! items; a dietitian's items are found through `gsi1` partitions, never a scan.

use super::table::{self, Partition};
use super::{
    applied, corrupt, get_n_opt, get_s, get_s_opt, get_time, n, s, unavailable, Item, GSI1_PK,
    GSI1_SK, PK, SK,
};
use crate::adapters::cursor;
use crate::domain::billing::Period;
use crate::domain::content::{
    BlockedSummary, Consent, ContentKind, DietitianId, Generation, GenerationId, Money, Sample,
    SampleId, Usage,
};
use crate::domain::signatures::RequestSignature;
use crate::domain::style::StyleScore;
use crate::domain::{KeyId, TenantId, Timestamp};
use crate::ports::content::{
    ContentStore, Erasure, IdempotencyClaim, IdempotencyKey, StoredResponse, StoredStyle,
    DEFAULT_RETENTION_DAYS, IDEMPOTENCY_LEASE_SECONDS, IDEMPOTENCY_RETENTION_SECONDS,
};
use crate::ports::{Page, StoreError, MAX_PAGE_SIZE};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, ReturnValue, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// Name of the TTL attribute (epoch seconds), as configured on the table.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub struct DynamoContentStore {
    client: Client,
    table: String,
}

fn sample_pk(tenant: &TenantId, id: &str) -> String {
    format!("T#{tenant}#SAMPLE#{id}")
}
fn generation_pk(tenant: &TenantId, id: &str) -> String {
    format!("T#{tenant}#GEN#{id}")
}
fn consent_pk(tenant: &TenantId, dietitian: &DietitianId) -> String {
    format!("T#{tenant}#D#{dietitian}")
}
fn idempotency_pk(key: &IdempotencyKey) -> String {
    format!("T#{}#IDEM#{}#{}", key.tenant_id, key.scope, key.key)
}
/// The gsi1 partition of one dietitian's items of one collection.
fn dietitian_partition(tenant: &TenantId, dietitian: &DietitianId, collection: &str) -> String {
    format!("T#{tenant}#D#{dietitian}#{collection}")
}

/// One kind of item listed per dietitian: its gsi1 collection name and primary key shape.
struct Collection {
    name: &'static str,
    pk: fn(&TenantId, &str) -> String,
    sk: &'static str,
}

const SAMPLES: &str = "SAMPLES";
const GENERATIONS: &str = "GENS";
const IDEMPOTENCY: &str = "IDEM";
/// The sort key of a dietitian's style profile (beside their consent).
const STYLE: &str = "STYLE";
/// A dietitian's review entries (so erasure finds them).
const BLOCKED: &str = "BLOCKED";

/// The partition of a tenant's review entries of one period.
fn blocked_pk(tenant: &TenantId, period: Period) -> String {
    format!("T#{tenant}#BLOCKED#{period}")
}

pub(crate) fn blocked_item(b: &BlockedSummary) -> Item {
    let codes: Vec<&str> = b.codes.iter().map(|c| c.as_str()).collect();
    HashMap::from([
        (
            PK.into(),
            s(blocked_pk(&b.tenant_id, Period::of(b.created_at))),
        ),
        (SK.into(), s(b.generation_id.as_str())),
        (
            GSI1_PK.into(),
            s(dietitian_partition(&b.tenant_id, &b.dietitian_id, BLOCKED)),
        ),
        (GSI1_SK.into(), s(b.generation_id.as_str())),
        ("tenant_id".into(), s(b.tenant_id.as_str())),
        ("dietitian_id".into(), s(b.dietitian_id.as_str())),
        ("kind".into(), s(b.kind.as_str())),
        (
            "codes".into(),
            s(serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into())),
        ),
        ("created_at".into(), n(b.created_at.as_millis())),
        (
            TTL_ATTRIBUTE.into(),
            epoch_seconds(b.created_at.plus_seconds(DEFAULT_RETENTION_DAYS * 86_400)),
        ),
    ])
}

fn blocked_from_item(item: &Item) -> Result<BlockedSummary, StoreError> {
    Ok(BlockedSummary {
        generation_id: GenerationId::new(get_s(item, SK)?),
        tenant_id: TenantId::new(get_s(item, "tenant_id")?),
        dietitian_id: DietitianId::new(get_s(item, "dietitian_id")?),
        kind: kind_of(item)?,
        codes: serde_json::from_str(&get_s(item, "codes")?).map_err(|_| corrupt("codes"))?,
        created_at: get_time(item, "created_at")?,
    })
}

fn epoch_seconds(at: Timestamp) -> AttributeValue {
    n(at.as_millis() / 1000)
}

fn sample_item(sample: &Sample) -> Item {
    let mut item = HashMap::from([
        (
            PK.into(),
            s(sample_pk(&sample.tenant_id, sample.id.as_str())),
        ),
        (SK.into(), s("SAMPLE")),
        (
            GSI1_PK.into(),
            s(dietitian_partition(
                &sample.tenant_id,
                &sample.dietitian_id,
                SAMPLES,
            )),
        ),
        (GSI1_SK.into(), s(sample.id.as_str())),
        ("id".into(), s(sample.id.as_str())),
        ("tenant_id".into(), s(sample.tenant_id.as_str())),
        ("dietitian_id".into(), s(sample.dietitian_id.as_str())),
        ("kind".into(), s(sample.kind.as_str())),
        ("content".into(), s(&sample.content)),
        ("created_at".into(), n(sample.created_at.as_millis())),
    ]);
    if let Some(title) = &sample.title {
        item.insert("title".into(), s(title));
    }
    if let Some(signature) = &sample.request_signature {
        item.insert("request_signature".into(), s(signature.to_json()));
    }
    item
}

fn kind_of(item: &Item) -> Result<ContentKind, StoreError> {
    ContentKind::parse(&get_s(item, "kind")?).ok_or_else(|| corrupt("kind"))
}

fn sample_from_item(item: &Item) -> Result<Sample, StoreError> {
    Ok(Sample {
        id: SampleId::new(get_s(item, "id")?),
        tenant_id: TenantId::new(get_s(item, "tenant_id")?),
        dietitian_id: DietitianId::new(get_s(item, "dietitian_id")?),
        kind: kind_of(item)?,
        title: item
            .get("title")
            .map(|_| get_s(item, "title"))
            .transpose()?,
        content: get_s(item, "content")?,
        created_at: get_time(item, "created_at")?,
        request_signature: request_signature(item)?,
    })
}

fn request_signature(item: &Item) -> Result<Option<RequestSignature>, StoreError> {
    get_s_opt(item, "request_signature")?
        .map(|json| RequestSignature::from_json(&json).ok_or_else(|| corrupt("request_signature")))
        .transpose()
}

fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    get_n_opt(item, name)?.ok_or_else(|| corrupt(name))
}

pub(crate) fn generation_item(g: &Generation) -> Item {
    let sample_ids: Vec<&str> = g.sample_ids.iter().map(SampleId::as_str).collect();
    let mut item = HashMap::from([
        (PK.into(), s(generation_pk(&g.tenant_id, g.id.as_str()))),
        (SK.into(), s("GEN")),
        (
            GSI1_PK.into(),
            s(dietitian_partition(
                &g.tenant_id,
                &g.dietitian_id,
                GENERATIONS,
            )),
        ),
        (GSI1_SK.into(), s(g.id.as_str())),
        ("id".into(), s(g.id.as_str())),
        ("tenant_id".into(), s(g.tenant_id.as_str())),
        ("dietitian_id".into(), s(g.dietitian_id.as_str())),
        ("kind".into(), s(g.kind.as_str())),
        ("input".into(), s(&g.input)),
        (
            "sample_ids".into(),
            s(serde_json::to_string(&sample_ids).unwrap_or_else(|_| "[]".into())),
        ),
        ("content".into(), s(&g.content)),
        ("model".into(), s(&g.model)),
        ("prompt_tokens".into(), n(g.usage.prompt_tokens as i64)),
        (
            "completion_tokens".into(),
            n(g.usage.completion_tokens as i64),
        ),
        ("total_tokens".into(), n(g.usage.total_tokens as i64)),
        ("cost_micros".into(), n(g.cost.amount_micros)),
        ("currency".into(), s(&g.cost.currency)),
        ("created_at".into(), n(g.created_at.as_millis())),
        ("key_id".into(), s(g.key_id.as_str())),
        ("llm_request".into(), s(&g.llm_request)),
        ("llm_response".into(), s(&g.llm_response)),
        ("integrity".into(), s(&g.integrity)),
        ("client".into(), s(&g.client)),
        (
            "disclaimer_appended".into(),
            AttributeValue::Bool(g.disclaimer_appended),
        ),
        (
            TTL_ATTRIBUTE.into(),
            epoch_seconds(g.created_at.plus_seconds(DEFAULT_RETENTION_DAYS * 86_400)),
        ),
    ]);
    if let Some(safety) = g
        .safety
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok())
    {
        item.insert("safety".into(), s(safety));
    }
    if let Ok(style) = serde_json::to_string(&g.style) {
        item.insert("style".into(), s(style));
    }
    if let Some(signature) = &g.request_signature {
        item.insert("request_signature".into(), s(signature.to_json()));
    }
    item
}

fn generation_from_item(item: &Item) -> Result<Generation, StoreError> {
    let sample_ids: Vec<String> =
        serde_json::from_str(&get_s(item, "sample_ids")?).map_err(|_| corrupt("sample_ids"))?;
    Ok(Generation {
        id: GenerationId::new(get_s(item, "id")?),
        tenant_id: TenantId::new(get_s(item, "tenant_id")?),
        dietitian_id: DietitianId::new(get_s(item, "dietitian_id")?),
        kind: kind_of(item)?,
        input: get_s(item, "input")?,
        sample_ids: sample_ids.into_iter().map(SampleId::new).collect(),
        content: get_s(item, "content")?,
        model: get_s(item, "model")?,
        usage: Usage {
            prompt_tokens: number(item, "prompt_tokens")? as u64,
            completion_tokens: number(item, "completion_tokens")? as u64,
            total_tokens: number(item, "total_tokens")? as u64,
        },
        cost: Money {
            amount_micros: number(item, "cost_micros")?,
            currency: get_s(item, "currency")?,
        },
        created_at: get_time(item, "created_at")?,
        key_id: KeyId::new(get_s(item, "key_id")?),
        llm_request: get_s(item, "llm_request")?,
        llm_response: get_s(item, "llm_response")?,
        client: get_s_opt(item, "client")?.unwrap_or_default(),
        safety: get_s_opt(item, "safety")?
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("safety")))
            .transpose()?,
        disclaimer_appended: matches!(
            item.get("disclaimer_appended"),
            Some(AttributeValue::Bool(true))
        ),
        style: get_s_opt(item, "style")?
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("style")))
            .transpose()?
            .unwrap_or(StyleScore::NONE),
        request_signature: request_signature(item)?,
        integrity: get_s(item, "integrity")?,
    })
}

impl DynamoContentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        table::get(&self.client, &self.table, pk, sk).await
    }

    /// Create-only: an id is never reused.
    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        if !table::put_new(&self.client, &self.table, item).await? {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    /// One page (plus one item, to know if there is more) of a dietitian's collection,
    /// newest first, after the cursor's id.
    async fn list_newest(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        collection: &Collection,
        kind: Option<ContentKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let partition = dietitian_partition(tenant, dietitian, collection.name);
        let start = cursor.map(cursor::decode).transpose()?.map(|id| {
            start_key(
                (collection.pk)(tenant, &id),
                collection.sk,
                partition.clone(),
                id,
            )
        });
        let mut newest = Partition::gsi1(partition.clone()).newest_first();
        if let Some(kind) = kind {
            newest = newest.only("kind", s(kind.as_str()));
        }
        let (items, _) = table::query(
            &self.client,
            &self.table,
            &newest,
            start,
            page_size(limit) + 1,
        )
        .await?;
        Ok(items)
    }

    /// The primary keys of every item in a gsi1 partition.
    async fn keys_in(&self, partition: String) -> Result<Vec<Item>, StoreError> {
        // A dietitian's samples are capped at 50; generations and stored responses are
        // bounded by retention: this is a guard, not a limit anyone meets.
        const MAX_ITEMS: usize = 1_000_000;
        let keys = Partition::gsi1(partition).keys_only();
        table::query_all(&self.client, &self.table, &keys, MAX_ITEMS).await
    }

    /// Deletes items by primary key, 25 per batch, retrying unprocessed ones a bounded
    /// number of times.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0..5 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 4 {
                    return Err(StoreError::Unavailable(
                        "batch delete left unprocessed items".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }
}

fn start_key(pk: String, sk: &str, partition: String, id: String) -> Item {
    HashMap::from([
        (PK.into(), s(pk)),
        (SK.into(), s(sk)),
        (GSI1_PK.into(), s(partition)),
        (GSI1_SK.into(), s(id)),
    ])
}

fn page_size(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE_SIZE) as usize
}

fn newest_page<T>(
    items: Vec<Item>,
    limit: u32,
    parse: impl Fn(&Item) -> Result<T, StoreError>,
    id: impl Fn(&T) -> &str,
) -> Result<Page<T>, StoreError> {
    let limit = page_size(limit);
    let mut parsed = items.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if parsed.len() > limit {
        parsed.truncate(limit);
        parsed.last().map(|item| cursor::encode(id(item)))
    } else {
        None
    };
    Ok(Page {
        items: parsed,
        next_cursor,
    })
}

#[async_trait]
impl ContentStore for DynamoContentStore {
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (
                    PK.into(),
                    s(consent_pk(&consent.tenant_id, &consent.dietitian_id)),
                ),
                (SK.into(), s("CONSENT")),
                ("tenant_id".into(), s(consent.tenant_id.as_str())),
                ("dietitian_id".into(), s(consent.dietitian_id.as_str())),
                ("granted".into(), AttributeValue::Bool(consent.granted)),
                ("recorded_at".into(), n(consent.recorded_at.as_millis())),
                ("key_id".into(), s(consent.key_id.as_str())),
            ])))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_consent(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<Consent>, StoreError> {
        let Some(item) = self.get(consent_pk(tenant, dietitian), "CONSENT").await? else {
            return Ok(None);
        };
        let granted = match item.get("granted") {
            Some(AttributeValue::Bool(granted)) => *granted,
            _ => return Err(corrupt("granted")),
        };
        Ok(Some(Consent {
            tenant_id: tenant.clone(),
            dietitian_id: dietitian.clone(),
            granted,
            recorded_at: get_time(&item, "recorded_at")?,
            key_id: KeyId::new(get_s(&item, "key_id")?),
        }))
    }

    async fn create_sample(&self, sample: &Sample) -> Result<(), StoreError> {
        self.put_new(sample_item(sample)).await
    }

    async fn get_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<Sample>, StoreError> {
        self.get(sample_pk(tenant, id.as_str()), "SAMPLE")
            .await?
            .as_ref()
            .map(sample_from_item)
            .transpose()
    }

    async fn list_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        kind: Option<ContentKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Sample>, StoreError> {
        let collection = Collection {
            name: SAMPLES,
            pk: sample_pk,
            sk: "SAMPLE",
        };
        let items = self
            .list_newest(tenant, dietitian, &collection, kind, limit, cursor)
            .await?;
        newest_page(items, limit, sample_from_item, |s| s.id.as_str())
    }

    /// Counts by listing keys: a key-only `Query` reads the same items (and costs the
    /// same capacity) as `Select COUNT`, and a dietitian has at most 50 samples.
    async fn count_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<usize, StoreError> {
        let partition = dietitian_partition(tenant, dietitian, SAMPLES);
        Ok(self.keys_in(partition).await?.len())
    }

    async fn delete_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<DietitianId>, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(sample_pk(tenant, id.as_str())))
            .key(SK, s("SAMPLE"))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        match output.attributes.filter(|a| !a.is_empty()) {
            Some(old) => Ok(Some(DietitianId::new(get_s(&old, "dietitian_id")?))),
            None => Ok(None),
        }
    }

    async fn put_style(&self, stored: &StoredStyle) -> Result<(), StoreError> {
        let body = serde_json::to_string(&stored.style)
            .map_err(|e| StoreError::Unavailable(format!("style: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (
                    PK.into(),
                    s(consent_pk(&stored.tenant_id, &stored.dietitian_id)),
                ),
                (SK.into(), s(STYLE)),
                ("tenant_id".into(), s(stored.tenant_id.as_str())),
                ("dietitian_id".into(), s(stored.dietitian_id.as_str())),
                ("body".into(), s(body)),
                ("computed_at".into(), n(stored.computed_at.as_millis())),
            ])))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<StoredStyle>, StoreError> {
        let Some(item) = self.get(consent_pk(tenant, dietitian), STYLE).await? else {
            return Ok(None);
        };
        Ok(Some(StoredStyle {
            tenant_id: tenant.clone(),
            dietitian_id: dietitian.clone(),
            style: serde_json::from_str(&get_s(&item, "body")?).map_err(|_| corrupt("body"))?,
            computed_at: get_time(&item, "computed_at")?,
        }))
    }

    async fn delete_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(consent_pk(tenant, dietitian)))
            .key(SK, s(STYLE))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn create_generation(&self, generation: &Generation) -> Result<(), StoreError> {
        let Some(blocked) = generation.blocked_summary() else {
            return self.put_new(generation_item(generation)).await;
        };
        // The generation and its review entry, together or not at all; both create-only.
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let item = generation_item(generation);
        let attempts = table::Attempts::default();
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(item.clone())?)
            .transact_items(put(blocked_item(&blocked))?)
            .customize()
            .interceptor(attempts.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::cancelled_by_condition(&e) => {
                // This very write, applied by an earlier attempt whose answer was lost?
                if attempts.retried() && table::is_stored(&self.client, &self.table, &item).await? {
                    Ok(())
                } else {
                    Err(StoreError::AlreadyExists)
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_blocked(
        &self,
        tenant: &TenantId,
        period: Period,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<BlockedSummary>, StoreError> {
        let pk = blocked_pk(tenant, period);
        let start = cursor
            .map(cursor::decode)
            .transpose()?
            .map(|id| HashMap::from([(PK.to_owned(), s(&pk)), (SK.to_owned(), s(id))]));
        let partition = Partition::table(pk).newest_first();
        let (items, _) = table::query(
            &self.client,
            &self.table,
            &partition,
            start,
            page_size(limit) + 1,
        )
        .await?;
        newest_page(items, limit, blocked_from_item, |b| {
            b.generation_id.as_str()
        })
    }

    async fn get_generation(
        &self,
        tenant: &TenantId,
        id: &GenerationId,
    ) -> Result<Option<Generation>, StoreError> {
        self.get(generation_pk(tenant, id.as_str()), "GEN")
            .await?
            .as_ref()
            .map(generation_from_item)
            .transpose()
    }

    async fn reseal_generation(
        &self,
        generation: &Generation,
        expected: &str,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                PK,
                s(generation_pk(&generation.tenant_id, generation.id.as_str())),
            )
            .key(SK, s("GEN"))
            .update_expression("SET integrity = :new")
            .condition_expression("integrity = :expected")
            .expression_attribute_values(":new", s(&generation.integrity))
            .expression_attribute_values(":expected", s(expected))
            .send()
            .await;
        // A retried write whose first attempt applied finds its own seal: that is `false`
        // here, harmless (the record is sealed either way).
        applied(update)
    }

    async fn list_generations(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Generation>, StoreError> {
        let collection = Collection {
            name: GENERATIONS,
            pk: generation_pk,
            sk: "GEN",
        };
        let items = self
            .list_newest(tenant, dietitian, &collection, None, limit, cursor)
            .await?;
        newest_page(items, limit, generation_from_item, |g| g.id.as_str())
    }

    async fn erase_dietitian(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Erasure, StoreError> {
        let samples = self
            .keys_in(dietitian_partition(tenant, dietitian, SAMPLES))
            .await?;
        let generations = self
            .keys_in(dietitian_partition(tenant, dietitian, GENERATIONS))
            .await?;
        let responses = self
            .keys_in(dietitian_partition(tenant, dietitian, IDEMPOTENCY))
            .await?;
        let reviews = self
            .keys_in(dietitian_partition(tenant, dietitian, BLOCKED))
            .await?;
        let erasure = Erasure {
            samples: samples.len(),
            generations: generations.len(),
            consent: false,
        };
        self.delete_all(
            samples
                .into_iter()
                .chain(generations)
                .chain(responses)
                .chain(reviews)
                .collect(),
        )
        .await?;
        self.delete_style(tenant, dietitian).await?;
        let consent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(consent_pk(tenant, dietitian)))
            .key(SK, s("CONSENT"))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(Erasure {
            consent: consent.attributes.is_some_and(|a| !a.is_empty()),
            ..erasure
        })
    }

    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let expires = now.plus_seconds(IDEMPOTENCY_RETENTION_SECONDS);
        // Each claim is unique, so a claim that finds itself already there (an earlier
        // attempt applied, its answer lost) knows it holds the key.
        let claim = HashMap::from([
            (PK.into(), s(idempotency_pk(key))),
            (SK.into(), s("IDEM")),
            (
                GSI1_PK.into(),
                s(dietitian_partition(
                    &key.tenant_id,
                    &key.dietitian_id,
                    IDEMPOTENCY,
                )),
            ),
            (GSI1_SK.into(), s(format!("{}#{}", key.scope, key.key))),
            ("request_hash".into(), s(request_hash)),
            ("claim_id".into(), s(crate::domain::new_id())),
            ("state".into(), s("in_progress")),
            (
                "lease_until".into(),
                n(now.plus_seconds(IDEMPOTENCY_LEASE_SECONDS).as_millis()),
            ),
            ("expires_at_ms".into(), n(expires.as_millis())),
            (TTL_ATTRIBUTE.into(), epoch_seconds(expires)),
        ]);
        let attempts = table::Attempts::default();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim.clone()))
            .condition_expression(
                "attribute_not_exists(#pk) OR expires_at_ms <= :now OR (#state = :in_progress AND lease_until <= :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now.as_millis()))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .customize()
            .interceptor(attempts.clone())
            .send()
            .await;
        if applied(put)? {
            return Ok(IdempotencyClaim::Claimed);
        }
        let item = self
            .get(idempotency_pk(key), "IDEM")
            .await?
            .ok_or(StoreError::Conflict)?;
        if attempts.retried() && item == claim {
            return Ok(IdempotencyClaim::Claimed);
        }
        let request_hash = get_s(&item, "request_hash")?;
        if get_s(&item, "state")? == "completed" {
            let status = u16::try_from(number(&item, "status")?).map_err(|_| corrupt("status"))?;
            return Ok(IdempotencyClaim::Completed {
                request_hash,
                response: StoredResponse {
                    status,
                    body: get_s(&item, "body")?,
                },
            });
        }
        Ok(IdempotencyClaim::InProgress { request_hash })
    }

    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let expires = now.plus_seconds(IDEMPOTENCY_RETENTION_SECONDS);
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s("IDEM"))
            .update_expression("SET #state = :completed, #status = :status, body = :body, expires_at_ms = :exp, #ttl = :ttl")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":completed", s("completed"))
            .expression_attribute_values(":status", n(i64::from(response.status)))
            .expression_attribute_values(":body", s(&response.body))
            .expression_attribute_values(":exp", n(expires.as_millis()))
            .expression_attribute_values(":ttl", epoch_seconds(expires))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s("IDEM"))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        applied(delete).map(|_| ())
    }
}
