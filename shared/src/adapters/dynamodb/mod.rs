//! DynamoDB store for the deployed stack. Table design: `docs/data-model.md`.
//!
//! Every request-path access is a `GetItem`, a `Query` on a known partition, or a
//! conditional write; nothing scans. Values always travel as expression attribute
//! values, never spliced into expression strings (threat S01).

pub mod admin;
pub mod billing;
pub mod commit;
pub mod content;
pub mod retry;
pub mod schema;
mod table;

use crate::adapters::cursor;
use crate::domain::api_key::Scope;
use crate::domain::signatures::ClientSigningKey;
use crate::domain::{ApiKey, ApiKeyHash, KeyId, PlanId, Tenant, TenantId, TenantStatus, Timestamp};
use crate::ports::{ApiKeyStore, Page, StoreError, TenantStore, MAX_PAGE_SIZE};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
pub(crate) const GSI1: &str = "gsi1";
pub(crate) const GSI1_PK: &str = "gsi1pk";
pub(crate) const GSI1_SK: &str = "gsi1sk";

const TENANT_SK: &str = "TENANT";
const TENANTS_GSI1_PK: &str = "TENANTS";
const KEY_SK: &str = "APIKEY";

fn tenant_pk(id: &str) -> String {
    format!("TENANT#{id}")
}

fn key_pk(id: &str) -> String {
    format!("APIKEY#{id}")
}

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An `UpdateItem` of one item, with `#pk` bound for the `attribute_exists(#pk)`
    /// that every update's condition starts with.
    fn update(&self, pk: String, sk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .expression_attribute_names("#pk", PK)
    }

    /// Sets (`Some`) or removes (`None`) a string attribute of an existing key. Setting the
    /// same value twice is the same state: a retried write is harmless.
    async fn set_key_attribute(
        &self,
        key_id: &KeyId,
        attribute: &'static str,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        let update = self
            .update(key_pk(key_id.as_str()), KEY_SK)
            .expression_attribute_names("#attribute", attribute);
        let update = match value {
            Some(value) => update
                .update_expression("SET #attribute = :value")
                .expression_attribute_values(":value", s(value)),
            None => update.update_expression("REMOVE #attribute"),
        };
        let update = update
            .condition_expression("attribute_exists(#pk)")
            .send()
            .await;
        if !applied(update)? {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Sets a key's time attribute to `at` if it is unset or older than `if_before`
    /// (sampled writes); whether it wrote.
    async fn set_time_if_older(
        &self,
        key_id: &KeyId,
        attribute: &str,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError> {
        let update = self
            .update(key_pk(key_id.as_str()), KEY_SK)
            .update_expression("SET #t = :at")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#t) OR #t < :before)",
            )
            .expression_attribute_names("#t", attribute)
            .expression_attribute_values(":at", n(at.as_millis()))
            .expression_attribute_values(":before", n(if_before.as_millis()))
            .send()
            .await;
        applied(update)
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        table::get(&self.client, &self.table, pk, sk).await
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().unwrap_or("unknown").to_owned();
    StoreError::Unavailable(format!(
        "dynamodb {code}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&error)
    ))
}

/// A transaction cancelled because one of its conditions failed (an answer), as opposed
/// to conflicts or throttling (retried by the client until its attempts ran out).
fn cancelled_by_condition<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    error
        .as_service_error()
        .and_then(|e| match e {
            TransactWriteItemsError::TransactionCanceledException(tc) => Some(tc),
            _ => None,
        })
        .is_some_and(|tc| {
            tc.cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"))
        })
}

fn is_condition_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error.code() == Some("ConditionalCheckFailedException")
}

/// The outcome of a conditional write: `Ok(true)` if it was applied, `Ok(false)` if its
/// condition did not hold, an error for anything else.
fn applied<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(corrupt(name)),
    }
}

fn get_s_opt(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(corrupt(name)),
    }
}

fn get_n_opt(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

fn get_time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    get_n_opt(item, name)?
        .map(Timestamp::from_millis)
        .ok_or_else(|| corrupt(name))
}

fn get_time_opt(item: &Item, name: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get_n_opt(item, name)?.map(Timestamp::from_millis))
}

fn get_hash_opt(item: &Item, name: &str) -> Result<Option<ApiKeyHash>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(hex)) => ApiKeyHash::from_hex(hex)
            .map(Some)
            .ok_or_else(|| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "dynamodb: item attribute {attribute} missing or malformed"
    ))
}

fn tenant_item(tenant: &Tenant) -> Item {
    let mut item = HashMap::from([
        (PK.into(), s(tenant_pk(tenant.id.as_str()))),
        (SK.into(), s(TENANT_SK)),
        (GSI1_PK.into(), s(TENANTS_GSI1_PK)),
        (GSI1_SK.into(), s(tenant.id.as_str())),
        ("entity".into(), s("tenant")),
        ("tenant_id".into(), s(tenant.id.as_str())),
        ("name".into(), s(&tenant.name)),
        ("status".into(), s(tenant.status.as_str())),
        ("plan".into(), s(tenant.plan.as_str())),
        ("created_at".into(), n(tenant.created_at.as_millis())),
    ]);
    if let Some(contact) = &tenant.contact {
        item.insert("contact".into(), s(contact));
    }
    item
}

