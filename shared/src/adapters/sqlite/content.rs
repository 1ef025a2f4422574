//! [`ContentStore`] on the embedded SQLite store.

use super::{corrupt, db_error, SqliteStore};
use crate::adapters::cursor;
use crate::domain::billing::Period;
use crate::domain::content::{
    BlockedSummary, Consent, ContentKind, DietitianId, Generation, GenerationId, Money, Sample,
    SampleId, Usage,
};
use crate::domain::sealing::{Keyring, SealCheck};
use crate::domain::signatures::RequestSignature;
use crate::domain::style::StyleScore;
use crate::domain::{KeyId, TenantId, Timestamp};
use crate::ports::content::{
    ContentStore, Erasure, IdempotencyClaim, IdempotencyKey, StoredResponse, StoredStyle,
    IDEMPOTENCY_LEASE_SECONDS, IDEMPOTENCY_RETENTION_SECONDS,
};
use crate::ports::{Page, StoreError, MAX_PAGE_SIZE};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn kind_column(row: &Row<'_>) -> rusqlite::Result<ContentKind> {
    ContentKind::parse(&row.get::<_, String>("kind")?).ok_or_else(|| corrupt("kind"))
}

fn sample_from_row(row: &Row<'_>) -> rusqlite::Result<Sample> {
    Ok(Sample {
        id: SampleId::new(row.get::<_, String>("id")?),
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        dietitian_id: DietitianId::new(row.get::<_, String>("dietitian_id")?),
        kind: kind_column(row)?,
        title: row.get("title")?,
        content: row.get("content")?,
        created_at: Timestamp::from_millis(row.get("created_at")?),
        request_signature: signature_column(row)?,
    })
}

fn signature_column(row: &Row<'_>) -> rusqlite::Result<Option<RequestSignature>> {
    row.get::<_, Option<String>>("request_signature")?
        .map(|json| RequestSignature::from_json(&json).ok_or_else(|| corrupt("request_signature")))
        .transpose()
}

fn generation_from_row(row: &Row<'_>) -> rusqlite::Result<Generation> {
    let sample_ids: Vec<String> = serde_json::from_str(&row.get::<_, String>("sample_ids")?)
        .map_err(|_| corrupt("sample_ids"))?;
    Ok(Generation {
        id: GenerationId::new(row.get::<_, String>("id")?),
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        dietitian_id: DietitianId::new(row.get::<_, String>("dietitian_id")?),
        kind: kind_column(row)?,
        input: row.get("input")?,
        sample_ids: sample_ids.into_iter().map(SampleId::new).collect(),
        content: row.get("content")?,
        model: row.get("model")?,
        usage: Usage {
            prompt_tokens: row.get::<_, i64>("prompt_tokens")? as u64,
            completion_tokens: row.get::<_, i64>("completion_tokens")? as u64,
            total_tokens: row.get::<_, i64>("total_tokens")? as u64,
        },
        cost: Money {
            amount_micros: row.get("cost_micros")?,
            currency: row.get("currency")?,
        },
        created_at: Timestamp::from_millis(row.get("created_at")?),
        key_id: KeyId::new(row.get::<_, String>("key_id")?),
        llm_request: row.get("llm_request")?,
        llm_response: row.get("llm_response")?,
        client: row.get("client")?,
        safety: row
            .get::<_, Option<String>>("safety")?
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("safety")))
            .transpose()?,
        disclaimer_appended: row.get::<_, i64>("disclaimer_appended")? != 0,
        style: row
            .get::<_, Option<String>>("style")?
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("style")))
            .transpose()?
            .unwrap_or(StyleScore::NONE),
        request_signature: signature_column(row)?,
        integrity: row.get("integrity")?,
    })
}

fn blocked_from_row(row: &Row<'_>) -> rusqlite::Result<BlockedSummary> {
    Ok(BlockedSummary {
        generation_id: GenerationId::new(row.get::<_, String>("generation_id")?),
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        dietitian_id: DietitianId::new(row.get::<_, String>("dietitian_id")?),
        kind: kind_column(row)?,
        codes: serde_json::from_str(&row.get::<_, String>("codes")?)
            .map_err(|_| corrupt("codes"))?,
        created_at: Timestamp::from_millis(row.get("created_at")?),
    })
}

/// Newest-first page from rows fetched with `LIMIT limit + 1`.
fn page<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> &str) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|item| cursor::encode(id(item)))
    } else {
        None
    };
    Page { items, next_cursor }
}

