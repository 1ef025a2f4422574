//! A generation stored and billed as one DynamoDB transaction across the content and
//! billing tables: the settlement's items (ledger entry, reservation, aggregates) and
//! the create-only generation (with its review entry when blocked) — at most 8 items.
//! Billed if and only if stored, whatever fails when.

use super::billing::{condition_failed, DynamoBillingStore};
use super::content::{blocked_item, generation_item};
use super::{table, Item, PK};
use crate::domain::billing::{LedgerEntry, Reservation};
use crate::domain::content::Generation;
use crate::domain::Timestamp;
use crate::ports::billing::{GenerationCommit, Settlement};
use crate::ports::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

pub struct DynamoGenerationCommit {
    client: Client,
    content_table: String,
    billing: DynamoBillingStore,
}

impl DynamoGenerationCommit {
    pub fn new(
        client: Client,
        content_table: impl Into<String>,
        billing_table: impl Into<String>,
    ) -> Self {
        Self {
            billing: DynamoBillingStore::new(client.clone(), billing_table),
            client,
            content_table: content_table.into(),
        }
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.content_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::Unavailable(format!("dynamodb request: {e}")))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl GenerationCommit for DynamoGenerationCommit {
    async fn commit_generation(
        &self,
        generation: &Generation,
        reservation: &Reservation,
        entry: &LedgerEntry,
        now: Timestamp,
    ) -> Result<Settlement, StoreError> {
        if !reservation.covers(entry) {
            return Err(StoreError::Unavailable(
                "settlement exceeds its reservation".into(),
            ));
        }
        let mut items = self.billing.settle_items(reservation, entry, now)?;
        let stored = generation_item(generation);
        items.push(self.put_new(stored.clone())?);
        if let Some(blocked) = generation.blocked_summary() {
            items.push(self.put_new(blocked_item(&blocked))?);
        }
        match self.billing.transact_counting(items).await? {
            (None, _) => Ok(Settlement::Settled),
            // The ledger entry exists: after a retry, this commit applied by an earlier
            // attempt whose answer was lost (the generation went in with it).
            (Some(codes), retried) if condition_failed(&codes, 0) => {
                if !table::is_stored(&self.client, &self.content_table, &stored).await? {
                    tracing::error!(
                        generation_id = %generation.id,
                        "ledger entry without its generation; billed once, not stored"
                    );
                }
                Ok(if retried {
                    Settlement::Settled
                } else {
                    Settlement::AlreadySettled
                })
            }
            (Some(codes), _) if condition_failed(&codes, 1) => Ok(Settlement::Lapsed),
            (Some(_), _) => Err(StoreError::AlreadyExists),
        }
    }
}
