//! Issue 16, crash consistency in local mode: `nutripro-local serve` is killed with
//! SIGKILL in the middle of concurrent writes (samples, generations with idempotency
//! keys, admin changes) and restarted on the same data directory. Every write that was
//! acknowledged is there; the audit chain verifies; billing reconciles (ledger ==
//! aggregates, what the crash left reserved still counted until it expires); an
//! acknowledged idempotent request replays its stored answer.

mod common;

use common::{credentials, ready_for_load, serve, Load};
use std::time::{Duration, Instant};

#[test]
fn a_sigkill_under_concurrent_writes_loses_nothing_acknowledged() {
    let data_dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(data_dir.path());
    let (admin, key, tenant) = credentials(data_dir.path());
    ready_for_load(&url, &admin, &key, &tenant, &Load::dietitians(8));
    let load = Load::start(&url, &key, &admin, 8);
    // Let the load run, then kill the server mid-write (bounded: 3 s at most).
    let started = Instant::now();
    load.wait_for(200, Duration::from_secs(3));
    server.crash();
    let acknowledged = load.finish();
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
