//! The tables' key schema, for local servers and tests. The control-plane and content
//! tables share it; it must match `ControlPlaneTable` and `ContentTable` in
//! `template.yaml`, and a template test checks that it does.

use super::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

/// `(attribute, key type)` pairs of the table and of its one index, as in the template.
pub const TABLE_KEYS: [(&str, &str); 2] = [(PK, "HASH"), (SK, "RANGE")];
pub const GSI1_KEYS: [(&str, &str); 2] = [(GSI1_PK, "HASH"), (GSI1_SK, "RANGE")];
pub const GSI1_NAME: &str = GSI1;

fn key_schema(keys: &[(&str, &str)]) -> Result<Vec<KeySchemaElement>, StoreError> {
    keys.iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(*name)
                .key_type(KeyType::from(*kind))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })
        .collect()
}

/// Creates a table with the shared key schema (pay per request) on the server `client`
/// points at; one that exists already is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let build_error =
        |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable(e.to_string());
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&TABLE_KEYS)?))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1_NAME)
                .set_key_schema(Some(key_schema(&GSI1_KEYS)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_error)?,
        );
    for name in [PK, SK, GSI1_PK, GSI1_SK] {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Already there (made by a retried attempt, or by an earlier run): the schema is
        // the one table every store uses.
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::Unavailable(
            aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
        )),
    }
}

/// A client for a DynamoDB-compatible server on loopback (tests, local mode on
/// DynamoDB): fixed region and dummy static credentials, which such servers accept, and
/// the product's retries with an emulator's timeouts ([`super::retry`]).
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = super::retry::with_emulator_policy(aws_sdk_dynamodb::Config::builder())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-dynamodb",
        ))
        .build();
    Client::from_conf(config)
}

/// A client for `endpoint_url`: with the environment's AWS credentials and region and
/// the production policy when `AWS_ACCESS_KEY_ID` is set (a real account), else
/// [`local_client`] (an emulator on loopback).
pub async fn client_for(endpoint_url: &str) -> Client {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        return local_client(endpoint_url);
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .load()
        .await;
    super::retry::client(&config)
}

/// Creates the table if it is missing and waits (at most a minute) until it is active.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::TableStatus;
    create_table(client, table).await?;
    for _ in 0..120 {
        let status = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                )
            })?
            .table
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {table} did not become active within a minute"
    )))
}
