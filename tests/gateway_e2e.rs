//! End to end over HTTP against the local gateway: template route → authorizer →
//! REST v1 event → handler → embedded store → response. Threat rows T01, T03, T17.

use nutripro_shared::domain::{ApiKey, ApiKeyToken, KeyId, TenantId, TenantStatus, Timestamp};
use nutripro_shared::ports::{ApiKeyStore, TenantStore};
use nutripro_tests::LocalStack;

#[tokio::test]
async fn bootstrapped_key_calls_v1_me() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme Meal Plans").await;
    let response = stack.get("/v1/me", Some(&boot.api_key)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response
        .header("x-request-id")
        .is_some_and(|id| !id.is_empty()));
    let body = response.json();
    assert_eq!(body["tenant_id"], boot.tenant_id.as_str());
    assert_eq!(body["tenant_name"], "Acme Meal Plans");
    assert_eq!(body["key_id"], boot.key_id.as_str());
    assert_eq!(body["plan"], "standard");
    assert!(body["limits"]["max_request_body_bytes"].as_u64().unwrap() > 0);
    assert!(
        !response.body.contains(&boot.api_key[42..]),
        "the secret is never echoed"
    );
}

#[tokio::test]
async fn each_tenant_sees_only_itself() {
    let stack = LocalStack::start().await;
    let a = stack.bootstrap("Tenant A").await;
    let b = stack.bootstrap("Tenant B").await;
    assert_eq!(
        stack.get("/v1/me", Some(&a.api_key)).await.json()["tenant_id"],
        a.tenant_id.as_str()
    );
    assert_eq!(
        stack.get("/v1/me", Some(&b.api_key)).await.json()["tenant_id"],
        b.tenant_id.as_str()
    );
}

/// T01 / spec section 3: missing, malformed, unknown keys → 401 problem+json.
#[tokio::test]
async fn bad_credentials_get_401_problems() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let unknown_key = format!("nutripro_{}_{}", "0".repeat(32), "A".repeat(43));
    let wrong_secret = format!("{}{}", &boot.api_key[..42], "B".repeat(43));
    for authorization in [
        None,
        Some(String::new()),
        Some(format!("Basic {}", boot.api_key)),
        Some("Bearer not-a-key".to_owned()),
        Some(format!("Bearer {unknown_key}")),
        Some(format!("Bearer {wrong_secret}")),
    ] {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        let response = stack.request("GET", "/v1/me", &headers, None).await;
        let problem = response.assert_problem(401);
        assert_eq!(
            problem["type"],
            "https://nutripro.dev/problems/unauthorized"
        );
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
}

/// T01: revoked keys stop at once in local mode (no authorizer cache).
#[tokio::test]
async fn revoked_key_gets_401() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    assert_eq!(stack.get("/v1/me", Some(&boot.api_key)).await.status, 200);
    stack
        .store()
        .revoke_key(&KeyId::new(boot.key_id.as_str()), Timestamp::now())
        .await
        .unwrap();
    stack
        .get("/v1/me", Some(&boot.api_key))
        .await
        .assert_problem(401);
}

/// T01: an expired key is refused.
#[tokio::test]
async fn expired_key_gets_401() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    // A second key of the same tenant, issued an hour ago and valid for one minute.
    let issued = Timestamp::now().plus_seconds(-3600);
    let tenant_id = TenantId::new(boot.tenant_id.as_str());
    let (expired, token) = ApiKey::issue(
        tenant_id,
        "short-lived",
        issued,
        Some(issued.plus_seconds(60)),
    )
    .unwrap();
    stack.store().create_key(&expired).await.unwrap();
    stack
        .get("/v1/me", Some(token.expose()))
        .await
        .assert_problem(401);
    assert_eq!(
        stack.get("/v1/me", Some(&boot.api_key)).await.status,
        200,
        "other keys unaffected"
    );
}

/// Rotates a key as the admin API will: new secret, same key id, old secret in grace.
async fn rotate(store: &impl ApiKeyStore, key_id: &str, grace_seconds: i64) -> ApiKeyToken {
    let mut key = store.get_key(&KeyId::new(key_id)).await.unwrap().unwrap();
    let before = key.hash.clone();
    let token = key.rotate(Timestamp::now(), grace_seconds);
    store.save_rotation(&key, &before).await.unwrap();
    token
}

