//! Plans, rate windows, reservations, the ledger and invoices in the embedded store.
//! Every money-moving operation is one `BEGIN IMMEDIATE` transaction, so it is atomic
//! against other connections to the same file too; the ledger and invoice tables refuse
//! updates and deletes by trigger.

use super::{corrupt, db_error, SqliteStore};
use crate::adapters::cursor;
use crate::domain::billing::{
    DietitianUsage, Invoice, LedgerEntry, Period, Plan, Reservation, Tally, UsageReport,
};
use crate::domain::{PlanId, TenantId, Timestamp};
use crate::ports::billing::{
    BillingStore, BudgetStanding, GenerationCommit, PlanStore, RateWindowOwner, Settlement,
};
use crate::ports::{Page, StoreError};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;

const TOTAL_SCOPE: &str = "total";
const MAX_LEDGER_PAGE: u32 = 1_000;

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Unavailable(format!("sqlite: stored {what} is malformed")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(format!("serialization: {e}")))
}

fn tokens(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Adds `entry` to one aggregate row (creating it at zero).
fn add_to_scope(tx: &Transaction<'_>, entry: &LedgerEntry, scope: &str) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO billing_usage (tenant_id, period, scope, generations, prompt_tokens,
             completion_tokens, prompt_micros, completion_micros, style_scored, style_milli_sum)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant_id, period, scope) DO UPDATE SET
             generations = generations + 1,
             prompt_tokens = prompt_tokens + excluded.prompt_tokens,
             completion_tokens = completion_tokens + excluded.completion_tokens,
             prompt_micros = prompt_micros + excluded.prompt_micros,
             completion_micros = completion_micros + excluded.completion_micros,
             style_scored = style_scored + excluded.style_scored,
             style_milli_sum = style_milli_sum + excluded.style_milli_sum",
        params![
            entry.tenant_id.as_str(),
            entry.period.to_string(),
            scope,
            tokens(entry.prompt_tokens),
            tokens(entry.completion_tokens),
            entry.prompt_micros,
            entry.completion_micros,
            i64::from(entry.style_milli.is_some()),
            i64::from(entry.style_milli.unwrap_or(0)),
        ],
    )
}

fn tally_from_row(row: &Row<'_>) -> rusqlite::Result<(String, Tally)> {
    let count = |name: &str| -> rusqlite::Result<u64> {
        u64::try_from(row.get::<_, i64>(name)?).map_err(|_| corrupt(name))
    };
    let prompt_micros: i64 = row.get("prompt_micros")?;
    let completion_micros: i64 = row.get("completion_micros")?;
    Ok((
        row.get("scope")?,
        Tally {
            generations: count("generations")?,
            prompt_tokens: count("prompt_tokens")?,
            completion_tokens: count("completion_tokens")?,
            prompt_micros,
            completion_micros,
            amount_micros: prompt_micros + completion_micros,
        },
    ))
}

fn reservation_from_row(row: &Row<'_>) -> rusqlite::Result<Reservation> {
    let period: String = row.get("period")?;
    Ok(Reservation {
        id: row.get("id")?,
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        period: Period::parse(&period).map_err(|_| corrupt("period"))?,
        amount_micros: row.get("amount_micros")?,
        currency: row.get("currency")?,
        expires_at: Timestamp::from_millis(row.get("expires_at")?),
    })
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    let period: String = row.get("period")?;
    let count = |name: &str| -> rusqlite::Result<u64> {
        u64::try_from(row.get::<_, i64>(name)?).map_err(|_| corrupt(name))
    };
    Ok(LedgerEntry {
        request_id: row.get("request_id")?,
        tenant_id: TenantId::new(row.get::<_, String>("tenant_id")?),
        period: Period::parse(&period).map_err(|_| corrupt("period"))?,
        at: Timestamp::from_millis(row.get("at")?),
        model: row.get("model")?,
        prompt_tokens: count("prompt_tokens")?,
        completion_tokens: count("completion_tokens")?,
        prompt_micros: row.get("prompt_micros")?,
        completion_micros: row.get("completion_micros")?,
        currency: row.get("currency")?,
        dietitian_id: row.get("dietitian_id")?,
        style_milli: row
            .get::<_, Option<i64>>("style_milli")?
            .map(|m| u32::try_from(m).map_err(|_| corrupt("style_milli")))
            .transpose()?,
    })
}

/// Moves a reservation's amount out of the period's budget row.
fn unreserve(tx: &Transaction<'_>, reservation: &Reservation) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE billing_budget SET committed_micros = committed_micros - ?3,
             reserved_micros = reserved_micros - ?3
         WHERE tenant_id = ?1 AND period = ?2",
        params![
            reservation.tenant_id.as_str(),
            reservation.period.to_string(),
            reservation.amount_micros
        ],
    )
}

