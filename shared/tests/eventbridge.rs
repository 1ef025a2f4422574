//! The EventBridge publisher against an EventBridge-compatible server on loopback (moto,
//! started by scripts/test): a budget alert is accepted on the stack's bus, and a bus
//! that does not exist is an error, not a silent success.

use nutripro_shared::adapters::eventbridge::{local_client, EventBridgePublisher};
use nutripro_shared::ports::events::{EventPublisher, PlatformEvent};

fn endpoint() -> String {
    std::env::var("NUTRIPRO_TEST_EVENTBRIDGE_ENDPOINT").expect(
        "NUTRIPRO_TEST_EVENTBRIDGE_ENDPOINT is not set: this test needs the moto server on loopback \
         that scripts/test starts (it serves EventBridge too)",
    )
}

fn alert() -> PlatformEvent {
    PlatformEvent {
        detail_type: nutripro_shared::app::budget_alerts::BUDGET_EVENT,
        detail: serde_json::json!({"tenant_id": "t-1", "period": "2026-11", "threshold_percent": 80}),
    }
}

#[tokio::test]
#[ignore = "needs an EventBridge-compatible server on loopback: run scripts/test"]
async fn budget_alerts_reach_the_bus_and_a_missing_bus_is_an_error() {
    let client = local_client(&endpoint());
    let bus = format!("nutripro-{}", nutripro_shared::domain::new_id());
    client.create_event_bus().name(&bus).send().await.unwrap();
    EventBridgePublisher::new(client.clone(), &bus)
        .publish(&alert())
        .await
        .expect("published to the stack's bus");
    EventBridgePublisher::new(client.clone(), "default")
        .publish(&alert())
        .await
        .expect("published to the default bus");
    let missing = EventBridgePublisher::new(client, "no-such-bus-here")
        .publish(&alert())
        .await;
    assert!(missing.is_err(), "a bus that does not exist: {missing:?}");
}
