//! The real OpenAI client against an HTTP server on 127.0.0.1 that speaks the OpenAI
//! chat-completions wire format and plays a script: success, 401, 429 with Retry-After,
//! 500, malformed JSON, a body over the cap, and a response slower than the deadline.

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use nutripro_shared::adapters::openai::{OpenAiClient, OpenAiConfig};
use nutripro_shared::ports::llm::{ChatMessage, CompletionRequest, LlmError, LlmProvider, Role};
use nutripro_shared::ports::secrets::{Secret, SecretError, SecretSource};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake server does for one request.
#[derive(Clone)]
enum Reply {
    Ok,
    Status(u16),
    TooManyRequests { retry_after_secs: u64 },
    Malformed,
    Huge(usize),
    Slow(Duration),
}

#[derive(Debug, Clone)]
struct Seen {
    authorization: String,
    body: serde_json::Value,
}

struct FakeOpenAi {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

const SUCCESS: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18",
  "choices":[{"index":0,"message":{"role":"assistant","content":"Welcome to your new plan."},"finish_reason":"stop"}],
  "usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}"#;

impl FakeOpenAi {
    /// Serves `script` (one reply per request, the last one repeating) on a free port.
    async fn start(script: Vec<Reply>) -> (Arc<Self>, String) {
        let fake = Arc::new(Self {
            script: Mutex::new(script.into()),
            seen: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let fake = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let fake = fake.clone();
                        async move { Ok::<_, Infallible>(fake.reply(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (fake, url)
    }

    async fn reply(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        assert_eq!(request.uri().path(), "/v1/chat/completions");
        let authorization = request
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        self.seen.lock().unwrap().push(Seen {
            authorization,
            body: serde_json::from_slice(&body).unwrap(),
        });
        let reply = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().cloned().unwrap()
            }
        };
        let json = |status: u16, body: String| {
            hyper::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        match reply {
            Reply::Ok => json(200, SUCCESS.into()),
            Reply::Status(status) => json(
                status,
                format!(r#"{{"error":{{"message":"status {status}"}}}}"#),
            ),
            Reply::TooManyRequests { retry_after_secs } => {
                let mut response = json(429, r#"{"error":{"message":"rate limited"}}"#.into());
                response
                    .headers_mut()
                    .insert("retry-after", retry_after_secs.to_string().parse().unwrap());
                response
            }
            Reply::Malformed => json(200, r#"{"choices": [ {"message": "#.into()),
            Reply::Huge(bytes) => json(200, format!(r#"{{"pad":"{}"}}"#, "x".repeat(bytes))),
            Reply::Slow(delay) => {
                tokio::time::sleep(delay).await;
                json(200, SUCCESS.into())
            }
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A key source that hands out `key-1`, then `key-2` after a refresh, counting refreshes.
#[derive(Default)]
struct RotatingKey {
    refreshes: AtomicUsize,
}

#[async_trait]
impl SecretSource for RotatingKey {
    async fn current(&self) -> Result<Secret, SecretError> {
        Ok(Secret::new(format!(
            "key-{}",
            self.refreshes.load(Ordering::SeqCst) + 1
        )))
    }

    async fn refresh(&self) -> Result<Secret, SecretError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        self.current().await
    }
}

fn client(url: &str, key: Arc<RotatingKey>) -> OpenAiClient {
    let config = OpenAiConfig {
        base_url: url.to_owned(),
        base_backoff: Duration::from_millis(10),
        max_response_bytes: 64 * 1024,
        ..OpenAiConfig::default()
    };
    OpenAiClient::new(config, key).unwrap()
}

fn request() -> CompletionRequest {
    CompletionRequest {
        model: "gpt-4o-mini".into(),
        messages: vec![
            ChatMessage::new(Role::System, "You write in the dietitian's style."),
            ChatMessage::new(Role::User, "Write a diet introduction."),
        ],
        max_tokens: 300,
        brief: None,
    }
}

fn in_secs(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

#[tokio::test]
async fn success_returns_content_usage_model_and_raw_response() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Ok]).await;
    let key = Arc::new(RotatingKey::default());
    let completion = client(&url, key)
        .complete(&request(), in_secs(5))
        .await
        .unwrap();
    assert_eq!(completion.content, "Welcome to your new plan.");
    assert_eq!(completion.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        (
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            completion.usage.total_tokens
        ),
        (42, 7, 49)
    );
    assert_eq!(completion.raw_response, SUCCESS);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization, "Bearer key-1");
    assert_eq!(seen[0].body["model"], "gpt-4o-mini");
    assert_eq!(seen[0].body["max_tokens"], 300);
    assert_eq!(seen[0].body["messages"][0]["role"], "system");
    assert_eq!(
        seen[0].body["messages"][1]["content"],
        "Write a diet introduction."
    );
}

#[tokio::test]
async fn a_401_refreshes_the_key_once_then_succeeds() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Status(401), Reply::Ok]).await;
    let key = Arc::new(RotatingKey::default());
    client(&url, key.clone())
        .complete(&request(), in_secs(5))
        .await
        .unwrap();
    let auth: Vec<String> = fake.seen().into_iter().map(|s| s.authorization).collect();
    assert_eq!(auth, ["Bearer key-1", "Bearer key-2"]);
    assert_eq!(key.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_401_is_unauthorized_without_looping() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Status(401)]).await;
    let key = Arc::new(RotatingKey::default());
    let error = client(&url, key.clone())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Unauthorized);
    assert_eq!(error.gateway_status(), 502);
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(key.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_retries() {
    let (fake, url) = FakeOpenAi::start(vec![
        Reply::TooManyRequests {
            retry_after_secs: 1,
        },
        Reply::Ok,
    ])
    .await;
    let started = Instant::now();
    let completion = client(&url, Arc::default())
        .complete(&request(), in_secs(10))
        .await
        .unwrap();
    assert_eq!(completion.content, "Welcome to your new plan.");
    assert_eq!(fake.seen().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let (fake, url) = FakeOpenAi::start(vec![
        Reply::TooManyRequests {
            retry_after_secs: 30,
        },
        Reply::Ok,
    ])
    .await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(3))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Upstream { status: 429 });
    assert_eq!(fake.seen().len(), 1, "no retry that cannot finish in time");
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Status(500), Reply::Ok]).await;
    client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap();
    assert_eq!(fake.seen().len(), 2);

    let (fake, url) = FakeOpenAi::start(vec![Reply::Status(500)]).await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Upstream { status: 500 });
    assert_eq!(fake.seen().len(), 3, "first attempt + max_retries (2)");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Status(400)]).await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Upstream { status: 400 });
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response_and_not_retried() {
    let (fake, url) = FakeOpenAi::start(vec![Reply::Malformed]).await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::InvalidResponse(_)), "{error:?}");
    assert_eq!(error.gateway_status(), 502);
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let (_, url) = FakeOpenAi::start(vec![Reply::Huge(200 * 1024)]).await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::ResponseTooLarge(64 * 1024));
}

/// T14: a slow upstream ends in a timeout at the deadline, not when the upstream finishes.
#[tokio::test]
async fn a_response_slower_than_the_deadline_times_out_in_time() {
    let (_, url) = FakeOpenAi::start(vec![Reply::Slow(Duration::from_secs(20))]).await;
    let started = Instant::now();
    let error = client(&url, Arc::default())
        .complete(&request(), Instant::now() + Duration::from_millis(800))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Timeout);
    assert_eq!(error.gateway_status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up at the deadline, long before the upstream answered"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_after_bounded_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener); // nothing listens there now
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn errors_never_contain_the_api_key() {
    let (_, url) = FakeOpenAi::start(vec![Reply::Status(401)]).await;
    let error = client(&url, Arc::default())
        .complete(&request(), in_secs(5))
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains("key-1") && !text.contains("key-2"), "{text}");
}