impl SqliteStore {
    fn budget_alerts(
        conn: &rusqlite::Connection,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Vec<u8>, StoreError> {
        let mut statement = conn
            .prepare_cached(
                "SELECT percent FROM budget_alerts WHERE tenant_id = ?1 AND period = ?2
                 ORDER BY percent",
            )
            .map_err(db_error)?;
        let alerts = statement
            .query_map(params![tenant.as_str(), period.to_string()], |row| {
                row.get::<_, u8>(0)
            })
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(alerts)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committing what it returns.
    fn immediate<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let value = work(&tx).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(value)
    }

    /// The settlement inside a transaction: the ledger entry (once per request id), the
    /// reservation taken, the aggregates added.
    fn settle_in(
        tx: &Transaction<'_>,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> rusqlite::Result<Settlement> {
        let settled: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM billing_ledger
                 WHERE tenant_id = ?1 AND period = ?2 AND request_id = ?3)",
            params![
                entry.tenant_id.as_str(),
                entry.period.to_string(),
                entry.request_id
            ],
            |row| row.get(0),
        )?;
        if settled {
            return Ok(Settlement::AlreadySettled);
        }
        if !Self::take_reservation(tx, reservation, Some(now), None)? {
            return Ok(Settlement::Lapsed);
        }
        tx.execute(
            "INSERT INTO billing_ledger (tenant_id, period, request_id, at, model,
                 prompt_tokens, completion_tokens, prompt_micros, completion_micros, currency,
                 dietitian_id, style_milli)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                entry.tenant_id.as_str(),
                entry.period.to_string(),
                entry.request_id,
                entry.at.as_millis(),
                entry.model,
                tokens(entry.prompt_tokens),
                tokens(entry.completion_tokens),
                entry.prompt_micros,
                entry.completion_micros,
                entry.currency,
                entry.dietitian_id,
                entry.style_milli.map(i64::from),
            ],
        )?;
        tx.execute(
            "UPDATE billing_budget SET committed_micros = committed_micros + ?3
             WHERE tenant_id = ?1 AND period = ?2",
            params![
                entry.tenant_id.as_str(),
                entry.period.to_string(),
                entry.amount_micros()
            ],
        )?;
        let mut scopes = vec![
            TOTAL_SCOPE.to_owned(),
            format!("model:{}", entry.model),
            format!("day:{:02}", entry.day()),
        ];
        if !entry.dietitian_id.is_empty() {
            scopes.push(format!("dietitian:{}", entry.dietitian_id));
        }
        for scope in scopes {
            add_to_scope(tx, entry, &scope)?;
        }
        Ok(Settlement::Settled)
    }

    /// Deletes the reservation (only while `condition` holds for it) and returns the
    /// budget to the period: the release, release-expired and settle paths.
    fn take_reservation(
        tx: &Transaction<'_>,
        reservation: &Reservation,
        live_at: Option<Timestamp>,
        expired_at: Option<Timestamp>,
    ) -> rusqlite::Result<bool> {
        let deleted = tx.execute(
            "DELETE FROM billing_reservations
             WHERE tenant_id = ?1 AND id = ?2 AND amount_micros = ?3
               AND (?4 IS NULL OR expires_at > ?4) AND (?5 IS NULL OR expires_at <= ?5)",
            params![
                reservation.tenant_id.as_str(),
                reservation.id,
                reservation.amount_micros,
                live_at.map(Timestamp::as_millis),
                expired_at.map(Timestamp::as_millis),
            ],
        )?;
        if deleted == 1 {
            unreserve(tx, reservation)?;
        }
        Ok(deleted == 1)
    }
}

#[async_trait]
impl PlanStore for SqliteStore {
    async fn get_stored_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM plans WHERE id = ?1",
                params![id.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        body.map(|text| from_json(&text, "plan")).transpose()
    }

    async fn put_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let body = to_json(plan)?;
        self.conn()
            .execute(
                "INSERT INTO plans (id, body) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![plan.id, body],
            )
            .map_err(db_error)?;
        Ok(())
    }

    async fn list_stored_plans(&self) -> Result<Vec<Plan>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT body FROM plans ORDER BY id")
            .map_err(db_error)?;
        let bodies = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        bodies.iter().map(|b| from_json(b, "plan")).collect()
    }
}

