//! Issue 16: local mode on a full disk. The data directory lives on a small tmpfs that
//! a filler file then fills to the last byte: writes answer 503 `store-unavailable`
//! problem+json with `Retry-After` (never a hang, a panic or a dead process), reads that
//! write nothing keep working, and once space returns writes succeed again — no restart.
//!
//! Needs root to mount the tmpfs (the test command runs as root: it also installs
//! chromium with apt); without it the test fails, loudly.

mod common;

use common::{credentials, request, serve};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs of `megabytes`, unmounted when dropped (then its mount point removed).
struct SmallDisk {
    path: PathBuf,
    _mount_point: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a {megabytes} MB tmpfs failed: this test needs root (scripts/test runs as root)"
        );
        Self {
            path: dir.path().to_owned(),
            _mount_point: dir,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros into `path` until the disk refuses (ENOSPC); bounded by the disk size.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..10_000 {
        if file.write_all(&chunk).and_then(|_| file.flush()).is_err() {
            break;
        }
    }
    // The last partial chunk too: byte by byte is slow, 4 KiB pages are exact enough.
    let page = vec![0u8; 4096];
    for _ in 0..64 {
        if file.write_all(&page).is_err() {
            break;
        }
    }
    let _ = file.sync_all();
}

fn sample(key: &str, url: &str, n: usize) -> common::Answer {
    let body = serde_json::json!({"dietitian_id": "dr-disk", "kind": "nutrition_tips",
        "content": format!("Tip {n}: {}", "Plenty of vegetables and water every day. ".repeat(200))});
    request(
        url,
        "POST",
        "/v1/samples",
        key,
        Some(&body.to_string()),
        &[],
    )
    .expect("an answer, not a hang")
}

#[test]
fn a_full_disk_answers_503_keeps_reading_and_recovers_when_space_returns() {
    let disk = SmallDisk::mount(24);
    let data_dir = disk.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let (mut server, url) = serve(&data_dir);
    let (admin, key, tenant) = credentials(&data_dir);
    common::ready_for_load(&url, &admin, &key, &tenant, &["dr-disk".to_owned()]);
    assert_eq!(sample(&key, &url, 0).status, 201);

    let filler = disk.path().join("filler");
    fill(&filler);
    // Writes fail as the store finds no room (a few may still fit in free pages).
    let mut refused = None;
    for n in 1..=50 {
        let answer = sample(&key, &url, n);
        if answer.status == 503 {
            refused = Some(answer);
            break;
        }
        assert!(
            [201, 422].contains(&answer.status),
            "{}: {}",
            answer.status,
            answer.body
        );
    }
    let refused = refused.expect("a full disk refuses writes");
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        refused.json()["type"],
        "https://nutripro.dev/problems/store-unavailable",
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server is alive"
    );

    // What still works on a full disk: control-plane reads (they write nothing) and the
    // admin page; the data plane counts every request first (a write), so it answers 503.
    let tenants = request(&url, "GET", "/admin/tenants", &admin, None, &[]).unwrap();
    assert_eq!(tenants.status, 200, "{}", tenants.body);
    let verified = request(&url, "GET", "/admin/audit/verify", &admin, None, &[]).unwrap();
    assert_eq!(verified.status, 200);
    let page = request(&url, "GET", "/", "", None, &[]).unwrap();
    assert_eq!(page.status, 200);
    let me = request(&url, "GET", "/v1/me", &key, None, &[]).unwrap();
    assert_eq!(me.status, 503, "{}", me.body);

    // Space returns: writes succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let mut recovered = false;
    for n in 100..120 {
        if sample(&key, &url, n).status == 201 {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(recovered, "writes work again once there is space");
    assert_eq!(
        request(&url, "GET", "/v1/me", &key, None, &[])
            .unwrap()
            .status,
        200
    );
    let verified = request(&url, "GET", "/admin/audit/verify", &admin, None, &[]).unwrap();
    assert_eq!(verified.json()["ok"], true, "{}", verified.body);
    drop(server);
}
