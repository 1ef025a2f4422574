//! Cold start of Lambda functions, measured the way Lambda experiences it: a Lambda
//! Runtime API emulator on 127.0.0.1 starts the binary as the named function (its
//! `Handler`, passed as `_HANDLER`), hands it one event, and times process start →
//! first `GET /invocation/next` (init) and → the posted result (first response). Each
//! run is a fresh process.
//!
//! ```text
//! cold-start [--runs 20] --binary BOOTSTRAP FUNCTION=EVENT.json [FUNCTION=EVENT.json ...]
//! ```
//!
//! Pick events that need no network (e.g. the authorizer event without a key), so the
//! figure is the function's own start-up, not a DynamoDB round trip.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use nutripro_bench::{flag, millis, percentile};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug)]
enum Signal {
    Next(Instant),
    Result(Instant, &'static str),
}

struct Emulator {
    event: Bytes,
    served: Mutex<bool>,
    signals: mpsc::UnboundedSender<Signal>,
}

async fn runtime_api(
    emulator: Arc<Emulator>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let now = Instant::now();
    let path = request.uri().path().to_owned();
    let _ = request.into_body().collect().await;
    if path.ends_with("/invocation/next") {
        let _ = emulator.signals.send(Signal::Next(now));
        let first = !std::mem::replace(&mut *emulator.served.lock().unwrap(), true);
        if !first {
            // The measured invocation is done; park the runtime until it is killed.
            std::future::pending::<()>().await;
        }
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            + Duration::from_secs(30);
        return hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", "cold-start-1")
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(emulator.event.clone()))
            .unwrap();
    }
    let outcome = if path.ends_with("/response") {
        "response"
    } else if path.contains("/init/error") {
        "init error"
    } else {
        "error"
    };
    let _ = emulator.signals.send(Signal::Result(now, outcome));
    hyper::Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// One cold start: (init, first result, outcome).
async fn run_once(
    binary: &str,
    function: &str,
    event: Bytes,
) -> (Duration, Duration, &'static str) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signals, mut received) = mpsc::unbounded_channel();
    let emulator = Arc::new(Emulator {
        event,
        served: Mutex::new(false),
        signals,
    });
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let emulator = emulator.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| {
                    let emulator = emulator.clone();
                    async move { Ok::<_, Infallible>(runtime_api(emulator, r).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("_HANDLER", function)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("CONTROL_PLANE_TABLE", "bench")
        .env("CONTENT_TABLE", "bench")
        .env("AUDIT_TABLE", "bench")
        .env("BILLING_TABLE", "bench")
        // The scheduled billing jobs reach for DynamoDB at once: a closed loopback port
        // and one attempt make that fail fast instead of timing out.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env(
            "ADMIN_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench",
        )
        .env("ADMIN_CLIENT_ID", "bench")
        .env(
            "OPENAI_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench",
        )
        .env("OPENAI_MODEL", "gpt-4o-mini")
        .env("LOG_LEVEL", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary} as {function}: {e}"));
    let mut init = None;
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            tokio::select! {
                signal = received.recv() => match signal.expect("emulator running") {
                    Signal::Next(at) if init.is_none() => init = Some(at - started),
                    Signal::Next(_) => {}
                    Signal::Result(at, outcome) => return (at - started, outcome),
                },
                status = child.wait() => panic!("{function} exited during init ({status:?}); check its environment"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{function} gave no result within 20 s"));
    let _ = child.kill().await;
    server.abort();
    (init.expect("next before result"), outcome.0, outcome.1)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = flag(&args, "--runs", 20);
    assert!((1..=1000).contains(&runs), "--runs must be 1..=1000");
    let binary = args
        .iter()
        .position(|a| a == "--binary")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .expect("usage: cold-start [--runs N] --binary BOOTSTRAP FUNCTION=EVENT.json ...");
    let targets: Vec<(String, String)> = args
        .iter()
        .filter_map(|a| a.split_once('=').map(|(b, e)| (b.to_owned(), e.to_owned())))
        .collect();
    assert!(
        !targets.is_empty(),
        "usage: cold-start [--runs N] --binary BOOTSTRAP FUNCTION=EVENT.json ..."
    );
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("{binary}: {:.1} MiB", size as f64 / (1024.0 * 1024.0));
    println!("| function | init p50 | init p95 | first result p50 | first result p95 | result |");
    println!("|---|---|---|---|---|---|");
    for (function, event_file) in targets {
        let event = Bytes::from(
            std::fs::read(&event_file).unwrap_or_else(|e| panic!("read {event_file}: {e}")),
        );
        let (mut inits, mut firsts, mut outcome) = (Vec::new(), Vec::new(), "");
        for _ in 0..runs {
            let (init, first, result) = run_once(&binary, &function, event.clone()).await;
            inits.push(init);
            firsts.push(first);
            outcome = result;
        }
        println!(
            "| {function} | {} | {} | {} | {} | {outcome} |",
            millis(percentile(&mut inits, 50.0)),
            millis(percentile(&mut inits, 95.0)),
            millis(percentile(&mut firsts, 50.0)),
            millis(percentile(&mut firsts, 95.0)),
        );
    }
}
