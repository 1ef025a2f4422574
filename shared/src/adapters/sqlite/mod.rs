//! Embedded store for local mode: one SQLite file in a data directory.
//!
//! Every statement is parameterised (threat S01). The connection runs in WAL mode with a
//! busy timeout, so a second process (`nutripro-local bootstrap`) can write while the
//! gateway serves from the same file. Statements take microseconds, so they run inline
//! under a mutex rather than hopping to a blocking thread.

mod admin;
pub mod backup;
mod billing;
mod content;
pub use content::ResealReport;

use crate::adapters::cursor;
use crate::domain::api_key::Scope;
use crate::domain::signatures::ClientSigningKey;
use crate::domain::{ApiKey, ApiKeyHash, KeyId, PlanId, Tenant, TenantId, TenantStatus, Timestamp};
use crate::ports::{ApiKeyStore, Page, StoreError, TenantStore, MAX_PAGE_SIZE};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const DB_FILE: &str = "nutripro.sqlite3";

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE tenants (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL,
        plan        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE api_keys (
        key_id        TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL REFERENCES tenants(id),
        name          TEXT NOT NULL,
        hash          TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        revoked_at    INTEGER,
        previous_hash TEXT,
        grace_until   INTEGER,
        last_used_at  INTEGER
    ) STRICT;
    CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, key_id);
"#,
    r#"
    CREATE TABLE consents (
        tenant_id     TEXT NOT NULL,
        dietitian_id  TEXT NOT NULL,
        granted       INTEGER NOT NULL,
        recorded_at   INTEGER NOT NULL,
        key_id        TEXT NOT NULL,
        PRIMARY KEY (tenant_id, dietitian_id)
    ) STRICT;
    CREATE TABLE samples (
        id            TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL,
        dietitian_id  TEXT NOT NULL,
        kind          TEXT NOT NULL,
        title         TEXT,
        content       TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX samples_by_dietitian ON samples(tenant_id, dietitian_id, id);
    CREATE TABLE generations (
        id                TEXT PRIMARY KEY,
        tenant_id         TEXT NOT NULL,
        dietitian_id      TEXT NOT NULL,
        kind              TEXT NOT NULL,
        input             TEXT NOT NULL,
        sample_ids        TEXT NOT NULL,
        content           TEXT NOT NULL,
        model             TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens      INTEGER NOT NULL,
        cost_micros       INTEGER NOT NULL,
        currency          TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        key_id            TEXT NOT NULL,
        llm_request       TEXT NOT NULL,
        llm_response      TEXT NOT NULL,
        integrity         TEXT NOT NULL
    ) STRICT;
    CREATE INDEX generations_by_dietitian ON generations(tenant_id, dietitian_id, id);
    CREATE TABLE idempotency (
        tenant_id     TEXT NOT NULL,
        scope         TEXT NOT NULL,
        key           TEXT NOT NULL,
        dietitian_id  TEXT NOT NULL,
        request_hash  TEXT NOT NULL,
        state         TEXT NOT NULL,
        status        INTEGER,
        body          TEXT,
        lease_until   INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, scope, key)
    ) STRICT;
    CREATE INDEX idempotency_by_dietitian ON idempotency(tenant_id, dietitian_id);
