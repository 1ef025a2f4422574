//! Issue 18, keyed integrity (threat T05): stored generations are sealed with
//! HMAC-SHA256 under a key the store does not hold (`DATA_DIR/sealing-keys.json`
//! locally, Secrets Manager in AWS). Someone who can rewrite the database — and so can
//! recompute a plain SHA-256 — is caught; records from before keys verify only while
//! the keyring accepts them, are sealed with the key when read, and all at once by
//! `nutripro-local reseal`.

mod common;

use common::{credentials, request, run, serve};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::content::GenerationId;
use nutripro_shared::domain::TenantId;
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::sealing::FileKeyring;

fn db(data_dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data_dir.join("nutripro.sqlite3")).unwrap()
}

fn seal_of(data_dir: &std::path::Path, id: &str) -> String {
    db(data_dir)
        .query_row(
            "SELECT integrity FROM generations WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

/// What someone with the database does: rewrite the text, and give the record the
/// plain SHA-256 seal records had before keys (computable by anyone).
async fn rewrite_with_plain_seal(
    data_dir: &std::path::Path,
    tenant: &str,
    id: &str,
    text: Option<&str>,
) {
    let store = SqliteStore::open(data_dir).unwrap();
    let mut generation = store
        .get_generation(&TenantId::new(tenant), &GenerationId::new(id))
        .await
        .unwrap()
        .unwrap();
    if let Some(text) = text {
        generation.content = text.to_owned();
    }
    let forged = generation.seal();
    assert!(forged.integrity.starts_with("v2:"));
    db(data_dir)
        .execute(
            "UPDATE generations SET content = ?2, integrity = ?3 WHERE id = ?1",
            rusqlite::params![id, forged.content, forged.integrity],
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_generation_with_a_recomputed_plain_hash_is_caught() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_owned();
    let (server, url) = serve(&dir);
    let (_admin, key, tenant) = credentials(&dir);
    let created = common::consented_generation(&url, &key, "dr-seal");
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/generations/{id}");

    // Sealed with the data directory's key; the keyring is the owner's alone.
    let seal = seal_of(&dir, &id);
    assert!(seal.starts_with("v3:k1:"), "{seal}");
    let keyring = std::fs::read_to_string(dir.join(FileKeyring::FILE)).unwrap();
    assert!(
        keyring.contains(r#""accept_unkeyed":false"#),
        "a new directory has no legacy records"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(FileKeyring::FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only its owner reads the keyring");
    }
    assert_eq!(
        request(&url, "GET", &path, &key, None, &[]).unwrap().status,
        200
    );

    // The text rewritten, the seal left: caught.
    db(&dir)
        .execute(
            "UPDATE generations SET content = 'Eat only grapefruit.' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    let answer = request(&url, "GET", &path, &key, None, &[]).unwrap();
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.json()["type"],
        "https://nutripro.dev/problems/integrity-check-failed"
    );

    // The text rewritten and a plain SHA-256 recomputed over it: still caught — that is
    // what the key is for.
    rewrite_with_plain_seal(&dir, &tenant, &id, Some("Eat only grapefruit.")).await;
    let answer = request(&url, "GET", &path, &key, None, &[]).unwrap();
    assert_eq!(answer.status, 500, "{}", answer.body);
    let listed = request(
        &url,
        "GET",
        "/v1/generations?dietitian_id=dr-seal",
        &key,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(
        listed.status, 500,
        "a list with a tampered record is withheld too"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_before_keys_verify_until_resealed_then_plain_hashes_are_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_owned();
    let (server, url) = serve(&dir);
    let (_admin, key, tenant) = credentials(&dir);
    let created = common::consented_generation(&url, &key, "dr-old");
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/generations/{id}");
    // A record as it was stored before sealing keys: its own, honest, plain hash.
    rewrite_with_plain_seal(&dir, &tenant, &id, None).await;
    assert_eq!(
        request(&url, "GET", &path, &key, None, &[]).unwrap().status,
        500,
        "refused while the keyring refuses plain hashes"
    );
    // A directory upgraded from before keys accepts them...
    FileKeyring::open(&dir, false)
        .unwrap()
        .set_accept_unkeyed(true)
        .unwrap();
    assert_eq!(
        request(&url, "GET", &path, &key, None, &[]).unwrap().status,
        200
    );
    // ...and a record read is sealed with the key right away (the deployed stack's
    // migration: re-seal on read).
    assert!(seal_of(&dir, &id).starts_with("v3:"), "re-sealed on read");
    assert_eq!(
        request(&url, "GET", &path, &key, None, &[]).unwrap().status,
        200
    );

    // A record nobody read stays plain until the migration seals every record with the
    // key (while serve runs).
    let unread = common::consented_generation(&url, &key, "dr-old");
    let unread_id = unread.json()["id"].as_str().unwrap().to_owned();
    rewrite_with_plain_seal(&dir, &tenant, &unread_id, None).await;
    let output = run(&dir, &["reseal"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["resealed"], 1, "the unread one");
    assert_eq!(report["broken"], serde_json::json!([]));
    assert!(seal_of(&dir, &unread_id).starts_with("v3:"));
    let keyring = std::fs::read_to_string(dir.join(FileKeyring::FILE)).unwrap();
    assert!(keyring.contains(r#""accept_unkeyed":false"#));
    let read = request(&url, "GET", &path, &key, None, &[]).unwrap();
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["content"],
        created.json()["content"],
        "the text is untouched"
    );

    // From now on a plain hash is refused, even an honest one.
    rewrite_with_plain_seal(&dir, &tenant, &id, None).await;
    assert_eq!(
        request(&url, "GET", &path, &key, None, &[]).unwrap().status,
        500
    );
    drop(server);
}
