use super::*;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::api_key::Scope;
use nutripro_shared::domain::{ApiKey, ApiKeyToken, PlanId, Tenant, TenantName, Timestamp};
use nutripro_shared::ports::{ApiKeyStore, ManualClock, TenantStore};

const START: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/v1/me";

struct Fixture {
    authorizer: ApiKeyAuthorizer,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    tenant: Tenant,
    key: ApiKey,
    token: ApiKeyToken,
}

async fn fixture() -> Fixture {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let clock = Arc::new(ManualClock::new(START));
    let tenant = Tenant::new(
        TenantName::parse("Acme").unwrap(),
        PlanId::new("pro"),
        START,
    );
    store.create_tenant(&tenant).await.unwrap();
    let (key, token) = ApiKey::issue(
        tenant.id.clone(),
        "default",
        START,
        Some(START.plus_seconds(86_400)),
    )
    .unwrap();
    store.create_key(&key).await.unwrap();
    let authorizer = ApiKeyAuthorizer::new(store.clone(), clock.clone(), 300);
    Fixture {
        authorizer,
        store,
        clock,
        tenant,
        key,
        token,
    }
}

fn bearer(token: &ApiKeyToken) -> String {
    format!("Bearer {}", token.expose())
}

fn event(authorization: Option<&str>) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    event.method_arn = Some(METHOD_ARN.to_owned());
    if let Some(value) = authorization {
        event
            .headers
            .insert(http::header::AUTHORIZATION, value.parse().unwrap());
    }
    event
}

async fn assert_unauthorized(f: &Fixture, authorization: Option<&str>) {
    let error = f
        .authorizer
        .authorize(event(authorization))
        .await
        .expect_err("must be rejected");
    assert_eq!(
        error.to_string(),
        UNAUTHORIZED,
        "API Gateway maps exactly this message to 401"
    );
}

#[tokio::test]
async fn valid_key_is_allowed_with_tenant_context_for_the_whole_stage() {
    let f = fixture().await;
    let response = f
        .authorizer
        .authorize(event(Some(&bearer(&f.token))))
        .await
        .unwrap();
    let statement = &response.policy_document.statement[0];
    assert_eq!(statement.effect, IamPolicyEffect::Allow);
    assert_eq!(
        statement.resource,
        vec!["arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/*"]
    );
    assert_eq!(statement.action, vec!["execute-api:Invoke"]);
    assert_eq!(
        response.context,
        serde_json::json!({"tenant_id": f.tenant.id.as_str(), "key_id": f.key.key_id.as_str(), "plan": "pro",
            "scopes": "content:read content:write generate usage:read"})
    );
    assert_eq!(
        response.principal_id.as_deref(),
        Some(f.key.key_id.as_str())
    );
}

/// Issue 18: a narrowed key's scopes and its own limit travel in the context.
#[tokio::test]
async fn a_scoped_key_passes_its_scopes_and_limit() {
    let f = fixture().await;
    let (key, token) = ApiKey::issue(f.tenant.id.clone(), "reader", START, None).unwrap();
    let key = key
        .with_scopes(&[Scope::UsageRead])
        .unwrap()
        .with_rate_limit(7)
        .unwrap();
    f.store.create_key(&key).await.unwrap();
    let response = f
        .authorizer
        .authorize(event(Some(&bearer(&token))))
        .await
        .unwrap();
    assert_eq!(response.context["scopes"], "usage:read");
    assert_eq!(response.context["key_rpm"], "7");
}

