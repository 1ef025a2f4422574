//! Threat T02: the admin token verifier against a JWKS served on loopback by the local
//! identity provider's key. Every way of forging or misusing a token is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use nutripro_shared::adapters::jwt::{IdpConfig, Rejection, TokenUse, TokenVerifier, VerifyError};
use nutripro_shared::adapters::local_idp::{LocalIdp, TokenRequest, LOCAL_CLIENT_ID, LOCAL_ISSUER};
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::{TenantId, Timestamp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A JWKS endpoint on 127.0.0.1 whose document can be swapped (key rotation) and
/// whose fetches are counted.
struct JwksServer {
    url: String,
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(document: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let document = Arc::new(Mutex::new(document));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (doc, count) = (doc.clone(), count.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request| {
                        count.fetch_add(1, Ordering::SeqCst);
                        let body = doc.lock().unwrap().clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(body),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            document,
            fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

struct Fixture {
    idp: LocalIdp,
    server: JwksServer,
    verifier: TokenVerifier,
    now: Timestamp,
}

async fn fixture() -> Fixture {
    let idp = LocalIdp::generate().unwrap();
    let server = JwksServer::start(idp.jwks_json()).await;
    let verifier = TokenVerifier::new(IdpConfig {
        issuer: LOCAL_ISSUER.into(),
        client_id: LOCAL_CLIENT_ID.into(),
        token_use: TokenUse::Access,
        jwks_url: server.url.clone(),
    });
    Fixture {
        idp,
        server,
        verifier,
        now: Timestamp::now(),
    }
}

impl Fixture {
    fn claims(&self) -> Value {
        let now = self.now.as_millis() / 1000;
        json!({
            "sub": "user-1", "iss": LOCAL_ISSUER, "client_id": LOCAL_CLIENT_ID,
            "token_use": "access", "iat": now, "exp": now + 600, "username": "alice",
            "cognito:groups": ["platform-admin"],
        })
    }

    fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.idp.kid(), "typ": "JWT"})
    }

    fn signed(&self, claims: &Value) -> String {
        self.idp.sign(&self.header(), claims).unwrap()
    }

    async fn rejection(&self, token: &str) -> Rejection {
        match self.verifier.verify(token, self.now).await {
            Err(VerifyError::Rejected(rejection)) => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn with(&self, field: &str, value: Value) -> String {
        let mut claims = self.claims();
        claims[field] = value;
        self.signed(&claims)
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_valid_access_token_yields_its_principal() {
    let f = fixture().await;
    let token = f
        .idp
        .access_token(
            &TokenRequest::for_role(Role::TenantManager, Some(TenantId::new("t1")), 300),
            f.now,
        )
        .unwrap();
    let principal = f.verifier.verify(&token, f.now).await.unwrap();
    assert_eq!(principal.roles, vec![Role::TenantManager]);
    assert_eq!(principal.tenant, Some(TenantId::new("t1")));
    assert_eq!(principal.subject, "local-tenant-manager");
    // The JWKS was fetched once and is cached for the next token.
    f.verifier.verify(&token, f.now).await.unwrap();
    assert_eq!(f.server.fetches(), 1);
}

#[tokio::test]
async fn forged_signature_is_rejected() {
    let f = fixture().await;
    let impostor = LocalIdp::generate().unwrap();
    // Another key, claiming the genuine key's kid.
    let token = impostor.sign(&f.header(), &f.claims()).unwrap();
    assert_eq!(f.rejection(&token).await, Rejection::Invalid);
    // A genuine token with its claims edited after signing.
    let genuine = f.signed(&f.claims());
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut edited = f.claims();
    edited["cognito:groups"] = json!(["platform-admin", "tenant-manager"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&edited), parts[2]);
    assert_eq!(f.rejection(&tampered).await, Rejection::Invalid);
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_rejected() {
    let f = fixture().await;
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": f.idp.kid()})),
        b64(&f.claims())
    );
    assert!(matches!(
        f.rejection(&none).await,
        Rejection::Malformed | Rejection::Algorithm
    ));
    // Algorithm confusion: HMAC keyed with the (public) RSA key.
    let header = json!({"alg": "HS256", "kid": f.idp.kid(), "typ": "JWT"});
    let input = format!("{}.{}", b64(&header), b64(&f.claims()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &f.idp.public_key_der());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let confused = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert_eq!(f.rejection(&confused).await, Rejection::Algorithm);
    assert_eq!(f.rejection("not.a.jwt").await, Rejection::Malformed);
    assert_eq!(f.rejection("").await, Rejection::Malformed);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected() {
    let f = fixture().await;
    let now = f.now.as_millis() / 1000;
    assert_eq!(
        f.rejection(&f.with("exp", json!(now))).await,
        Rejection::Expired
    );
    assert_eq!(
        f.rejection(&f.with("exp", json!(now - 3600))).await,
        Rejection::Expired
    );
    assert_eq!(
        f.rejection(&f.with("nbf", json!(now + 600))).await,
        Rejection::NotYetValid
    );
    assert_eq!(
        f.rejection(&f.with("iat", json!(now + 600))).await,
        Rejection::NotYetValid
    );
    let mut no_exp = f.claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(f.rejection(&f.signed(&no_exp)).await, Rejection::Invalid);
}

#[tokio::test]
async fn wrong_issuer_client_and_token_use_are_rejected() {
    let f = fixture().await;
    assert_eq!(
        f.rejection(&f.with(
            "iss",
            json!("https://cognito-idp.eu-west-1.amazonaws.com/other")
        ))
        .await,
        Rejection::Issuer
    );
    assert_eq!(
        f.rejection(&f.with("client_id", json!("someone-elses-app")))
            .await,
        Rejection::Client
    );
    // An id token (aud instead of client_id) where an access token is required.
    let mut id_token = f.claims();
    id_token["token_use"] = json!("id");
    id_token["aud"] = json!(LOCAL_CLIENT_ID);
    id_token.as_object_mut().unwrap().remove("client_id");
    assert_eq!(f.rejection(&f.signed(&id_token)).await, Rejection::TokenUse);
    let mut no_use = f.claims();
    no_use.as_object_mut().unwrap().remove("token_use");
    assert_eq!(f.rejection(&f.signed(&no_use)).await, Rejection::TokenUse);
}

#[tokio::test]
async fn id_tokens_are_checked_by_audience_when_configured() {
    let f = fixture().await;
    let verifier = TokenVerifier::new(IdpConfig {
        token_use: TokenUse::Id,
        ..f.verifier.config().clone()
    });
    let mut id_token = f.claims();
    id_token["token_use"] = json!("id");
    id_token["aud"] = json!(LOCAL_CLIENT_ID);
    assert!(verifier.verify(&f.signed(&id_token), f.now).await.is_ok());
    id_token["aud"] = json!("another-client");
    assert!(matches!(
        verifier.verify(&f.signed(&id_token), f.now).await,
        Err(VerifyError::Rejected(Rejection::Client))
    ));
}

#[tokio::test]
async fn a_rotated_pool_key_is_found_by_refetching_the_jwks() {
    let f = fixture().await;
    let verifier = TokenVerifier::new(f.verifier.config().clone())
        .with_min_refresh_interval(std::time::Duration::ZERO);
    verifier
        .verify(&f.signed(&f.claims()), f.now)
        .await
        .unwrap();
    assert_eq!(f.server.fetches(), 1);
    let rotated = LocalIdp::generate().unwrap();
    *f.server.document.lock().unwrap() = rotated.jwks_json();
    let token = rotated
        .sign(&json!({"alg": "RS256", "kid": rotated.kid()}), &f.claims())
        .unwrap();
    verifier.verify(&token, f.now).await.unwrap();
    assert_eq!(f.server.fetches(), 2, "one refetch for the unknown kid");
    verifier.verify(&token, f.now).await.unwrap();
    assert_eq!(f.server.fetches(), 2, "then cached");
}

#[tokio::test]
async fn forged_kids_cannot_make_the_verifier_hammer_the_idp() {
    let f = fixture().await;
    f.verifier
        .verify(&f.signed(&f.claims()), f.now)
        .await
        .unwrap();
    for i in 0..20 {
        let forged = f
            .idp
            .sign(
                &json!({"alg": "RS256", "kid": format!("bogus-{i}")}),
                &f.claims(),
            )
            .unwrap();
        assert_eq!(f.rejection(&forged).await, Rejection::UnknownKey);
    }
    assert_eq!(
        f.server.fetches(),
        1,
        "no refetch within the minimum interval"
    );
}

#[tokio::test]
async fn roles_come_from_groups_and_unbound_tenant_managers_get_none() {
    let f = fixture().await;
    let token = f.with(
        "cognito:groups",
        json!([
            "tenant-manager",
            "onboarding-manager",
            "admins",
            "platform-admin"
        ]),
    );
    let principal = f.verifier.verify(&token, f.now).await.unwrap();
    assert_eq!(
        principal.roles,
        vec![Role::PlatformAdmin, Role::OnboardingManager],
        "unknown groups ignored; tenant-manager without a tenant claim dropped"
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_an_outage_not_a_401() {
    let idp = LocalIdp::generate().unwrap();
    let verifier = TokenVerifier::new(IdpConfig {
        issuer: LOCAL_ISSUER.into(),
        client_id: LOCAL_CLIENT_ID.into(),
        token_use: TokenUse::Access,
        jwks_url: "http://127.0.0.1:9/jwks.json".into(),
    });
    let token = idp
        .access_token(
            &TokenRequest::for_role(Role::PlatformAdmin, None, 60),
            Timestamp::now(),
        )
        .unwrap();
    assert!(matches!(
        verifier.verify(&token, Timestamp::now()).await,
        Err(VerifyError::Unavailable(_))
    ));
}