fn tenant_from_item(item: &Item) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId::new(get_s(item, "tenant_id")?),
        name: get_s(item, "name")?,
        contact: get_s_opt(item, "contact")?,
        status: TenantStatus::parse(&get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        plan: PlanId::new(get_s(item, "plan")?),
        created_at: get_time(item, "created_at")?,
    })
}

fn key_item(key: &ApiKey) -> Item {
    let mut item = HashMap::from([
        (PK.into(), s(key_pk(key.key_id.as_str()))),
        (SK.into(), s(KEY_SK)),
        (GSI1_PK.into(), s(tenant_pk(key.tenant_id.as_str()))),
        (GSI1_SK.into(), s(key_pk(key.key_id.as_str()))),
        ("entity".into(), s("api_key")),
        ("key_id".into(), s(key.key_id.as_str())),
        ("tenant_id".into(), s(key.tenant_id.as_str())),
        ("name".into(), s(&key.name)),
        ("key_hash".into(), s(key.hash.to_hex())),
        ("created_at".into(), n(key.created_at.as_millis())),
    ]);
    let optional = [
        ("expires_at", key.expires_at.map(|t| n(t.as_millis()))),
        ("revoked_at", key.revoked_at.map(|t| n(t.as_millis()))),
        (
            "previous_key_hash",
            key.previous_hash.as_ref().map(|h| s(h.to_hex())),
        ),
        ("grace_until", key.grace_until.map(|t| n(t.as_millis()))),
        ("last_used_at", key.last_used_at.map(|t| n(t.as_millis()))),
        ("scopes", Some(s(Scope::join(&key.scopes)))),
        (
            "requests_per_minute",
            key.requests_per_minute.map(|v| n(i64::from(v))),
        ),
        (
            "signing_key",
            key.signing_key.as_ref().map(|k| s(k.to_json())),
        ),
        ("client_cert_sha256", key.client_cert_sha256.as_ref().map(s)),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    item
}

fn key_from_item(item: &Item) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        key_id: KeyId::new(get_s(item, "key_id")?),
        tenant_id: TenantId::new(get_s(item, "tenant_id")?),
        name: get_s(item, "name")?,
        hash: get_hash_opt(item, "key_hash")?.ok_or_else(|| corrupt("key_hash"))?,
        created_at: get_time(item, "created_at")?,
        expires_at: get_time_opt(item, "expires_at")?,
        revoked_at: get_time_opt(item, "revoked_at")?,
        previous_hash: get_hash_opt(item, "previous_key_hash")?,
        grace_until: get_time_opt(item, "grace_until")?,
        last_used_at: get_time_opt(item, "last_used_at")?,
        // A key from before scopes existed has all of them.
        scopes: match get_s_opt(item, "scopes")? {
            None => Scope::ALL.to_vec(),
            Some(text) => Some(Scope::split(&text))
                .filter(|scopes| !scopes.is_empty())
                .ok_or_else(|| corrupt("scopes"))?,
        },
        requests_per_minute: get_n_opt(item, "requests_per_minute")?
            .map(|v| u32::try_from(v).map_err(|_| corrupt("requests_per_minute")))
            .transpose()?,
        signing_key: get_s_opt(item, "signing_key")?
            .map(|text| ClientSigningKey::from_json(&text).ok_or_else(|| corrupt("signing_key")))
            .transpose()?,
        client_cert_sha256: get_s_opt(item, "client_cert_sha256")?,
    })
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        if !table::put_new(&self.client, &self.table, tenant_item(tenant)).await? {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get(tenant_pk(id.as_str()), TENANT_SK)
            .await?
            .as_ref()
            .map(tenant_from_item)
            .transpose()
    }

    async fn list_tenants(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Tenant>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let after = cursor.map(cursor::decode).transpose()?.map(|id| {
            HashMap::from([
                (PK.into(), s(tenant_pk(&id))),
                (SK.into(), s(TENANT_SK)),
                (GSI1_PK.into(), s(TENANTS_GSI1_PK)),
                (GSI1_SK.into(), s(id)),
            ])
        });
        let (items, _) = table::query(
            &self.client,
            &self.table,
            &table::Partition::gsi1(TENANTS_GSI1_PK),
            after,
            limit + 1,
        )
        .await?;
        let mut tenants = items
            .iter()
            .map(tenant_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if tenants.len() > limit {
            tenants.truncate(limit);
            tenants.last().map(|t| cursor::encode(t.id.as_str()))
        } else {
            None
        };
        Ok(Page {
            items: tenants,
            next_cursor,
        })
    }

    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<(), StoreError> {
        let update = self
            .update(tenant_pk(id.as_str()), TENANT_SK)
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .send()
            .await;
        if !applied(update)? {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut update = self
            .update(tenant_pk(tenant.id.as_str()), TENANT_SK)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#plan", "plan")
            .expression_attribute_values(":name", s(&tenant.name))
            .expression_attribute_values(":status", s(tenant.status.as_str()))
            .expression_attribute_values(":plan", s(tenant.plan.as_str()));
        update = match &tenant.contact {
            Some(contact) => update
                .update_expression(
                    "SET #name = :name, #status = :status, #plan = :plan, contact = :contact",
                )
                .expression_attribute_values(":contact", s(contact)),
            None => update.update_expression(
                "SET #name = :name, #status = :status, #plan = :plan REMOVE contact",
            ),
        };
        if !applied(update.send().await)? {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    /// One transaction: the tenant must exist, and the key id must be new.
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let tenant_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(key.tenant_id.as_str())))
            .key(SK, s(TENANT_SK))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let put_key = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key_item(key)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let attempts = table::Attempts::default();
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(tenant_exists)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put_key).build())
            .customize()
            .interceptor(attempts.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let reasons: Vec<Option<String>> = e
                    .as_service_error()
                    .and_then(|se| match se {
                        TransactWriteItemsError::TransactionCanceledException(tc) => Some(tc),
                        _ => None,
                    })
                    .map(|tc| {
                        tc.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = |i: usize| {
                    reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
                };
                if failed(0) {
                    Err(StoreError::NotFound)
                } else if failed(1) {
                    // Ours, applied by an earlier attempt whose answer was lost?
                    if attempts.retried()
                        && table::is_stored(&self.client, &self.table, &key_item(key)).await?
                    {
                        Ok(())
                    } else {
                        Err(StoreError::AlreadyExists)
                    }
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    async fn get_key(&self, key_id: &KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.get(key_pk(key_id.as_str()), KEY_SK)
            .await?
            .as_ref()
            .map(key_from_item)
            .transpose()
    }

    async fn list_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        // Keys per tenant are few; the bound guards against a runaway partition.
        const MAX_KEYS_PER_TENANT: usize = 1000;
        let partition = table::Partition::gsi1(tenant_pk(tenant_id.as_str()));
        let (items, _) = table::query(
            &self.client,
            &self.table,
            &partition,
            None,
            MAX_KEYS_PER_TENANT,
        )
        .await?;
        items
            .iter()
            .filter(
                |item| matches!(item.get("entity"), Some(AttributeValue::S(e)) if e == "api_key"),
            )
            .map(key_from_item)
            .collect()
    }

    async fn save_rotation(
        &self,
        rotated: &ApiKey,
        expected_hash: &ApiKeyHash,
    ) -> Result<(), StoreError> {
        let (Some(previous), Some(grace_until)) = (&rotated.previous_hash, rotated.grace_until)
        else {
            return Err(StoreError::Unavailable(
                "save_rotation needs a rotated key".into(),
            ));
        };
        let update = self
            .update(key_pk(rotated.key_id.as_str()), KEY_SK)
            .update_expression(
                "SET key_hash = :new, previous_key_hash = :previous, grace_until = :grace",
            )
            .condition_expression(
                "attribute_exists(#pk) AND key_hash = :expected AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_values(":new", s(rotated.hash.to_hex()))
            .expression_attribute_values(":previous", s(previous.to_hex()))
            .expression_attribute_values(":grace", n(grace_until.as_millis()))
            .expression_attribute_values(":expected", s(expected_hash.to_hex()))
            .send()
            .await;
        if applied(update)? {
            return Ok(());
        }
        // Rare path: one read tells a stale or revoked key from a missing one.
        match self.get(key_pk(rotated.key_id.as_str()), KEY_SK).await? {
            Some(_) => Err(StoreError::Conflict),
            None => Err(StoreError::NotFound),
        }
    }

    async fn set_signing_key(
        &self,
        key_id: &KeyId,
        signing_key: Option<&ClientSigningKey>,
    ) -> Result<(), StoreError> {
        self.set_key_attribute(
            key_id,
            "signing_key",
            signing_key.map(ClientSigningKey::to_json),
        )
        .await
    }

    async fn set_client_certificate(
        &self,
        key_id: &KeyId,
        sha256: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_key_attribute(key_id, "client_cert_sha256", sha256.map(str::to_owned))
            .await
    }

    async fn revoke_key(&self, key_id: &KeyId, at: Timestamp) -> Result<(), StoreError> {
        let update = self
            .update(key_pk(key_id.as_str()), KEY_SK)
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_values(":at", n(at.as_millis()))
            .send()
            .await;
        if !applied(update)? {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn record_key_use(
        &self,
        key_id: &KeyId,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_time_if_older(key_id, "last_used_at", at, if_before)
            .await
    }

    async fn flag_key_anomaly(
        &self,
        key_id: &KeyId,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_time_if_older(key_id, "last_anomaly_at", at, if_before)
            .await
    }
}
