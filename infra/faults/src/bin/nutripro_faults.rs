//! `nutripro-faults --upstream URL [--listen ADDR] [--faults SPEC]`: the fault-injecting DynamoDB proxy
//! as a process, for the local gateway on DynamoDB (`nutripro-local serve --store
//! dynamodb --dynamodb-endpoint <its URL>`) and outside test suites. Prints its URL,
//! (ADDR defaults to a free loopback port), then, on Ctrl-C or SIGTERM, what it injected (JSON).
//!
//! SPEC: `standard` (default), `off`, or `name=rate,…` over the standard rates:
//! transaction_conflict, write_conflict, throttle, server_error, lost_response, delay,
//! max_delay_ms, seed.

use nutripro_faults::{FaultProxy, Faults};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: nutripro-faults --upstream URL [--listen 127.0.0.1:PORT] [--faults SPEC]");
        return ExitCode::SUCCESS;
    }
    let Some(upstream) = value("--upstream") else {
        eprintln!("nutripro-faults: --upstream URL is required (e.g. http://127.0.0.1:5599)");
        return ExitCode::from(2);
    };
    let faults = match value("--faults").map_or_else(Faults::from_env, |s| Faults::parse(&s)) {
        Ok(faults) => faults,
        Err(error) => {
            eprintln!("nutripro-faults: {error}");
            return ExitCode::from(2);
        }
    };
    let listen = value("--listen").unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let proxy = match FaultProxy::start_on(&listen, &upstream, faults, "nutripro-faults").await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("nutripro-faults: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "fault proxy on {} -> {upstream} ({})",
        proxy.url(),
        serde_json::to_string(&faults).unwrap_or_default()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    println!(
        "{}",
        serde_json::to_string(&proxy.counts()).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
