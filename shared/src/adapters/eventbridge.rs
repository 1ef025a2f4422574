//! The EventBridge publisher: `PutEvents` of one entry to the stack's event bus (the
//! account's default bus unless one is named), source [`EVENT_SOURCE`].

use crate::ports::events::{EventPublisher, PlatformEvent, EVENT_SOURCE};
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// A client with the SDK's standard retries (3 attempts) and short timeouts: an
    /// event is published after the work it reports is stored, inside the request.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        let conf = aws_sdk_eventbridge::config::Builder::from(config)
            .timeout_config(super::call_timeouts(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(3),
            ))
            .build();
        Self::new(Client::from_conf(conf), bus)
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &PlatformEvent) -> Result<(), String> {
        let entry = PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(event.detail_type)
            .detail(event.detail.to_string())
            .event_bus_name(&self.bus)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "eventbridge: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(&error)
                )
            })?;
        if output.failed_entry_count() > 0 {
            let code = output
                .entries()
                .first()
                .and_then(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(format!("eventbridge refused the event: {code}"));
        }
        Ok(())
    }
}

/// A client for an EventBridge-compatible server on loopback (tests).
pub fn local_client(endpoint_url: &str) -> Client {
    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-events",
        ))
        .build();
    Client::from_conf(config)
}
