//! A fault-injecting DynamoDB endpoint: an HTTP proxy on 127.0.0.1 in front of a
//! DynamoDB-compatible server (moto, DynamoDB Local) that answers some requests the way
//! real DynamoDB does under load and in failure, at set rates:
//!
//! - a write cancelled by a conflicting transaction: `TransactWriteItems` answers 400
//!   `TransactionCanceledException` with a `TransactionConflict` reason, a single write
//!   400 `TransactionConflictException` — nothing applied;
//! - throttling: 400 `ThrottlingException` / `ProvisionedThroughputExceededException` —
//!   nothing applied;
//! - a server error: 500 `InternalServerError` — nothing applied;
//! - a lost answer: the request *is applied* upstream, then the client gets a 500 (as
//!   when a response is lost or times out). Injected only into writes that the product
//!   makes safe to repeat — `TransactWriteItems` (guarded by create-only conditions),
//!   `PutItem`, `DeleteItem`, `BatchWriteItem` — not into `UpdateItem` counters (see
//!   `docs/architecture.md`, "Retries and timeouts");
//! - a delay of up to `max_delay_ms` before the answer (applied).
//!
//! Reads are only throttled, failed or delayed. Decisions come from a seeded generator,
//! so a run's fault sequence is reproducible when requests arrive in the same order.
//! Every fault is counted; `FaultProxy::counts` reads them, and when
//! `NUTRIPRO_FAULT_REPORT` names a file, each proxy appends its counts there as one JSON
//! line when it is dropped (`scripts/test` sums them).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Rates (0–1) of each fault per eligible request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Faults {
    /// `TransactWriteItems` cancelled by a conflicting transaction.
    pub transaction_conflict: f64,
    /// A single write (`PutItem`, `UpdateItem`, `DeleteItem`) refused because a
    /// transaction holds its item.
    pub write_conflict: f64,
    pub throttle: f64,
    pub server_error: f64,
    /// Applied upstream, answered 500.
    pub lost_response: f64,
    pub delay: f64,
    pub max_delay_ms: u64,
    pub seed: u64,
}

impl Faults {
    pub const NONE: Faults = Faults {
        transaction_conflict: 0.0,
        write_conflict: 0.0,
        throttle: 0.0,
        server_error: 0.0,
        lost_response: 0.0,
        delay: 0.0,
        max_delay_ms: 0,
        seed: 1,
    };

    /// The rates the test command runs the DynamoDB suites with (issue 16): 20% of
    /// transactions cancelled by conflicts, 5% of single writes, 3% throttled, 2% server
    /// errors, 2% lost answers, 5% delayed by up to 50 ms.
    pub const STANDARD: Faults = Faults {
        transaction_conflict: 0.20,
        write_conflict: 0.05,
        throttle: 0.03,
        server_error: 0.02,
        lost_response: 0.02,
        delay: 0.05,
        max_delay_ms: 50,
        seed: 20_261_130,
    };

    /// `NUTRIPRO_FAULTS`: `off`, `standard` (the default), or a comma list of
    /// `name=rate` overriding the standard rates (`transaction_conflict=0.5,seed=7`).
    pub fn from_env() -> Result<Faults, String> {
        match std::env::var("NUTRIPRO_FAULTS") {
            Err(_) => Ok(Self::STANDARD),
            Ok(spec) => Self::parse(&spec),
        }
    }

    pub fn parse(spec: &str) -> Result<Faults, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "standard" {
            return Ok(Self::STANDARD);
        }
        if spec == "off" || spec == "none" {
            return Ok(Self::NONE);
        }
        let mut faults = Self::STANDARD;
        for pair in spec.split(',') {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected name=value"))?;
            let rate = || -> Result<f64, String> {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("{name}: a rate from 0 to 1, not {value:?}"))
            };
            match name.trim() {
                "transaction_conflict" => faults.transaction_conflict = rate()?,
                "write_conflict" => faults.write_conflict = rate()?,
                "throttle" => faults.throttle = rate()?,
                "server_error" => faults.server_error = rate()?,
                "lost_response" => faults.lost_response = rate()?,
                "delay" => faults.delay = rate()?,
                "max_delay_ms" => {
                    faults.max_delay_ms = value.trim().parse().map_err(|_| "max_delay_ms: ms")?
                }
                "seed" => faults.seed = value.trim().parse().map_err(|_| "seed: a number")?,
                other => return Err(format!("unknown fault {other:?}")),
            }
        }
        Ok(faults)
    }
}

