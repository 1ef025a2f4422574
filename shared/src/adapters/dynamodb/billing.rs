//! Billing in DynamoDB. Plans live in the control-plane table (`PLAN#<id>` / `PLAN`,
//! listed through GSI1 partition `PLANS`); everything else in the billing table, one
//! partition per tenant (`pk = TENANT#<id>`):
//!
//! | `sk` | what | written by |
//! |---|---|---|
//! | `RATE#<window start>` | `n` requests counted in the window; `expires_at` (TTL) | `UpdateItem` `ADD n 1` if `n < limit` |
//! | `USAGE#<period>` | `committed_micros` (settled + reserved), `reserved_micros`, totals | reserve, settle, release |
//! | `USAGE#<period>#MODEL#<model>`, `USAGE#<period>#DAY#<dd>` | tallies | settle |
//! | `USAGE#<period>#DIET#<dietitian>` | tallies, `style_scored`, `style_milli_sum` | settle |
//! | `RESV#<request id>` | open reservation: period, amount, `reservation_expires_at` | reserve; deleted by settle, release, sweep |
//! | `LEDGER#<period>#<request id>` | one billed generation | settle (create-only `Put`) |
//! | `INVOICE#<period>` | the invoice JSON | close (create-only `Put`) |
//!
//! Reserve, settle, release and the sweep are each one `TransactWriteItems`, so the
//! aggregates and the ledger can never disagree, and the budget condition
//! (`committed_micros <= budget - amount`) is checked atomically with the write. The
//! reservation's expiry is not the table's TTL attribute: DynamoDB's TTL deletes late
//! and without touching the aggregate, so only the sweep (with its condition) may end
//! an expired reservation.

use super::table::{self, Partition};
use super::{applied, corrupt, get_n_opt, get_s, n, s, unavailable, Item};
use super::{DynamoStore, GSI1_PK, GSI1_SK, PK, SK};
use crate::adapters::cursor;
use crate::domain::billing::{
    DietitianUsage, Invoice, LedgerEntry, Period, Plan, Reservation, Tally, UsageReport,
};
use crate::domain::{PlanId, TenantId, Timestamp};
use crate::ports::billing::{BillingStore, BudgetStanding, PlanStore, RateWindowOwner, Settlement};
use crate::ports::{Page, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

const PLAN_SK: &str = "PLAN";
const PLANS_GSI1_PK: &str = "PLANS";
const MAX_LEDGER_PAGE: u32 = 1_000;

fn plan_pk(id: &str) -> String {
    format!("PLAN#{id}")
}

fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

fn usage_sk(period: Period) -> String {
    format!("USAGE#{period}")
}

fn reservation_sk(id: &str) -> String {
    format!("RESV#{id}")
}

fn ledger_prefix(period: Period) -> String {
    format!("LEDGER#{period}#")
}

fn invoice_sk(period: Period) -> String {
    format!("INVOICE#{period}")
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("dynamodb request: {e}"))
}

