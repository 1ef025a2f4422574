//! Threat S07: the OpenAI API key never appears in logs or responses. Every log line
//! (TRACE, with spans) of successful and failing generations is captured and searched.
//!
//! Alone in its test binary: it installs a global subscriber (tracing caches callsite
//! interest process-wide, so a scoped one could miss events from other tests' threads).

use nutripro_tests::{FakeOpenAi, LocalStack};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "sk-proj-SECRET0123456789abcdef";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_openai_key_is_never_logged_or_returned() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let mut bodies = String::new();
    for status in [200, 401, 429, 500] {
        let fake = FakeOpenAi::start(status, Duration::ZERO).await;
        let stack = LocalStack::start_with(fake.llm(KEY, Duration::from_secs(5))).await;
        let api_key = stack.bootstrap("Acme").await.api_key;
        let consent = json!({"granted": true});
        stack
            .call(
                "PUT",
                "/v1/dietitians/dr-smith/consent",
                &api_key,
                Some(&consent),
                &[],
            )
            .await;
        let body = json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "input": {"client": "Ann"}});
        let response = stack
            .call("POST", "/v1/generations", &api_key, Some(&body), &[])
            .await;
        assert_eq!(
            response.status,
            if status == 200 { 201 } else { 502 },
            "{}",
            response.body
        );
        bodies.push_str(&response.body);
        let sent = fake.authorizations.lock().unwrap().clone();
        assert!(
            sent.iter().all(|a| a == &format!("Bearer {KEY}")) && !sent.is_empty(),
            "the key did reach the model"
        );
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("create_generation") && logs.contains("model call failed"),
        "the test saw the logs"
    );
    assert!(
        !logs.contains(KEY) && !logs.contains("SECRET0123"),
        "the OpenAI key was logged: {logs}"
    );
    assert!(!bodies.contains(KEY), "the OpenAI key was returned");
}
