//! Metrics as CloudWatch Embedded Metric Format (EMF) log lines: one JSON document per
//! request (or per authorizer decision, or per job run), written to the function's log,
//! from which CloudWatch extracts the metrics — no `PutMetricData` call, nothing on the
//! request's path but formatting one line (docs/performance.md measures it).
//!
//! Every document goes to the namespace [`NAMESPACE`] and carries up to three metric
//! directives:
//! - per function (dimension `Function`, and no dimension for the service-wide sum):
//!   `Requests`, `Latency` (ms), `Errors` (a 5xx or a panic) and what a function counts
//!   for itself (`Unauthorized`, `Anomalies`, `ReservationsSwept`, `AuditWriteFailures`,
//!   `BillingCloseFailures`, and what DynamoDB answered: `StoreThrottled`,
//!   `StoreServerErrors`);
//! - per tenant (dimension `TenantId`): `Requests`, `Generations`, `PromptTokens`,
//!   `CompletionTokens`, `CostMicros`, `RateLimited`, `BudgetExhausted`, `SafetyBlocked`,
//!   `4xx`, `5xx`.
//!
//! Tenant ids are opaque identifiers; key material, prompts and generated text never go
//! into a metric. Locally the same lines go to the gateway's log (stderr).
//!
//! Inside [`crate::http::serve`] a request's record is task-local: a use case deep in
//! the call adds to it with [`add_tenant`] / [`add_function`], and the envelope writes
//! it once when the response is ready. Outside a request, build a [`Record`] and
//! [`Record::emit`] it.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "NutriPro";

pub const REQUESTS: &str = "Requests";
pub const LATENCY: &str = "Latency";
pub const ERRORS: &str = "Errors";
pub const UNAUTHORIZED: &str = "Unauthorized";
pub const ANOMALIES: &str = "Anomalies";
pub const RESERVATIONS_SWEPT: &str = "ReservationsSwept";
pub const AUDIT_WRITE_FAILURES: &str = "AuditWriteFailures";
pub const BILLING_CLOSE_FAILURES: &str = "BillingCloseFailures";
pub const BUDGET_ALERTS: &str = "BudgetAlerts";
pub const STORE_THROTTLED: &str = "StoreThrottled";
pub const STORE_SERVER_ERRORS: &str = "StoreServerErrors";
pub const GENERATIONS: &str = "Generations";
pub const PROMPT_TOKENS: &str = "PromptTokens";
pub const COMPLETION_TOKENS: &str = "CompletionTokens";
pub const COST_MICROS: &str = "CostMicros";
pub const RATE_LIMITED: &str = "RateLimited";
pub const BUDGET_EXHAUSTED: &str = "BudgetExhausted";
pub const SAFETY_BLOCKED: &str = "SafetyBlocked";
pub const CLIENT_ERRORS: &str = "4xx";
pub const SERVER_ERRORS: &str = "5xx";

/// The CloudWatch unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }

    fn of(name: &str) -> Unit {
        match name {
            LATENCY => Unit::Milliseconds,
            COST_MICROS | PROMPT_TOKENS | COMPLETION_TOKENS => Unit::None,
            _ => Unit::Count,
        }
    }
}

