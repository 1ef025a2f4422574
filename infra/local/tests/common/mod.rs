//! What the binary-level tests share: the `nutripro-local` process (killed when the test
//! ends), its announced URL, and a minimal HTTP/1.1 client over loopback.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_nutripro-local");

/// Kills the server when dropped, pass or fail.
pub struct Server(pub Child);

impl Server {
    /// SIGKILL: no shutdown, no flush — a crash.
    pub fn crash(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve --port 0` on `data_dir` (extra environment in `env`) and returns it with
/// the URL it printed.
pub fn serve_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Server, String) {
    let (server, url, _) = serve_logging(data_dir, env);
    (server, url)
}

/// Like [`serve_with`], and also hands back the server's log lines as they come.
pub fn serve_logging(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (
    Server,
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut command = Command::new(BIN);
    command
        .env_remove("OPENAI_API_KEY")
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start nutripro-local serve");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    // Keep draining the server's log output for its whole life, so it never writes into
    // a closed or full pipe; hand the announced URL back over a channel.
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on ").nth(1) {
                let _ = url_tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
            let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a long-running test keeps the latest lines only.
            if lines.len() >= 100_000 {
                lines.drain(..50_000);
            }
            lines.push(line);
        }
    });
    let url = url_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve announces its URL");
    (server, url, log)
}

pub fn serve(data_dir: &std::path::Path) -> (Server, String) {
    serve_with(data_dir, &[])
}

/// One answer: status, headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A minimal HTTP/1.1 request over loopback; `Err` when the server is gone.
pub fn request(
    url: &str,
    method: &str,
    path: &str,
    credential: &str,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let authority = url.trim_start_matches("http://");
    assert!(authority.starts_with("127.0.0.1:"), "loopback only");
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {credential}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

pub fn get(url: &str, path: &str, credential: &str) -> (u16, String) {
    let answer = request(url, "GET", path, credential, None, &[]).expect("the server answers");
    (answer.status, answer.body)
}

/// `nutripro-local token` (or any other subcommand) on `data_dir`.
pub fn run(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run nutripro-local")
}

/// A platform-admin token and a tenant with its first key (bootstrap), as other tools
/// get them.
pub fn credentials(data_dir: &std::path::Path) -> (String, String, String) {
    let token = run(
        data_dir,
        &["token", "--role", "platform-admin", "--ttl", "3600"],
    );
    assert!(token.status.success());
    let boot = run(data_dir, &["bootstrap", "--tenant-name", "Crash Test"]);
    assert!(
        boot.status.success(),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&boot.stdout).unwrap();
    (
        String::from_utf8(token.stdout).unwrap().trim().to_owned(),
        printed["api_key"].as_str().unwrap().to_owned(),
        printed["tenant_id"].as_str().unwrap().to_owned(),
    )
}

/// What a worker sent and what the server acknowledged.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub path: String,
    pub body: String,
    pub idempotency_key: Option<String>,
    pub answer: Answer,
}

pub fn worker(
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

/// After a restart (or a restore) on `data_dir`, served at `url`: every acknowledged
/// write is there, each acknowledged idempotent request replays its stored answer, the
/// audit chain verifies, billing reconciles, and usage counts every acknowledged
/// generation.
pub fn assert_all_present(
    url: &str,
    key: &str,
    admin: &str,
    tenant: &str,
    data_dir: &std::path::Path,
    acknowledged: &[Acknowledged],
) {
    use nutripro_shared::adapters::sqlite::SqliteStore;
    use nutripro_shared::domain::billing::Period;
    use nutripro_shared::domain::{TenantId, Timestamp};
    use nutripro_shared::ports::billing::reconcile;
    let (url, key, admin, tenant) = (
        url.to_owned(),
        key.to_owned(),
        admin.to_owned(),
        tenant.to_owned(),
    );
    let mut generations = 0;
    for write in acknowledged {
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

    let store = SqliteStore::open(data_dir).unwrap();
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

/// Records `dietitian`'s consent and creates one generation for them with `key`: the
/// 201 answer (panics on anything else).
pub fn consented_generation(url: &str, key: &str, dietitian: &str) -> Answer {
    consent(url, key, dietitian);
    let body = serde_json::json!({"dietitian_id": dietitian, "kind": "nutrition_tips", "input": {"client": "Ann"}});
    let created = request(
        url,
        "POST",
        "/v1/generations",
        key,
        Some(&body.to_string()),
        &[],
    )
    .expect("the server answers");
    assert_eq!(created.status, 201, "{}", created.body);
    created
}

/// Makes room for a load on `tenant`: a generous rate limit, and consent for each of
/// `dietitians`.
pub fn ready_for_load(url: &str, admin: &str, key: &str, tenant: &str, dietitians: &[String]) {
    let settings = request(
        url,
        "PUT",
        &format!("/admin/tenants/{tenant}/settings"),
        admin,
        Some(r#"{"requests_per_minute": 100000}"#),
        &[],
    )
    .expect("the server answers");
    assert_eq!(settings.status, 200, "{}", settings.body);
    for dietitian in dietitians {
        consent(url, key, dietitian);
    }
}

/// Records `dietitian`'s consent with `key` (panics unless 200).
pub fn consent(url: &str, key: &str, dietitian: &str) {
    let consent = request(
        url,
        "PUT",
        &format!("/v1/dietitians/{dietitian}/consent"),
        key,
        Some(r#"{"granted": true}"#),
        &[],
    )
    .expect("the server answers");
    assert_eq!(consent.status, 200, "{}", consent.body);
}

/// Writers (see [`worker`]) running against a server until [`Load::finish`].
pub struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// `writers` threads; writer `n` writes for dietitian `dr-crash-<n>` (see
    /// [`Load::dietitians`]).
    pub fn start(url: &str, key: &str, admin: &str, writers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let workers = (0..writers)
            .map(|n| {
                let (url, key, admin) = (url.to_owned(), key.to_owned(), admin.to_owned());
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                std::thread::spawn(move || worker(url, key, admin, n, stop, acknowledged))
            })
            .collect();
        Self {
            stop,
            acknowledged,
            workers,
        }
    }

    /// The dietitians `writers` writers write for.
    pub fn dietitians(writers: usize) -> Vec<String> {
        (0..writers).map(|n| format!("dr-crash-{n}")).collect()
    }

    /// What was acknowledged so far.
    pub fn acknowledged(&self) -> Vec<Acknowledged> {
        self.acknowledged.lock().unwrap().clone()
    }

    /// Waits (bounded by `limit`) until `count` writes were acknowledged.
    pub fn wait_for(&self, count: usize, limit: Duration) {
        let started = std::time::Instant::now();
        while self.acknowledged.lock().unwrap().len() < count && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the writers and returns everything acknowledged.
    pub fn finish(self) -> Vec<Acknowledged> {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers {
            worker.join().expect("a worker panicked");
        }
        self.acknowledged.lock().unwrap().clone()
    }
}