fn tokens(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The usage item's attribute that records the budget alert for `percent`.
fn budget_alert_attribute(percent: u8) -> String {
    format!("budget_alert_{percent:03}")
}

/// The budget alerts recorded on a usage item, rising.
fn budget_alerts_of(item: &Item) -> Vec<u8> {
    let mut alerts: Vec<u8> = item
        .keys()
        .filter_map(|name| name.strip_prefix("budget_alert_")?.parse().ok())
        .collect();
    alerts.sort_unstable();
    alerts
}

fn tally_from_item(item: &Item) -> Result<Tally, StoreError> {
    let count = |name: &str| -> Result<u64, StoreError> {
        u64::try_from(get_n_opt(item, name)?.unwrap_or(0)).map_err(|_| corrupt(name))
    };
    let prompt_micros = get_n_opt(item, "prompt_micros")?.unwrap_or(0);
    let completion_micros = get_n_opt(item, "completion_micros")?.unwrap_or(0);
    Ok(Tally {
        generations: count("generations")?,
        prompt_tokens: count("prompt_tokens")?,
        completion_tokens: count("completion_tokens")?,
        prompt_micros,
        completion_micros,
        amount_micros: prompt_micros + completion_micros,
    })
}

fn reservation_from_item(item: &Item) -> Result<Reservation, StoreError> {
    let pk = get_s(item, PK)?;
    let sk = get_s(item, SK)?;
    Ok(Reservation {
        id: sk
            .strip_prefix("RESV#")
            .ok_or_else(|| corrupt(SK))?
            .to_owned(),
        tenant_id: TenantId::new(pk.strip_prefix("TENANT#").ok_or_else(|| corrupt(PK))?),
        period: Period::parse(&get_s(item, "period")?).map_err(|_| corrupt("period"))?,
        amount_micros: get_n_opt(item, "amount_micros")?.ok_or_else(|| corrupt("amount"))?,
        currency: get_s(item, "currency")?,
        expires_at: Timestamp::from_millis(
            get_n_opt(item, "reservation_expires_at")?.ok_or_else(|| corrupt("expiry"))?,
        ),
    })
}

fn entry_from_item(item: &Item) -> Result<LedgerEntry, StoreError> {
    serde_json::from_str(&get_s(item, "body")?).map_err(|_| corrupt("body"))
}

/// The reasons a cancelled transaction gives, per item.
fn cancellation_codes(
    error: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Vec<Option<String>> {
    error
        .as_service_error()
        .and_then(|e| match e {
            TransactWriteItemsError::TransactionCanceledException(tc) => Some(tc),
            _ => None,
        })
        .map(|tc| {
            tc.cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn condition_failed(codes: &[Option<String>], index: usize) -> bool {
    codes.get(index).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

pub struct DynamoBillingStore {
    client: Client,
    table: String,
}

impl DynamoBillingStore {
    /// The tenant's period usage item (totals, budget, raised budget alerts), read
    /// consistently.
    async fn usage_item(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Option<Item>, StoreError> {
        table::get(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            &usage_sk(period),
        )
        .await
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(pk: String, sk: String) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
    }

    /// `ADD`s `deltas` to one item (created at zero), with `condition` if given.
    fn add(
        &self,
        pk: String,
        sk: String,
        deltas: &[(&str, i64)],
        condition: Option<(&str, i64)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)));
        let mut parts = Vec::new();
        for (i, (name, delta)) in deltas.iter().enumerate() {
            parts.push(format!("#a{i} :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":a{i}"), n(*delta));
        }
        update = update.update_expression(format!("ADD {}", parts.join(", ")));
        if let Some((name, most)) = condition {
            update = update
                .condition_expression("attribute_not_exists(#c) OR #c <= :most")
                .expression_attribute_names("#c", name)
                .expression_attribute_values(":most", n(most));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(build_error)?)
            .build())
    }

    /// Deletes the reservation item only if it exists with its amount and, if given,
    /// is live at (`expires > t`) or expired by (`expires <= t`) the given time.
    fn delete_reservation(
        &self,
        reservation: &Reservation,
        live_at: Option<Timestamp>,
        expired_at: Option<Timestamp>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut condition = String::from("attribute_exists(#pk) AND amount_micros = :amount");
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                tenant_pk(&reservation.tenant_id),
                reservation_sk(&reservation.id),
            )))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":amount", n(reservation.amount_micros));
        if let Some(at) = live_at {
            condition.push_str(" AND reservation_expires_at > :at");
            delete = delete.expression_attribute_values(":at", n(at.as_millis()));
        }
        if let Some(at) = expired_at {
            condition.push_str(" AND reservation_expires_at <= :at");
            delete = delete.expression_attribute_values(":at", n(at.as_millis()));
        }
        Ok(TransactWriteItem::builder()
            .delete(
                delete
                    .condition_expression(condition)
                    .build()
                    .map_err(build_error)?,
            )
            .build())
    }

    fn unreserve(&self, reservation: &Reservation) -> Result<TransactWriteItem, StoreError> {
        self.add(
            tenant_pk(&reservation.tenant_id),
            usage_sk(reservation.period),
            &[
                ("committed_micros", -reservation.amount_micros),
                ("reserved_micros", -reservation.amount_micros),
            ],
            None,
        )
    }

    /// Runs a transaction: `Ok(None)` when it committed, `Ok(Some(codes))` when a
    /// condition cancelled it.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<Option<String>>>, StoreError> {
        Ok(self.transact_counting(items).await?.0)
    }

    /// [`Self::transact`], and whether the SDK retried it (an earlier attempt may then
    /// have been applied, its answer lost).
    pub(crate) async fn transact_counting(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(Option<Vec<Option<String>>>, bool), StoreError> {
        let attempts = table::Attempts::default();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .customize()
            .interceptor(attempts.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok((None, attempts.retried())),
            Err(error) => {
                let codes = cancellation_codes(&error);
                if codes
                    .iter()
                    .any(|c| c.as_deref() == Some("ConditionalCheckFailed"))
                {
                    Ok((Some(codes), attempts.retried()))
                } else {
                    Err(unavailable(error))
                }
            }
        }
    }

    /// A release path (`release`, `release_expired`): one transaction of the conditional
    /// delete and the budget's return.
    async fn take_reservation(
        &self,
        reservation: &Reservation,
        expired_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let items = vec![
            self.delete_reservation(reservation, None, expired_at)?,
            self.unreserve(reservation)?,
        ];
        Ok(self.transact(items).await?.is_none())
    }

    /// The settlement's items, in this order: the create-only ledger entry (index 0),
    /// the reservation's conditional delete (index 1), the aggregates. Shared by
    /// `settle` and the generation commit (which adds the generation's items).
    pub(crate) fn settle_items(
        &self,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if !reservation.covers(entry) {
            return Err(StoreError::Unavailable(
                "settlement exceeds its reservation".into(),
            ));
        }
        let pk = tenant_pk(&entry.tenant_id);
        let usage = usage_sk(entry.period);
        let tallies = [
            ("generations", 1),
            ("prompt_tokens", tokens(entry.prompt_tokens)),
            ("completion_tokens", tokens(entry.completion_tokens)),
            ("prompt_micros", entry.prompt_micros),
            ("completion_micros", entry.completion_micros),
        ];
        let mut total = tallies.to_vec();
        total.push((
            "committed_micros",
            entry.amount_micros() - reservation.amount_micros,
        ));
        total.push(("reserved_micros", -reservation.amount_micros));
        let body = serde_json::to_string(entry)
            .map_err(|e| StoreError::Unavailable(format!("ledger serialization: {e}")))?;
        let ledger = Put::builder()
            .table_name(&self.table)
            .item(PK, s(pk.clone()))
            .item(
                SK,
                s(format!(
                    "{}{}",
                    ledger_prefix(entry.period),
                    entry.request_id
                )),
            )
            .item("entity", s("ledger"))
            .item("body", s(body))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().put(ledger).build(),
            self.delete_reservation(reservation, Some(now), None)?,
            self.add(pk.clone(), usage.clone(), &total, None)?,
            self.add(
                pk.clone(),
                format!("{usage}#MODEL#{}", entry.model),
                &tallies,
                None,
            )?,
            self.add(
                pk.clone(),
                format!("{usage}#DAY#{:02}", entry.day()),
                &tallies,
                None,
            )?,
        ];
        if !entry.dietitian_id.is_empty() {
            let mut per_dietitian = tallies.to_vec();
            per_dietitian.push(("style_scored", i64::from(entry.style_milli.is_some())));
            per_dietitian.push(("style_milli_sum", i64::from(entry.style_milli.unwrap_or(0))));
            items.push(self.add(
                pk,
                format!("{usage}#DIET#{}", entry.dietitian_id),
                &per_dietitian,
                None,
            )?);
        }
        Ok(items)
    }

    /// Every item of the tenant's partition under `prefix`.
    async fn query_all(&self, pk: String, prefix: String) -> Result<Vec<Item>, StoreError> {
        const MAX_ITEMS: usize = 100_000;
        let partition = Partition::table(pk).sort_prefix(prefix);
        table::query_all(&self.client, &self.table, &partition, MAX_ITEMS).await
    }
}

