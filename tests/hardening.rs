//! Issue 12, found from outside with a black-box suite and schemathesis: each defect
//! fixed at its root and walked over every route it concerns, so a new route cannot
//! miss it.
//!
//! - a body that is not a JSON object (an array matched to fields by position, a
//!   string, a number, null) is 422 and changes nothing, on every body-taking route;
//! - an offboarded tenant is read-only for every role: each change is 409
//!   `tenant-offboarded`, audited as rejected, and changes nothing; reads still work;
//! - two `Authorization` headers never authenticate (401), on either plane;
//! - every answer — a handler's, the gateway's own problems, the OpenAPI document — is
//!   `nosniff` and `no-store`;
//! - a cursor is accepted only by the listing (tenant, filters) that issued it.

use nutripro_shared::domain::admin::{Action, Role};
use nutripro_tests::admin_routes::{fill, fixture_tenant, route_table};
use nutripro_tests::{read_repo_file, LocalStack, TestResponse};
use serde_json::json;
use std::collections::BTreeSet;

/// Template routes whose OpenAPI operation takes a request body.
fn body_taking_routes() -> BTreeSet<(String, String)> {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&read_repo_file("docs/openapi.yaml")).unwrap();
    let routes: BTreeSet<(String, String)> =
        nutripro_local::template::routes(&read_repo_file("template.yaml"))
            .unwrap()
            .into_iter()
            .filter(|r| {
                !spec["paths"][r.path.as_str()][r.method.to_ascii_lowercase().as_str()]
                    ["requestBody"]
                    .is_null()
            })
            .map(|r| (r.method, r.path))
            .collect();
    routes
}

#[tokio::test]
async fn non_object_bodies_are_422_and_change_nothing_on_every_body_taking_route() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let token = stack.admin_token(Role::PlatformAdmin, None);
    let (tenant, key) = fixture_tenant(&stack, "Target").await;
    // Consent and a first use of the key, so the walk meets the body checks (not the
    // consent gate) and the key's sampled last-use write is already done.
    stack
        .call(
            "PUT",
            "/v1/dietitians/dr-x/consent",
            &boot.api_key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    let routes = body_taking_routes();
    assert!(
        routes.len() >= 10,
        "the walk found the body-taking routes: {routes:?}"
    );
    for (method, template_path) in &routes {
        let path = fill(template_path, &tenant, &key).replace("{dietitianId}", "dr-x");
        let credential = if path.starts_with("/v1/") {
            &boot.api_key
        } else {
            &token
        };
        for body in [
            "[]",
            "[7, 5]",
            r#"["N", "standard"]"#,
            "[true]",
            r#""text""#,
            "7",
            "null",
            "true",
        ] {
            let before = stack.state_snapshot();
            let authorization = format!("Bearer {credential}");
            let response = stack
                .request(
                    method,
                    &path,
                    &[
                        ("authorization", authorization.as_str()),
                        ("content-type", "application/json"),
                    ],
                    Some(body),
                )
                .await;
            response.assert_problem(422);
            assert_eq!(
                stack.state_snapshot(),
                before,
                "{method} {path} with {body} changed state"
            );
        }
    }
}

/// The changing admin routes about one tenant, with the body each takes.
fn tenant_changes() -> Vec<(
    &'static str,
    &'static str,
    Action,
    Option<serde_json::Value>,
)> {
    route_table()
        .into_iter()
        .filter(|(method, path, ..)| *method != "GET" && path.contains("{tenantId}"))
        .map(|(method, path, action, _, body)| (method, path, action, body))
        .collect()
}