/// Issue 18, mutual TLS: a key bound to a client certificate is refused without exactly
/// that certificate, and the binding travels in the context for the handler's check.
#[tokio::test]
async fn a_key_bound_to_a_certificate_needs_that_certificate() {
    let f = fixture().await;
    let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
    let other = "-----BEGIN CERTIFICATE-----\nBQQDAgEA\n-----END CERTIFICATE-----\n";
    let fingerprint = nutripro_shared::domain::api_key::certificate_fingerprint(pem).unwrap();
    let (key, token) = ApiKey::issue(f.tenant.id.clone(), "bound", START, None).unwrap();
    let key = key.with_client_certificate(&fingerprint).unwrap();
    f.store.create_key(&key).await.unwrap();
    let header = bearer(&token);
    assert_eq!(
        f.authorizer.decide(Some(&header), None).await,
        Decision::Unauthorized("client_certificate_mismatch")
    );
    assert_eq!(
        f.authorizer.decide(Some(&header), Some(other)).await,
        Decision::Unauthorized("client_certificate_mismatch")
    );
    let Decision::Allow(context) = f.authorizer.decide(Some(&header), Some(pem)).await else {
        panic!("its own certificate is accepted")
    };
    assert_eq!(
        context.client_cert_sha256.as_deref(),
        Some(fingerprint.as_str())
    );
}

#[tokio::test]
async fn scheme_is_case_insensitive() {
    let f = fixture().await;
    let header = format!("bearer {}", f.token.expose());
    assert!(matches!(
        f.authorizer.decide(Some(&header), None).await,
        Decision::Allow(_)
    ));
}

#[tokio::test]
async fn missing_malformed_unknown_and_wrong_keys_are_unauthorized() {
    let f = fixture().await;
    let (_, unknown) = ApiKey::issue(f.tenant.id.clone(), "never stored", START, None).unwrap();
    let text = f.token.expose();
    let wrong_secret = format!("Bearer {}{}", &text[..42], &unknown.expose()[42..]);
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Basic dXNlcjpwYXNz"),
        Some(text),
        Some(&format!("Bearer  {text}")),
        Some(&format!("Bearer {}", &text[..text.len() - 1])),
        Some(&bearer(&unknown)),
        Some(&wrong_secret),
    ] {
        assert_unauthorized(&f, header).await;
    }
}

#[tokio::test]
async fn expired_key_is_unauthorized() {
    let f = fixture().await;
    f.clock.advance_seconds(86_400);
    assert_eq!(
        f.authorizer.decide(Some(&bearer(&f.token)), None).await,
        Decision::Unauthorized("expired")
    );
    assert_unauthorized(&f, Some(&bearer(&f.token))).await;
}

#[tokio::test]
async fn revoked_key_is_unauthorized_immediately() {
    let f = fixture().await;
    f.store.revoke_key(&f.key.key_id, START).await.unwrap();
    assert_eq!(
        f.authorizer.decide(Some(&bearer(&f.token)), None).await,
        Decision::Unauthorized("revoked")
    );
}

#[tokio::test]
async fn rotated_out_secret_is_unauthorized_after_the_grace_period() {
    let f = fixture().await;
    let mut rotated = f.key.clone();
    let new_token = rotated.rotate(START, 600);
    f.store.save_rotation(&rotated, &f.key.hash).await.unwrap();
    assert!(
        matches!(
            f.authorizer.decide(Some(&bearer(&f.token)), None).await,
            Decision::Allow(_)
        ),
        "in grace"
    );
    assert!(matches!(
        f.authorizer.decide(Some(&bearer(&new_token)), None).await,
        Decision::Allow(_)
    ));
    f.clock.advance_seconds(600);
    assert_eq!(
        f.authorizer.decide(Some(&bearer(&f.token)), None).await,
        Decision::Unauthorized("rotated_out")
    );
    assert!(matches!(
        f.authorizer.decide(Some(&bearer(&new_token)), None).await,
        Decision::Allow(_)
    ));
}

#[tokio::test]
async fn suspended_tenant_gets_a_deny_policy() {
    let f = fixture().await;
    f.store
        .set_tenant_status(&f.tenant.id, TenantStatus::Suspended)
        .await
        .unwrap();
    let response = f
        .authorizer
        .authorize(event(Some(&bearer(&f.token))))
        .await
        .unwrap();
    assert_eq!(
        response.policy_document.statement[0].effect,
        IamPolicyEffect::Deny
    );
}