#[async_trait]
impl PlanStore for DynamoStore {
    async fn get_stored_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        let Some(item) = self.get(plan_pk(id.as_str()), PLAN_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&get_s(&item, "body")?)
            .map(Some)
            .map_err(|_| corrupt("body"))
    }

    async fn put_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let body = serde_json::to_string(plan)
            .map_err(|e| StoreError::Unavailable(format!("plan serialization: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(plan_pk(&plan.id)))
            .item(SK, s(PLAN_SK))
            .item(GSI1_PK, s(PLANS_GSI1_PK))
            .item(GSI1_SK, s(plan.id.clone()))
            .item("entity", s("plan"))
            .item("body", s(body))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_stored_plans(&self) -> Result<Vec<Plan>, StoreError> {
        const MAX_PLANS: usize = 1_000;
        let partition = Partition::gsi1(PLANS_GSI1_PK);
        table::query(&self.client, &self.table, &partition, None, MAX_PLANS)
            .await?
            .0
            .iter()
            .map(|item| serde_json::from_str(&get_s(item, "body")?).map_err(|_| corrupt("body")))
            .collect()
    }
}

#[async_trait]
impl BillingStore for DynamoBillingStore {
    async fn count_request(
        &self,
        owner: &RateWindowOwner<'_>,
        window: i64,
        limit: u32,
        expires_at: Timestamp,
    ) -> Result<Option<u32>, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(format!("TENANT#{}", owner.id())))
            .key(SK, s(format!("RATE#{window}")))
            .update_expression("ADD #n :one SET expires_at = :ttl")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":ttl", n(expires_at.as_millis() / 1000))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match output {
            Ok(output) => {
                let count = output
                    .attributes
                    .as_ref()
                    .map(|a| get_n_opt(a, "n"))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| corrupt("n"))?;
                Ok(Some(u32::try_from(count).map_err(|_| corrupt("n"))?))
            }
            // A failed condition is a full window; any other error is the store's.
            Err(error) => applied(Err::<(), _>(error)).map(|_| None),
        }
    }

    async fn claim_nonce(
        &self,
        key: &crate::domain::KeyId,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let claim: Item = HashMap::from([
            (PK.to_owned(), s(format!("NONCE#{key}#{nonce}"))),
            (SK.to_owned(), s("NONCE")),
            ("claim".to_owned(), s(crate::domain::new_id())),
            ("expires_at_ms".to_owned(), n(expires_at.as_millis())),
            // DynamoDB's TTL removes it some time after; the condition does not wait.
            (
                "expires_at".to_owned(),
                n(expires_at.as_millis() / 1000 + 1),
            ),
        ]);
        table::put_unless_live(&self.client, &self.table, claim, Some(now)).await
    }

    async fn reserve(
        &self,
        reservation: &Reservation,
        budget_micros: i64,
    ) -> Result<bool, StoreError> {
        let Some(most_before) = reservation.most_committed_before(budget_micros) else {
            return Ok(false);
        };
        let hold = self.add(
            tenant_pk(&reservation.tenant_id),
            usage_sk(reservation.period),
            &[
                ("committed_micros", reservation.amount_micros),
                ("reserved_micros", reservation.amount_micros),
            ],
            Some(("committed_micros", most_before)),
        )?;
        let record_item: Item = HashMap::from([
            (PK.to_owned(), s(tenant_pk(&reservation.tenant_id))),
            (SK.to_owned(), s(reservation_sk(&reservation.id))),
            ("period".to_owned(), s(reservation.period.to_string())),
            ("amount_micros".to_owned(), n(reservation.amount_micros)),
            ("currency".to_owned(), s(reservation.currency.clone())),
            (
                "reservation_expires_at".to_owned(),
                n(reservation.expires_at.as_millis()),
            ),
        ]);
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_item.clone()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_error)?;
        let items = vec![hold, TransactWriteItem::builder().put(record).build()];
        match self.transact_counting(items).await? {
            (None, _) => Ok(true),
            // The reservation exists: ours when the SDK retried and it is exactly this one
            // (an earlier attempt was applied and its answer lost), else a reused id.
            (Some(codes), retried) if condition_failed(&codes, 1) => {
                if retried && table::is_stored(&self.client, &self.table, &record_item).await? {
                    Ok(true)
                } else {
                    Err(StoreError::AlreadyExists)
                }
            }
            (Some(_), _) => Ok(false),
        }
    }

    async fn settle(
        &self,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError> {
        let items = self.settle_items(reservation, entry, now)?;
        match self.transact_counting(items).await? {
            (None, _) => Ok(Settlement::Settled),
            // The entry exists. After a retry it is this settlement's own earlier attempt,
            // applied with its answer lost (request ids are never reused).
            (Some(codes), true) if condition_failed(&codes, 0) => Ok(Settlement::Settled),
            (Some(codes), false) if condition_failed(&codes, 0) => Ok(Settlement::AlreadySettled),
            (Some(_), _) => Ok(Settlement::Lapsed),
        }
    }

    async fn release(&self, reservation: &Reservation) -> Result<bool, StoreError> {
        self.take_reservation(reservation, None).await
    }

    async fn expired_reservations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Reservation>, StoreError> {
        let items = self.query_all(tenant_pk(tenant), "RESV#".into()).await?;
        let mut expired = Vec::new();
        for item in &items {
            let reservation = reservation_from_item(item)?;
            if reservation.expires_at <= now {
                expired.push(reservation);
            }
        }
        Ok(expired)
    }

    async fn release_expired(
        &self,
        reservation: &Reservation,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.take_reservation(reservation, Some(now)).await
    }

    async fn budget_standing(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<BudgetStanding, StoreError> {
        let Some(item) = self.usage_item(tenant, period).await? else {
            return Ok(BudgetStanding::default());
        };
        Ok(BudgetStanding {
            settled_micros: tally_from_item(&item)?.amount_micros,
            alerted: budget_alerts_of(&item),
        })
    }

    async fn claim_budget_alert(
        &self,
        tenant: &TenantId,
        period: Period,
        percent: u8,
        claim: &str,
    ) -> Result<bool, StoreError> {
        // One attribute per threshold on the period's usage item, set only if unset.
        let attribute = budget_alert_attribute(percent);
        let attempts = table::Attempts::default();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(usage_sk(period)))
            .update_expression("SET #a = :claim")
            .condition_expression("attribute_not_exists(#a)")
            .expression_attribute_names("#a", &attribute)
            .expression_attribute_values(":claim", s(claim.to_owned()))
            .customize()
            .interceptor(attempts.clone())
            .send()
            .await;
        if applied(update)? {
            return Ok(true);
        }
        // After a retry the claim found may be this caller's own, its answer lost.
        if !attempts.retried() {
            return Ok(false);
        }
        let item = self.usage_item(tenant, period).await?;
        Ok(item.and_then(|i| i.get(&attribute).cloned()) == Some(s(claim.to_owned())))
    }

    async fn usage(&self, tenant: &TenantId, period: Period) -> Result<UsageReport, StoreError> {
        let usage = usage_sk(period);
        let items = self.query_all(tenant_pk(tenant), usage.clone()).await?;
        let mut report = UsageReport::default();
        for item in &items {
            let sk = get_s(item, SK)?;
            let tally = tally_from_item(item)?;
            match sk.strip_prefix(&usage) {
                Some("") => {
                    report.total = tally;
                    report.committed_micros = get_n_opt(item, "committed_micros")?.unwrap_or(0);
                    report.reserved_micros = get_n_opt(item, "reserved_micros")?.unwrap_or(0);
                    report.budget_alerts = budget_alerts_of(item);
                }
                Some(rest) => {
                    if let Some(model) = rest.strip_prefix("#MODEL#") {
                        report.by_model.insert(model.to_owned(), tally);
                    } else if let Some(dietitian) = rest.strip_prefix("#DIET#") {
                        let count = |name: &str| -> Result<u64, StoreError> {
                            u64::try_from(get_n_opt(item, name)?.unwrap_or(0))
                                .map_err(|_| corrupt(name))
                        };
                        report.by_dietitian.insert(
                            dietitian.to_owned(),
                            DietitianUsage {
                                tally,
                                style_scored: count("style_scored")?,
                                style_milli_sum: count("style_milli_sum")?,
                            },
                        );
                    } else if let Some(day) =
                        rest.strip_prefix("#DAY#").and_then(|d| d.parse().ok())
                    {
                        report.by_day.insert(day, tally);
                    } else {
                        return Err(corrupt(SK));
                    }
                }
                None => return Err(corrupt(SK)),
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
        let limit = limit.clamp(1, MAX_LEDGER_PAGE) as usize;
        let pk = tenant_pk(tenant);
        let prefix = ledger_prefix(period);
        let start = cursor
            .map(cursor::decode)
            .transpose()?
            .map(|request_id| Self::key(pk.clone(), format!("{prefix}{request_id}")));
        let partition = Partition::table(pk).sort_prefix(prefix);
        // One more than asked for: whether there is a next page.
        let (page, _) =
            table::query(&self.client, &self.table, &partition, start, limit + 1).await?;
        let mut items = page
            .iter()
            .map(entry_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| cursor::encode(&e.request_id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn create_invoice(&self, invoice: &Invoice) -> Result<bool, StoreError> {
        let body = serde_json::to_string(invoice)
            .map_err(|e| StoreError::Unavailable(format!("invoice serialization: {e}")))?;
        let item = HashMap::from([
            (PK.to_owned(), s(tenant_pk(&invoice.tenant_id))),
            (SK.to_owned(), s(invoice_sk(invoice.period))),
            ("entity".to_owned(), s("invoice")),
            ("body".to_owned(), s(body)),
        ]);
        // Create-only: an issued invoice is never replaced.
        table::put_new(&self.client, &self.table, item).await
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Option<Invoice>, StoreError> {
        let Some(item) = table::get(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            &invoice_sk(period),
        )
        .await?
        else {
            return Ok(None);
        };
        serde_json::from_str(&get_s(&item, "body")?)
            .map(Some)
            .map_err(|_| corrupt("body"))
    }

    async fn list_invoices(&self, tenant: &TenantId) -> Result<Vec<Invoice>, StoreError> {
        self.query_all(tenant_pk(tenant), "INVOICE#".into())
            .await?
            .iter()
            .map(|item| serde_json::from_str(&get_s(item, "body")?).map_err(|_| corrupt("body")))
            .collect()
    }
}
