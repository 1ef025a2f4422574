//! The local API Gateway: serves the template's routes on loopback, runs the route's
//! authorizer in-process exactly as API Gateway invokes it (REQUEST event in, policy or
//! `Unauthorized` out), builds the REST (v1) proxy event with the authorizer context,
//! hands it to the same handler code the Lambda runs, and writes its response back.

use crate::admin_page;
use crate::oauth::{
    self, AuthorizationServer, AuthorizeError, AuthorizeRequest, AUTHORIZE_PATH, TOKEN_PATH,
};
use crate::registry::Registry;
use crate::router::{RouteMatch, Router};
use crate::template::{self, TemplateError};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayProxyRequest,
};
use aws_lambda_events::iam::IamPolicyEffect;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::request::LambdaRequest;
use lambda_http::Body;
use nutripro_authorizers::UNAUTHORIZED;
use nutripro_shared::adapters::local_idp::{LOCAL_CLIENT_ID, LOCAL_JWKS_PATH};
use nutripro_shared::domain::new_id;
use nutripro_shared::http::Problem;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// API Gateway's payload limit.
pub const MAX_GATEWAY_BODY_BYTES: usize = 10 * 1024 * 1024;
const LOCAL_STAGE: &str = "local";
const LOCAL_API_ARN: &str = "arn:aws:execute-api:local:000000000000:local";

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("template route {method} {path} runs {handler}, which is no HTTP function of the endpoint table")]
    MissingHandler {
        method: String,
        path: String,
        handler: String,
    },
    #[error("template route {method} {path} uses authorizer {handler}, which is no authorizer of the endpoint table")]
    MissingAuthorizer {
        method: String,
        path: String,
        handler: String,
    },
    #[error("HTTP function {0} of the endpoint table serves no route of the template")]
    UnusedHandler(String),
    #[error("template function {function} names Handler {handler}, which is no row of the endpoint table")]
    UnknownFunction { function: String, handler: String },
    #[error("endpoint table row {0} is no function of the template")]
    UnusedFunction(String),
}

pub struct Gateway {
    router: Router,
    registry: Registry,
    openapi: &'static str,
    /// The local identity provider: its JWKS (served at [`LOCAL_JWKS_PATH`]) and its
    /// OAuth2 endpoints, which the admin page signs in with.
    identity: Option<LocalIdentity>,
}

struct LocalIdentity {
    jwks: Bytes,
    oauth: Arc<AuthorizationServer>,
    /// `config.json` of the admin page in local mode.
    page_config: Bytes,
}

/// Largest form the OAuth2 endpoints read.
const MAX_FORM_BYTES: usize = 16 * 1024;

type HttpResponse = hyper::Response<Full<Bytes>>;

impl Gateway {
    /// Builds the gateway from a template. Fails if a template route has no local
    /// handler or authorizer, or a local handler serves no template route (threat T09).
    pub fn new(
        template_text: &str,
        registry: Registry,
        openapi: &'static str,
    ) -> Result<Self, GatewayError> {
        let routes = template::routes(template_text)?;
        for route in &routes {
            if !registry.handlers.contains_key(route.handler.as_str()) {
                return Err(GatewayError::MissingHandler {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    handler: route.handler.clone(),
                });
            }
            if let Some(authorizer) = &route.authorizer {
                if !registry.authorizers.contains_key(authorizer.as_str()) {
                    return Err(GatewayError::MissingAuthorizer {
                        method: route.method.clone(),
                        path: route.path.clone(),
                        handler: authorizer.clone(),
                    });
                }
            }
        }
        if let Some(unused) = registry
            .handlers
            .keys()
            .find(|h| !routes.iter().any(|r| r.handler == **h))
        {
            return Err(GatewayError::UnusedHandler((*unused).to_owned()));
        }
        let functions = template::functions(template_text)?;
        if let Some((function, handler)) = functions
            .iter()
            .find(|(_, handler)| !registry.names.contains(&handler.as_str()))
        {
            return Err(GatewayError::UnknownFunction {
                function: function.clone(),
                handler: handler.clone(),
            });
        }
        if let Some(unused) = registry
            .names
            .iter()
            .find(|name| !functions.iter().any(|(_, handler)| handler == *name))
        {
            return Err(GatewayError::UnusedFunction((*unused).to_owned()));
        }
        Ok(Self {
            router: Router::new(routes),
            registry,
            openapi,
            identity: None,
        })
    }