#[tokio::test]
async fn offboarded_tenant_is_unauthorized() {
    let f = fixture().await;
    f.store
        .set_tenant_status(&f.tenant.id, TenantStatus::Offboarded)
        .await
        .unwrap();
    assert_unauthorized(&f, Some(&bearer(&f.token))).await;
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_per_interval() {
    let f = fixture().await;
    let last_used = || async {
        f.store
            .get_key(&f.key.key_id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    f.authorizer.decide(Some(&bearer(&f.token)), None).await;
    assert_eq!(last_used().await, Some(START));
    f.clock.advance_seconds(299);
    f.authorizer.decide(Some(&bearer(&f.token)), None).await;
    assert_eq!(
        last_used().await,
        Some(START),
        "sampled: no write within the interval"
    );
    f.clock.advance_seconds(2);
    f.authorizer.decide(Some(&bearer(&f.token)), None).await;
    assert_eq!(last_used().await, Some(START.plus_seconds(301)));
}

#[tokio::test]
async fn rejected_keys_do_not_record_use() {
    let f = fixture().await;
    f.store.revoke_key(&f.key.key_id, START).await.unwrap();
    f.authorizer.decide(Some(&bearer(&f.token)), None).await;
    assert_eq!(
        f.store
            .get_key(&f.key.key_id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        None
    );
}

#[test]
fn stage_wildcard_covers_the_stage_only() {
    assert_eq!(
        stage_wildcard(METHOD_ARN).as_deref(),
        Some("arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/*")
    );
    assert_eq!(stage_wildcard("arn:aws:execute-api:r:1:api/"), None);
    assert_eq!(stage_wildcard("not-an-arn/v1/GET/x"), None);
    assert_eq!(stage_wildcard(""), None);
}

#[tokio::test]
async fn missing_method_arn_fails_closed() {
    let f = fixture().await;
    let mut event = event(Some(&bearer(&f.token)));
    event.method_arn = None;
    assert_eq!(
        f.authorizer.authorize(event).await.unwrap_err().to_string(),
        UNAUTHORIZED
    );
}

/// The committed sample event (`events/api_key_authorizer.json`, usable with
/// `cargo lambda invoke`) parses and runs through the same entry point. Its key is
/// well-formed but unknown, so the answer is the 401 error.
#[tokio::test]
async fn sample_event_replays_through_the_authorizer() {
    let f = fixture().await;
    let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_str(include_str!("../../../events/api_key_authorizer.json")).unwrap();
    assert!(event.headers.contains_key("authorization"));
    assert_eq!(
        f.authorizer
            .authorize(event.clone())
            .await
            .unwrap_err()
            .to_string(),
        UNAUTHORIZED
    );

    let mut with_real_key = event;
    with_real_key.headers.insert(
        http::header::AUTHORIZATION,
        bearer(&f.token).parse().unwrap(),
    );
    let response = f.authorizer.authorize(with_real_key).await.unwrap();
    assert_eq!(
        response.policy_document.statement[0].effect,
        IamPolicyEffect::Allow
    );
}

/// Threat T01: a real key id with a wrong, revoked or rotated-out secret raises one
/// `key.anomaly` audit entry per key per interval; stale clients (expired keys) and
/// unknown ids do not.
#[tokio::test]
async fn key_anomalies_raise_one_audit_entry_per_interval() {
    use nutripro_shared::ports::AuditStore;
    let f = fixture().await;
    let authorizer =
        ApiKeyAuthorizer::new(f.store.clone(), f.clock.clone(), 300).with_audit(f.store.clone());
    let wrong = format!("Bearer {}{}", &f.token.expose()[..42], "A".repeat(43));
    let mut attempt = event(Some(&wrong));
    attempt.request_context.request_id = Some("req-anomaly".into());
    let mut identity =
        aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequestIdentity::default();
    identity.source_ip = Some("198.51.100.9".into());
    attempt.request_context.identity = Some(identity);
    for _ in 0..5 {
        let error = authorizer.authorize(attempt.clone()).await.unwrap_err();
        assert_eq!(error.to_string(), UNAUTHORIZED);
    }
    let entries = f.store.audit_before(u64::MAX, 10).await.unwrap();
    assert_eq!(entries.len(), 1, "a flood of attempts is one entry");
    let entry = &entries[0].draft;
    assert_eq!(entry.action, "key.anomaly");
    assert_eq!(entry.actor.subject, format!("key:{}", f.key.key_id));
    assert_eq!(entry.tenant_id.as_deref(), Some(f.tenant.id.as_str()));
    assert_eq!(
        (entry.request_id.as_str(), entry.source_ip.as_str()),
        ("req-anomaly", "198.51.100.9")
    );
    assert_eq!(entry.details["reason"], "wrong_secret");
    assert!(
        !format!("{entries:?}").contains(&wrong[49..]),
        "no secret in the audit"
    );

    f.clock.advance_seconds(ANOMALY_INTERVAL_SECONDS + 1);
    f.store
        .revoke_key(&f.key.key_id, f.clock.now())
        .await
        .unwrap();
    authorizer
        .authorize(event(Some(&bearer(&f.token))))
        .await
        .unwrap_err();
    let entries = f.store.audit_before(u64::MAX, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].draft.details["reason"], "revoked");

    // Not anomalies: an unknown key id, an expired key.
    f.clock.advance_seconds(ANOMALY_INTERVAL_SECONDS + 1);
    let unknown = format!("Bearer nutripro_{}_{}", "a".repeat(32), "A".repeat(43));
    authorizer
        .authorize(event(Some(&unknown)))
        .await
        .unwrap_err();
    let (mut expiring, token) =
        ApiKey::issue(f.tenant.id.clone(), "short", f.clock.now(), None).unwrap();
    expiring.expires_at = Some(f.clock.now().plus_seconds(1));
    f.store.create_key(&expiring).await.unwrap();
    f.clock.advance_seconds(2);
    authorizer
        .authorize(event(Some(&bearer(&token))))
        .await
        .unwrap_err();
    assert_eq!(f.store.audit_before(u64::MAX, 10).await.unwrap().len(), 2);
}

/// Issue 12: two `Authorization` headers never authenticate, whichever of them is valid
/// and whichever map of the event (API Gateway fills both) carries them.
#[tokio::test]
async fn a_repeated_authorization_header_is_unauthorized() {
    let f = fixture().await;
    let valid = bearer(&f.token);
    for (first, second) in [
        (valid.as_str(), "Bearer nutripro_x_y"),
        ("Bearer nutripro_x_y", valid.as_str()),
        (valid.as_str(), valid.as_str()),
    ] {
        // Local gateway and lambda_http style: both values in `headers`.
        let mut both_in_headers = event(Some(first));
        both_in_headers
            .headers
            .append(http::header::AUTHORIZATION, second.parse().unwrap());
        // API Gateway style: the last value in `headers`, all of them in
        // `multiValueHeaders`.
        let mut multi_value = event(Some(second));
        for value in [first, second] {
            multi_value
                .multi_value_headers
                .append(http::header::AUTHORIZATION, value.parse().unwrap());
        }
        for event in [both_in_headers, multi_value] {
            let error = f.authorizer.authorize(event).await.unwrap_err();
            assert_eq!(error.to_string(), UNAUTHORIZED);
        }
    }
    // One header, also listed in multiValueHeaders, is fine.
    let mut single = event(Some(&valid));
    single
        .multi_value_headers
        .append(http::header::AUTHORIZATION, valid.parse().unwrap());
    assert!(f.authorizer.authorize(single).await.is_ok());
}
