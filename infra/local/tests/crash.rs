//! Issue 16, crash consistency in local mode: `nutripro-local serve` is killed with
//! SIGKILL in the middle of concurrent writes (samples, generations with idempotency
//! keys, admin changes) and restarted on the same data directory. Every write that was
//! acknowledged is there; the audit chain verifies; billing reconciles (ledger ==
//! aggregates, what the crash left reserved still counted until it expires); an
//! acknowledged idempotent request replays its stored answer.

mod common;

use common::{credentials, request, serve, Answer};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::billing::Period;
use nutripro_shared::domain::{TenantId, Timestamp};
use nutripro_shared::ports::billing::reconcile;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a worker sent and what the server acknowledged.
#[derive(Debug, Clone)]
struct Acknowledged {
    path: String,
    body: String,
    idempotency_key: Option<String>,
    answer: Answer,
}

fn worker(
    url: String,
    key: String,
    admin: String,
    n: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
) {
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let (path, body, credential, idem) = match i % 3 {
            0 => (
                "/v1/samples".to_owned(),
                serde_json::json!({"dietitian_id": format!("dr-crash-{n}"), "kind": "nutrition_tips",
                    "content": format!("Dear friend,\n\nTip {n}-{i}: drink water!\n\n— Anna")})
                .to_string(),
                key.clone(),
                Some(format!("s-{n}-{i}")),
            ),
            1 => (
                "/v1/generations".to_owned(),
                serde_json::json!({"dietitian_id": format!("dr-crash-{n}"), "kind": "nutrition_tips",
                    "input": {"client": format!("Client {n}-{i}")}})
                .to_string(),
                key.clone(),
                Some(format!("g-{n}-{i}")),
            ),
            _ => (
                "/admin/tenants".to_owned(),
                serde_json::json!({"name": format!("Tenant {n}-{i}")}).to_string(),
                admin.clone(),
                None,
            ),
        };
        let extra: Vec<(&str, &str)> = idem
            .as_deref()
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        match request(&url, "POST", &path, &credential, Some(&body), &extra) {
            Ok(answer) if answer.status == 201 => acknowledged.lock().unwrap().push(Acknowledged {
                path,
                body,
                idempotency_key: idem,
                answer,
            }),
            Ok(answer) => assert!(
                // The rate limit and the budget may refuse; nothing else may fail.
                [429, 402].contains(&answer.status),
                "{path}: {} {}",
                answer.status,
                answer.body
            ),
            // The server was killed under this request: not acknowledged.
            Err(_) => return,
        }
    }
}

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
    let mut generations = 0;
    for write in &acknowledged {
        let id = write.answer.json()["id"].as_str().unwrap().to_owned();
        let (path, credential) = match write.path.as_str() {
            "/v1/samples" => (format!("/v1/samples/{id}"), &key),
            "/v1/generations" => {
                generations += 1;
                (format!("/v1/generations/{id}"), &key)
            }
            _ => (format!("/admin/tenants/{id}"), &admin),
        };
        let found = request(&url, "GET", &path, credential, None, &[]).unwrap();
        assert_eq!(
            found.status, 200,
            "acknowledged {path} is gone: {}",
            found.body
        );
        // An acknowledged idempotent request replays its stored answer.
        if let Some(idem) = &write.idempotency_key {
            let replay = request(
                &url,
                "POST",
                &write.path,
                &key,
                Some(&write.body),
                &[("Idempotency-Key", idem)],
            )
            .unwrap();
            assert_eq!(replay.status, 201);
            assert_eq!(replay.header("idempotent-replayed"), Some("true"));
            assert_eq!(replay.json(), write.answer.json(), "the stored answer");
        }
    }
    assert!(generations > 0);
    let verified = request(&url, "GET", "/admin/audit/verify", &admin, None, &[]).unwrap();
    assert_eq!(verified.status, 200);
    assert_eq!(verified.json()["ok"], true, "{}", verified.body);

    let store = SqliteStore::open(data_dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mismatches = runtime
        .block_on(reconcile(
            &store,
            &TenantId::new(&tenant),
            Period::of(Timestamp::now()),
        ))
        .unwrap();
    assert!(mismatches.is_empty(), "billing drifted: {mismatches:?}");
    let usage = request(&url, "GET", "/v1/usage", &key, None, &[])
        .unwrap()
        .json();
    assert!(
        usage["total"]["generations"].as_u64().unwrap() >= generations,
        "every acknowledged generation billed: {usage}"
    );
}