/// What a proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    pub requests: u64,
    pub transaction_conflicts: u64,
    pub write_conflicts: u64,
    pub throttles: u64,
    pub server_errors: u64,
    pub lost_responses: u64,
    pub delays: u64,
}

impl FaultCounts {
    /// Requests answered with a fault (delays excluded: they are answered).
    pub fn injected(&self) -> u64 {
        self.transaction_conflicts
            + self.write_conflicts
            + self.throttles
            + self.server_errors
            + self.lost_responses
    }

    pub fn add(&mut self, other: &FaultCounts) {
        self.requests += other.requests;
        self.transaction_conflicts += other.transaction_conflicts;
        self.write_conflicts += other.write_conflicts;
        self.throttles += other.throttles;
        self.server_errors += other.server_errors;
        self.lost_responses += other.lost_responses;
        self.delays += other.delays;
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    transaction_conflicts: AtomicU64,
    write_conflicts: AtomicU64,
    throttles: AtomicU64,
    server_errors: AtomicU64,
    lost_responses: AtomicU64,
    delays: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> FaultCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FaultCounts {
            requests: get(&self.requests),
            transaction_conflicts: get(&self.transaction_conflicts),
            write_conflicts: get(&self.write_conflicts),
            throttles: get(&self.throttles),
            server_errors: get(&self.server_errors),
            lost_responses: get(&self.lost_responses),
            delays: get(&self.delays),
        }
    }
}

struct Shared {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    faults: Mutex<Faults>,
    rng: Mutex<u64>,
    counts: Counters,
}

impl Shared {
    /// A uniform draw in [0, 1) (xorshift64*, seeded).
    fn draw(&self) -> f64 {
        let mut state = self.rng.lock().expect("rng lock");
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A running proxy. Dropping it stops it (and writes its report line, if asked).
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    label: String,
}

/// Which fault, if any, a request gets.
enum Fault {
    TransactionConflict(usize),
    WriteConflict,
    Throttle(bool),
    ServerError,
    LostResponse,
    Delay(Duration),
}

const WRITES: [&str; 5] = [
    "TransactWriteItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
];
/// Writes that the product makes safe to apply twice.
const REPEATABLE: [&str; 4] = [
    "TransactWriteItems",
    "PutItem",
    "DeleteItem",
    "BatchWriteItem",
];

fn error(
    status: u16,
    kind: &str,
    message: &str,
    extra: Option<serde_json::Value>,
) -> (u16, String) {
    let mut body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": message,
    });
    if let (Some(extra), Some(map)) = (extra, body.as_object_mut()) {
        if let Some(fields) = extra.as_object() {
            map.extend(fields.clone());
        }
    }
    (status, body.to_string())
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`
    /// (`http://127.0.0.1:5599`), injecting `faults`. `label` names it in the report.
    pub async fn start(upstream: &str, faults: Faults, label: &str) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", upstream, faults, label).await
    }

    /// As [`FaultProxy::start`], listening on `listen` (`127.0.0.1:5600`).
    pub async fn start_on(
        listen: &str,
        upstream: &str,
        faults: Faults,
        label: &str,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            rng: Mutex::new(faults.seed.max(1)),
            faults: Mutex::new(faults),
            counts: Counters::default(),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            shared,
            task,
            label: label.to_owned(),
        })
    }

    /// Where clients send their requests.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn counts(&self) -> FaultCounts {
        self.shared.counts.snapshot()
    }

    /// Changes the rates from now on (e.g. none while a fixture is set up).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults lock") = faults;
    }

    /// For the test suites: a proxy in front of the DynamoDB-compatible server the test
    /// command started (`NUTRIPRO_TEST_DYNAMODB_ENDPOINT`; missing, it panics with how
    /// to run the suite), injecting nothing until [`FaultProxy::arm`].
    pub async fn for_tests(label: &str) -> FaultProxy {
        let endpoint = std::env::var("NUTRIPRO_TEST_DYNAMODB_ENDPOINT").expect(
            "NUTRIPRO_TEST_DYNAMODB_ENDPOINT is not set: the DynamoDB tests need a \
             DynamoDB-compatible server on loopback; run them through scripts/test",
        );
        FaultProxy::start(&endpoint, Faults::NONE, label)
            .await
            .expect("start the fault proxy on loopback")
    }

    /// Switches on the faults `NUTRIPRO_FAULTS` names (default: [`Faults::STANDARD`]).
    pub fn arm(&self) {
        let faults = Faults::from_env().unwrap_or_else(|e| panic!("NUTRIPRO_FAULTS: {e}"));
        self.set_faults(faults);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        let Ok(path) = std::env::var("NUTRIPRO_FAULT_REPORT") else {
            return;
        };
        append_report_line(std::path::Path::new(&path), &self.label, &self.counts());
    }
}

