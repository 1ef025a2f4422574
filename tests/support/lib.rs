//! Helpers for the cross-function tests: a local gateway on a free loopback port over a
//! temporary data directory, direct access to its store, and a small HTTP client.

pub mod admin_routes;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use nutripro_local::llm::LlmChoice;
use nutripro_local::RunningGateway;
use nutripro_shared::adapters::local_idp::{LocalIdp, TokenRequest};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::{TenantId, Timestamp};
use nutripro_shared::ports::AuditStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

pub fn read_repo_file(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative))
        .unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

/// A running local gateway with its own data directory.
pub struct LocalStack {
    pub gateway: RunningGateway,
    pub data_dir: tempfile::TempDir,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and a request id matching the header.
    pub fn assert_problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        for field in ["type", "title", "status", "detail", "request_id"] {
            assert!(body.get(field).is_some(), "problem lacks {field}: {body}");
        }
        assert_eq!(body["status"], status);
        assert_eq!(
            Some(body["request_id"].as_str().unwrap()),
            self.header("x-request-id")
        );
        body
    }
}

impl LocalStack {
    /// A gateway with the offline LLM provider.
    pub async fn start() -> Self {
        Self::start_with(LlmChoice::offline()).await
    }

    pub async fn start_with(llm: LlmChoice) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let gateway = nutripro_local::start(data_dir.path(), 0, llm)
            .await
            .expect("local gateway starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            gateway,
            data_dir,
            client,
        }
    }

    /// A stack around a gateway already started (e.g. on DynamoDB, `start_on`) with its
    /// data directory (the identity provider's key).
    pub fn around(gateway: RunningGateway, data_dir: tempfile::TempDir) -> Self {
        Self {
            gateway,
            data_dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The keyring the gateway seals generations with (its data directory's).
    pub async fn sealing_keyring(&self) -> nutripro_shared::domain::sealing::Keyring {
        use nutripro_shared::ports::sealing::{FileKeyring, SealingKeys};
        FileKeyring::open(self.data_dir.path(), false)
            .expect("the gateway's keyring")
            .keyring()
            .await
            .expect("a readable keyring")
    }

    /// A second connection to the gateway's embedded store (WAL lets both write).
    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(self.data_dir.path()).expect("open the gateway's store")
    }

    /// Creates a tenant and key the way `nutripro-local bootstrap` does.
    pub async fn bootstrap(&self, tenant_name: &str) -> nutripro_local::bootstrap::Bootstrapped {
        let store = self.store();
        let now = nutripro_shared::domain::Timestamp::now();
        nutripro_local::bootstrap::bootstrap(&store, tenant_name, now)
            .await
            .expect("bootstrap")
            .0
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> TestResponse {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.gateway.base_url()));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = Full::new(Bytes::from(body.unwrap_or("").to_owned()));
        let response = self
            .client
            .request(builder.body(body).expect("valid request"))
            .await
            .expect("gateway answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("read body").to_bytes();
        TestResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into(),
        }
    }

    /// A request with an API key, a JSON body (if any) and extra headers.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        api_key: &str,
        body: Option<&serde_json::Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let authorization = format!("Bearer {api_key}");
        let mut headers = vec![
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let body = body.map(|b| b.to_string());
        self.request(method, path, &headers, body.as_deref()).await
    }

    /// An admin access token from the gateway's own local identity provider (the key in
    /// its data directory), as `nutripro-local token` prints it.
    pub fn admin_token(&self, role: Role, tenant: Option<&str>) -> String {
        LocalIdp::load_or_create(self.data_dir.path())
            .expect("the gateway's identity provider key")
            .access_token(
                &TokenRequest::for_role(role, tenant.map(TenantId::new), 600),
                Timestamp::now(),
            )
            .expect("sign a local token")
    }

    /// Every row the API's changes could touch, as text: all tables of the embedded
    /// store except the ones every request writes by design (the audit chain, rate
    /// windows, idempotency claims). Equal before and after means nothing changed.
    pub fn state_snapshot(&self) -> String {
        const WRITTEN_BY_EVERY_REQUEST: [&str; 4] = [
            "audit_log",
            "rate_windows",
            "idempotency",
            "signature_nonces",
        ];
        let db = rusqlite::Connection::open(self.data_dir.path().join("nutripro.sqlite3"))
            .expect("open the gateway's database");
        let mut tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        tables.retain(|t| !WRITTEN_BY_EVERY_REQUEST.contains(&t.as_str()));
        let mut dump = String::new();
        for table in tables {
            let mut statement = db
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
                .unwrap();
            let columns = statement.column_count();
            let rows = statement
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| {
                            row.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for row in rows {
                dump.push_str(&format!("{table}: {}\n", row.unwrap().join(" | ")));
            }
        }
        dump
    }

    /// The number of entries in the audit chain (its head's sequence number).
    pub async fn audit_len(&self) -> u64 {
        self.store()
            .audit_head()
            .await
            .expect("read the audit head")
            .map_or(0, |head| head.seq)
    }

    /// Every entry of the audit chain, oldest first.
    pub async fn audit_entries(&self) -> Vec<nutripro_shared::domain::audit::AuditEntry> {
        self.store()
            .audit_after(0, 10_000)
            .await
            .expect("read the audit chain")
    }

    /// `GET` with an API key.
    pub async fn get_as(&self, path: &str, api_key: &str) -> TestResponse {
        self.call("GET", path, api_key, None, &[]).await
    }

    pub async fn get(&self, path: &str, api_key: Option<&str>) -> TestResponse {
        let authorization = api_key.map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.request("GET", path, &headers, None).await
    }
}

/// A server on 127.0.0.1 that speaks the OpenAI wire format: `/chat/completions`
/// answers every request with `status` after `delay` (with the text set by
/// [`FakeOpenAi::set_text`] on success), `/moderations` with the verdict set by
/// [`FakeOpenAi::set_moderation`]. Both are counted.
pub struct FakeOpenAi {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    pub moderations: Arc<AtomicUsize>,
    pub authorizations: Arc<std::sync::Mutex<Vec<String>>>,
    /// The bodies of the chat completions asked for, in order.
    pub completion_bodies: Arc<std::sync::Mutex<Vec<String>>>,
    text: Arc<std::sync::Mutex<String>>,
    moderation: Arc<std::sync::Mutex<Moderation>>,
}

/// How the fake's `/moderations` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Pass,
    /// Flagged for this category.
    Flag(&'static str),
    /// This HTTP status, no verdict.
    Fail(u16),
}

pub const FAKE_COMPLETION: &str = "Welcome to your plan, written in your dietitian's voice.";

impl FakeOpenAi {
    pub async fn start(status: u16, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let moderations = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(std::sync::Mutex::new(Vec::new()));
        let completion_bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let text = Arc::new(std::sync::Mutex::new(FAKE_COMPLETION.to_owned()));
        let moderation = Arc::new(std::sync::Mutex::new(Moderation::Pass));
        let shared = (
            requests.clone(),
            moderations.clone(),
            authorizations.clone(),
            text.clone(),
            moderation.clone(),
            completion_bodies.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let (count, moderated, seen, text, verdict, bodies) = shared.clone();
                            async move {
                                if let Some(auth) = request.headers().get("authorization") {
                                    seen.lock()
                                        .unwrap()
                                        .push(auth.to_str().unwrap_or("").to_owned());
                                }
                                let path = request.uri().path().to_owned();
                                let body = request
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                if !path.ends_with("/moderations") {
                                    bodies
                                        .lock()
                                        .unwrap()
                                        .push(String::from_utf8_lossy(&body).into_owned());
                                }
                                let (status, body) = if path.ends_with("/moderations") {
                                    moderated.fetch_add(1, Ordering::SeqCst);
                                    let verdict = verdict.lock().unwrap().clone();
                                    match verdict {
                                        Moderation::Fail(status) => (
                                            status,
                                            r#"{"error":{"message":"moderation down"}}"#.to_owned(),
                                        ),
                                        Moderation::Pass | Moderation::Flag(_) => {
                                            let category = match verdict {
                                                Moderation::Flag(c) => c,
                                                _ => "self-harm",
                                            };
                                            let flagged = matches!(verdict, Moderation::Flag(_));
                                            (200, serde_json::json!({
                                                "id": "modr-1",
                                                "model": "omni-moderation-latest",
                                                "results": [{"flagged": flagged, "categories": {category: flagged, "violence": false}}]
                                            }).to_string())
                                        }
                                    }
                                } else {
                                    count.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(delay).await;
                                    if status == 200 {
                                        let content = text.lock().unwrap().clone();
                                        (200, serde_json::json!({
                                            "model": "gpt-4o-mini-2024-07-18",
                                            "choices": [{"message": {"role": "assistant", "content": content}}],
                                            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
                                        }).to_string())
                                    } else {
                                        (status, r#"{"error":{"message":"failure"}}"#.to_owned())
                                    }
                                };
                                Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .header("content-type", "application/json")
                                        .body(Full::new(Bytes::from(body)))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            requests,
            moderations,
            authorizations,
            completion_bodies,
            text,
            moderation,
        }
    }

    /// What `/chat/completions` answers from now on.
    pub fn set_text(&self, text: &str) {
        *self.text.lock().unwrap() = text.to_owned();
    }

    /// What `/moderations` answers from now on.
    pub fn set_moderation(&self, moderation: Moderation) {
        *self.moderation.lock().unwrap() = moderation;
    }

    pub fn moderation_count(&self) -> usize {
        self.moderations.load(Ordering::SeqCst)
    }

    pub fn llm(&self, api_key: &str, timeout: Duration) -> LlmChoice {
        LlmChoice::openai(api_key, Some(&self.url), Some("gpt-4o-mini"), timeout).unwrap()
    }

    /// Chat completions asked for (the model calls; moderations are counted apart).
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
