//! The cost of metrics per request (issue 17, target < 50 µs): what `serve` adds — a
//! task-local record around the handler, the per-tenant values a generation adds, the
//! EMF document formatted and written as one line to the log (stderr, as the local
//! gateway does; run with 2>/dev/null, as `scripts/bench-metrics` does). Bounded:
//! `--requests` (default 200,000) in batches of 1,000; prints the per-request mean of
//! each batch as p50/p99/max.
//!   metrics-cost [--requests N]

use nutripro_shared::metrics::{self, Record};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn one_request(runtime: &tokio::runtime::Runtime) {
    let record = Arc::new(Mutex::new(Record::new("create_generation")));
    runtime.block_on(metrics::scope(record.clone(), async {
        metrics::add_tenant(metrics::GENERATIONS, 1.0);
        metrics::add_tenant(metrics::PROMPT_TOKENS, 812.0);
        metrics::add_tenant(metrics::COMPLETION_TOKENS, 640.0);
        metrics::add_tenant(metrics::COST_MICROS, 1_234.0);
    }));
    let mut record = record.lock().unwrap();
    record
        .tenant("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f")
        .function_metric(metrics::REQUESTS, 1.0)
        .function_metric(metrics::LATENCY, 12.345)
        .function_metric(metrics::ERRORS, 0.0)
        .tenant_metric(metrics::REQUESTS, 1.0)
        .tenant_metric(metrics::CLIENT_ERRORS, 0.0)
        .tenant_metric(metrics::SERVER_ERRORS, 0.0)
        .emit();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut requests: usize = 200_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => {
                requests = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--requests N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        (1_000..=10_000_000).contains(&requests),
        "--requests must be 1000..=10000000"
    );
    metrics::set_sink(metrics::Sink::Stderr);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let line_len = {
        let mut record = Record::new("create_generation");
        record
            .tenant("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f")
            .function_metric(metrics::REQUESTS, 1.0);
        record.to_emf(0).len()
    };
    for _ in 0..10_000 {
        one_request(&runtime);
    }
    let mut batches = Vec::new();
    for _ in 0..requests / 1_000 {
        let started = Instant::now();
        for _ in 0..1_000 {
            one_request(&runtime);
        }
        batches.push(started.elapsed().as_nanos() as f64 / 1_000.0 / 1_000.0);
    }
    batches.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| batches[((batches.len() - 1) as f64 * q).round() as usize];
    println!(
        "metrics per request ({} requests, batches of 1,000; a document of ~{}+ bytes): p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        requests,
        line_len,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