    /// Runs the local identity provider: publishes its keys (what Cognito serves for a
    /// pool), its OAuth2 authorization-code + PKCE endpoints, and the admin page's
    /// `config.json` pointing at them.
    pub fn with_identity(mut self, oauth: Arc<AuthorizationServer>) -> Self {
        let page_config = serde_json::json!({
            "environment": "local",
            "apiBase": "",
            "authorizeUrl": AUTHORIZE_PATH,
            "tokenUrl": TOKEN_PATH,
            "clientId": LOCAL_CLIENT_ID,
            "scope": "openid",
            "logoutUrl": null,
        });
        self.identity = Some(LocalIdentity {
            jwks: Bytes::from(oauth.idp().jwks_json()),
            page_config: Bytes::from(page_config.to_string()),
            oauth,
        });
        self
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Serves connections from `listener` until `shutdown` completes.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        self.serve_with(listener, None, shutdown).await
    }

    /// [`Gateway::serve`], over TLS when `tls` is given (with client certificates when
    /// its configuration asks for them: they reach the authorizer and the handler).
    pub async fn serve_with(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                },
                () = &mut shutdown => return,
            };
            let gateway = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let Some(acceptor) = tls else {
                    gateway.serve_connection(stream, peer, None).await;
                    return;
                };
                // A handshake that fails (no certificate, one the truststore does not
                // vouch for) ends the connection, as at API Gateway.
                match acceptor.accept(stream).await {
                    Ok(stream) => {
                        let certificate = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|der| Arc::<str>::from(crate::tls::to_pem(der)));
                        gateway.serve_connection(stream, peer, certificate).await;
                    }
                    Err(error) => tracing::info!(%error, %peer, "TLS handshake refused"),
                }
            });
        }
    }

    async fn serve_connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        certificate: Option<Arc<str>>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |request| {
            let (gateway, certificate) = (self.clone(), certificate.clone());
            async move {
                Ok::<_, Infallible>(gateway.respond(request, peer, certificate.as_deref()).await)
            }
        });
        if let Err(error) = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!(%error, "connection closed with an error");
        }
    }

    async fn respond(
        &self,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
        certificate: Option<&str>,
    ) -> HttpResponse {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let request_id = new_id();
        let mut response = self.dispatch(request, peer, certificate, &request_id).await;
        harden(&mut response);
        tracing::info!(
            %request_id,
            %method,
            %path,
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn dispatch(
        &self,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
        certificate: Option<&str>,
        request_id: &str,
    ) -> HttpResponse {
        let (parts, body) = request.into_parts();
        if parts.method == http::Method::GET && parts.uri.path() == "/openapi.yaml" {
            return static_response(
                "application/yaml",
                Bytes::from_static(self.openapi.as_bytes()),
            );
        }
        if let Some(identity) = &self.identity {
            let path = parts.uri.path();
            if parts.method == http::Method::GET && path == LOCAL_JWKS_PATH {
                return static_response("application/json", identity.jwks.clone());
            }
            if parts.method == http::Method::GET && path == "/config.json" {
                return page_response("application/json", identity.page_config.clone());
            }
            if path == AUTHORIZE_PATH || path == TOKEN_PATH {
                return oauth_endpoint(&identity.oauth, parts, body).await;
            }
        }
        let Some(route) = self.router.find(parts.method.as_str(), parts.uri.path()) else {
            // The admin page, where no API route matches (it never shadows one).
            if parts.method == http::Method::GET || parts.method == http::Method::HEAD {
                if let Some(file) = admin_page::file(parts.uri.path()) {
                    return page_response(file.content_type, Bytes::from_static(file.body));
                }
            }
            return problem(
                Problem::new(404, "not-found", "Not Found", "No such route."),
                request_id,
            );
        };
        let body = match Limited::new(body, MAX_GATEWAY_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return problem(
                    Problem::payload_too_large(MAX_GATEWAY_BODY_BYTES),
                    request_id,
                )
            }
        };
        let authorizer_context = match self
            .authorize(&parts, &route, peer, certificate, request_id)
            .await
        {
            Ok(context) => context,
            Err(response) => return response,
        };
        let mut event = proxy_event(&parts, &route, body, peer, request_id, authorizer_context);
        if let Some(pem) = certificate {
            event.request_context.identity.other.insert(
                "clientCert".into(),
                serde_json::json!({ "clientCertPem": pem }),
            );
        }
        let Some(handler) = self.registry.handlers.get(route.route.handler.as_str()) else {
            return problem(Problem::internal(), request_id);
        };
        let response = handler(lambda_http::Request::from(LambdaRequest::ApiGatewayV1(
            event,
        )))
        .await;
        into_http_response(response)
    }

    /// Runs the route's authorizer as API Gateway would; returns the context to pass on,
    /// or the gateway's own 401/403/503 response.
    async fn authorize(
        &self,
        parts: &http::request::Parts,
        route: &RouteMatch<'_>,
        peer: SocketAddr,
        certificate: Option<&str>,
        request_id: &str,
    ) -> Result<HashMap<String, serde_json::Value>, HttpResponse> {
        let Some(name) = &route.route.authorizer else {
            return Ok(HashMap::new());
        };
        let Some(authorizer) = self.registry.authorizers.get(name.as_str()) else {
            return Err(problem(Problem::internal(), request_id));
        };
        // The identity source is the Authorization header: without it API Gateway
        // answers 401 without invoking the authorizer.
        if !parts.headers.contains_key(http::header::AUTHORIZATION) {
            return Err(problem(Problem::unauthorized(), request_id));
        }
        let method_arn = format!(
            "{LOCAL_API_ARN}/{LOCAL_STAGE}/{}{}",
            parts.method,
            parts.uri.path()
        );
        let mut event = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
        event.type_ = Some("REQUEST".into());
        event.method_arn = Some(method_arn.clone());
        event.resource = Some(route.route.path.clone());
        event.path = Some(parts.uri.path().to_owned());
        event.http_method = Some(parts.method.clone());
        event.headers = last_values(&parts.headers);
        event.multi_value_headers = parts.headers.clone();
        event.path_parameters = route.path_parameters.clone();
        event.request_context.request_id = Some(request_id.to_owned());
        event.request_context.stage = Some(LOCAL_STAGE.into());
        event.request_context.resource_path = Some(route.route.path.clone());
        event.request_context.http_method = Some(parts.method.clone());
        let mut identity =
            aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequestIdentity::default(
            );
        identity.source_ip = Some(peer.ip().to_string());
        identity.client_cert = certificate.map(|pem| {
            let mut cert =
                aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequestIdentityClientCert::default();
            cert.client_cert_pem = Some(pem.to_owned());
            cert
        });
        event.request_context.identity = Some(identity);
        match authorizer(event).await {
            Ok(response) => evaluate_policy(&response, &method_arn)
                .map_err(|problem_response| problem(problem_response, request_id)),
            Err(error) if error.to_string() == UNAUTHORIZED => {
                Err(problem(Problem::unauthorized(), request_id))
            }
            Err(_) => Err(problem(Problem::unavailable(), request_id)),
        }
    }
}

