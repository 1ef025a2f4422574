//! Generations through the local gateway on the production DynamoDB adapters, against a
//! DynamoDB-compatible server on loopback, without and with injected faults (the fault
//! proxy of `infra/faults`, standard rates): latency of each generation, the faults
//! injected, and the books — generations billed, lost writes, double bills, wrongly
//! refused generations (the last three must be 0; the budget is ample, so every
//! generation must succeed). Bounded: `--generations` requests per mode. (That a
//! budget admits exactly what it affords under faults is a test:
//! `tests/billing_concurrency.rs`.)
//!
//! ```text
//! store-faults --dynamodb-endpoint http://127.0.0.1:PORT [--generations 300] [--concurrency 1]
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nutripro_bench::{flag, millis, percentile};
use nutripro_faults::{FaultCounts, FaultProxy, Faults};
use nutripro_local::stores::{StoreChoice, Stores};
use nutripro_shared::domain::billing::Period;
use nutripro_shared::domain::content::{Consent, DietitianId, GenerationId};
use nutripro_shared::domain::settings::TenantSettings;
use nutripro_shared::domain::{KeyId, TenantId, Timestamp};
use nutripro_shared::ports::billing::reconcile;
use std::time::{Duration, Instant};

struct Outcome {
    latencies: Vec<Duration>,
    statuses: Vec<u16>,
    acknowledged: Vec<String>,
}