"#,
    r#"
    ALTER TABLE tenants ADD COLUMN contact TEXT;
    CREATE TABLE settings (
        scope       TEXT PRIMARY KEY,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE TABLE audit_log (
        seq         INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        subject     TEXT NOT NULL,
        roles       TEXT NOT NULL,
        action      TEXT NOT NULL,
        target      TEXT NOT NULL,
        tenant_id   TEXT,
        request_id  TEXT NOT NULL,
        source_ip   TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        details     TEXT NOT NULL,
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL
    ) STRICT;
"#,
    r#"
    ALTER TABLE api_keys ADD COLUMN last_anomaly_at INTEGER;
"#,
    r#"
    CREATE TABLE plans (
        id          TEXT PRIMARY KEY,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE TABLE rate_windows (
        tenant_id   TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        count        INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, window_start)
    ) STRICT;
    CREATE TABLE billing_budget (
        tenant_id        TEXT NOT NULL,
        period           TEXT NOT NULL,
        committed_micros INTEGER NOT NULL,
        reserved_micros  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, period)
    ) STRICT;
    CREATE TABLE billing_usage (
        tenant_id         TEXT NOT NULL,
        period            TEXT NOT NULL,
        scope             TEXT NOT NULL,
        generations       INTEGER NOT NULL,
        prompt_tokens     INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        prompt_micros     INTEGER NOT NULL,
        completion_micros INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, period, scope)
    ) STRICT;
    CREATE TABLE billing_reservations (
        tenant_id     TEXT NOT NULL,
        id            TEXT NOT NULL,
        period        TEXT NOT NULL,
        amount_micros INTEGER NOT NULL,
        currency      TEXT NOT NULL,
        expires_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT;
    CREATE TABLE billing_ledger (
        tenant_id         TEXT NOT NULL,
        period            TEXT NOT NULL,
        request_id        TEXT NOT NULL,
        at                INTEGER NOT NULL,
        model             TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        prompt_micros     INTEGER NOT NULL,
        completion_micros INTEGER NOT NULL,
        currency          TEXT NOT NULL,
        PRIMARY KEY (tenant_id, period, request_id)
    ) STRICT;
    CREATE TRIGGER billing_ledger_no_update BEFORE UPDATE ON billing_ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER billing_ledger_no_delete BEFORE DELETE ON billing_ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TABLE invoices (
        tenant_id   TEXT NOT NULL,
        period      TEXT NOT NULL,
        body        TEXT NOT NULL,
        PRIMARY KEY (tenant_id, period)
    ) STRICT;
    CREATE TRIGGER invoices_no_update BEFORE UPDATE ON invoices
        BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;
    CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
        BEGIN SELECT RAISE(ABORT, 'invoices are immutable'); END;
"#,
    r#"
    ALTER TABLE generations ADD COLUMN client TEXT NOT NULL DEFAULT '';
    ALTER TABLE generations ADD COLUMN safety TEXT;
    ALTER TABLE generations ADD COLUMN disclaimer_appended INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE blocked_generations (
        tenant_id     TEXT NOT NULL,
        period        TEXT NOT NULL,
        generation_id TEXT NOT NULL,
        dietitian_id  TEXT NOT NULL,
        kind          TEXT NOT NULL,
        codes         TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, generation_id)
    ) STRICT;
    CREATE INDEX blocked_by_period ON blocked_generations(tenant_id, period, generation_id);
"#,
    r#"
    CREATE TABLE style_profiles (
        tenant_id    TEXT NOT NULL,
        dietitian_id TEXT NOT NULL,
        body         TEXT NOT NULL,
        computed_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, dietitian_id)
    ) STRICT;
    ALTER TABLE generations ADD COLUMN style TEXT;
    ALTER TABLE billing_ledger ADD COLUMN dietitian_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE billing_ledger ADD COLUMN style_milli INTEGER;
    ALTER TABLE billing_usage ADD COLUMN style_scored INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE billing_usage ADD COLUMN style_milli_sum INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
    CREATE TABLE budget_alerts (
        tenant_id   TEXT NOT NULL,
        period      TEXT NOT NULL,
        percent     INTEGER NOT NULL,
        claim       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, period, percent)
    ) STRICT;
"#,
    r#"
    ALTER TABLE api_keys ADD COLUMN scopes TEXT;
    ALTER TABLE api_keys ADD COLUMN requests_per_minute INTEGER;
"#,
    r#"
    ALTER TABLE api_keys ADD COLUMN signing_key TEXT;
    ALTER TABLE samples ADD COLUMN request_signature TEXT;
    ALTER TABLE generations ADD COLUMN request_signature TEXT;
    CREATE TABLE signature_nonces (
        key_id      TEXT NOT NULL,
        nonce       TEXT NOT NULL,
        claim       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (key_id, nonce)
    ) STRICT;
"#,
    r#"
    ALTER TABLE api_keys ADD COLUMN client_cert_sha256 TEXT;