#[tokio::test]
async fn an_offboarded_tenant_is_read_only_for_every_role() {
    let stack = LocalStack::start().await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let (tenant, key) = fixture_tenant(&stack, "Leaving").await;
    stack
        .call(
            "DELETE",
            &format!("/admin/tenants/{tenant}"),
            &admin,
            None,
            &[],
        )
        .await;
    let changes = tenant_changes();
    assert_eq!(
        changes.len(),
        9,
        "PATCH, DELETE, keys: issue, rotate, revoke, signing key set and removed, certificate bound; settings"
    );
    let mut refused = 0;
    for role in Role::ALL {
        let token = stack.admin_token(
            role,
            (role == Role::TenantManager).then_some(tenant.as_str()),
        );
        for (method, template_path, action, body) in &changes {
            if !action.allows(role) {
                continue;
            }
            let path = fill(template_path, &tenant, &key);
            let before = stack.state_snapshot();
            let audit_before = stack.audit_len().await;
            let response = stack.call(method, &path, &token, body.as_ref(), &[]).await;
            if *action == Action::TenantOffboard {
                // Offboarding again changes nothing: the idempotent 204.
                assert_eq!(response.status, 204, "{role} {method} {path}");
            } else {
                let problem = response.assert_problem(409);
                assert_eq!(
                    problem["type"], "https://nutripro.dev/problems/tenant-offboarded",
                    "{role} {method} {path}"
                );
                refused += 1;
                let entries = stack.audit_entries().await;
                let last = entries.last().unwrap();
                assert_eq!(
                    last.draft.outcome.as_str(),
                    "rejected",
                    "{role} {method} {path}"
                );
                assert_eq!(last.draft.details["problem"], "tenant-offboarded");
            }
            assert_eq!(stack.audit_len().await, audit_before + 1, "audited once");
            assert_eq!(
                stack.state_snapshot(),
                before,
                "{role} {method} {path} changed state"
            );
        }
    }
    assert!(refused >= 8, "{refused}");
    // Its manager may still read what the final bill needs.
    let manager = stack.admin_token(Role::TenantManager, Some(&tenant));
    for path in [
        format!("/admin/tenants/{tenant}"),
        format!("/admin/tenants/{tenant}/usage"),
        format!("/admin/tenants/{tenant}/invoices"),
        format!("/admin/tenants/{tenant}/settings"),
        format!("/admin/tenants/{tenant}/keys"),
        "/admin/audit".to_owned(),
    ] {
        let response = stack.call("GET", &path, &manager, None, &[]).await;
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
}

#[tokio::test]
async fn two_authorization_headers_never_authenticate() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let other = stack.bootstrap("Other").await;
    let token = stack.admin_token(Role::PlatformAdmin, None);
    let (key, admin, junk) = (
        format!("Bearer {}", boot.api_key),
        format!("Bearer {token}"),
        "Bearer junk".to_owned(),
    );
    let other_key = format!("Bearer {}", other.api_key);
    for (path, valid) in [("/v1/me", &key), ("/admin/tenants", &admin)] {
        let alone = stack
            .request("GET", path, &[("authorization", valid.as_str())], None)
            .await;
        assert_eq!(alone.status, 200, "{path} with one header");
        for pair in [
            [valid.as_str(), junk.as_str()],
            [junk.as_str(), valid.as_str()],
            [valid.as_str(), valid.as_str()],
            [valid.as_str(), other_key.as_str()],
        ] {
            let response = stack
                .request(
                    "GET",
                    path,
                    &[("authorization", pair[0]), ("authorization", pair[1])],
                    None,
                )
                .await;
            response.assert_problem(401);
        }
    }
}

fn assert_hardened(response: &TestResponse, what: &str) {
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
}

