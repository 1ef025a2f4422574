//! Helpers for the cross-function tests: a local gateway on a free loopback port over a
//! temporary data directory, direct access to its store, and a small HTTP client.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use nutripro_local::llm::LlmChoice;
use nutripro_local::RunningGateway;
use nutripro_shared::adapters::sqlite::SqliteStore;
use std::path::PathBuf;

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
    pub async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let gateway = nutripro_local::start(data_dir.path(), 0, LlmChoice::offline())
            .await
            .expect("local gateway starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            gateway,
            data_dir,
            client,
        }
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

    pub async fn get(&self, path: &str, api_key: Option<&str>) -> TestResponse {
        let authorization = api_key.map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.request("GET", path, &headers, None).await
    }
}
