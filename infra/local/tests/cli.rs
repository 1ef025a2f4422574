//! The `nutripro-local` binary as other tools use it: `serve` in one process,
//! `bootstrap` and `token` in others on the same data directory, then `/v1/me` and
//! `/admin/...` over HTTP.

mod common;

use common::{get, serve, Server, BIN};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn token(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run token")
}

#[test]
fn token_prints_an_admin_token_the_running_gateway_accepts() {
    let data_dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(data_dir.path());
    let output = token(
        data_dir.path(),
        &["--role", "platform-admin", "--ttl", "120"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "only the token on stdout");
    let jwt = stdout.trim();
    assert_eq!(jwt.split('.').count(), 3, "a JWT");
    let (status, body) = get(&url, "/admin/tenants", jwt);
    assert_eq!(status, 200, "{body}");
    // A tenant-manager token works for its tenant and is refused the tenant list.
    let tenant = "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f";
    let output = token(
        data_dir.path(),
        &["--role", "tenant-manager", "--tenant", tenant],
    );
    let manager = String::from_utf8(output.stdout).unwrap();
    assert_eq!(get(&url, "/admin/tenants", manager.trim()).0, 403);
    assert_eq!(
        get(&url, &format!("/admin/tenants/{tenant}"), manager.trim()).0,
        404
    );
    // Missing --tenant for a tenant-manager: usage error, nothing printed.
    let output = token(data_dir.path(), &["--role", "tenant-manager"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn a_token_minted_before_the_first_serve_is_accepted_by_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = token(data_dir.path(), &["--role", "platform-admin"]);
    assert!(output.status.success());
    let (_server, url) = serve(data_dir.path());
    let jwt = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        get(&url, "/admin/settings", jwt.trim()).0,
        200,
        "one key per data directory"
    );
}

#[test]
fn bootstrap_while_serving_then_call_v1_me() {
    let data_dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(data_dir.path());

    let output = Command::new(BIN)
        .args([
            "bootstrap",
            "--tenant-name",
            "Acme Meal Plans",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .expect("run bootstrap");
    assert!(
        output.status.success(),
        "bootstrap failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one JSON object on stdout: {stdout}"
    );
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let api_key = printed["api_key"].as_str().unwrap();
    assert!(api_key.starts_with("nutripro_"));
    let tenant_id = printed["tenant_id"].as_str().unwrap();

    let (status, body) = get(&url, "/v1/me", api_key);
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["tenant_id"], tenant_id);
    assert_eq!(me["tenant_name"], "Acme Meal Plans");
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let output = Command::new(BIN).args(["bootstrap"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--tenant-name"));
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("bootstrap --tenant-name NAME"));
}

#[test]
fn bootstrap_rejects_an_invalid_tenant_name() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["bootstrap", "--tenant-name", "   ", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "nothing printed on stdout on failure"
    );
}

/// Logging must never break serving: with its stderr closed, the server still answers.
/// (tracing-subscriber used to report the failed write with a panicking eprintln!.)
#[test]
fn keeps_serving_when_its_log_pipe_is_closed() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env_remove("OPENAI_API_KEY")
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("serving on ")
                .nth(1)
                .map(|r| r.split_whitespace().next().unwrap().to_owned())
        })
        .expect("serve announces its URL");
    let _server = Server(child);
    drop(lines); // close the read end: every later log write fails with EPIPE

    let output = Command::new(BIN)
        .args(["bootstrap", "--tenant-name", "Acme", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for _ in 0..3 {
        let (status, body) = get(&url, "/v1/me", printed["api_key"].as_str().unwrap());
        assert_eq!(status, 200, "{body}");
    }
}