#[tokio::test]
async fn every_answer_is_nosniff_and_no_store() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let key = format!("Bearer {}", boot.api_key);
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, &str, Headers, Option<String>, u16)> = vec![
        ("GET", "/v1/me", vec![], None, 401),
        (
            "GET",
            "/v1/me",
            vec![("authorization", "Bearer nutripro_x_y")],
            None,
            401,
        ),
        ("GET", "/nowhere", vec![], None, 404),
        ("GET", "/openapi.yaml", vec![], None, 200),
        (
            "GET",
            "/v1/me",
            vec![("authorization", key.as_str())],
            None,
            200,
        ),
        (
            "POST",
            "/v1/samples",
            vec![
                ("authorization", key.as_str()),
                ("content-type", "application/json"),
            ],
            Some("x".repeat(11 * 1024 * 1024)),
            413,
        ),
        ("GET", "/local-idp/.well-known/jwks.json", vec![], None, 200),
        ("GET", "/", vec![], None, 200),
    ];
    for (method, path, headers, body, status) in cases {
        let response = stack.request(method, path, &headers, body.as_deref()).await;
        assert_eq!(response.status, status, "{method} {path}");
        assert_hardened(&response, &format!("{method} {path} ({status})"));
    }
    // A suspended tenant's 403 and a rate-limited 429, written by the gateway and the
    // envelope.
    let token = stack.admin_token(Role::PlatformAdmin, None);
    stack
        .call(
            "PUT",
            &format!("/admin/tenants/{}/settings", boot.tenant_id),
            &token,
            Some(&json!({"requests_per_minute": 1})),
            &[],
        )
        .await;
    // One request a minute, and /v1/me was called above; a minute boundary may fall in
    // between, so the first call of a new window may pass — the next one may not.
    let mut limited = stack.get("/v1/me", Some(&boot.api_key)).await;
    if limited.status == 200 {
        limited = stack.get("/v1/me", Some(&boot.api_key)).await;
    }
    assert_eq!(limited.status, 429);
    assert_hardened(&limited, "429");
    stack
        .call(
            "PATCH",
            &format!("/admin/tenants/{}", boot.tenant_id),
            &token,
            Some(&json!({"status": "suspended"})),
            &[],
        )
        .await;
    let denied = stack.get("/v1/me", Some(&boot.api_key)).await;
    assert_eq!(denied.status, 403);
    assert_hardened(&denied, "403");
}

#[tokio::test]
async fn a_cursor_works_only_for_the_listing_that_issued_it() {
    let stack = LocalStack::start().await;
    let a = stack.bootstrap("A").await;
    let b = stack.bootstrap("B").await;
    for boot in [&a, &b] {
        for dietitian in ["dr-x", "dr-y"] {
            stack
                .call(
                    "PUT",
                    &format!("/v1/dietitians/{dietitian}/consent"),
                    &boot.api_key,
                    Some(&json!({"granted": true})),
                    &[],
                )
                .await;
            for n in 0..3 {
                let sample = json!({"dietitian_id": dietitian, "kind": "diet_introduction", "content": format!("Sample {n}.")});
                let created = stack
                    .call("POST", "/v1/samples", &boot.api_key, Some(&sample), &[])
                    .await;
                assert_eq!(created.status, 201, "{}", created.body);
            }
        }
    }
    let first = stack
        .get_as("/v1/samples?dietitian_id=dr-x&limit=1", &a.api_key)
        .await
        .json();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let next = stack
        .get_as(
            &format!("/v1/samples?dietitian_id=dr-x&limit=1&cursor={cursor}"),
            &a.api_key,
        )
        .await;
    assert_eq!(next.status, 200);
    assert_ne!(next.json()["items"][0]["id"], first["items"][0]["id"]);
    let token = stack.admin_token(Role::PlatformAdmin, None);
    for (path, credential) in [
        // Another tenant, another dietitian, another filter, another listing.
        (
            format!("/v1/samples?dietitian_id=dr-x&cursor={cursor}"),
            &b.api_key,
        ),
        (
            format!("/v1/samples?dietitian_id=dr-y&cursor={cursor}"),
            &a.api_key,
        ),
        (
            format!("/v1/samples?dietitian_id=dr-x&kind=nutrition_tips&cursor={cursor}"),
            &a.api_key,
        ),
        (
            format!("/v1/generations?dietitian_id=dr-x&cursor={cursor}"),
            &a.api_key,
        ),
        (format!("/admin/tenants?cursor={cursor}"), &token),
        (format!("/admin/audit?cursor={cursor}"), &token),
        // Forged: zero bytes, and a plain position.
        (
            "/v1/samples?dietitian_id=dr-x&cursor=AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            &a.api_key,
        ),
        (
            "/admin/tenants?cursor=AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            &token,
        ),
        ("/admin/audit?cursor=5".to_owned(), &token),
    ] {
        let problem = stack.get_as(&path, credential).await.assert_problem(422);
        assert_eq!(
            problem["type"], "https://nutripro.dev/problems/invalid-cursor",
            "{path}"
        );
    }
}
