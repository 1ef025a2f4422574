//! The Secrets Manager secret source against a Secrets Manager-compatible server on
//! loopback (moto, started by scripts/test): cached for its TTL, re-read on refresh.

use nutripro_shared::adapters::secrets_manager::{local_client, SecretsManagerSecret};
use nutripro_shared::ports::secrets::SecretSource;
use std::time::Duration;

fn endpoint() -> String {
    std::env::var("NUTRIPRO_TEST_SECRETSMANAGER_ENDPOINT").expect(
        "NUTRIPRO_TEST_SECRETSMANAGER_ENDPOINT is not set: this test needs the moto server on loopback \
         that scripts/test starts (it serves Secrets Manager too)",
    )
}

#[tokio::test]
#[ignore = "needs a Secrets Manager-compatible server on loopback: run scripts/test"]
async fn caches_for_the_ttl_and_refreshes_on_demand() {
    let client = local_client(&endpoint());
    let id = format!("openai-key-{}", nutripro_shared::domain::new_id());
    client
        .create_secret()
        .name(&id)
        .secret_string("sk-first")
        .send()
        .await
        .unwrap();

    let source = SecretsManagerSecret::new(client.clone(), &id, Duration::from_secs(3600));
    assert_eq!(source.current().await.unwrap().expose(), "sk-first");
    client
        .put_secret_value()
        .secret_id(&id)
        .secret_string("sk-second")
        .send()
        .await
        .unwrap();
    assert_eq!(
        source.current().await.unwrap().expose(),
        "sk-first",
        "served from the cache"
    );
    assert_eq!(
        source.refresh().await.unwrap().expose(),
        "sk-second",
        "refresh bypasses the cache"
    );
    assert_eq!(source.current().await.unwrap().expose(), "sk-second");

    let no_cache = SecretsManagerSecret::new(client.clone(), &id, Duration::ZERO);
    client
        .put_secret_value()
        .secret_id(&id)
        .secret_string("sk-third")
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_cache.current().await.unwrap().expose(),
        "sk-third",
        "an expired cache is re-read"
    );
}

#[tokio::test]
#[ignore = "needs a Secrets Manager-compatible server on loopback: run scripts/test"]
async fn a_missing_secret_is_an_error_that_does_not_leak_values() {
    let source = SecretsManagerSecret::new(
        local_client(&endpoint()),
        "no-such-secret",
        Duration::from_secs(60),
    );
    let error = source.current().await.unwrap_err();
    assert!(error.to_string().contains("GetSecretValue"));
}

/// Issue 18: the sealing keyring as the template creates it (a Secrets Manager secret of
/// the form `{"current": "k1", "accept_unkeyed": false, "k1": "<64 characters>"}`) is read
/// and rotated through the secret.
#[tokio::test]
#[ignore = "needs a Secrets Manager-compatible server on loopback: run scripts/test"]
async fn the_sealing_keyring_is_read_from_the_secret() {
    use nutripro_shared::domain::sealing::SealCheck;
    use nutripro_shared::ports::sealing::{SealingKeys, SecretKeyring};
    use std::sync::Arc;
    let client = local_client(&endpoint());
    let id = format!("sealing-{}", nutripro_shared::domain::new_id());
    let k1 = "a".repeat(64);
    client
        .create_secret()
        .name(&id)
        .secret_string(format!(
            r#"{{"current": "k1", "accept_unkeyed": false, "k1": "{k1}"}}"#
        ))
        .send()
        .await
        .unwrap();
    let secret = Arc::new(SecretsManagerSecret::new(
        client.clone(),
        &id,
        Duration::from_secs(3600),
    ));
    let keys = SecretKeyring::new(secret.clone());
    let ring = keys.keyring().await.unwrap();
    let seal = ring.seal(b"digest");
    assert!(seal.starts_with("v3:k1:"));
    // Rotation: a new current key, the old one kept.
    client
        .put_secret_value()
        .secret_id(&id)
        .secret_string(format!(
            r#"{{"current": "k2", "accept_unkeyed": false, "k1": "{k1}", "k2": "{}"}}"#,
            "b".repeat(64)
        ))
        .send()
        .await
        .unwrap();
    secret.refresh().await.unwrap();
    let rotated = keys.keyring().await.unwrap();
    assert_eq!(rotated.check(&seal, b"digest"), SealCheck::IntactOldKey);
    assert!(rotated.seal(b"digest").starts_with("v3:k2:"));
}