#[async_trait]
impl BillingStore for SqliteStore {
    async fn count_request(
        &self,
        owner: &RateWindowOwner<'_>,
        window: i64,
        limit: u32,
        expires_at: Timestamp,
    ) -> Result<Option<u32>, StoreError> {
        self.immediate(|tx| {
            let count: Option<u32> = tx
                .query_row(
                    "INSERT INTO rate_windows (tenant_id, window_start, count, expires_at)
                     VALUES (?1, ?2, 1, ?4)
                     ON CONFLICT (tenant_id, window_start) DO UPDATE SET count = count + 1
                         WHERE count < ?3
                     RETURNING count",
                    params![owner.id(), window, limit, expires_at.as_millis()],
                    |row| row.get(0),
                )
                .optional()?;
            if count == Some(1) {
                // A new window: the tenant's old ones are dead weight (DynamoDB's TTL).
                tx.execute(
                    "DELETE FROM rate_windows WHERE tenant_id = ?1 AND expires_at < ?2",
                    params![owner.id(), expires_at.plus_seconds(-3_600).as_millis()],
                )?;
            }
            Ok(count)
        })
    }

    async fn claim_nonce(
        &self,
        key: &crate::domain::KeyId,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.immediate(|tx| {
            // Remembered nonces past their time are dead weight (DynamoDB's TTL).
            tx.execute(
                "DELETE FROM signature_nonces WHERE key_id = ?1 AND expires_at <= ?2",
                params![key.as_str(), now.as_millis()],
            )?;
            let inserted = tx.execute(
                "INSERT INTO signature_nonces (key_id, nonce, claim, expires_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key_id, nonce) DO NOTHING",
                params![
                    key.as_str(),
                    nonce,
                    crate::domain::new_id(),
                    expires_at.as_millis()
                ],
            )?;
            Ok(inserted == 1)
        })
    }

