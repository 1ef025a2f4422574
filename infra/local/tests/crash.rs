//! Issue 16, crash consistency in local mode: `nutripro-local serve` is killed with
//! SIGKILL in the middle of concurrent writes (samples, generations with idempotency
//! keys, admin changes) and restarted on the same data directory. Every write that was
//! acknowledged is there; the audit chain verifies; billing reconciles (ledger ==
//! aggregates, what the crash left reserved still counted until it expires); an
//! acknowledged idempotent request replays its stored answer.

mod common;

use common::{credentials, request, serve, worker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_sigkill_under_concurrent_writes_loses_nothing_acknowledged() {
    let data_dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(data_dir.path());
    let (admin, key, tenant) = credentials(data_dir.path());
    // Room for the load: a generous rate limit.
    let settings = request(
        &url,
        "PUT",
        &format!("/admin/tenants/{tenant}/settings"),
        &admin,
        Some(r#"{"requests_per_minute": 100000}"#),
        &[],
    )
    .unwrap();
    assert_eq!(settings.status, 200, "{}", settings.body);
    for n in 0..8 {
        let consent = request(
            &url,
            "PUT",
            &format!("/v1/dietitians/dr-crash-{n}/consent"),
            &key,
            Some(r#"{"granted": true}"#),
            &[],
        )
        .unwrap();
        assert_eq!(consent.status, 200);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|n| {
            let (url, key, admin) = (url.clone(), key.clone(), admin.clone());
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            std::thread::spawn(move || worker(url, key, admin, n, stop, acknowledged))
        })
        .collect();
    // Let the load run, then kill the server mid-write (bounded: 3 s at most).
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 200 && started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.crash();
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20,
        "only {} writes before the kill",
        acknowledged.len()
    );
    eprintln!(
        "killed after {} acknowledged writes ({:?})",
        acknowledged.len(),
        started.elapsed()
    );

    // Restart on the same data directory.
    let (_server, url) = serve(data_dir.path());
    common::assert_all_present(&url, &key, &admin, &tenant, data_dir.path(), &acknowledged);
}