/// T01: after rotation the old secret works during the grace period, then gets 401.
#[tokio::test]
async fn rotated_out_secret_gets_401_after_grace() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let store = stack.store();

    let rotated = rotate(&store, &boot.key_id, 3600).await;
    let old = stack.get("/v1/me", Some(&boot.api_key)).await;
    assert_eq!(old.status, 200, "old secret in grace");
    let new = stack.get("/v1/me", Some(rotated.expose())).await;
    assert_eq!(new.status, 200);
    assert_eq!(new.json()["key_id"], boot.key_id.as_str(), "same key id");

    // Rotating again with no grace drops both earlier secrets at once.
    let newest = rotate(&store, &boot.key_id, 0).await;
    for gone in [boot.api_key.as_str(), rotated.expose()] {
        stack.get("/v1/me", Some(gone)).await.assert_problem(401);
    }
    assert_eq!(stack.get("/v1/me", Some(newest.expose())).await.status, 200);
}

/// Spec section 3: a suspended tenant's valid key gets 403.
#[tokio::test]
async fn suspended_tenant_gets_403() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let tenant_id = TenantId::new(boot.tenant_id.as_str());
    stack
        .store()
        .set_tenant_status(&tenant_id, TenantStatus::Suspended)
        .await
        .unwrap();
    let problem = stack
        .get("/v1/me", Some(&boot.api_key))
        .await
        .assert_problem(403);
    assert_eq!(problem["type"], "https://nutripro.dev/problems/forbidden");
    stack
        .store()
        .set_tenant_status(&tenant_id, TenantStatus::Active)
        .await
        .unwrap();
    assert_eq!(stack.get("/v1/me", Some(&boot.api_key)).await.status, 200);
}

/// T17: unknown routes and methods are 404 before any authorizer or handler runs. The
/// proof: the key was never used, and the authorizer records every key's first use.
#[tokio::test]
async fn unknown_routes_are_404_without_reaching_authorizer_or_handler() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    // (GET / is the admin page; tests/admin_page.rs covers what the page may serve.)
    for (method, path) in [
        ("POST", "/"),
        ("GET", "/index.htm"),
        ("GET", "/v1"),
        ("GET", "/v1/me/"),
        ("GET", "/v1/me/extra"),
        ("POST", "/v1/me"),
        ("DELETE", "/v1/me"),
        ("GET", "/v2/me"),
        ("GET", "/admin/nothing"),
        ("GET", "/admin"),
        ("GET", "/V1/ME"),
        ("GET", "/v1/%2e%2e/admin"),
    ] {
        let authorization = format!("Bearer {}", boot.api_key);
        let response = stack
            .request(method, path, &[("authorization", &authorization)], None)
            .await;
        let problem = response.assert_problem(404);
        assert_eq!(
            problem["type"], "https://nutripro.dev/problems/not-found",
            "{method} {path}"
        );
        let anonymous = stack.request(method, path, &[], None).await;
        anonymous.assert_problem(404);
    }
    let store = stack.store();
    let key_id = KeyId::new(boot.key_id.as_str());
    let last_used = || async { store.get_key(&key_id).await.unwrap().unwrap().last_used_at };
    assert_eq!(
        last_used().await,
        None,
        "the authorizer never ran for an unknown route"
    );
    stack.get("/v1/me", Some(&boot.api_key)).await;
    assert!(
        last_used().await.is_some(),
        "…and it does run for a known one"
    );
}

#[tokio::test]
async fn serves_the_openapi_spec() {
    let stack = LocalStack::start().await;
    let response = stack.get("/openapi.yaml", None).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/yaml"));
    assert_eq!(
        response.body,
        nutripro_tests::read_repo_file("docs/openapi.yaml")
    );
}

/// The gateway caps bodies at API Gateway's 10 MB before anything else runs.
#[tokio::test]
async fn oversize_bodies_get_413() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let body = "x".repeat(nutripro_local::gateway::MAX_GATEWAY_BODY_BYTES + 1);
    let authorization = format!("Bearer {}", boot.api_key);
    let response = stack
        .request(
            "GET",
            "/v1/me",
            &[("authorization", &authorization)],
            Some(&body),
        )
        .await;
    response.assert_problem(413);
}
