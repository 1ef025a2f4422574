//! Issue 17, backups in local mode: `nutripro-local backup` under concurrent writes
//! (samples, generations with idempotency keys, admin changes), then `restore` into a
//! fresh data directory: every write acknowledged before the backup began is there, its
//! idempotent replay answers as stored, the audit chain verifies and billing reconciles.
//! A restore refuses a data directory a server runs on, and one into a used directory
//! moves the database it replaces aside, with its audit checkpoints.

mod common;

use common::{credentials, ready_for_load, run, serve, Load};
use std::time::Duration;

fn summary(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON summary")
}

#[test]
fn a_backup_under_load_restores_every_acknowledged_write() {
    let data_dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(data_dir.path());
    let (admin, key, tenant) = credentials(data_dir.path());
    ready_for_load(&url, &admin, &key, &tenant, &Load::dietitians(8));
    let load = Load::start(&url, &key, &admin, 8);
    load.wait_for(60, Duration::from_secs(20));
    // What was acknowledged before the backup began must be in it.
    let before = load.acknowledged();
    let backup_file = data_dir.path().join("backup.sqlite3");
    let backed_up = summary(&run(
        data_dir.path(),
        &["backup", "--to", backup_file.to_str().unwrap()],
    ));
    let during = load.acknowledged().len() - before.len();
    // The load goes on after the backup (bounded), then stops.
    load.wait_for(before.len() + during + 20, Duration::from_secs(20));
    load.finish();
    eprintln!(
        "backup of {} bytes with {} writes acknowledged before it, {during} while it ran",
        backed_up["bytes"],
        before.len()
    );
    let generations_before = before
        .iter()
        .filter(|w| w.path == "/v1/generations")
        .count() as u64;
    assert!(backed_up["generations"].as_u64().unwrap() >= generations_before);
    assert!(backed_up["audit_entries"].as_u64().unwrap() > 0);
    // The sealing keys travel with it: without them no generation could be verified.
    let keys_copy = std::path::PathBuf::from(
        backed_up["sealing_keys"]
            .as_str()
            .expect("the keyring beside the backup"),
    );
    assert_eq!(
        std::fs::read(&keys_copy).unwrap(),
        std::fs::read(data_dir.path().join("sealing-keys.json")).unwrap()
    );
    // Never overwritten.
    let again = run(
        data_dir.path(),
        &["backup", "--to", backup_file.to_str().unwrap()],
    );
    assert!(!again.status.success());

    // A restore refuses the directory a server runs on, and changes nothing.
    let refused = run(
        data_dir.path(),
        &["restore", "--from", backup_file.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("running nutripro-local serve"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let (status, _) = common::get(&url, "/v1/me", &key);
    assert_eq!(status, 200, "the server is untouched");
    drop(server);

    // Restored into a fresh directory, served, checked.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = summary(&run(
        restored_dir.path(),
        &["restore", "--from", backup_file.to_str().unwrap()],
    ));
    assert_eq!(restored["generations"], backed_up["generations"]);
    assert_eq!(restored["audit_entries"], backed_up["audit_entries"]);
    assert!(restored.get("previous").is_none());
    assert!(
        restored["sealing_keys"].is_string(),
        "the keyring restored with it"
    );
    let token = run(
        restored_dir.path(),
        &["token", "--role", "platform-admin", "--ttl", "3600"],
    );
    let restored_admin = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let (_server, restored_url) = serve(restored_dir.path());
    common::assert_all_present(
        &restored_url,
        &key,
        &restored_admin,
        &tenant,
        restored_dir.path(),
        &before,
    );
    drop(_server);

    // Restoring over a used directory keeps what it replaces — its audit checkpoints
    // too, which vouch for a chain longer than the backup's: the restored chain is
    // checkpointed afresh instead of being refused as a deleted tail for good.
    let checkpointed = summary(&run(data_dir.path(), &["checkpoint"]));
    assert_eq!(checkpointed["written"], true, "{checkpointed}");
    let over = summary(&run(
        data_dir.path(),
        &["restore", "--from", backup_file.to_str().unwrap()],
    ));
    let previous = std::path::PathBuf::from(over["previous"].as_str().expect("moved aside"));
    assert!(previous.join("nutripro.sqlite3").exists());
    assert_eq!(
        std::fs::read_dir(previous.join("audit-checkpoints"))
            .unwrap()
            .count(),
        2,
        "the replaced chain's checkpoint (and latest.json) is kept with it"
    );
    let afresh = summary(&run(data_dir.path(), &["checkpoint"]));
    assert_eq!(afresh["written"], true, "{afresh}");
    assert_eq!(afresh["seq"], restored["audit_entries"]);
}

#[test]
fn restore_refuses_what_is_not_a_backup_of_this_store() {
    let data_dir = tempfile::tempdir().unwrap();
    let junk = data_dir.path().join("junk.sqlite3");
    std::fs::write(&junk, b"not a database at all, just bytes").unwrap();
    let target = tempfile::tempdir().unwrap();
    let refused = run(
        target.path(),
        &["restore", "--from", junk.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        !target.path().join("nutripro.sqlite3").exists(),
        "nothing restored"
    );
    // An empty SQLite file is not a store either.
    let empty = data_dir.path().join("empty.sqlite3");
    empty_sqlite_file(&empty);
    let refused = run(
        target.path(),
        &["restore", "--from", empty.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a nutripro-local store"));
    // A backup of nothing.
    let missing = run(
        target.path(),
        &[
            "backup",
            "--to",
            data_dir.path().join("b").to_str().unwrap(),
        ],
    );
    assert!(!missing.status.success());
}

/// A SQLite database that is not this store (python3's sqlite3, as scripts/test has).
fn empty_sqlite_file(path: &std::path::Path) {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); c.commit()",
            path.to_str().unwrap(),
        ])
        .status()
        .expect("python3");
    assert!(status.success());
}