#[async_trait]
impl ContentStore for SqliteStore {
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO consents (tenant_id, dietitian_id, granted, recorded_at, key_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant_id, dietitian_id) DO UPDATE
                 SET granted = excluded.granted, recorded_at = excluded.recorded_at, key_id = excluded.key_id",
                params![
                    consent.tenant_id.as_str(),
                    consent.dietitian_id.as_str(),
                    consent.granted,
                    consent.recorded_at.as_millis(),
                    consent.key_id.as_str()
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn get_consent(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<Consent>, StoreError> {
        self.conn()
            .query_row(
                "SELECT granted, recorded_at, key_id FROM consents WHERE tenant_id = ?1 AND dietitian_id = ?2",
                params![tenant.as_str(), dietitian.as_str()],
                |row| {
                    Ok(Consent {
                        tenant_id: tenant.clone(),
                        dietitian_id: dietitian.clone(),
                        granted: row.get("granted")?,
                        recorded_at: Timestamp::from_millis(row.get("recorded_at")?),
                        key_id: KeyId::new(row.get::<_, String>("key_id")?),
                    })
                },
            )
            .optional()
            .map_err(db_error)
    }

    async fn create_sample(&self, sample: &Sample) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO samples (id, tenant_id, dietitian_id, kind, title, content, created_at,
                     request_signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    sample.id.as_str(),
                    sample.tenant_id.as_str(),
                    sample.dietitian_id.as_str(),
                    sample.kind.as_str(),
                    sample.title,
                    sample.content,
                    sample.created_at.as_millis(),
                    sample.request_signature.as_ref().map(RequestSignature::to_json)
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn get_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<Sample>, StoreError> {
        self.conn()
            .query_row(
                "SELECT * FROM samples WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id.as_str()],
                sample_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    async fn list_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        kind: Option<ContentKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Sample>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let before = cursor.map(cursor::decode).transpose()?;
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT * FROM samples
                 WHERE tenant_id = ?1 AND dietitian_id = ?2 AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR id < ?4)
                 ORDER BY id DESC LIMIT ?5",
            )
            .map_err(db_error)?;
        let items = statement
            .query_map(
                params![
                    tenant.as_str(),
                    dietitian.as_str(),
                    kind.map(ContentKind::as_str),
                    before,
                    limit + 1
                ],
                sample_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(page(items, limit, |s| s.id.as_str()))
    }

    async fn count_samples(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<usize, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM samples WHERE tenant_id = ?1 AND dietitian_id = ?2",
                params![tenant.as_str(), dietitian.as_str()],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(db_error)
    }

    async fn delete_sample(
        &self,
        tenant: &TenantId,
        id: &SampleId,
    ) -> Result<Option<DietitianId>, StoreError> {
        self.conn()
            .query_row(
                "DELETE FROM samples WHERE tenant_id = ?1 AND id = ?2 RETURNING dietitian_id",
                params![tenant.as_str(), id.as_str()],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map(|d| d.map(DietitianId::new))
            .map_err(db_error)
    }

    async fn put_style(&self, stored: &StoredStyle) -> Result<(), StoreError> {
        let body = serde_json::to_string(&stored.style)
            .map_err(|e| StoreError::Unavailable(format!("style: {e}")))?;
        self.conn()
            .execute(
                "INSERT INTO style_profiles (tenant_id, dietitian_id, body, computed_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, dietitian_id) DO UPDATE
                 SET body = excluded.body, computed_at = excluded.computed_at",
                params![
                    stored.tenant_id.as_str(),
                    stored.dietitian_id.as_str(),
                    body,
                    stored.computed_at.as_millis()
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn get_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Option<StoredStyle>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT body, computed_at FROM style_profiles WHERE tenant_id = ?1 AND dietitian_id = ?2",
                params![tenant.as_str(), dietitian.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(db_error)?;
        row.map(|(body, computed_at)| {
            Ok(StoredStyle {
                tenant_id: tenant.clone(),
                dietitian_id: dietitian.clone(),
                style: serde_json::from_str(&body)
                    .map_err(|e| StoreError::Unavailable(format!("stored style: {e}")))?,
                computed_at: Timestamp::from_millis(computed_at),
            })
        })
        .transpose()
    }

    async fn delete_style(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM style_profiles WHERE tenant_id = ?1 AND dietitian_id = ?2",
                params![tenant.as_str(), dietitian.as_str()],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_generation(&self, g: &Generation) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_error)?;
        insert_generation(&tx, g).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(())
    }

    async fn list_blocked(
        &self,
        tenant: &TenantId,
        period: Period,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<BlockedSummary>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let before = cursor.map(cursor::decode).transpose()?;
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT * FROM blocked_generations
                 WHERE tenant_id = ?1 AND period = ?2 AND (?3 IS NULL OR generation_id < ?3)
                 ORDER BY generation_id DESC LIMIT ?4",
            )
            .map_err(db_error)?;
        let items = statement
            .query_map(
                params![tenant.as_str(), period.to_string(), before, limit + 1],
                blocked_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(page(items, limit, |b| b.generation_id.as_str()))
    }

    async fn get_generation(
        &self,
        tenant: &TenantId,
        id: &GenerationId,
    ) -> Result<Option<Generation>, StoreError> {
        self.conn()
            .query_row(
                "SELECT * FROM generations WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id.as_str()],
                generation_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    async fn reseal_generation(
        &self,
        generation: &Generation,
        expected: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE generations SET integrity = ?3 WHERE tenant_id = ?1 AND id = ?2 AND integrity = ?4",
                params![
                    generation.tenant_id.as_str(),
                    generation.id.as_str(),
                    generation.integrity,
                    expected
                ],
            )
            .map_err(db_error)?;
        Ok(changed == 1)
    }

    async fn list_generations(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Generation>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let before = cursor.map(cursor::decode).transpose()?;
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT * FROM generations
                 WHERE tenant_id = ?1 AND dietitian_id = ?2 AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(db_error)?;
        let items = statement
            .query_map(
                params![tenant.as_str(), dietitian.as_str(), before, limit + 1],
                generation_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(page(items, limit, |g| g.id.as_str()))
    }

    async fn erase_dietitian(
        &self,
        tenant: &TenantId,
        dietitian: &DietitianId,
    ) -> Result<Erasure, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_error)?;
        let args = params![tenant.as_str(), dietitian.as_str()];
        let samples = tx
            .execute(
                "DELETE FROM samples WHERE tenant_id = ?1 AND dietitian_id = ?2",
                args,
            )
            .map_err(db_error)?;
        let generations = tx
            .execute(
                "DELETE FROM generations WHERE tenant_id = ?1 AND dietitian_id = ?2",
                args,
            )
            .map_err(db_error)?;
        tx.execute(
            "DELETE FROM blocked_generations WHERE tenant_id = ?1 AND dietitian_id = ?2",
            args,
        )
        .map_err(db_error)?;
        tx.execute(
            "DELETE FROM style_profiles WHERE tenant_id = ?1 AND dietitian_id = ?2",
            args,
        )
        .map_err(db_error)?;
        let consent = tx
            .execute(
                "DELETE FROM consents WHERE tenant_id = ?1 AND dietitian_id = ?2",
                args,
            )
            .map_err(db_error)?;
        tx.execute(
            "DELETE FROM idempotency WHERE tenant_id = ?1 AND dietitian_id = ?2",
            args,
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(Erasure {
            samples,
            generations,
            consent: consent == 1,
        })
    }

    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let existing = tx
            .query_row(
                "SELECT request_hash, state, status, body, lease_until, expires_at FROM idempotency
                 WHERE tenant_id = ?1 AND scope = ?2 AND key = ?3",
                params![key.tenant_id.as_str(), key.scope, key.key],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(db_error)?;
        let now_ms = now.as_millis();
        match existing {
            Some((hash, state, Some(status), Some(body), _, expires))
                if state == "completed" && expires > now_ms =>
            {
                return Ok(IdempotencyClaim::Completed {
                    request_hash: hash,
                    response: StoredResponse {
                        status: status as u16,
                        body,
                    },
                })
            }
            Some((hash, state, _, _, lease, _)) if state == "in_progress" && lease > now_ms => {
                return Ok(IdempotencyClaim::InProgress { request_hash: hash })
            }
            _ => {}
        }
        tx.execute(
            "INSERT OR REPLACE INTO idempotency
                 (tenant_id, scope, key, dietitian_id, request_hash, state, status, body, lease_until, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'in_progress', NULL, NULL, ?6, ?7)",
            params![
                key.tenant_id.as_str(),
                key.scope,
                key.key,
                key.dietitian_id.as_str(),
                request_hash,
                now.plus_seconds(IDEMPOTENCY_LEASE_SECONDS).as_millis(),
                now.plus_seconds(IDEMPOTENCY_RETENTION_SECONDS).as_millis()
            ],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(IdempotencyClaim::Claimed)
    }

    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE idempotency SET state = 'completed', status = ?4, body = ?5, expires_at = ?6
                 WHERE tenant_id = ?1 AND scope = ?2 AND key = ?3",
                params![
                    key.tenant_id.as_str(),
                    key.scope,
                    key.key,
                    i64::from(response.status),
                    response.body,
                    now.plus_seconds(IDEMPOTENCY_RETENTION_SECONDS).as_millis()
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM idempotency WHERE tenant_id = ?1 AND scope = ?2 AND key = ?3 AND state = 'in_progress'",
                params![key.tenant_id.as_str(), key.scope, key.key],
            )
            .map_err(db_error)?;
        Ok(())
    }
}

/// Inserts a generation (and, if blocked, its review entry) in `tx`: used alone and by
/// the commit that bills it in the same transaction ([`GenerationCommit`]).
pub(super) fn insert_generation(
    tx: &rusqlite::Transaction<'_>,
    g: &Generation,
) -> rusqlite::Result<()> {
    let sample_ids: Vec<&str> = g.sample_ids.iter().map(SampleId::as_str).collect();
    let safety = g
        .safety
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
                "INSERT INTO generations (id, tenant_id, dietitian_id, kind, input, sample_ids, content, model,
                     prompt_tokens, completion_tokens, total_tokens, cost_micros, currency, created_at, key_id,
                     llm_request, llm_response, integrity, client, safety, disclaimer_appended, style,
                     request_signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                     ?19, ?20, ?21, ?22, ?23)",
                params![
                    g.id.as_str(),
                    g.tenant_id.as_str(),
                    g.dietitian_id.as_str(),
                    g.kind.as_str(),
                    g.input,
                    serde_json::to_string(&sample_ids).unwrap_or_else(|_| "[]".into()),
                    g.content,
                    g.model,
                    g.usage.prompt_tokens as i64,
                    g.usage.completion_tokens as i64,
                    g.usage.total_tokens as i64,
                    g.cost.amount_micros,
                    g.cost.currency,
                    g.created_at.as_millis(),
                    g.key_id.as_str(),
                    g.llm_request,
                    g.llm_response,
                    g.integrity,
                    g.client,
                    safety,
                    i64::from(g.disclaimer_appended),
                    serde_json::to_string(&g.style).ok(),
                    g.request_signature.as_ref().map(RequestSignature::to_json)
                ],
            )
            ?;
    if let Some(blocked) = g.blocked_summary() {
        let codes: Vec<&str> = blocked.codes.iter().map(|c| c.as_str()).collect();
        tx.execute(
            "INSERT INTO blocked_generations
                     (tenant_id, period, generation_id, dietitian_id, kind, codes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                blocked.tenant_id.as_str(),
                Period::of(blocked.created_at).to_string(),
                blocked.generation_id.as_str(),
                blocked.dietitian_id.as_str(),
                blocked.kind.as_str(),
                serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()),
                blocked.created_at.as_millis()
            ],
        )?;
    }
    Ok(())
}

/// What [`SqliteStore::reseal_generations`] did.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct ResealReport {
    /// Generations already sealed with the current key.
    pub current: u64,
    /// Generations re-sealed (a plain hash, or an older key) after their seal held.
    pub resealed: u64,
    /// Generations whose seal does not hold: left as they are (reads withhold them).
    pub broken: Vec<String>,
}

impl SqliteStore {
    /// The migration to keyed seals (threat T05): every stored generation whose seal
    /// holds — plain hash or an older key — is sealed again with `keyring`'s current
    /// key; one whose seal does not hold is reported and left alone.
    pub fn reseal_generations(&self, keyring: &Keyring) -> Result<ResealReport, StoreError> {
        let mut lenient = keyring.clone();
        lenient.accept_unkeyed = true;
        let conn = self.conn();
        let generations = conn
            .prepare("SELECT * FROM generations ORDER BY id")
            .map_err(db_error)?
            .query_map([], generation_from_row)
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        let mut report = ResealReport::default();
        for generation in generations {
            match generation.check_seal(&lenient) {
                SealCheck::Intact => report.current += 1,
                SealCheck::Broken => report.broken.push(generation.id.to_string()),
                SealCheck::IntactOldKey | SealCheck::Unkeyed => {
                    let (tenant, id) = (generation.tenant_id.clone(), generation.id.clone());
                    let sealed = generation.seal_keyed(keyring);
                    conn.execute(
                        "UPDATE generations SET integrity = ?3 WHERE tenant_id = ?1 AND id = ?2",
                        rusqlite::params![tenant.as_str(), id.as_str(), sealed.integrity],
                    )
                    .map_err(db_error)?;
                    report.resealed += 1;
                }
            }
        }
        Ok(report)
    }
}