async fn run(
    endpoint: &str,
    faults: Faults,
    generations: usize,
    concurrency: usize,
) -> (Outcome, FaultCounts, Books) {
    let proxy = FaultProxy::start(endpoint, Faults::NONE, "store-faults")
        .await
        .expect("proxy");
    let data_dir = tempfile::tempdir().unwrap();
    let choice = StoreChoice::DynamoDb {
        endpoint: proxy.url().to_owned(),
        table_prefix: format!("bench-{}-", nutripro_shared::domain::new_id()),
    };
    let stores = Stores::open(&choice, data_dir.path())
        .await
        .expect("tables");
    let gateway = nutripro_local::start_on(
        data_dir.path(),
        &choice,
        0,
        nutripro_local::llm::LlmChoice::offline(),
    )
    .await
    .expect("gateway");
    let (boot, _) =
        nutripro_local::bootstrap::bootstrap(&*stores.control_plane(), "bench", Timestamp::now())
            .await
            .unwrap();
    let tenant = TenantId::new(boot.tenant_id.clone());
    stores
        .content
        .put_consent(&Consent {
            tenant_id: tenant.clone(),
            dietitian_id: DietitianId::new("dr-bench"),
            granted: true,
            recorded_at: Timestamp::now(),
            key_id: KeyId::new(boot.key_id.clone()),
        })
        .await
        .unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("{}/v1/generations", gateway.base_url());
    let authorization = format!("Bearer {}", boot.api_key);
    let body = r#"{"dietitian_id":"dr-bench","kind":"nutrition_tips","input":{"client":"Ann","topic":"water"}}"#;
    let post = |client: Client<_, Full<Bytes>>, url: String, authorization: String| async move {
        let request = http::Request::post(&url)
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let started = Instant::now();
        let response = client.request(request).await.expect("gateway answers");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let elapsed = started.elapsed();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        (
            status,
            elapsed,
            json["id"].as_str().map(str::to_owned),
            json["cost"]["amount_micros"].as_i64(),
        )
    };
    // One probe (no faults), then an ample budget and rate limit.
    let (status, _, _, _) = post(client.clone(), url.clone(), authorization.clone()).await;
    assert_eq!(status, 201, "the probe generation");
    stores
        .admin
        .put_tenant_settings(
            &tenant,
            &TenantSettings {
                monthly_budget_micros: Some(1_000_000_000_000),
                requests_per_minute: Some(100_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    proxy.set_faults(faults);
    let before = proxy.counts();
    let mut outcome = Outcome {
        latencies: Vec::new(),
        statuses: Vec::new(),
        acknowledged: Vec::new(),
    };
    let mut next = 0;
    while next < generations {
        let batch: Vec<_> = (next..(next + concurrency).min(generations))
            .map(|_| tokio::spawn(post(client.clone(), url.clone(), authorization.clone())))
            .collect();
        next += batch.len();
        for task in batch {
            let (status, elapsed, id, _) = task.await.unwrap();
            outcome.statuses.push(status);
            if status == 201 {
                outcome.latencies.push(elapsed);
                outcome.acknowledged.extend(id);
            }
        }
    }
    proxy.set_faults(Faults::NONE);
    let after = proxy.counts();
    let mut injected = after;
    injected.requests -= before.requests;
    injected.transaction_conflicts -= before.transaction_conflicts;
    injected.write_conflicts -= before.write_conflicts;
    injected.throttles -= before.throttles;
    injected.server_errors -= before.server_errors;
    injected.lost_responses -= before.lost_responses;
    injected.delays -= before.delays;

    // The books: what was acknowledged is stored; what is billed was acknowledged.
    let mut lost = 0;
    for id in &outcome.acknowledged {
        if stores
            .content
            .get_generation(&tenant, &GenerationId::new(id))
            .await
            .unwrap()
            .is_none()
        {
            lost += 1;
        }
    }
    let usage = stores
        .billing
        .usage(&tenant, Period::of(Timestamp::now()))
        .await
        .unwrap();
    let billed = usage.total.generations as usize - 1; // less the probe
    let drift = reconcile(&*stores.billing, &tenant, Period::of(Timestamp::now()))
        .await
        .unwrap();
    let books = Books {
        billed,
        lost,
        double_billed: billed.saturating_sub(outcome.acknowledged.len()),
        wrongly_refused: generations - outcome.acknowledged.len(),
        reserved_left: usage.reserved_micros,
        drift: drift.len(),
    };
    drop(gateway);
    (outcome, injected, books)
}

struct Books {
    billed: usize,
    lost: usize,
    double_billed: usize,
    wrongly_refused: usize,
    reserved_left: i64,
    drift: usize,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint: String = flag(&args, "--dynamodb-endpoint", String::new());
    assert!(
        !endpoint.is_empty(),
        "--dynamodb-endpoint URL is required (scripts/bench-faults starts moto)"
    );
    let generations: usize = flag(&args, "--generations", 300);
    let concurrency: usize = flag(&args, "--concurrency", 1);
    assert!((1..=5_000).contains(&generations) && (1..=64).contains(&concurrency));
    println!(
        "{generations} generations per mode through the local gateway on the DynamoDB adapters ({concurrency} at a time), ample budget; offline composer"
    );
    println!();
    println!("| faults | requests to DynamoDB | faults injected | 201 | other | billed | lost writes | double bills | wrongly refused | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, faults) in [("none", Faults::NONE), ("standard", Faults::STANDARD)] {
        let (mut outcome, counts, books) = run(&endpoint, faults, generations, concurrency).await;
        let count = |s: u16| outcome.statuses.iter().filter(|x| **x == s).count();
        let other = outcome.statuses.len() - count(201);
        println!(
            "| {name} | {} | {} ({} conflicts, {} write conflicts, {} throttled, {} 500s, {} lost answers; {} delayed) | {} | {other} | {} | {} | {} | {} | {} | {} | {} |",
            counts.requests,
            counts.injected(),
            counts.transaction_conflicts,
            counts.write_conflicts,
            counts.throttles,
            counts.server_errors,
            counts.lost_responses,
            counts.delays,
            count(201),
            books.billed,
            books.lost,
            books.double_billed,
            books.wrongly_refused,
            millis(percentile(&mut outcome.latencies, 50.0)),
            millis(percentile(&mut outcome.latencies, 99.0)),
            millis(percentile(&mut outcome.latencies, 100.0)),
        );
        assert_eq!(books.drift, 0, "ledger and aggregates agree");
        assert_eq!(books.reserved_left, 0, "no reservation left held");
    }
}
