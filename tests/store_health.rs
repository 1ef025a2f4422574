//! Issue 17: what DynamoDB answered each attempt with becomes the request's metrics —
//! `StoreThrottled` and `StoreServerErrors`, behind the template's "DynamoDB throttles"
//! and "DynamoDB system errors" alarms — counted on the production client through the
//! fault proxy (throttling, then 500s, then nothing).

use nutripro_faults::{FaultProxy, Faults};
use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
use nutripro_shared::domain::TenantId;
use nutripro_shared::metrics::{self, Record};
use nutripro_shared::ports::TenantStore;
use std::sync::{Arc, Mutex};

async fn one_read(store: &DynamoStore) -> Record {
    let record = Arc::new(Mutex::new(Record::new("get_tenant")));
    let _ = metrics::scope(record.clone(), store.get_tenant(&TenantId::generate())).await;
    let record = record.lock().unwrap().clone();
    record
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server on loopback: run scripts/test"]
async fn throttling_and_server_errors_are_counted_per_attempt() {
    let proxy = FaultProxy::for_tests("store_health").await;
    let client = schema::local_client(proxy.url());
    let table = format!("control-{}", nutripro_shared::domain::new_id());
    schema::create_table(&client, &table).await.unwrap();
    let store = DynamoStore::new(client, table);

    let healthy = one_read(&store).await;
    assert_eq!(healthy.value(metrics::STORE_THROTTLED), None);
    assert_eq!(healthy.value(metrics::STORE_SERVER_ERRORS), None);

    proxy.set_faults(Faults {
        throttle: 1.0,
        ..Faults::NONE
    });
    let throttled = one_read(&store).await;
    let attempts = throttled.value(metrics::STORE_THROTTLED).unwrap_or(0.0);
    assert!(
        attempts >= 2.0,
        "every throttled attempt counts: {throttled:?}"
    );
    assert_eq!(throttled.value(metrics::STORE_SERVER_ERRORS), None);

    proxy.set_faults(Faults {
        server_error: 1.0,
        ..Faults::NONE
    });
    let failing = one_read(&store).await;
    assert!(
        failing.value(metrics::STORE_SERVER_ERRORS).unwrap_or(0.0) >= 2.0,
        "{failing:?}"
    );
    assert_eq!(failing.value(metrics::STORE_THROTTLED), None);
}