/// The metrics of one request, decision or job run.
#[derive(Debug, Clone, Default)]
pub struct Record {
    function: &'static str,
    tenant: Option<String>,
    by_function: Vec<(&'static str, f64)>,
    by_tenant: Vec<(&'static str, f64)>,
}

fn add_to(values: &mut Vec<(&'static str, f64)>, name: &'static str, value: f64) {
    match values.iter_mut().find(|(n, _)| *n == name) {
        Some((_, v)) => *v += value,
        None => values.push((name, value)),
    }
}

impl Record {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            ..Self::default()
        }
    }

    /// The tenant the per-tenant metrics belong to (none: they are not written).
    pub fn tenant(&mut self, tenant: &str) -> &mut Self {
        if !tenant.is_empty() {
            self.tenant = Some(tenant.to_owned());
        }
        self
    }

    pub fn function_metric(&mut self, name: &'static str, value: f64) -> &mut Self {
        add_to(&mut self.by_function, name, value);
        self
    }

    pub fn tenant_metric(&mut self, name: &'static str, value: f64) -> &mut Self {
        add_to(&mut self.by_tenant, name, value);
        self
    }

    /// The value recorded under `name` (per function, else per tenant).
    pub fn value(&self, name: &str) -> Option<f64> {
        self.by_function
            .iter()
            .chain(&self.by_tenant)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The EMF document, one line without its newline.
    pub fn to_emf(&self, timestamp_ms: i64) -> String {
        let mut line = String::with_capacity(640);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":["#
        );
        let by_tenant = self.tenant.is_some() && !self.by_tenant.is_empty();
        if !self.by_function.is_empty() {
            directive(&mut line, r#"[["Function"],[]]"#, &self.by_function);
        }
        if by_tenant {
            if !self.by_function.is_empty() {
                line.push(',');
            }
            directive(&mut line, r#"[["TenantId"]]"#, &self.by_tenant);
        }
        line.push_str("]},\"Function\":");
        json_string(&mut line, self.function);
        if let (true, Some(tenant)) = (by_tenant, &self.tenant) {
            line.push_str(",\"TenantId\":");
            json_string(&mut line, tenant);
        }
        // A name recorded both ways has one value member: the per-function one (they
        // agree for the names the envelope writes both ways).
        for (name, value) in &self.by_function {
            member(&mut line, name, *value);
        }
        if by_tenant {
            for (name, value) in &self.by_tenant {
                if !self.by_function.iter().any(|(n, _)| n == name) {
                    member(&mut line, name, *value);
                }
            }
        }
        line.push('}');
        line
    }

    /// Writes the document to the metrics sink (the function's log).
    pub fn emit(&self) {
        if self.by_function.is_empty() && self.by_tenant.is_empty() {
            return;
        }
        let line = self.to_emf(now_ms());
        CAPTURE.with(|capture| match capture.borrow_mut().as_mut() {
            Some(lines) => lines.push(line),
            None => sink().write_line(&line),
        });
    }
}

fn directive(line: &mut String, dimensions: &str, metrics: &[(&'static str, f64)]) {
    line.push_str("{\"Namespace\":\"");
    line.push_str(NAMESPACE);
    line.push_str("\",\"Dimensions\":");
    line.push_str(dimensions);
    line.push_str(",\"Metrics\":[");
    for (index, (name, _)) in metrics.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push_str("{\"Name\":");
        json_string(line, name);
        line.push_str(",\"Unit\":\"");
        line.push_str(Unit::of(name).as_str());
        line.push_str("\"}");
    }
    line.push_str("]}");
}

fn member(line: &mut String, name: &str, value: f64) {
    line.push(',');
    json_string(line, name);
    line.push(':');
    if value.is_finite() {
        if value.fract() == 0.0 && value.abs() < 9e15 {
            let _ = write!(line, "{}", value as i64);
        } else {
            let _ = write!(line, "{value}");
        }
    } else {
        line.push('0');
    }
}

fn json_string(line: &mut String, text: &str) {
    line.push('"');
    for c in text.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where metric lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// The Lambda function's log (CloudWatch reads stdout).
    Stdout,
    /// The local gateway's log.
    Stderr,
    /// Nowhere (benchmarks of everything else).
    Discard,
}

impl Sink {
    fn write_line(self, line: &str) {
        // One write of the whole line: lines from concurrent requests never interleave.
        // A failed write must never fail a request.
        let mut buffer = Vec::with_capacity(line.len() + 1);
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
        let _ = match self {
            Sink::Stdout => std::io::stdout().lock().write_all(&buffer),
            Sink::Stderr => std::io::stderr().lock().write_all(&buffer),
            Sink::Discard => Ok(()),
        };
    }
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets where metric lines go (once per process; later calls change nothing).
/// [`crate::telemetry::init`] sets it with the log format: the Lambda host's JSON logs
/// to stdout, the local gateway's to stderr. A process that never sets it (a test
/// binary) writes no metric lines.
pub fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

/// Where metric lines go now.
pub fn sink() -> Sink {
    *SINK.get().unwrap_or(&Sink::Discard)
}

thread_local! {
    static CAPTURE: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Captures this thread's metric lines instead of writing them, until
/// [`finish_capture`] (tests: a current-thread runtime keeps a request on the test's
/// thread).
pub fn start_capture() {
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
}

/// The lines captured since [`start_capture`]; writing resumes.
pub fn finish_capture() -> Vec<String> {
    CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default()
}

/// The record of the request in progress, shared with the envelope that writes it.
pub type Current = Arc<Mutex<Record>>;

tokio::task_local! {
    static CURRENT: Current;
}

/// Runs `future` with `record` as the request's record.
pub async fn scope<F: std::future::Future>(record: Current, future: F) -> F::Output {
    CURRENT.scope(record, future).await
}

fn with_current(f: impl FnOnce(&mut Record)) {
    let _ = CURRENT.try_with(|record| {
        let mut record = record.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut record);
    });
}

/// Adds to a per-tenant metric of the request in progress (nothing outside a request).
pub fn add_tenant(name: &'static str, value: f64) {
    with_current(|record| {
        record.tenant_metric(name, value);
    });
}

/// Adds to a per-function metric of the request in progress; outside a request, writes
/// a line of its own under `fallback_function`.
pub fn add_function(fallback_function: &'static str, name: &'static str, value: f64) {
    let mut done = false;
    with_current(|record| {
        record.function_metric(name, value);
        done = true;
    });
    if !done {
        Record::new(fallback_function)
            .function_metric(name, value)
            .emit();
    }
}

/// Runs a scheduled job with a record of its own: one line per run with its latency,
/// whether it failed, and what the job counted (e.g. `ReservationsSwept`).
pub async fn job<T, E, F>(function: &'static str, future: F) -> Result<T, E>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let record = Arc::new(Mutex::new(Record::new(function)));
    let started = std::time::Instant::now();
    let result = scope(record.clone(), future).await;
    let mut record = record.lock().unwrap_or_else(|p| p.into_inner());
    record
        .function_metric(REQUESTS, 1.0)
        .function_metric(LATENCY, started.elapsed().as_secs_f64() * 1000.0)
        .function_metric(ERRORS, f64::from(u8::from(result.is_err())))
        .emit();
    result
}

/// Runs an authorizer's decision with a record of its own: one line per decision with
/// its latency, `Unauthorized` (the answer was `unauthorized`), `Errors` (any other
/// error: a dependency down) and what the authorizer counted (`Anomalies`).
pub async fn authorizer<T, E, F>(
    function: &'static str,
    unauthorized: &str,
    future: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let record = Arc::new(Mutex::new(Record::new(function)));
    let started = std::time::Instant::now();
    let result = scope(record.clone(), future).await;
    let refused = matches!(&result, Err(error) if error.to_string() == unauthorized);
    let mut record = record.lock().unwrap_or_else(|p| p.into_inner());
    record
        .function_metric(REQUESTS, 1.0)
        .function_metric(LATENCY, started.elapsed().as_secs_f64() * 1000.0)
        .function_metric(UNAUTHORIZED, f64::from(u8::from(refused)))
        .function_metric(ERRORS, f64::from(u8::from(result.is_err() && !refused)))
        .emit();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_emf_document() {
        let mut record = Record::new("create_generation");
        record
            .tenant("t-1")
            .function_metric(REQUESTS, 1.0)
            .function_metric(LATENCY, 12.5)
            .tenant_metric(REQUESTS, 1.0)
            .tenant_metric(GENERATIONS, 1.0)
            .tenant_metric(COST_MICROS, 42.0);
        let doc: serde_json::Value =
            serde_json::from_str(&record.to_emf(1_700_000_000_000)).unwrap();
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        assert_eq!(
            directives[0]["Dimensions"],
            serde_json::json!([["Function"], []])
        );
        assert_eq!(
            directives[1]["Dimensions"],
            serde_json::json!([["TenantId"]])
        );
        assert_eq!(doc["Function"], "create_generation");
        assert_eq!(doc["TenantId"], "t-1");
        assert_eq!(doc["Latency"], 12.5);
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["CostMicros"], 42);
        assert_eq!(directives[0]["Metrics"][1]["Unit"], "Milliseconds");
    }

    #[test]
    fn no_tenant_no_tenant_directive() {
        let mut record = Record::new("sweep");
        record
            .function_metric(RESERVATIONS_SWEPT, 2.0)
            .tenant_metric(GENERATIONS, 1.0);
        let doc: serde_json::Value = serde_json::from_str(&record.to_emf(1)).unwrap();
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            1
        );
        assert!(doc.get("TenantId").is_none());
        assert!(doc.get("Generations").is_none());
    }

    #[test]
    fn strings_are_escaped() {
        let mut record = Record::new("f");
        record.tenant("a\"b\\c\n").tenant_metric(REQUESTS, 1.0);
        let doc: serde_json::Value = serde_json::from_str(&record.to_emf(1)).unwrap();
        assert_eq!(doc["TenantId"], "a\"b\\c\n");
    }

    #[test]
    fn outside_a_request_a_function_metric_is_a_line_of_its_own() {
        start_capture();
        add_function("audit", AUDIT_WRITE_FAILURES, 1.0);
        let lines = finish_capture();
        assert_eq!(lines.len(), 1);
        let doc: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(doc["AuditWriteFailures"], 1);
        assert_eq!(doc["Function"], "audit");
        start_capture();
        add_tenant(GENERATIONS, 1.0);
        assert!(finish_capture().is_empty());
    }
}