/// Applies the returned IAM policy to the invoked method as API Gateway does: an
/// explicit Deny wins, then an Allow is needed; anything else is 403.
fn evaluate_policy(
    response: &ApiGatewayCustomAuthorizerResponse,
    method_arn: &str,
) -> Result<HashMap<String, serde_json::Value>, Problem> {
    let statements = &response.policy_document.statement;
    let applies = |effect: IamPolicyEffect| {
        statements.iter().any(|s| {
            s.effect == effect
                && s.action
                    .iter()
                    .any(|a| a == "execute-api:Invoke" || a == "*")
                && s.resource.iter().any(|r| glob_match(r, method_arn))
        })
    };
    if applies(IamPolicyEffect::Deny) || !applies(IamPolicyEffect::Allow) {
        return Err(Problem::forbidden(
            "This credential may not use the API now.",
        ));
    }
    let mut context: HashMap<String, serde_json::Value> = match &response.context {
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => HashMap::new(),
    };
    if let Some(principal) = &response.principal_id {
        context.insert("principalId".into(), principal.clone().into());
    }
    Ok(context)
}

/// IAM resource matching: `*` matches any run of characters, `?` any one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The REST (v1) proxy event API Gateway would send for this request.
fn proxy_event(
    parts: &http::request::Parts,
    route: &RouteMatch<'_>,
    body: Bytes,
    peer: SocketAddr,
    request_id: &str,
    authorizer_context: HashMap<String, serde_json::Value>,
) -> ApiGatewayProxyRequest {
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        query
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let single_query: HashMap<String, String> = query
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.last()?.clone())))
        .collect();

    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(route.route.path.clone());
    event.path = Some(parts.uri.path().to_owned());
    event.http_method = parts.method.clone();
    event.headers = last_values(&parts.headers);
    event.multi_value_headers = parts.headers.clone();
    event.query_string_parameters = single_query.into();
    event.multi_value_query_string_parameters = query.into();
    event.path_parameters = route.path_parameters.clone();
    if !body.is_empty() {
        match std::str::from_utf8(&body) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
                event.is_base64_encoded = true;
            }
        }
    }
    let context = &mut event.request_context;
    // No stage here: in AWS, AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH (template Globals) makes
    // lambda_http drop the stage from the path; leaving it out has the same effect.
    context.stage = None;
    context.request_id = Some(request_id.to_owned());
    context.resource_path = Some(route.route.path.clone());
    context.http_method = parts.method.clone();
    context.path = Some(parts.uri.path().to_owned());
    context.identity.source_ip = Some(peer.ip().to_string());
    context.identity.user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    context.request_time_epoch = nutripro_shared::domain::Timestamp::now().as_millis();
    context.authorizer.fields = authorizer_context;
    event
}

