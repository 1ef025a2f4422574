//! Issue 18, scoped keys (spec section 11): a key carries scopes (`content:read`,
//! `content:write`, `generate`, `usage:read`; all by default), set at issue and shown in
//! lists; every `/v1` route but `GET /v1/me` requires one (403 `insufficient-scope`,
//! nothing done); and a key may carry its own requests-per-minute limit below its
//! tenant's.

use nutripro_shared::domain::admin::Role;
use nutripro_tests::{LocalStack, TestResponse};
use serde_json::{json, Value};

/// Every `/v1` route of the template and the scope it requires (None: any key).
const ROUTE_SCOPES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/v1/me", None),
    (
        "PUT",
        "/v1/dietitians/dr-smith/consent",
        Some("content:write"),
    ),
    (
        "GET",
        "/v1/dietitians/dr-smith/consent",
        Some("content:read"),
    ),
    ("DELETE", "/v1/dietitians/dr-smith", Some("content:write")),
    ("GET", "/v1/dietitians/dr-smith/style", Some("content:read")),
    ("POST", "/v1/samples", Some("content:write")),
    (
        "GET",
        "/v1/samples?dietitian_id=dr-smith",
        Some("content:read"),
    ),
    (
        "GET",
        "/v1/samples/0193a0e1a1b27c3d8e9f0a1b2c3d4e5f",
        Some("content:read"),
    ),
    (
        "DELETE",
        "/v1/samples/0193a0e1a1b27c3d8e9f0a1b2c3d4e5f",
        Some("content:write"),
    ),
    ("POST", "/v1/generations", Some("generate")),
    (
        "GET",
        "/v1/generations/0193a0e1a1b27c3d8e9f0a1b2c3d4e5f",
        Some("content:read"),
    ),
    (
        "GET",
        "/v1/generations?dietitian_id=dr-smith",
        Some("content:read"),
    ),
    ("GET", "/v1/usage", Some("usage:read")),
];

const SCOPES: [&str; 4] = ["content:read", "content:write", "generate", "usage:read"];

async fn issue(stack: &LocalStack, admin: &str, tenant: &str, body: Value) -> TestResponse {
    stack
        .call(
            "POST",
            &format!("/admin/tenants/{tenant}/keys"),
            admin,
            Some(&body),
            &[],
        )
        .await
}

fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("PUT", _) => Some(json!({"granted": true})),
        ("POST", "/v1/samples") => Some(
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "Drink water, friends."}),
        ),
        ("POST", "/v1/generations") => Some(
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "input": {"client": "Ann"}}),
        ),
        _ => None,
    }
}

#[tokio::test]
async fn every_v1_route_requires_its_scope_and_refuses_without_doing_anything() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    // The template's /v1 routes are exactly the table's.
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    let v1: std::collections::BTreeSet<(String, String)> = routes
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        v1.len(),
        ROUTE_SCOPES.len(),
        "every /v1 route has a row: {v1:?}"
    );

    for scope in SCOPES {
        let issued = issue(
            &stack,
            &admin,
            &boot.tenant_id,
            json!({"name": scope, "scopes": [scope]}),
        )
        .await;
        assert_eq!(issued.status, 201, "{}", issued.body);
        assert_eq!(issued.json()["scopes"], json!([scope]));
        let key = issued.json()["api_key"].as_str().unwrap().to_owned();
        for (method, path, required) in ROUTE_SCOPES {
            let before = stack.state_snapshot();
            let answer = stack
                .call(method, path, &key, body_for(method, path).as_ref(), &[])
                .await;
            let refused = answer.status == 403
                && answer.json()["type"] == "https://nutripro.dev/problems/insufficient-scope";
            match required {
                Some(needed) if *needed != scope => {
                    assert!(
                        refused,
                        "{scope} key on {method} {path}: {} {}",
                        answer.status, answer.body
                    );
                    assert!(answer.json()["detail"].as_str().unwrap().contains(needed));
                    assert_eq!(
                        stack.state_snapshot(),
                        before,
                        "{method} {path} changed nothing"
                    );
                }
                _ => assert!(!refused, "{scope} key may {method} {path}: {}", answer.body),
            }
        }
    }
    // The bootstrap key has every scope; lists show each key's.
    let listed = stack
        .get(
            &format!("/admin/tenants/{}/keys", boot.tenant_id),
            Some(&admin),
        )
        .await
        .json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().any(|k| k["scopes"] == json!(SCOPES)));
}

#[tokio::test]
async fn a_key_with_its_own_limit_is_held_to_it_and_leaves_its_tenant_alone() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let issued = issue(
        &stack,
        &admin,
        &boot.tenant_id,
        json!({"name": "slow", "scopes": ["usage:read"], "requests_per_minute": 3}),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    assert_eq!(issued.json()["requests_per_minute"], 3);
    let slow = issued.json()["api_key"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(stack.get_as("/v1/usage", &slow).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status).collect();
    // A minute boundary may fall between the calls: at least 3 of a window, then 429.
    assert!(
        codes.iter().filter(|c| **c == 429).count() >= 1,
        "{codes:?}"
    );
    let limited = statuses.iter().find(|r| r.status == 429).unwrap();
    assert!(
        limited
            .body
            .contains("This API key may make 3 requests per minute"),
        "{}",
        limited.body
    );
    assert_eq!(limited.header("ratelimit-limit"), Some("3"));
    // The tenant's other key is not held to the slow key's limit.
    for _ in 0..5 {
        assert_eq!(stack.get_as("/v1/usage", &boot.api_key).await.status, 200);
    }
}

#[tokio::test]
async fn scopes_and_limits_are_validated_at_issue() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    for body in [
        json!({"name": "none", "scopes": []}),
        json!({"name": "bad", "scopes": ["admin"]}),
        json!({"name": "zero", "requests_per_minute": 0}),
        json!({"name": "above the tenant", "requests_per_minute": 100000}),
    ] {
        let before = stack.state_snapshot();
        let answer = issue(&stack, &admin, &boot.tenant_id, body.clone()).await;
        answer.assert_problem(422);
        assert_eq!(stack.state_snapshot(), before, "{body}: nothing issued");
    }
}
