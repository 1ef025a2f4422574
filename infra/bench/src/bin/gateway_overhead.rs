//! Platform overhead per data-plane request on the local gateway with the embedded
//! store: authorizer + REST event + handler + store + HTTP, measured from a client on
//! loopback over a keep-alive connection. The request count is bounded.
//!
//! ```text
//! gateway-overhead [--requests 5000] [--warmup 200] 2>/dev/null
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nutripro_bench::{flag, millis, percentile};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::ports::SettingsStore;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let requests: usize = flag(&args, "--requests", 5000);
    let warmup: usize = flag(&args, "--warmup", 200);
    assert!(
        (1..=200_000).contains(&requests),
        "--requests must be 1..=200000"
    );
    // Log exactly as `nutripro-local serve` does (run with 2>/dev/null), so the figure
    // includes the cost of the per-request log lines.
    nutripro_shared::telemetry::init(nutripro_shared::telemetry::LogFormat::Text);

    let data_dir = tempfile::tempdir().unwrap();
    let gateway = nutripro_local::start(
        data_dir.path(),
        0,
        nutripro_local::llm::LlmChoice::offline(),
    )
    .await
    .expect("gateway starts");
    let store = SqliteStore::open(data_dir.path()).unwrap();
    let (boot, _) = nutripro_local::bootstrap::bootstrap(&store, "bench", Timestamp::now())
        .await
        .unwrap();
    // Every /v1 request counts against the tenant's rate limit: lift it above the run.
    store
        .put_tenant_settings(
            &nutripro_shared::domain::TenantId::new(boot.tenant_id.clone()),
            &nutripro_shared::domain::settings::TenantSettings {
                requests_per_minute: Some(100_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let authorization = format!("Bearer {}", boot.api_key);
    let url = format!("{}/v1/me", gateway.base_url());
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    let mut samples = Vec::with_capacity(requests);
    for i in 0..warmup + requests {
        let request = http::Request::get(&url)
            .header("authorization", &authorization)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let started = Instant::now();
        let response = client.request(request).await.expect("gateway answers");
        let status = response.status();
        response.into_body().collect().await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(status, 200);
        if i >= warmup {
            samples.push(elapsed);
        }
    }
    let total: Duration = samples.iter().sum();
    println!("GET /v1/me through the local gateway (authorizer + handler + SQLite), {requests} requests after {warmup} warm-up");
    println!(
        "p50 {}  p90 {}  p99 {}  max {}  mean {}",
        millis(percentile(&mut samples, 50.0)),
        millis(percentile(&mut samples, 90.0)),
        millis(percentile(&mut samples, 99.0)),
        millis(percentile(&mut samples, 100.0)),
        millis(total / requests as u32),
    );
}
