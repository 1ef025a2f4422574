//! Settings (control-plane table) and the audit chain (its own table) in DynamoDB.
//!
//! Settings are one item each, the validated JSON in `body`:
//! `TENANT#<id>` / `SETTINGS` and `SYSTEM` / `SETTINGS`.
//!
//! The audit chain is one partition, `CHAIN`, sorted by the zero-padded sequence number.
//! An append is a `PutItem` with `attribute_not_exists(pk)`: two writers racing for the
//! same sequence number cannot both win, and an existing entry is never overwritten.
//! The functions that write have IAM permission for `PutItem` (and `Query`, to find the
//! head) only; nothing in the stack may update or delete an entry. Admin actions are
//! rare, so one partition's write throughput (1,000 items/s) is ample.

use super::table::{self, Partition};
use super::{corrupt, get_n_opt, get_s, get_s_opt, n, s, unavailable, Item};
use super::{DynamoStore, PK, SK};
use crate::domain::audit::{Actor, AuditDraft, AuditEntry, Outcome};
use crate::domain::settings::{SystemSettings, TenantSettings};
use crate::domain::{TenantId, Timestamp};
use crate::ports::{AuditStore, SettingsStore, StoreError, MAX_PAGE_SIZE};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

const SETTINGS_SK: &str = "SETTINGS";
const SYSTEM_PK: &str = "SYSTEM";
const CHAIN_PK: &str = "CHAIN";

fn seq_sk(seq: u64) -> String {
    format!("{seq:020}")
}

impl DynamoStore {
    async fn get_settings<T: DeserializeOwned>(&self, pk: String) -> Result<Option<T>, StoreError> {
        let Some(item) = self.get(pk, SETTINGS_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&get_s(&item, "body")?)
            .map(Some)
            .map_err(|_| corrupt("body"))
    }

    async fn put_settings<T: Serialize>(&self, pk: String, settings: &T) -> Result<(), StoreError> {
        let body = serde_json::to_string(settings)
            .map_err(|e| StoreError::Unavailable(format!("settings serialization: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(pk))
            .item(SK, s(SETTINGS_SK))
            .item("entity", s("settings"))
            .item("body", s(body))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_tenant_settings(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<TenantSettings>, StoreError> {
        self.get_settings(super::tenant_pk(tenant_id.as_str()))
            .await
    }

    async fn put_tenant_settings(
        &self,
        tenant_id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        self.put_settings(super::tenant_pk(tenant_id.as_str()), settings)
            .await
    }

    async fn get_system_settings(&self) -> Result<Option<SystemSettings>, StoreError> {
        self.get_settings(SYSTEM_PK.to_owned()).await
    }

    async fn put_system_settings(&self, settings: &SystemSettings) -> Result<(), StoreError> {
        self.put_settings(SYSTEM_PK.to_owned(), settings).await
    }
}

/// The audit table.
pub struct DynamoAuditStore {
    client: Client,
    table: String,
}

impl DynamoAuditStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Up to `limit` entries after (`forward`) or before `bound`, in that direction.
    async fn query(
        &self,
        bound: u64,
        forward: bool,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let partition = Partition::table(CHAIN_PK)
            .sort_beyond(forward, seq_sk(bound))
            .oldest_first(forward);
        let limit = limit.clamp(1, MAX_PAGE_SIZE * 10) as usize;
        let (items, _) = table::query(&self.client, &self.table, &partition, None, limit).await?;
        items.iter().map(entry_from_item).collect()
    }
}

fn entry_item(entry: &AuditEntry) -> Item {
    let draft = &entry.draft;
    let mut item = HashMap::from([
        (PK.into(), s(CHAIN_PK)),
        (SK.into(), s(seq_sk(entry.seq))),
        ("seq".into(), n(entry.seq as i64)),
        ("at".into(), n(draft.at.as_millis())),
        ("subject".into(), s(&draft.actor.subject)),
        ("roles".into(), s(&draft.actor.roles)),
        ("action".into(), s(&draft.action)),
        ("target".into(), s(&draft.target)),
        ("request_id".into(), s(&draft.request_id)),
        ("source_ip".into(), s(&draft.source_ip)),
        ("outcome".into(), s(draft.outcome.as_str())),
        ("details".into(), s(draft.details.to_string())),
        ("prev_hash".into(), s(&entry.prev_hash)),
        ("hash".into(), s(&entry.hash)),
    ]);
    if let Some(tenant_id) = &draft.tenant_id {
        item.insert("tenant_id".into(), s(tenant_id));
    }
    item
}

fn entry_from_item(item: &Item) -> Result<AuditEntry, StoreError> {
    let seq = get_n_opt(item, "seq")?.ok_or_else(|| corrupt("seq"))?;
    let at = get_n_opt(item, "at")?.ok_or_else(|| corrupt("at"))?;
    Ok(AuditEntry {
        seq: u64::try_from(seq).map_err(|_| corrupt("seq"))?,
        draft: AuditDraft {
            at: Timestamp::from_millis(at),
            actor: Actor {
                subject: get_s(item, "subject")?,
                roles: get_s(item, "roles")?,
            },
            action: get_s(item, "action")?,
            target: get_s(item, "target")?,
            tenant_id: get_s_opt(item, "tenant_id")?,
            request_id: get_s(item, "request_id")?,
            source_ip: get_s(item, "source_ip")?,
            outcome: Outcome::parse(&get_s(item, "outcome")?).ok_or_else(|| corrupt("outcome"))?,
            details: serde_json::from_str(&get_s(item, "details")?)
                .map_err(|_| corrupt("details"))?,
        },
        prev_hash: get_s(item, "prev_hash")?,
        hash: get_s(item, "hash")?,
    })
}

#[async_trait]
impl AuditStore for DynamoAuditStore {
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        Ok(self.query(u64::MAX, false, 1).await?.into_iter().next())
    }

    async fn insert_audit_entry(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        // Create-only: a writer that lost the race for this sequence number re-chains.
        if !table::put_new(&self.client, &self.table, entry_item(entry)).await? {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(after, true, limit).await
    }

    async fn audit_before(&self, before: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(before, false, limit).await
    }
}