    async fn reserve(
        &self,
        reservation: &Reservation,
        budget_micros: i64,
    ) -> Result<bool, StoreError> {
        let Some(most_before) = reservation.most_committed_before(budget_micros) else {
            return Ok(false);
        };
        self.immediate(|tx| {
            let (tenant, period) = (
                reservation.tenant_id.as_str(),
                reservation.period.to_string(),
            );
            // One conditional write: the budget row moves only if it can take the amount.
            let held = tx.execute(
                "INSERT INTO billing_budget (tenant_id, period, committed_micros, reserved_micros)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (tenant_id, period) DO UPDATE SET
                     committed_micros = committed_micros + excluded.committed_micros,
                     reserved_micros = reserved_micros + excluded.reserved_micros
                 WHERE committed_micros <= ?4",
                params![tenant, period, reservation.amount_micros, most_before],
            )?;
            if held == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO billing_reservations (tenant_id, id, period, amount_micros, currency, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tenant,
                    reservation.id,
                    period,
                    reservation.amount_micros,
                    reservation.currency,
                    reservation.expires_at.as_millis()
                ],
            )?;
            Ok(true)
        })
    }

    async fn settle(
        &self,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError> {
        if !reservation.covers(entry) {
            return Err(StoreError::Unavailable(
                "settlement exceeds its reservation".into(),
            ));
        }
        self.immediate(|tx| Self::settle_in(tx, reservation, entry, now))
    }

    async fn release(&self, reservation: &Reservation) -> Result<bool, StoreError> {
        self.immediate(|tx| Self::take_reservation(tx, reservation, None, None))
    }

    async fn expired_reservations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Reservation>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT tenant_id, id, period, amount_micros, currency, expires_at
                 FROM billing_reservations WHERE tenant_id = ?1 AND expires_at <= ?2
                 ORDER BY expires_at LIMIT 1000",
            )
            .map_err(db_error)?;
        let rows = statement
            .query_map(
                params![tenant.as_str(), now.as_millis()],
                reservation_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok(rows)
    }

    async fn release_expired(
        &self,
        reservation: &Reservation,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.immediate(|tx| Self::take_reservation(tx, reservation, None, Some(now)))
    }

    async fn budget_standing(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<BudgetStanding, StoreError> {
        let conn = self.conn();
        let settled: Option<i64> = conn
            .query_row(
                "SELECT prompt_micros + completion_micros FROM billing_usage
                 WHERE tenant_id = ?1 AND period = ?2 AND scope = ?3",
                params![tenant.as_str(), period.to_string(), TOTAL_SCOPE],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        Ok(BudgetStanding {
            settled_micros: settled.unwrap_or(0),
            alerted: Self::budget_alerts(&conn, tenant, period)?,
        })
    }

    async fn claim_budget_alert(
        &self,
        tenant: &TenantId,
        period: Period,
        percent: u8,
        claim: &str,
    ) -> Result<bool, StoreError> {
        // One statement: the first claim inserts, every later one changes nothing.
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO budget_alerts (tenant_id, period, percent, claim)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![tenant.as_str(), period.to_string(), percent, claim],
            )
            .map_err(db_error)?;
        Ok(inserted == 1)
    }

    async fn usage(&self, tenant: &TenantId, period: Period) -> Result<UsageReport, StoreError> {
        let conn = self.conn();
        let mut report = UsageReport::default();
        let budget: Option<(i64, i64)> = conn
            .query_row(
                "SELECT committed_micros, reserved_micros FROM billing_budget
                 WHERE tenant_id = ?1 AND period = ?2",
                params![tenant.as_str(), period.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(db_error)?;
        if let Some((committed, reserved)) = budget {
            report.committed_micros = committed;
            report.reserved_micros = reserved;
        }
        let mut statement = conn
            .prepare_cached(
                "SELECT scope, generations, prompt_tokens, completion_tokens, prompt_micros,
                     completion_micros, style_scored, style_milli_sum
                 FROM billing_usage WHERE tenant_id = ?1 AND period = ?2",
            )
            .map_err(db_error)?;
        let rows = statement
            .query_map(params![tenant.as_str(), period.to_string()], |row| {
                let (scope, tally) = tally_from_row(row)?;
                let count = |name: &str| -> rusqlite::Result<u64> {
                    u64::try_from(row.get::<_, i64>(name)?).map_err(|_| corrupt(name))
                };
                Ok((
                    scope,
                    tally,
                    count("style_scored")?,
                    count("style_milli_sum")?,
                ))
            })
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        report.budget_alerts = Self::budget_alerts(&conn, tenant, period)?;
        for (scope, tally, style_scored, style_milli_sum) in rows {
            if let Some(dietitian) = scope.strip_prefix("dietitian:") {
                report.by_dietitian.insert(
                    dietitian.to_owned(),
                    DietitianUsage {
                        tally,
                        style_scored,
                        style_milli_sum,
                    },
                );
            } else if scope == TOTAL_SCOPE {
                report.total = tally;
            } else if let Some(model) = scope.strip_prefix("model:") {
                report.by_model.insert(model.to_owned(), tally);
            } else if let Some(day) = scope.strip_prefix("day:").and_then(|d| d.parse().ok()) {
                report.by_day.insert(day, tally);
            } else {
                return Err(StoreError::Unavailable(
                    "sqlite: unknown usage scope".into(),
                ));
            }
        }
        Ok(report)
    }

    async fn ledger_page(
        &self,
        tenant: &TenantId,
        period: Period,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        let limit = limit.clamp(1, MAX_LEDGER_PAGE);
        let after = cursor.map(cursor::decode).transpose()?.unwrap_or_default();
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT tenant_id, period, request_id, at, model, prompt_tokens,
                     completion_tokens, prompt_micros, completion_micros, currency,
                     dietitian_id, style_milli
                 FROM billing_ledger WHERE tenant_id = ?1 AND period = ?2 AND request_id > ?3
                 ORDER BY request_id LIMIT ?4",
            )
            .map_err(db_error)?;
        let mut items = statement
            .query_map(
                params![tenant.as_str(), period.to_string(), after, limit + 1],
                entry_from_row,
            )
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|e| cursor::encode(&e.request_id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn create_invoice(&self, invoice: &Invoice) -> Result<bool, StoreError> {
        let body = to_json(invoice)?;
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO invoices (tenant_id, period, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, period) DO NOTHING",
                params![invoice.tenant_id.as_str(), invoice.period.to_string(), body],
            )
            .map_err(db_error)?;
        Ok(inserted == 1)
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Option<Invoice>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM invoices WHERE tenant_id = ?1 AND period = ?2",
                params![tenant.as_str(), period.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        body.map(|text| from_json(&text, "invoice")).transpose()
    }

    async fn list_invoices(&self, tenant: &TenantId) -> Result<Vec<Invoice>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT body FROM invoices WHERE tenant_id = ?1 ORDER BY period LIMIT 1200",
            )
            .map_err(db_error)?;
        let bodies = statement
            .query_map(params![tenant.as_str()], |row| row.get::<_, String>(0))
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        bodies.iter().map(|b| from_json(b, "invoice")).collect()
    }
}

#[async_trait]
impl GenerationCommit for SqliteStore {
    async fn commit_generation(
        &self,
        generation: &crate::domain::content::Generation,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError> {
        if !reservation.covers(entry) {
            return Err(StoreError::Unavailable(
                "settlement exceeds its reservation".into(),
            ));
        }
        self.immediate(|tx| {
            let outcome = Self::settle_in(tx, reservation, entry, now)?;
            if outcome == Settlement::Settled {
                super::content::insert_generation(tx, generation)?;
            }
            Ok(outcome)
        })
    }
}
