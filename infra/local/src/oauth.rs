//! The local identity provider's OAuth2 endpoints: authorization code with PKCE (S256
//! only), the flow the admin page runs against Cognito's hosted sign-in in AWS. The page
//! runs the same code against both; only `config.json` differs.
//!
//! - `GET  /local-idp/oauth2/authorize`: a sign-in form (local mode has no passwords:
//!   you pick the role, and the tenant for a tenant-manager).
//! - `POST /local-idp/oauth2/authorize`: issues a one-time code bound to the client, the
//!   redirect URI and the PKCE challenge, valid [`CODE_TTL`], and redirects back.
//! - `POST /local-idp/oauth2/token`: exchanges the code and the PKCE verifier for an
//!   access token (RFC 6749 §4.1.3, RFC 7636 §4.6).
//!
//! Redirect URIs are registered, as in Cognito: the gateway's own origin plus `/`, under
//! both loopback names. An unregistered one is never redirected to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nutripro_shared::adapters::local_idp::{LocalIdp, TokenRequest, LOCAL_CLIENT_ID};
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::{TenantId, TenantStatus, Timestamp};
use nutripro_shared::http::is_id;
use nutripro_shared::ports::TenantStore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const AUTHORIZE_PATH: &str = "/local-idp/oauth2/authorize";
pub const TOKEN_PATH: &str = "/local-idp/oauth2/token";
/// How long a code may wait to be exchanged (Cognito: 5 minutes; shorter is safer).
pub const CODE_TTL: Duration = Duration::from_secs(120);
/// Lifetime of the access tokens the flow issues (the template's `AccessTokenValidity`).
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 3600;
/// Most codes outstanding at once; more requests are refused rather than grow memory.
const MAX_PENDING_CODES: usize = 1000;

/// What the client asked for at the authorization endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub scope: String,
}

impl AuthorizeRequest {
    pub fn from_pairs(pairs: &HashMap<String, String>) -> Self {
        let get = |name: &str| pairs.get(name).cloned().unwrap_or_default();
        Self {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            scope: get("scope"),
        }
    }

    /// An error to send back to the (already checked) redirect URI with the state.
    fn refuse(&self, error: &'static str, description: &'static str) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description,
            state: self.state.clone(),
        }
    }
}

/// The outcome of checking an authorization request.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Client or redirect URI not registered: show an error, never redirect (RFC 6749
    /// §4.1.2.1).
    NoRedirect(&'static str),
    /// Any other problem: redirect back with `error` and `state`.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: &'static str,
        state: String,
    },
}

impl AuthorizeError {
    /// Where to send the browser (for `Redirect`).
    pub fn location(&self) -> Option<String> {
        match self {
            Self::NoRedirect(_) => None,
            Self::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => Some(with_query(
                redirect_uri,
                &[
                    ("error", error),
                    ("error_description", description),
                    ("state", state),
                ],
            )),
        }
    }
}

/// A token endpoint error (RFC 6749 §5.2), answered as `{"error", "error_description"}`.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenError {
    pub error: &'static str,
    pub description: &'static str,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    identity: TokenRequest,
    expires: Instant,
}

pub struct AuthorizationServer {
    idp: Arc<LocalIdp>,
    tenants: Arc<dyn TenantStore>,
    redirect_uris: Vec<String>,
    codes: Mutex<HashMap<String, Grant>>,
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", query.finish())
}

