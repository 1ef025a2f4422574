//! The admin page's server side over HTTP on the local gateway: the page and its security
//! headers, the OAuth2 code + PKCE flow of the local identity provider (threat T02), the
//! API never shadowed by page files, and config.json of both environments in one shape.

use nutripro_local::oauth::s256_challenge;
use nutripro_tests::LocalStack;
use serde_json::Value;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const VERIFIER: &str = "Zy0tZXJpZmllci10aGF0LWlzLWxvbmctZW5vdWdoLWZvci1wa2Nl";

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.finish()
}

fn query_value(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Runs the browser's part of the flow: the sign-in form submission, then the code
/// exchange. Returns the token endpoint's answer.
async fn sign_in(stack: &LocalStack, role: &str, tenant: &str, verifier: &str) -> (u16, Value) {
    let redirect = format!("{}/", stack.gateway.base_url());
    let submitted = stack
        .request(
            "POST",
            "/local-idp/oauth2/authorize",
            &[FORM],
            Some(&encode(&[
                ("response_type", "code"),
                ("client_id", "nutripro-local-admin"),
                ("redirect_uri", &redirect),
                ("state", "state-123"),
                ("code_challenge", &s256_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
                ("role", role),
                ("tenant", tenant),
            ])),
        )
        .await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let location = submitted.header("location").unwrap().to_owned();
    assert!(location.starts_with(&redirect), "{location}");
    assert_eq!(
        query_value(&location, "state").as_deref(),
        Some("state-123")
    );
    let code = query_value(&location, "code").expect("a code");
    let token = stack
        .request(
            "POST",
            "/local-idp/oauth2/token",
            &[FORM],
            Some(&encode(&[
                ("grant_type", "authorization_code"),
                ("client_id", "nutripro-local-admin"),
                ("redirect_uri", &redirect),
                ("code", &code),
                ("code_verifier", verifier),
            ])),
        )
        .await;
    assert_eq!(token.header("cache-control"), Some("no-store"));
    (token.status, token.json())
}

#[tokio::test]
async fn the_code_flow_with_pkce_signs_in_and_the_token_works_on_the_admin_api() {
    let stack = LocalStack::start().await;
    let (status, body) = sign_in(&stack, "platform-admin", "", VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    let tenants = stack
        .request(
            "GET",
            "/admin/tenants",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(tenants.status, 200, "{}", tenants.body);

    // A code exchanged with the wrong verifier gives no token (an intercepted code is
    // useless without the verifier), and that code is then spent.
    let (status, body) = sign_in(&stack, "platform-admin", "", &"w".repeat(43)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_tenant_manager_signs_in_for_an_existing_tenant_only() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Acme").await;
    let (status, body) = sign_in(&stack, "tenant-manager", &boot.tenant_id, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let auth = format!("Bearer {token}");
    let own = stack
        .request(
            "GET",
            &format!("/admin/tenants/{}/keys", boot.tenant_id),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let all = stack
        .request("GET", "/admin/tenants", &[("authorization", &auth)], None)
        .await;
    all.assert_problem(403);

    let refused = stack
        .request(
            "POST",
            "/local-idp/oauth2/authorize",
            &[FORM],
            Some(&encode(&[
                ("response_type", "code"),
                ("client_id", "nutripro-local-admin"),
                ("redirect_uri", &format!("{}/", stack.gateway.base_url())),
                ("state", "s"),
                ("code_challenge", &s256_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
                ("role", "tenant-manager"),
                ("tenant", "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"),
            ])),
        )
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        query_value(refused.header("location").unwrap(), "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn authorization_requests_without_s256_pkce_or_with_foreign_redirects_get_no_code() {
    let stack = LocalStack::start().await;
    let redirect = format!("{}/", stack.gateway.base_url());
    let base = [
        ("response_type", "code"),
        ("client_id", "nutripro-local-admin"),
        ("redirect_uri", redirect.as_str()),
        ("state", "s"),
        ("role", "platform-admin"),
    ];
    let challenge = s256_challenge(VERIFIER);
    for extra in [
        vec![],
        vec![
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
        vec![
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ],
    ] {
        let mut pairs = base.to_vec();
        pairs.extend(extra.iter().copied());
        let answer = stack
            .request(
                "POST",
                "/local-idp/oauth2/authorize",
                &[FORM],
                Some(&encode(&pairs)),
            )
            .await;
        assert_eq!(answer.status, 303);
        let location = answer.header("location").unwrap();
        assert_eq!(
            query_value(location, "error").as_deref(),
            Some("invalid_request")
        );
        assert!(query_value(location, "code").is_none());
    }
    let mut foreign = base.to_vec();
    foreign[2] = ("redirect_uri", "https://evil.example/");
    foreign.extend([
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let answer = stack
        .request(
            "POST",
            "/local-idp/oauth2/authorize",
            &[FORM],
            Some(&encode(&foreign)),
        )
        .await;
    assert_eq!(
        answer.status, 400,
        "never redirected to an unregistered URI"
    );
    assert!(answer.header("location").is_none());
}

#[tokio::test]
async fn the_page_is_served_with_its_security_headers_and_never_shadows_the_api() {
    let stack = LocalStack::start().await;
    let page = stack.request("GET", "/", &[], None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("<script type=\"module\" src=\"/app.js\"></script>"));
    assert_eq!(
        page.header("content-security-policy"),
        Some(nutripro_local::admin_page::content_security_policy(&[]).as_str())
    );
    assert_eq!(
        page.header("strict-transport-security"),
        Some(nutripro_local::admin_page::STRICT_TRANSPORT_SECURITY)
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let script = stack.request("GET", "/app.js", &[], None).await;
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));

    // API routes stay the API's, and unknown paths stay 404 problems.
    stack
        .request("GET", "/admin/tenants", &[], None)
        .await
        .assert_problem(401);
    stack
        .request("GET", "/not-a-page.js", &[], None)
        .await
        .assert_problem(404);
    stack
        .request("POST", "/index.html", &[], None)
        .await
        .assert_problem(404);
}

/// The page reads one config.json shape in both environments: what the local gateway
/// serves and what scripts/deploy-admin-page writes from the stack outputs.
#[tokio::test]
async fn config_json_has_one_shape_locally_and_in_aws() {
    let stack = LocalStack::start().await;
    let local = stack.request("GET", "/config.json", &[], None).await.json();
    let outputs = serde_json::json!([
        {"OutputKey": "AdminSignInDomain", "OutputValue": "https://nutripro-admin.auth.eu-west-1.amazoncognito.com"},
        {"OutputKey": "AdminAppClientId", "OutputValue": "1example23456789"},
        {"OutputKey": "AdminPageUrl", "OutputValue": "https://admin.nutripro.example/"},
    ]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), outputs.to_string()).unwrap();
    let script = nutripro_tests::repo_root().join("scripts/deploy-admin-page");
    let run = std::process::Command::new("python3")
        .arg(&script)
        .args(["--print-config", "--outputs-file"])
        .arg(file.path())
        .output()
        .expect("python3 runs scripts/deploy-admin-page");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let aws: Value = serde_json::from_slice(&run.stdout).unwrap();
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.retain(|k| k != "redirectUri");
        keys.sort();
        keys
    };
    assert_eq!(keys(&local), keys(&aws));
    assert_eq!(
        aws["authorizeUrl"],
        "https://nutripro-admin.auth.eu-west-1.amazoncognito.com/oauth2/authorize"
    );
    assert_eq!(
        aws["tokenUrl"],
        "https://nutripro-admin.auth.eu-west-1.amazoncognito.com/oauth2/token"
    );
    assert_eq!(aws["redirectUri"], "https://admin.nutripro.example/");
    assert_eq!(aws["apiBase"], "", "the API is on the page's origin");
    assert_eq!(local["clientId"], "nutripro-local-admin");
}