/// Appends `{"label": …, "counts": …}` and a newline to the report file in one write(2):
/// the proxies of tests running in parallel threads append to the same file, and
/// `writeln!` on a `File` issues one write per formatted piece, which interleaved two
/// lines into one unparsable line (seen in CI). A failure to write is not the test's.
fn append_report_line(path: &std::path::Path, label: &str, counts: &FaultCounts) {
    let mut line = serde_json::json!({"label": label, "counts": counts}).to_string();
    line.push('\n');
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

fn respond(status: u16, body: String, headers: &http::HeaderMap) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers {
        // The body changed, so its length and checksum are recomputed (or absent).
        if name == "content-length" || name == "x-amz-crc32" || name == "transfer-encoding" {
            continue;
        }
        response = response.header(name, value);
    }
    response
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

async fn handle(shared: &Shared, request: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let fault = choose(shared, &operation, &body);
    let counts = &shared.counts;
    let none = http::HeaderMap::new();
    match fault {
        Some(Fault::TransactionConflict(items)) => {
            counts.transaction_conflicts.fetch_add(1, Ordering::Relaxed);
            let conflicted = (shared.draw() * items as f64) as usize % items.max(1);
            let reasons: Vec<serde_json::Value> = (0..items.max(1))
                .map(|i| {
                    if i == conflicted {
                        serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
                    } else {
                        serde_json::json!({"Code": "None"})
                    }
                })
                .collect();
            let summary: Vec<&str> = (0..items.max(1))
                .map(|i| {
                    if i == conflicted {
                        "TransactionConflict"
                    } else {
                        "None"
                    }
                })
                .collect();
            let (status, body) = error(
                400,
                "TransactionCanceledException",
                &format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    summary.join(", ")
                ),
                Some(serde_json::json!({"CancellationReasons": reasons})),
            );
            return respond(status, body, &none);
        }
        Some(Fault::WriteConflict) => {
            counts.write_conflicts.fetch_add(1, Ordering::Relaxed);
            let (status, body) = error(
                400,
                "TransactionConflictException",
                "Transaction is ongoing for the item",
                None,
            );
            return respond(status, body, &none);
        }
        Some(Fault::Throttle(provisioned)) => {
            counts.throttles.fetch_add(1, Ordering::Relaxed);
            let (status, body) = if provisioned {
                error(
                    400,
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded.",
                    None,
                )
            } else {
                error(
                    400,
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                    None,
                )
            };
            return respond(status, body, &none);
        }
        Some(Fault::ServerError) => {
            counts.server_errors.fetch_add(1, Ordering::Relaxed);
            let (status, body) = error(500, "InternalServerError", "Internal server error", None);
            return respond(status, body, &none);
        }
        _ => {}
    }
    // Forwarded: the request reaches the real server.
    let mut forward = http::Request::builder()
        .method(parts.method.clone())
        .uri(format!(
            "{}{}",
            shared.upstream,
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        ));
    for (name, value) in &parts.headers {
        if name != "host" {
            forward = forward.header(name, value);
        }
    }
    let forwarded = match forward.body(Full::new(body)) {
        Ok(request) => shared.client.request(request).await,
        Err(_) => {
            let (status, body) = error(500, "InternalServerError", "proxy: bad request", None);
            return respond(status, body, &none);
        }
    };
    let upstream = match forwarded {
        Ok(response) => response,
        Err(e) => {
            let (status, body) = error(
                500,
                "InternalServerError",
                &format!("proxy: upstream: {e}"),
                None,
            );
            return respond(status, body, &none);
        }
    };
    let (upstream_parts, upstream_body) = upstream.into_parts();
    let upstream_body = upstream_body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match fault {
        Some(Fault::LostResponse) => {
            counts.lost_responses.fetch_add(1, Ordering::Relaxed);
            let (status, body) = error(
                500,
                "InternalServerError",
                "Internal server error (the request was applied; its answer was lost)",
                None,
            );
            respond(status, body, &none)
        }
        Some(Fault::Delay(pause)) => {
            counts.delays.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(pause).await;
            pass_through(upstream_parts, upstream_body)
        }
        _ => pass_through(upstream_parts, upstream_body),
    }
}

