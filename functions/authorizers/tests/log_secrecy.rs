//! Secrets never reach the logs: every line the authorizer logs (at TRACE, with spans)
//! for accepted, unknown, malformed and rotated-out keys is captured and searched for
//! any secret or hash.
//!
//! This is the only test in its binary on purpose: it installs a *global* subscriber,
//! because tracing caches per-callsite interest process-wide and a scoped subscriber can
//! miss events that other test threads registered first.

use nutripro_authorizers::ApiKeyAuthorizer;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::{ApiKey, ApiKeyToken, PlanId, Tenant, TenantName, Timestamp};
use nutripro_shared::ports::{ApiKeyStore, ManualClock, TenantStore};
use std::io::Write;
use std::sync::{Arc, Mutex};

const START: Timestamp = Timestamp::from_millis(1_800_000_000_000);

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

fn event(token: &str) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event =
        aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    event.method_arn =
        Some("arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/v1/me".into());
    event.headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    event
}

#[tokio::test]
async fn key_secrets_are_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let tenant = Tenant::new(
        TenantName::parse("Acme").unwrap(),
        PlanId::new("standard"),
        START,
    );
    store.create_tenant(&tenant).await.unwrap();
    let (key, token) = ApiKey::issue(tenant.id.clone(), "k", START, None).unwrap();
    store.create_key(&key).await.unwrap();
    let (_, stranger) = ApiKey::issue(tenant.id.clone(), "never stored", START, None).unwrap();
    let authorizer = ApiKeyAuthorizer::new(store.clone(), Arc::new(ManualClock::new(START)), 300);

    let mut rotated = key.clone();
    let new_token = rotated.rotate(START, 0);
    let malformed = format!("{}!", token.expose());
    for presented in [token.expose(), stranger.expose(), &malformed] {
        let _ = authorizer.authorize(event(presented)).await;
    }
    store.save_rotation(&rotated, &key.hash).await.unwrap();
    for presented in [token.expose(), new_token.expose()] {
        let _ = authorizer.authorize(event(presented)).await;
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "\"allow\"",
        "unknown_key",
        "malformed_key",
        "rotated_out",
        "api_key_authorizer",
    ] {
        assert!(
            logs.contains(expected),
            "the test saw every outcome's log ({expected}): {logs}"
        );
    }
    let secrets: [&ApiKeyToken; 3] = [&token, &stranger, &new_token];
    for secret in secrets.map(|t| &t.expose()[42..]) {
        assert!(!logs.contains(secret), "a secret was logged: {logs}");
    }
    for hash in [key.hash.to_hex(), rotated.hash.to_hex()] {
        assert!(!logs.contains(&hash), "hashes are not logged either");
    }
}
