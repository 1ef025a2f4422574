//! Settings and the audit chain in the embedded store.

use super::{corrupt, db_error, SqliteStore};
use crate::domain::audit::{Actor, AuditDraft, AuditEntry, Outcome};
use crate::domain::settings::{SystemSettings, TenantSettings};
use crate::domain::{TenantId, Timestamp};
use crate::ports::{AuditStore, SettingsStore, StoreError, MAX_PAGE_SIZE};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

const SYSTEM_SCOPE: &str = "system";

fn tenant_scope(tenant_id: &TenantId) -> String {
    format!("tenant:{tenant_id}")
}

impl SqliteStore {
    fn get_settings<T: DeserializeOwned>(&self, scope: &str) -> Result<Option<T>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM settings WHERE scope = ?1",
                params![scope],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        body.map(|text| {
            serde_json::from_str(&text)
                .map_err(|_| StoreError::Unavailable("sqlite: settings body is malformed".into()))
        })
        .transpose()
    }

    fn put_settings<T: Serialize>(&self, scope: &str, settings: &T) -> Result<(), StoreError> {
        let body = serde_json::to_string(settings)
            .map_err(|e| StoreError::Unavailable(format!("settings serialization: {e}")))?;
        self.conn()
            .execute(
                "INSERT INTO settings (scope, body) VALUES (?1, ?2)
                 ON CONFLICT (scope) DO UPDATE SET body = excluded.body",
                params![scope, body],
            )
            .map_err(db_error)?;
        Ok(())
    }

    fn audit_query(
        &self,
        sql: &str,
        bound: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
        let entries = statement
            .query_map(
                params![
                    bound.min(i64::MAX as u64) as i64,
                    limit.clamp(1, MAX_PAGE_SIZE * 10)
                ],
                entry_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(entries)
    }
}

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn get_tenant_settings(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<TenantSettings>, StoreError> {
        self.get_settings(&tenant_scope(tenant_id))
    }

    async fn put_tenant_settings(
        &self,
        tenant_id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        self.put_settings(&tenant_scope(tenant_id), settings)
    }

    async fn get_system_settings(&self) -> Result<Option<SystemSettings>, StoreError> {
        self.get_settings(SYSTEM_SCOPE)
    }

    async fn put_system_settings(&self, settings: &SystemSettings) -> Result<(), StoreError> {
        self.put_settings(SYSTEM_SCOPE, settings)
    }
}

const AUDIT_COLUMNS: &str = "seq, at, subject, roles, action, target, tenant_id, request_id, \
                             source_ip, outcome, details, prev_hash, hash";

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let outcome: String = row.get("outcome")?;
    let details: String = row.get("details")?;
    Ok(AuditEntry {
        seq: row.get::<_, i64>("seq")? as u64,
        draft: AuditDraft {
            at: Timestamp::from_millis(row.get("at")?),
            actor: Actor {
                subject: row.get("subject")?,
                roles: row.get("roles")?,
            },
            action: row.get("action")?,
            target: row.get("target")?,
            tenant_id: row.get("tenant_id")?,
            request_id: row.get("request_id")?,
            source_ip: row.get("source_ip")?,
            outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome"))?,
            details: serde_json::from_str(&details).map_err(|_| corrupt("details"))?,
        },
        prev_hash: row.get("prev_hash")?,
        hash: row.get("hash")?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
                [],
                entry_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    /// A plain INSERT: the primary key on `seq` refuses a taken sequence number, and the
    /// adapter has no statement that updates or deletes an entry.
    async fn insert_audit_entry(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let draft = &entry.draft;
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    entry.seq as i64,
                    draft.at.as_millis(),
                    draft.actor.subject,
                    draft.actor.roles,
                    draft.action,
                    draft.target,
                    draft.tenant_id,
                    draft.request_id,
                    draft.source_ip,
                    draft.outcome.as_str(),
                    draft.details.to_string(),
                    entry.prev_hash,
                    entry.hash,
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
            after,
            limit,
        )
    }

    async fn audit_before(&self, before: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_query(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2"
            ),
            before,
            limit,
        )
    }
}
