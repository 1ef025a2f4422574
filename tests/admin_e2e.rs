//! The control plane end to end over the local gateway: a platform-admin onboards a
//! tenant, issues, rotates and revokes keys that the data plane then honours, suspends
//! and offboards; the audit log records all of it with actor, source IP and request id,
//! and its chain check finds tampering (threats T01, T02, T07, T15, S08).

use nutripro_shared::adapters::local_idp::{LocalIdp, LOCAL_CLIENT_ID, LOCAL_ISSUER};
use nutripro_shared::domain::admin::Role;
use nutripro_tests::{LocalStack, TestResponse};
use serde_json::{json, Value};

async fn admin(
    stack: &LocalStack,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    stack.call(method, path, token, body.as_ref(), &[]).await
}

/// Creates a tenant through the admin API; its id.
async fn create_tenant(stack: &LocalStack, token: &str, name: &str) -> String {
    let created = admin(
        stack,
        token,
        "POST",
        "/admin/tenants",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.json()["id"].as_str().unwrap().to_owned()
}

/// Issues a key through the admin API; its one-time secret.
async fn issue_key(stack: &LocalStack, token: &str, tenant: &str, name: &str) -> String {
    let path = format!("/admin/tenants/{tenant}/keys");
    let issued = admin(stack, token, "POST", &path, Some(json!({"name": name}))).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    issued.json()["api_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn onboarding_and_the_key_lifecycle_reach_the_data_plane() {
    let stack = LocalStack::start().await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);

    let created = admin(
        &stack,
        &pa,
        "POST",
        "/admin/tenants",
        Some(json!({"name": "Green Plate", "contact": "ops@greenplate.example", "plan": "pro"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let tenant = created.json();
    let id = tenant["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (tenant["status"].as_str(), tenant["plan"].as_str()),
        (Some("active"), Some("pro"))
    );

    let issued = admin(
        &stack,
        &pa,
        "POST",
        &format!("/admin/tenants/{id}/keys"),
        Some(json!({"name": "production"})),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let first = issued.json()["api_key"].as_str().unwrap().to_owned();
    let key_id = issued.json()["key_id"].as_str().unwrap().to_owned();
    let me = stack.get("/v1/me", Some(&first)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["tenant_id"], id.as_str());

    // Listing never shows a secret (or its hash).
    let listed = admin(
        &stack,
        &pa,
        "GET",
        &format!("/admin/tenants/{id}/keys"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.body.contains(&first[42..]),
        "no secret in a listing"
    );
    assert!(!listed.body.contains("hash"));
    assert_eq!(listed.json()["items"][0]["status"], "active");
    assert!(
        listed.json()["items"][0]["last_used_at"].is_string(),
        "last use recorded"
    );

    // Rotation: same key id, new secret; the old one works during the grace period.
    let rotate = |grace: i64| {
        let (stack, pa, id, key_id) = (&stack, &pa, &id, &key_id);
        async move {
            let r = admin(
                stack,
                pa,
                "POST",
                &format!("/admin/tenants/{id}/keys/{key_id}/rotate"),
                Some(json!({"grace_seconds": grace})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.json()["key_id"], key_id.as_str());
            r.json()["api_key"].as_str().unwrap().to_owned()
        }
    };
    let second = rotate(3600).await;
    assert_ne!(second, first);
    assert_eq!(stack.get("/v1/me", Some(&second)).await.status, 200);
    assert_eq!(
        stack.get("/v1/me", Some(&first)).await.status,
        200,
        "old secret within grace"
    );
    // A rotation without grace ends the previous secret at once; the first is long gone.
    let third = rotate(0).await;
    stack.get("/v1/me", Some(&second)).await.assert_problem(401);
    stack.get("/v1/me", Some(&first)).await.assert_problem(401);
    assert_eq!(stack.get("/v1/me", Some(&third)).await.status, 200);
    // A body-less rotation takes the default 24 h grace.
    let rotated_default = admin(
        &stack,
        &pa,
        "POST",
        &format!("/admin/tenants/{id}/keys/{key_id}/rotate"),
        None,
    )
    .await;
    assert_eq!(rotated_default.status, 200, "{}", rotated_default.body);
    assert!(rotated_default.json()["previous_secret_valid_until"].is_string());
    assert_eq!(stack.get("/v1/me", Some(&third)).await.status, 200);

    // Revocation is immediate locally.
    let revoked = admin(
        &stack,
        &pa,
        "DELETE",
        &format!("/admin/tenants/{id}/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 204);
    stack.get("/v1/me", Some(&third)).await.assert_problem(401);
    let again = admin(
        &stack,
        &pa,
        "POST",
        &format!("/admin/tenants/{id}/keys/{key_id}/rotate"),
        None,
    )
    .await;
    again.assert_problem(409);

    // Suspension → 403 on the data plane; reactivation → back.
    let live = issue_key(&stack, &pa, &id, "second").await;
    let spare = issue_key(&stack, &pa, &id, "third").await;
    let suspend = admin(
        &stack,
        &pa,
        "PATCH",
        &format!("/admin/tenants/{id}"),
        Some(json!({"status": "suspended"})),
    )
    .await;
    assert_eq!(suspend.json()["status"], "suspended");
    stack.get("/v1/me", Some(&live)).await.assert_problem(403);
    admin(
        &stack,
        &pa,
        "PATCH",
        &format!("/admin/tenants/{id}"),
        Some(json!({"status": "active", "contact": null})),
    )
    .await;
    assert_eq!(stack.get("/v1/me", Some(&live)).await.status, 200);
    assert_eq!(
        admin(&stack, &pa, "GET", &format!("/admin/tenants/{id}"), None)
            .await
            .json()["contact"],
        Value::Null
    );

    // Offboarding: every key dead at once, the tenant frozen.
    assert_eq!(
        admin(&stack, &pa, "DELETE", &format!("/admin/tenants/{id}"), None)
            .await
            .status,
        204
    );
    for key in [&live, &spare] {
        stack.get("/v1/me", Some(key)).await.assert_problem(401);
    }
    let keys = admin(
        &stack,
        &pa,
        "GET",
        &format!("/admin/tenants/{id}/keys"),
        None,
    )
    .await
    .json();
    assert!(keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["status"] == "revoked"));
    admin(
        &stack,
        &pa,
        "PATCH",
        &format!("/admin/tenants/{id}"),
        Some(json!({"status": "active"})),
    )
    .await
    .assert_problem(409);
    admin(
        &stack,
        &pa,
        "POST",
        &format!("/admin/tenants/{id}/keys"),
        Some(json!({"name": "x"})),
    )
    .await
    .assert_problem(409);
    assert_eq!(
        admin(&stack, &pa, "DELETE", &format!("/admin/tenants/{id}"), None)
            .await
            .status,
        204,
        "idempotent"
    );
}

#[tokio::test]
async fn bad_input_is_a_problem_and_changes_nothing() {
    let stack = LocalStack::start().await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);
    let id = create_tenant(&stack, &pa, "Acme").await;
    let cases = [
        (
            "POST",
            "/admin/tenants".to_owned(),
            json!({"name": ""}),
            422,
        ),
        (
            "POST",
            "/admin/tenants".to_owned(),
            json!({"name": "A", "plan": "platinum"}),
            422,
        ),
        (
            "POST",
            "/admin/tenants".to_owned(),
            json!({"name": "A", "admin": true}),
            422,
        ),
        (
            "PATCH",
            format!("/admin/tenants/{id}"),
            json!({"status": "offboarded"}),
            422,
        ),
        (
            "PATCH",
            format!("/admin/tenants/{id}"),
            json!({"plan": "free"}),
            422,
        ),
        (
            "POST",
            format!("/admin/tenants/{id}/keys"),
            json!({"name": "k", "expires_at": "yesterday"}),
            422,
        ),
        (
            "POST",
            format!("/admin/tenants/{id}/keys"),
            json!({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
            422,
        ),
        (
            "PUT",
            format!("/admin/tenants/{id}/settings"),
            json!({"allowed_kinds": ["poems"]}),
            422,
        ),
        (
            "PUT",
            format!("/admin/tenants/{id}/settings"),
            json!({"max_tokens_cap": 0}),
            422,
        ),
        (
            "PUT",
            "/admin/settings".to_owned(),
            json!({"generation_enabled": "yes", "max_tokens_cap": 10}),
            422,
        ),
        (
            "GET",
            "/admin/tenants/not-an-id".to_owned(),
            Value::Null,
            404,
        ),
        (
            "GET",
            "/admin/tenants/0193a0e1a1b27c3d8e9f0a1b2c3d4e5f".to_owned(),
            Value::Null,
            404,
        ),
        (
            "GET",
            "/admin/audit?from=last-week".to_owned(),
            Value::Null,
            422,
        ),
        ("GET", "/admin/tenants?limit=0".to_owned(), Value::Null, 422),
    ];
    for (method, path, body, status) in cases {
        let body = (!body.is_null()).then_some(body);
        let response = admin(&stack, &pa, method, &path, body).await;
        response.assert_problem(status);
    }
    let tenant = admin(&stack, &pa, "GET", &format!("/admin/tenants/{id}"), None)
        .await
        .json();
    assert_eq!(
        (
            tenant["name"].as_str(),
            tenant["plan"].as_str(),
            tenant["status"].as_str()
        ),
        (Some("Acme"), Some("standard"), Some("active"))
    );
    let listed = admin(&stack, &pa, "GET", "/admin/tenants", None)
        .await
        .json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "no tenant was created by bad input"
    );
    let text = stack
        .request(
            "POST",
            "/admin/tenants",
            &[
                ("authorization", &format!("Bearer {pa}")),
                ("content-type", "text/plain"),
            ],
            Some("name=x"),
        )
        .await;
    text.assert_problem(415);
}

#[tokio::test]
async fn tenant_managers_stay_within_their_tenant_and_plan() {
    let stack = LocalStack::start().await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);
    let mine = create_tenant(&stack, &pa, "Mine").await;
    let theirs = create_tenant(&stack, &pa, "Theirs").await;
    let tm = stack.admin_token(Role::TenantManager, Some(&mine));
    // Within the standard plan (60 rpm): fine; beyond: refused, nothing stored.
    let ok = admin(
        &stack,
        &tm,
        "PUT",
        &format!("/admin/tenants/{mine}/settings"),
        Some(json!({"requests_per_minute": 30, "allowed_kinds": ["nutrition_tips"]})),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["plan_limits"]["requests_per_minute"], 60);
    let too_much = admin(
        &stack,
        &tm,
        "PUT",
        &format!("/admin/tenants/{mine}/settings"),
        Some(json!({"requests_per_minute": 10000})),
    )
    .await;
    assert_eq!(
        too_much.assert_problem(403)["type"],
        "https://nutripro.dev/problems/plan-limit-exceeded"
    );
    let stored = admin(
        &stack,
        &tm,
        "GET",
        &format!("/admin/tenants/{mine}/settings"),
        None,
    )
    .await
    .json();
    assert_eq!(stored["settings"]["requests_per_minute"], 30);
    // A platform-admin may go beyond the plan.
    let raised = admin(
        &stack,
        &pa,
        "PUT",
        &format!("/admin/tenants/{mine}/settings"),
        Some(json!({"requests_per_minute": 10000})),
    )
    .await;
    assert_eq!(raised.status, 200);
    // Another tenant does not exist for this manager, whatever the route.
    for path in [
        format!("/admin/tenants/{theirs}"),
        format!("/admin/tenants/{theirs}/keys"),
        format!("/admin/tenants/{theirs}/settings"),
        format!("/admin/audit?tenant_id={theirs}"),
    ] {
        admin(&stack, &tm, "GET", &path, None)
            .await
            .assert_problem(404);
    }
    // Its audit view is its own tenant's entries only.
    let audit = admin(&stack, &tm, "GET", "/admin/audit", None).await.json();
    let entries = audit["items"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["tenant_id"] == mine.as_str()),
        "{audit}"
    );
}

#[tokio::test]
async fn audit_records_who_did_what_from_where_and_detects_tampering() {
    let stack = LocalStack::start().await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);
    let created = admin(
        &stack,
        &pa,
        "POST",
        "/admin/tenants",
        Some(json!({"name": "Audited"})),
    )
    .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let om = stack.admin_token(Role::OnboardingManager, None);
    admin(&stack, &om, "DELETE", &format!("/admin/tenants/{id}"), None)
        .await
        .assert_problem(403);
    admin(
        &stack,
        &pa,
        "PATCH",
        &format!("/admin/tenants/{id}"),
        Some(json!({"name": "Audited Ltd"})),
    )
    .await;

    let page = admin(&stack, &pa, "GET", "/admin/audit", None).await.json();
    let items = page["items"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("tenant.update", "success", "local-platform-admin"),
            ("tenant.offboard", "denied", "local-onboarding-manager"),
            ("tenant.create", "success", "local-platform-admin"),
        ],
        "newest first"
    );
    let create = &items[2];
    assert_eq!(
        create["request_id"],
        created.header("x-request-id").unwrap()
    );
    assert_eq!(create["source_ip"], "127.0.0.1");
    assert_eq!(create["tenant_id"], id.as_str());
    assert_eq!(create["roles"], "platform-admin");
    assert_eq!(items[0]["details"]["before"]["name"], "Audited");
    assert_eq!(items[0]["details"]["after"]["name"], "Audited Ltd");
    // Filters and paging.
    let by_action = admin(
        &stack,
        &pa,
        "GET",
        "/admin/audit?action=tenant.create",
        None,
    )
    .await
    .json();
    assert_eq!(by_action["items"].as_array().unwrap().len(), 1);
    let by_actor = admin(
        &stack,
        &pa,
        "GET",
        "/admin/audit?actor=local-onboarding-manager",
        None,
    )
    .await
    .json();
    assert_eq!(by_actor["items"][0]["action"], "tenant.offboard");
    let first_page = admin(&stack, &pa, "GET", "/admin/audit?limit=2", None)
        .await
        .json();
    let cursor = first_page["next_cursor"].as_str().expect("more entries");
    let second_page = admin(
        &stack,
        &pa,
        "GET",
        &format!("/admin/audit?limit=2&cursor={cursor}"),
        None,
    )
    .await
    .json();
    assert_eq!(second_page["items"][0]["action"], "tenant.create");
    assert_eq!(second_page["next_cursor"], Value::Null);
    let future = admin(
        &stack,
        &pa,
        "GET",
        "/admin/audit?from=2999-01-01T00:00:00Z",
        None,
    )
    .await
    .json();
    assert!(future["items"].as_array().unwrap().is_empty());

    let verify = admin(&stack, &pa, "GET", "/admin/audit/verify", None)
        .await
        .json();
    assert_eq!(
        (
            verify["ok"].as_bool(),
            verify["checked"].as_u64(),
            verify["head_seq"].as_u64()
        ),
        (Some(true), Some(3), Some(3))
    );

    // Someone with database access rewrites who did it: verify names that entry.
    let conn = rusqlite::Connection::open(stack.data_dir.path().join("nutripro.sqlite3")).unwrap();
    conn.execute(
        "UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2",
        [],
    )
    .unwrap();
    let verify = admin(&stack, &pa, "GET", "/admin/audit/verify", None)
        .await
        .json();
    assert_eq!(verify["ok"], false);
    assert_eq!(
        verify["first_broken"],
        json!({"seq": 2, "reason": "hash_mismatch"})
    );
    // …or deletes the evidence.
    conn.execute("DELETE FROM audit_log WHERE seq = 1", [])
        .unwrap();
    let verify = admin(&stack, &pa, "GET", "/admin/audit/verify", None)
        .await
        .json();
    assert_eq!(
        verify["first_broken"],
        json!({"seq": 1, "reason": "missing"})
    );
}

/// T02 over HTTP: tokens the gateway's authorizer must refuse.
#[tokio::test]
async fn forged_and_expired_tokens_get_401_at_the_gateway() {
    let stack = LocalStack::start().await;
    let genuine = LocalIdp::load_or_create(stack.data_dir.path()).unwrap();
    let impostor = LocalIdp::generate().unwrap();
    let now = nutripro_shared::domain::Timestamp::now().as_millis() / 1000;
    let claims = |exp: i64, iss: &str| json!({"sub": "x", "iss": iss, "client_id": LOCAL_CLIENT_ID, "token_use": "access", "iat": now, "exp": exp, "cognito:groups": ["platform-admin"]});
    let header = json!({"alg": "RS256", "kid": genuine.kid()});
    let tokens = [
        impostor
            .sign(&header, &claims(now + 600, LOCAL_ISSUER))
            .unwrap(),
        genuine
            .sign(&header, &claims(now - 1, LOCAL_ISSUER))
            .unwrap(),
        genuine
            .sign(&header, &claims(now + 600, "https://evil.example"))
            .unwrap(),
    ];
    for token in tokens {
        admin(&stack, &token, "GET", "/admin/tenants", None)
            .await
            .assert_problem(401);
    }
    let valid = genuine
        .sign(&header, &claims(now + 600, LOCAL_ISSUER))
        .unwrap();
    assert_eq!(
        admin(&stack, &valid, "GET", "/admin/tenants", None)
            .await
            .status,
        200
    );
    // The JWKS the authorizer fetched is what the gateway publishes.
    let jwks = stack.get("/local-idp/.well-known/jwks.json", None).await;
    assert_eq!(jwks.json()["keys"][0]["kid"], genuine.kid());
}

/// T14: the system kill switch stops every generation before the model is called, and a
/// tenant's settings bound what it may generate; changes apply at once locally.
#[tokio::test]
async fn settings_govern_generation_and_the_kill_switch_stops_it() {
    use nutripro_tests::FakeOpenAi;
    let fake = FakeOpenAi::start(200, std::time::Duration::ZERO).await;
    let stack =
        LocalStack::start_with(fake.llm("sk-test", std::time::Duration::from_secs(5))).await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);
    let boot = stack.bootstrap("Generating").await;
    let consent = stack
        .call(
            "PUT",
            "/v1/dietitians/dr-a/consent",
            &boot.api_key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    assert_eq!(consent.status, 200);
    let generate = |kind: &'static str, max_tokens: Option<u32>| {
        let (stack, key) = (&stack, &boot.api_key);
        async move {
            let mut body =
                json!({"dietitian_id": "dr-a", "kind": kind, "input": {"goal": "energy"}});
            if let Some(max) = max_tokens {
                body["max_tokens"] = json!(max);
            }
            stack
                .call("POST", "/v1/generations", key, Some(&body), &[])
                .await
        }
    };
    assert_eq!(generate("nutrition_tips", None).await.status, 201);
    assert_eq!(fake.request_count(), 1);

    let off = admin(
        &stack,
        &pa,
        "PUT",
        "/admin/settings",
        Some(json!({"generation_enabled": false, "max_tokens_cap": 2000})),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let refused = generate("nutrition_tips", None).await;
    assert_eq!(
        refused.assert_problem(503)["type"],
        "https://nutripro.dev/problems/generation-disabled"
    );
    assert_eq!(fake.request_count(), 1, "the model was not called");
    admin(
        &stack,
        &pa,
        "PUT",
        "/admin/settings",
        Some(json!({"generation_enabled": true, "max_tokens_cap": 2000})),
    )
    .await;

    let tenant_settings = json!({"allowed_kinds": ["nutrition_tips"], "max_tokens_cap": 100});
    let put = admin(
        &stack,
        &pa,
        "PUT",
        &format!("/admin/tenants/{}/settings", boot.tenant_id),
        Some(tenant_settings),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let other_kind = generate("meal_plan_summary", None).await;
    assert_eq!(
        other_kind.assert_problem(403)["type"],
        "https://nutripro.dev/problems/kind-not-allowed"
    );
    generate("nutrition_tips", Some(101))
        .await
        .assert_problem(422);
    assert_eq!(generate("nutrition_tips", Some(100)).await.status, 201);
    assert_eq!(fake.request_count(), 2);
}

/// T01: using a rotated-out secret is an anomaly the tenant's manager sees in its audit
/// log (one entry, however many attempts), with where the attempt came from.
#[tokio::test]
async fn a_leaked_old_secret_shows_up_in_the_audit_log() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Leaky").await;
    let pa = stack.admin_token(Role::PlatformAdmin, None);
    let rotate = format!(
        "/admin/tenants/{}/keys/{}/rotate",
        boot.tenant_id, boot.key_id
    );
    let rotated = admin(
        &stack,
        &pa,
        "POST",
        &rotate,
        Some(json!({"grace_seconds": 0})),
    )
    .await;
    assert_eq!(rotated.status, 200);
    for _ in 0..3 {
        stack
            .get("/v1/me", Some(&boot.api_key))
            .await
            .assert_problem(401);
    }
    let tm = stack.admin_token(Role::TenantManager, Some(&boot.tenant_id));
    let audit = admin(&stack, &tm, "GET", "/admin/audit?action=key.anomaly", None)
        .await
        .json();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!(items[0]["details"]["reason"], "rotated_out");
    assert_eq!(items[0]["actor"], format!("key:{}", boot.key_id));
    assert_eq!(items[0]["source_ip"], "127.0.0.1");
    let verify = admin(&stack, &pa, "GET", "/admin/audit/verify", None)
        .await
        .json();
    assert_eq!(verify["ok"], true);
}