fn random_code() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison of two strings (client, redirect URI, challenge), as the
/// project compares key hashes (`subtle`).
fn same(a: &str, b: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

impl AuthorizationServer {
    /// A server for the gateway at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(idp: Arc<LocalIdp>, tenants: Arc<dyn TenantStore>, base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let mut redirect_uris = vec![format!("{base}/")];
        if let Some(port) = base.strip_prefix("http://127.0.0.1:") {
            redirect_uris.push(format!("http://localhost:{port}/"));
        }
        Self {
            idp,
            tenants,
            redirect_uris,
            codes: Mutex::new(HashMap::new()),
        }
    }

    pub fn idp(&self) -> &LocalIdp {
        &self.idp
    }

    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// Checks an authorization request (both the form display and its submission).
    pub fn check(&self, request: &AuthorizeRequest) -> Result<(), AuthorizeError> {
        if request.client_id != LOCAL_CLIENT_ID {
            return Err(AuthorizeError::NoRedirect("Unknown client_id."));
        }
        if !self.redirect_uris.contains(&request.redirect_uri) {
            return Err(AuthorizeError::NoRedirect(
                "redirect_uri is not registered for this client.",
            ));
        }
        let redirect = |error, description| request.refuse(error, description);
        if request.response_type != "code" {
            return Err(redirect(
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
        if request.code_challenge_method != "S256" || !is_pkce_value(&request.code_challenge) {
            return Err(redirect(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256.",
            ));
        }
        if request.state.is_empty() || request.state.len() > 512 {
            return Err(redirect("invalid_request", "state is required."));
        }
        Ok(())
    }

    /// Active tenants to offer a tenant-manager sign-in (the first page).
    pub async fn tenant_choices(&self) -> Vec<(String, String)> {
        match self.tenants.list_tenants(100, None).await {
            Ok(page) => page
                .items
                .into_iter()
                .filter(|t| t.status != TenantStatus::Offboarded)
                .map(|t| (t.id.as_str().to_owned(), t.name))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot list tenants for the sign-in form");
                Vec::new()
            }
        }
    }

    /// The submitted sign-in form: checks the request again, the chosen role and tenant,
    /// and returns where to redirect (with the code, or with an error).
    pub async fn approve(
        &self,
        request: &AuthorizeRequest,
        role: &str,
        tenant: &str,
    ) -> Result<String, AuthorizeError> {
        self.check(request)?;
        let refuse = |error, description| request.refuse(error, description);
        let role = Role::parse(role).ok_or_else(|| refuse("access_denied", "Unknown role."))?;
        let tenant = match role {
            Role::TenantManager => {
                if !is_id(tenant) {
                    return Err(refuse(
                        "access_denied",
                        "A tenant-manager signs in for one tenant.",
                    ));
                }
                let id = TenantId::new(tenant);
                match self.tenants.get_tenant(&id).await {
                    Ok(Some(_)) => Some(id),
                    Ok(None) => return Err(refuse("access_denied", "No such tenant.")),
                    Err(_) => {
                        return Err(refuse(
                            "temporarily_unavailable",
                            "The store is unavailable.",
                        ))
                    }
                }
            }
            _ => None,
        };
        let code = random_code();
        {
            let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            codes.retain(|_, grant| grant.expires > now);
            if codes.len() >= MAX_PENDING_CODES {
                return Err(refuse(
                    "temporarily_unavailable",
                    "Too many sign-ins in progress.",
                ));
            }
            codes.insert(
                code.clone(),
                Grant {
                    client_id: request.client_id.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    code_challenge: request.code_challenge.clone(),
                    identity: TokenRequest::for_role(role, tenant, ACCESS_TOKEN_TTL_SECONDS),
                    expires: now + CODE_TTL,
                },
            );
        }
        Ok(with_query(
            &request.redirect_uri,
            &[("code", &code), ("state", &request.state)],
        ))
    }

    /// The token endpoint: a form with `grant_type=authorization_code`, `code`,
    /// `redirect_uri`, `client_id` and `code_verifier`. A code is used at most once,
    /// whatever the outcome.
    pub fn exchange(&self, form: &HashMap<String, String>) -> Result<String, TokenError> {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        if field("grant_type") != "authorization_code" {
            return Err(TokenError {
                error: "unsupported_grant_type",
                description: "Only authorization_code is supported.",
            });
        }
        let invalid_grant = |description| TokenError {
            error: "invalid_grant",
            description,
        };
        let grant = {
            let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
            codes.remove(field("code"))
        }
        .ok_or(invalid_grant("Unknown, used or expired code."))?;
        if grant.expires <= Instant::now() {
            return Err(invalid_grant("Unknown, used or expired code."));
        }
        if !same(&grant.client_id, field("client_id")) {
            return Err(TokenError {
                error: "invalid_client",
                description: "The code was issued to another client.",
            });
        }
        if !same(&grant.redirect_uri, field("redirect_uri")) {
            return Err(invalid_grant(
                "redirect_uri differs from the authorization request.",
            ));
        }
        let verifier = field("code_verifier");
        if !is_pkce_value(verifier) || !same(&s256_challenge(verifier), &grant.code_challenge) {
            return Err(invalid_grant("The PKCE code_verifier does not match."));
        }
        let token = self
            .idp
            .access_token(&grant.identity, Timestamp::now())
            .map_err(|_| TokenError {
                error: "server_error",
                description: "Signing failed.",
            })?;
        Ok(serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
        })
        .to_string())
    }

    /// The sign-in form for a checked request.
    pub fn sign_in_form(&self, request: &AuthorizeRequest, tenants: &[(String, String)]) -> String {
        let hidden: String = [
            ("response_type", &request.response_type),
            ("client_id", &request.client_id),
            ("redirect_uri", &request.redirect_uri),
            ("state", &request.state),
            ("code_challenge", &request.code_challenge),
            ("code_challenge_method", &request.code_challenge_method),
            ("scope", &request.scope),
        ]
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                escape(value)
            )
        })
        .collect();
        let options: String = tenants
            .iter()
            .map(|(id, name)| {
                format!(
                    "<option value=\"{}\">{} ({})</option>\n",
                    escape(id),
                    escape(name),
                    escape(id)
                )
            })
            .collect();
        let roles: String = [
            (
                Role::PlatformAdmin,
                "everything: tenants, plans, system settings, audit",
            ),
            (
                Role::OnboardingManager,
                "creates and configures tenants, issues first keys",
            ),
            (
                Role::TenantManager,
                "one tenant: keys, settings, usage, invoices, audit",
            ),
        ]
        .iter()
        .enumerate()
        .map(|(i, (role, what))| {
            format!(
                "<label class=\"choice\"><input type=\"radio\" name=\"role\" value=\"{0}\"{1}> \
                 <strong>{0}</strong> <span class=\"muted\">{2}</span></label>\n",
                role.as_str(),
                if i == 0 { " checked" } else { "" },
                what
            )
        })
        .collect();
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Sign in - local identity provider</title>\
             <link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body class=\"signin\">\
             <main class=\"card narrow\">\n<h1>Local identity provider</h1>\n\
             <p class=\"muted\">Local mode stands in for Cognito's hosted sign-in: there are no \
             passwords, you choose who you are. In AWS this step is Cognito with MFA.</p>\n\
             <form method=\"post\" action=\"{AUTHORIZE_PATH}\">\n{hidden}\
             <fieldset><legend>Role</legend>\n{roles}</fieldset>\n\
             <label>Tenant (tenant-manager only)\n<select name=\"tenant\" id=\"tenant\">\
             <option value=\"\">-</option>\n{options}</select></label>\n\
             <button type=\"submit\" id=\"sign-in\">Sign in</button>\n</form>\n</main></body></html>\n"
        )
    }
}