/// What API Gateway puts in an event's `headers`: one value per name, the last one of a
/// repeated header (every value stays in `multiValueHeaders`).
fn last_values(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut last = http::HeaderMap::with_capacity(headers.keys_len());
    for (name, value) in headers {
        last.insert(name.clone(), value.clone());
    }
    last
}

/// Every answer of the gateway — a handler's, its own problems, the OpenAPI document,
/// the identity provider's — is never cached and never content-sniffed (handlers already
/// set both; the template's `GatewayResponses` do the same in AWS).
fn harden(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(http::header::CACHE_CONTROL) {
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
}

fn into_http_response(response: lambda_http::Response<Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn problem(problem: Problem, request_id: &str) -> HttpResponse {
    let mut response = into_http_response(problem.to_response(request_id));
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if problem.status == 401 {
        response
            .headers_mut()
            .insert("www-authenticate", http::HeaderValue::from_static("Bearer"));
    }
    response
}

/// A response of the admin page or the sign-in flow: with the page's security headers
/// (CSP, HSTS, no framing, no referrer, no sniffing), never cached (config and code
/// change together on a redeploy).
fn page_response(content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = static_response(content_type, body);
    add_page_headers(&mut response);
    response
}

fn page_answer(status: http::StatusCode, content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = page_response(content_type, body);
    *response.status_mut() = status;
    response
}

fn add_page_headers(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    for (name, value) in admin_page::security_headers() {
        headers.insert(*name, value.clone());
    }
    headers.insert("cache-control", http::HeaderValue::from_static("no-store"));
}

/// The local identity provider's `/oauth2/authorize` (GET form, POST submission) and
/// `/oauth2/token` (POST).
async fn oauth_endpoint(
    server: &AuthorizationServer,
    parts: http::request::Parts,
    body: Incoming,
) -> HttpResponse {
    let query_pairs = |text: &[u8]| -> HashMap<String, String> {
        form_urlencoded::parse(text)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let form = if parts.method == http::Method::POST {
        let is_form = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        match Limited::new(body, MAX_FORM_BYTES).collect().await {
            Ok(collected) if is_form => Some(query_pairs(&collected.to_bytes())),
            _ => None,
        }
    } else {
        None
    };
    let path = parts.uri.path();
    let html = |status: http::StatusCode, page: String| {
        page_answer(status, "text/html; charset=utf-8", Bytes::from(page))
    };
    // Token endpoint answers and errors (RFC 6749 §5.1-5.2): JSON, never cached.
    let token_answer = |status: http::StatusCode, body: String| {
        let mut response = page_answer(status, "application/json", Bytes::from(body));
        response
            .headers_mut()
            .insert("pragma", http::HeaderValue::from_static("no-cache"));
        response
    };
    let token_error = |status, error: &str, description: &str| {
        token_answer(
            status,
            serde_json::json!({"error": error, "error_description": description}).to_string(),
        )
    };
    let redirect = |location: String| {
        let mut response = page_answer(
            http::StatusCode::SEE_OTHER,
            "text/plain; charset=utf-8",
            Bytes::new(),
        );
        if let Ok(value) = http::HeaderValue::from_str(&location) {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    };
    let refused = |error: AuthorizeError| match error.location() {
        Some(location) => redirect(location),
        None => match error {
            AuthorizeError::NoRedirect(message) => {
                html(http::StatusCode::BAD_REQUEST, oauth::error_page(message))
            }
            AuthorizeError::Redirect { .. } => html(
                http::StatusCode::BAD_REQUEST,
                oauth::error_page("Bad request."),
            ),
        },
    };
    match (path, &parts.method, form) {
        (AUTHORIZE_PATH, &http::Method::GET, _) => {
            let request = AuthorizeRequest::from_pairs(&query_pairs(
                parts.uri.query().unwrap_or("").as_bytes(),
            ));
            match server.check(&request) {
                Ok(()) => {
                    let tenants = server.tenant_choices().await;
                    html(
                        http::StatusCode::OK,
                        server.sign_in_form(&request, &tenants),
                    )
                }
                Err(error) => refused(error),
            }
        }
        (AUTHORIZE_PATH, &http::Method::POST, Some(form)) => {
            let request = AuthorizeRequest::from_pairs(&form);
            let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
            match server
                .approve(&request, field("role"), field("tenant"))
                .await
            {
                Ok(location) => redirect(location),
                Err(error) => refused(error),
            }
        }
        (TOKEN_PATH, &http::Method::POST, Some(form)) => match server.exchange(&form) {
            Ok(body) => token_answer(http::StatusCode::OK, body),
            Err(error) => token_error(
                if error.error == "invalid_client" {
                    http::StatusCode::UNAUTHORIZED
                } else {
                    http::StatusCode::BAD_REQUEST
                },
                error.error,
                error.description,
            ),
        },
        (_, &http::Method::POST, None) => token_error(
            http::StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send an application/x-www-form-urlencoded body of at most 16 KiB.",
        ),
        _ => page_answer(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::new(),
        ),
    }
}

fn static_response(content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(body));
    response
        .headers_mut()
        .insert("content-type", http::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob_match("arn:x:api/local/*", "arn:x:api/local/GET/v1/me"));
        assert!(glob_match(
            "arn:x:api/local/GET/v1/me",
            "arn:x:api/local/GET/v1/me"
        ));
        assert!(glob_match("arn:x:api/*/GET/*", "arn:x:api/local/GET/v1/me"));
        assert!(glob_match(
            "arn:x:api/local/?ET/*",
            "arn:x:api/local/GET/v1/me"
        ));
        assert!(!glob_match(
            "arn:x:api/other/*",
            "arn:x:api/local/GET/v1/me"
        ));
        assert!(!glob_match(
            "arn:x:api/local/POST/*",
            "arn:x:api/local/GET/v1/me"
        ));
        assert!(!glob_match("", "x"));
    }
}
