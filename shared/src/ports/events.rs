//! Events the platform tells the outside world about (today: budget alerts). In AWS they
//! go to EventBridge, where a rule forwards them to the operations topic and devops can
//! add their own targets; locally they are logged.

use async_trait::async_trait;
use serde::Serialize;

/// The `source` of every event the platform publishes.
pub const EVENT_SOURCE: &str = "nutripro";

/// One event: its type (EventBridge's `detail-type`) and its detail (a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformEvent {
    pub detail_type: &'static str,
    pub detail: serde_json::Value,
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `event`; an error is for logs (the caller has already done its work).
    async fn publish(&self, event: &PlatformEvent) -> Result<(), String>;
}

/// Local mode's publisher: each event is one log line (the gateway's log).
pub struct LogEvents;

#[async_trait]
impl EventPublisher for LogEvents {
    async fn publish(&self, event: &PlatformEvent) -> Result<(), String> {
        tracing::info!(
            source = EVENT_SOURCE,
            detail_type = event.detail_type,
            detail = %event.detail,
            "event"
        );
        Ok(())
    }
}

/// Keeps what was published (tests).
#[derive(Default)]
pub struct RecordedEvents(pub std::sync::Mutex<Vec<PlatformEvent>>);

impl RecordedEvents {
    pub fn events(&self) -> Vec<PlatformEvent> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl EventPublisher for RecordedEvents {
    async fn publish(&self, event: &PlatformEvent) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
        Ok(())
    }
}