"#,
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| unavailable(&e))?;
        let conn = Connection::open(data_dir.join(DB_FILE)).map_err(|e| unavailable(&e))?;
        Self::init(conn)
    }

    /// A private in-memory store (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(|e| unavailable(&e))?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| unavailable(&e))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is safe to keep using.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| unavailable(&e))?;
    let applied: usize = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| unavailable(&e))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql).map_err(|e| unavailable(&e))?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(|e| unavailable(&e))?;
    }
    tx.commit().map_err(|e| unavailable(&e))
}

fn unavailable(error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {error}"))
}

pub(super) fn db_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::AlreadyExists,
        _ => unavailable(&error),
    }
}

pub(super) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_owned(), rusqlite::types::Type::Text)
}

fn tenant_from_row(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    let status: String = row.get("status")?;
    Ok(Tenant {
        id: TenantId::new(row.get::<_, String>("id")?),
        name: row.get("name")?,
        contact: row.get("contact")?,
        status: TenantStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        plan: PlanId::new(row.get::<_, String>("plan")?),
        created_at: Timestamp::from_millis(row.get("created_at")?),
    })
}

fn hash_column(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<ApiKeyHash>> {
    match row.get::<_, Option<String>>(column)? {
        None => Ok(None),
        Some(hex) => ApiKeyHash::from_hex(&hex)
            .map(Some)
            .ok_or_else(|| corrupt(column)),
    }
}

fn time_column(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(column)?
        .map(Timestamp::from_millis))
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        key_id: KeyId::new(row.get::<_, String>("key_id")?),
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        name: row.get("name")?,
        hash: hash_column(row, "hash")?.ok_or_else(|| corrupt("hash"))?,
        created_at: Timestamp::from_millis(row.get("created_at")?),
        expires_at: time_column(row, "expires_at")?,
        revoked_at: time_column(row, "revoked_at")?,
        previous_hash: hash_column(row, "previous_hash")?,
        grace_until: time_column(row, "grace_until")?,
        last_used_at: time_column(row, "last_used_at")?,
        scopes: scopes_column(row)?,
        requests_per_minute: row.get("requests_per_minute")?,
        signing_key: row
            .get::<_, Option<String>>("signing_key")?
            .map(|text| ClientSigningKey::from_json(&text).ok_or_else(|| corrupt("signing_key")))
            .transpose()?,
        client_cert_sha256: row.get("client_cert_sha256")?,
    })
}

/// A key's scopes; a row from before scopes existed (NULL) has all of them.
fn scopes_column(row: &Row<'_>) -> rusqlite::Result<Vec<Scope>> {
    match row.get::<_, Option<String>>("scopes")? {
        None => Ok(Scope::ALL.to_vec()),
        Some(text) => {
            let scopes = Scope::split(&text);
            if scopes.is_empty() {
                Err(corrupt("scopes"))
            } else {
                Ok(scopes)
            }
        }
    }
}

const KEY_COLUMNS: &str = "key_id, tenant_id, name, hash, created_at, expires_at, revoked_at, \
                           previous_hash, grace_until, last_used_at, scopes, requests_per_minute, \
                           signing_key, client_cert_sha256";

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO tenants (id, name, status, plan, created_at, contact) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tenant.id.as_str(),
                    tenant.name,
                    tenant.status.as_str(),
                    tenant.plan.as_str(),
                    tenant.created_at.as_millis(),
                    tenant.contact,
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, name, status, plan, created_at, contact FROM tenants WHERE id = ?1",
                params![id.as_str()],
                tenant_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    async fn list_tenants(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Tenant>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = cursor.map(cursor::decode).transpose()?.unwrap_or_default();
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT id, name, status, plan, created_at, contact FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(db_error)?;
        let mut items = statement
            .query_map(params![after, limit + 1], tenant_from_row)
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| cursor::encode(t.id.as_str()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE tenants SET status = ?2 WHERE id = ?1",
                params![id.as_str(), status.as_str()],
            )
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE tenants SET name = ?2, contact = ?3, plan = ?4, status = ?5 WHERE id = ?1",
                params![
                    tenant.id.as_str(),
                    tenant.name,
                    tenant.contact,
                    tenant.plan.as_str(),
                    tenant.status.as_str()
                ],
            )
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// A key's sampled time columns.
enum KeyTime {
    LastUsed,
    LastAnomaly,
}