/// HTML text and attribute escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error page for requests that must not be redirected.
pub fn error_page(message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Sign-in error</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body class=\"signin\"><main class=\"card narrow\"><h1>Sign-in error</h1>\
         <p class=\"error\">{}</p></main></body></html>\n",
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nutripro_shared::adapters::sqlite::SqliteStore;

    const BASE: &str = "http://127.0.0.1:4000";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn server() -> AuthorizationServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        std::mem::forget(dir);
        AuthorizationServer::new(
            Arc::new(LocalIdp::generate().unwrap()),
            Arc::new(store),
            BASE,
        )
    }

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: "code".into(),
            client_id: LOCAL_CLIENT_ID.into(),
            redirect_uri: format!("{BASE}/"),
            state: "xyz".into(),
            code_challenge: s256_challenge(VERIFIER),
            code_challenge_method: "S256".into(),
            scope: "openid".into(),
        }
    }

    fn code_of(location: &str) -> String {
        let query = location.split_once('?').unwrap().1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }

    fn token_form(code: &str, verifier: &str) -> HashMap<String, String> {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &format!("{BASE}/")),
            ("client_id", LOCAL_CLIENT_ID),
            ("code_verifier", verifier),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_rfc_7636_example_challenge() {
        assert_eq!(
            s256_challenge(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[tokio::test]
    async fn a_code_is_exchanged_once_with_the_right_verifier() {
        let server = server();
        let location = server
            .approve(&request(), "platform-admin", "")
            .await
            .unwrap();
        assert!(location.starts_with(&format!("{BASE}/?code=")));
        assert!(location.ends_with("&state=xyz"));
        let code = code_of(&location);
        let wrong = "x".repeat(43);
        assert_eq!(
            server
                .exchange(&token_form(&code, &wrong))
                .unwrap_err()
                .error,
            "invalid_grant"
        );
        // The failed attempt used the code up: the right verifier is now too late.
        assert_eq!(
            server
                .exchange(&token_form(&code, VERIFIER))
                .unwrap_err()
                .error,
            "invalid_grant"
        );
        let code = code_of(
            &server
                .approve(&request(), "platform-admin", "")
                .await
                .unwrap(),
        );
        let body: serde_json::Value =
            serde_json::from_str(&server.exchange(&token_form(&code, VERIFIER)).unwrap()).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
        assert!(
            server.exchange(&token_form(&code, VERIFIER)).is_err(),
            "replayed code"
        );
    }

    #[tokio::test]
    async fn the_code_is_bound_to_client_and_redirect_uri() {
        let server = server();
        let code = code_of(
            &server
                .approve(&request(), "platform-admin", "")
                .await
                .unwrap(),
        );
        let mut form = token_form(&code, VERIFIER);
        form.insert("redirect_uri".into(), "http://localhost:4000/".into());
        assert_eq!(server.exchange(&form).unwrap_err().error, "invalid_grant");
        let code = code_of(
            &server
                .approve(&request(), "platform-admin", "")
                .await
                .unwrap(),
        );
        let mut form = token_form(&code, VERIFIER);
        form.insert("client_id".into(), "another".into());
        assert_eq!(server.exchange(&form).unwrap_err().error, "invalid_client");
        let mut form = token_form("whatever", VERIFIER);
        form.insert("grant_type".into(), "password".into());
        assert_eq!(
            server.exchange(&form).unwrap_err().error,
            "unsupported_grant_type"
        );
    }

    #[tokio::test]
    async fn requests_without_pkce_or_with_foreign_redirects_are_refused() {
        let server = server();
        let mut foreign = request();
        foreign.redirect_uri = "https://evil.example/".into();
        assert!(matches!(
            server.check(&foreign),
            Err(AuthorizeError::NoRedirect(_))
        ));
        let mut client = request();
        client.client_id = "other".into();
        assert!(matches!(
            server.check(&client),
            Err(AuthorizeError::NoRedirect(_))
        ));
        for change in [
            |r: &mut AuthorizeRequest| r.code_challenge_method = "plain".into(),
            |r: &mut AuthorizeRequest| r.code_challenge = String::new(),
            |r: &mut AuthorizeRequest| r.code_challenge = "short".into(),
            |r: &mut AuthorizeRequest| r.response_type = "token".into(),
            |r: &mut AuthorizeRequest| r.state = String::new(),
        ] {
            let mut bad = request();
            change(&mut bad);
            let error = server.check(&bad).unwrap_err();
            let location = error.location().expect("redirects with an error");
            assert!(
                location.starts_with(&format!("{BASE}/?error=")),
                "{location}"
            );
        }
        let mut localhost = request();
        localhost.redirect_uri = "http://localhost:4000/".into();
        assert!(server.check(&localhost).is_ok());
    }

    #[tokio::test]
    async fn a_tenant_manager_needs_an_existing_tenant() {
        let server = server();
        for (role, tenant) in [
            ("tenant-manager", ""),
            ("tenant-manager", "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"),
            ("root", ""),
        ] {
            let error = server.approve(&request(), role, tenant).await.unwrap_err();
            assert!(error.location().unwrap().contains("error=access_denied"));
        }
    }

    #[test]
    fn the_form_escapes_what_it_echoes() {
        let server = server();
        let mut evil = request();
        evil.state = "\"><script>alert(1)</script>".into();
        let html = server.sign_in_form(&evil, &[("id".into(), "<b>Acme</b>".into())]);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;b&gt;Acme&lt;/b&gt;"));
    }
}