fn pass_through(parts: http::response::Parts, body: Bytes) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        if name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    response.body(Full::new(body)).expect("a valid response")
}

fn choose(shared: &Shared, operation: &str, body: &Bytes) -> Option<Fault> {
    let faults = *shared.faults.lock().expect("faults lock");
    let write = WRITES.contains(&operation);
    let roll = |rate: f64| rate > 0.0 && shared.draw() < rate;
    if operation == "TransactWriteItems" && roll(faults.transaction_conflict) {
        let items = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("TransactItems")
                    .and_then(|t| t.as_array())
                    .map(Vec::len)
            })
            .unwrap_or(1);
        return Some(Fault::TransactionConflict(items));
    }
    if write
        && operation != "TransactWriteItems"
        && operation != "BatchWriteItem"
        && roll(faults.write_conflict)
    {
        return Some(Fault::WriteConflict);
    }
    if roll(faults.throttle) {
        return Some(Fault::Throttle(shared.draw() < 0.5));
    }
    if roll(faults.server_error) {
        return Some(Fault::ServerError);
    }
    if REPEATABLE.contains(&operation) && roll(faults.lost_response) {
        return Some(Fault::LostResponse);
    }
    if roll(faults.delay) {
        let ms = (shared.draw() * faults.max_delay_ms as f64) as u64;
        return Some(Fault::Delay(Duration::from_millis(ms)));
    }
    None
}

/// A store (or any value) served through a fault proxy, keeping the proxy alive as long
/// as it: derefs to the store.
pub struct WithFaults<T: ?Sized> {
    pub inner: Box<T>,
    pub proxy: FaultProxy,
}

impl<T: ?Sized> std::ops::Deref for WithFaults<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_appended_from_parallel_threads_stay_whole() {
        let dir = std::env::temp_dir().join(format!("fault-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("report.jsonl");
        let _ = std::fs::remove_file(&path);
        let counts = FaultCounts {
            requests: 123_456,
            delays: 7,
            ..FaultCounts::default()
        };
        let (threads, lines) = (8, 200);
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let (path, counts) = (&path, &counts);
                scope.spawn(move || {
                    for n in 0..lines {
                        append_report_line(path, &format!("suite-{thread}-{n}"), counts);
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).expect("the report");
        let _ = std::fs::remove_dir_all(&dir);
        let parsed: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(parsed.len(), threads * lines);
        assert!(parsed.iter().all(|v| v["counts"]["requests"] == 123_456));
    }
}