impl SqliteStore {
    /// Sets the column to `at` if it is unset or older than `if_before`; whether it wrote.
    fn set_key_time_if_older(
        &self,
        key_id: &KeyId,
        column: KeyTime,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError> {
        // The column name comes from this enum, never from input.
        let column = match column {
            KeyTime::LastUsed => "last_used_at",
            KeyTime::LastAnomaly => "last_anomaly_at",
        };
        let changed = self
            .conn()
            .execute(
                &format!(
                    "UPDATE api_keys SET {column} = ?2
                     WHERE key_id = ?1 AND ({column} IS NULL OR {column} < ?3)"
                ),
                params![key_id.as_str(), at.as_millis(), if_before.as_millis()],
            )
            .map_err(db_error)?;
        Ok(changed == 1)
    }
}

impl SqliteStore {
    /// Sets (or clears, with `None`) a text column of an existing key.
    fn set_key_column(
        &self,
        key_id: &KeyId,
        column: &'static str,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        // `column` is one of this module's own names, never input.
        let changed = self
            .conn()
            .execute(
                &format!("UPDATE api_keys SET {column} = ?2 WHERE key_id = ?1"),
                params![key_id.as_str(), value],
            )
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let result = self.conn().execute(
            &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                key.key_id.as_str(),
                key.tenant_id.as_str(),
                key.name,
                key.hash.to_hex(),
                key.created_at.as_millis(),
                key.expires_at.map(Timestamp::as_millis),
                key.revoked_at.map(Timestamp::as_millis),
                key.previous_hash.as_ref().map(ApiKeyHash::to_hex),
                key.grace_until.map(Timestamp::as_millis),
                key.last_used_at.map(Timestamp::as_millis),
                Scope::join(&key.scopes),
                key.requests_per_minute,
                key.signing_key.as_ref().map(ClientSigningKey::to_json),
                key.client_cert_sha256,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            // A key for a tenant that does not exist violates the foreign key, not uniqueness.
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                    && e.to_string().contains("FOREIGN KEY") =>
            {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn get_key(&self, key_id: &KeyId) -> Result<Option<ApiKey>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?1"),
                params![key_id.as_str()],
                key_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    async fn list_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY key_id"
            ))
            .map_err(db_error)?;
        let keys = statement
            .query_map(params![tenant_id.as_str()], key_from_row)
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(keys)
    }

    async fn set_signing_key(
        &self,
        key_id: &KeyId,
        signing_key: Option<&ClientSigningKey>,
    ) -> Result<(), StoreError> {
        self.set_key_column(
            key_id,
            "signing_key",
            signing_key.map(ClientSigningKey::to_json),
        )
    }

    async fn set_client_certificate(
        &self,
        key_id: &KeyId,
        sha256: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_key_column(key_id, "client_cert_sha256", sha256.map(str::to_owned))
    }

    async fn save_rotation(
        &self,
        rotated: &ApiKey,
        expected_hash: &ApiKeyHash,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        let changed = conn
            .execute(
                "UPDATE api_keys SET hash = ?2, previous_hash = ?3, grace_until = ?4
                 WHERE key_id = ?1 AND hash = ?5 AND revoked_at IS NULL",
                params![
                    rotated.key_id.as_str(),
                    rotated.hash.to_hex(),
                    rotated.previous_hash.as_ref().map(ApiKeyHash::to_hex),
                    rotated.grace_until.map(Timestamp::as_millis),
                    expected_hash.to_hex(),
                ],
            )
            .map_err(db_error)?;
        if changed == 1 {
            return Ok(());
        }
        let exists = conn
            .query_row(
                "SELECT 1 FROM api_keys WHERE key_id = ?1",
                params![rotated.key_id.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map_err(db_error)?;
        Err(if exists.is_some() {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        })
    }

    async fn revoke_key(&self, key_id: &KeyId, at: Timestamp) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE key_id = ?1",
                params![key_id.as_str(), at.as_millis()],
            )
            .map_err(db_error)?;
        if changed == 0 {
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
        self.set_key_time_if_older(key_id, KeyTime::LastUsed, at, if_before)
    }

    async fn flag_key_anomaly(
        &self,
        key_id: &KeyId,
        at: Timestamp,
        if_before: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_key_time_if_older(key_id, KeyTime::LastAnomaly, at, if_before)
    }
}
