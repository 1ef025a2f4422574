//! Issue 18, audit checkpoints (threat T07): the chain's head signed by the service key
//! and kept outside the database (locally `DATA_DIR/audit-checkpoints/`, in AWS an S3
//! bucket under Object Lock). Someone who can write the database deletes the newest
//! entries — every remaining link is still consistent — and `GET /admin/audit/verify`
//! reports the deleted tail; deleting and then appending anew is reported as rewritten;
//! a checkpoint not signed by the service key is reported too.

use nutripro_local::stores::{StoreChoice, Stores};
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::audit_checkpoint::AuditCheckpoint;
use nutripro_tests::LocalStack;
use serde_json::{json, Value};

async fn change(stack: &LocalStack, admin: &str, n: usize) {
    for i in 0..n {
        let created = stack
            .call(
                "POST",
                "/admin/tenants",
                admin,
                Some(
                    &json!({"name": format!("Audited {i} {}", nutripro_shared::domain::new_id())}),
                ),
                &[],
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
}

async fn verify(stack: &LocalStack, admin: &str) -> Value {
    let answer = stack.get_as("/admin/audit/verify", admin).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// The data directory's stores, opened beside the running gateway (as the CLI does).
async fn stores(stack: &LocalStack) -> Stores {
    Stores::open(&StoreChoice::Sqlite, stack.data_dir.path())
        .await
        .expect("the data directory's stores")
}

/// A checkpoint now, as the job (and `nutripro-local checkpoint`) writes it.
async fn checkpoint(stack: &LocalStack) -> Value {
    let stores = stores(stack).await;
    nutripro_local::write_checkpoint(&stores)
        .await
        .expect("checkpoint written")
}

/// Whether the checkpoint job refuses to run now.
async fn checkpoint_refused(stack: &LocalStack) -> bool {
    let stores = stores(stack).await;
    match nutripro_local::write_checkpoint(&stores).await {
        Ok(_) => false,
        Err(message) => {
            assert!(
                message.contains("no longer holds its newest checkpoint"),
                "{message}"
            );
            true
        }
    }
}

fn delete_from(stack: &LocalStack, seq: u64) -> usize {
    rusqlite::Connection::open(stack.data_dir.path().join("nutripro.sqlite3"))
        .unwrap()
        .execute("DELETE FROM audit_log WHERE seq >= ?1", [seq as i64])
        .unwrap()
}

#[tokio::test]
async fn a_deleted_or_rewritten_tail_is_reported_against_the_newest_checkpoint() {
    let stack = LocalStack::start().await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    assert_eq!(verify(&stack, &admin).await["checkpoint"]["status"], "none");
    change(&stack, &admin, 4).await;
    let written = checkpoint(&stack).await;
    assert_eq!(written["written"], true, "{written}");
    let seq = written["seq"].as_u64().unwrap();
    assert_eq!(seq, 4);
    assert_eq!(
        checkpoint(&stack).await["written"],
        false,
        "an unchanged head is not checkpointed twice"
    );
    let file = stack
        .data_dir
        .path()
        .join("audit-checkpoints")
        .join(format!("{seq:020}.json"));
    assert!(file.exists(), "kept in the data directory");

    // More entries after the checkpoint: still consistent.
    change(&stack, &admin, 2).await;
    let fine = verify(&stack, &admin).await;
    assert_eq!(fine["ok"], true, "{fine}");
    assert_eq!(
        fine["checkpoint"],
        json!({"status": "consistent", "seq": seq})
    );

    // The newest entries deleted, the checkpointed one among them: every remaining link
    // is consistent, and verify still says what happened.
    assert_eq!(delete_from(&stack, seq - 1), 4);
    let deleted = verify(&stack, &admin).await;
    assert_eq!(
        deleted["first_broken"],
        Value::Null,
        "the remaining chain is intact: {deleted}"
    );
    assert_eq!(deleted["ok"], false, "{deleted}");
    assert_eq!(
        deleted["checkpoint"],
        json!({"status": "tail_deleted", "seq": seq, "chain_head": seq - 2})
    );
    // The job does not sign the shortened chain's head over it (that would make the
    // newest checkpoint agree with the tampered chain): it fails, loudly, and verify
    // still reports the deletion.
    assert!(checkpoint_refused(&stack).await);
    assert_eq!(
        verify(&stack, &admin).await["checkpoint"]["status"],
        "tail_deleted"
    );

    // ... and appended to again, so the chain reaches the checkpoint's number with other
    // entries: rewritten.
    change(&stack, &admin, 3).await;
    let rewritten = verify(&stack, &admin).await;
    assert_eq!(rewritten["first_broken"], Value::Null, "{rewritten}");
    assert_eq!(rewritten["ok"], false);
    assert_eq!(
        rewritten["checkpoint"],
        json!({"status": "rewritten", "seq": seq})
    );
    assert!(checkpoint_refused(&stack).await);
    assert_eq!(
        verify(&stack, &admin).await["checkpoint"]["status"],
        "rewritten"
    );

    // A checkpoint someone wrote without the service key, as the newest (`latest.json`,
    // as in the bucket).
    let mut forged: AuditCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    forged.seq = 99;
    std::fs::write(
        stack
            .data_dir
            .path()
            .join("audit-checkpoints")
            .join("latest.json"),
        forged.to_json(),
    )
    .unwrap();
    let bad = verify(&stack, &admin).await;
    assert_eq!(bad["ok"], false);
    assert_eq!(
        bad["checkpoint"],
        json!({"status": "bad_signature", "seq": 99})
    );
}

/// After the receipt key is rotated (locally: `receipt-key.p8` moved aside, the next start
/// makes a new one) the job signs the unchanged head again with the new key — otherwise
/// the newest checkpoint stays under the old key until the chain moves, and verify, which
/// checks with the current key, would call it forged.
#[tokio::test]
async fn a_rotated_receipt_key_signs_the_unchanged_head_again() {
    let stack = LocalStack::start().await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    change(&stack, &admin, 2).await;
    assert_eq!(checkpoint(&stack).await["written"], true);
    assert_eq!(checkpoint(&stack).await["written"], false);
    let data = stack.data_dir.path();
    std::fs::rename(data.join("receipt-key.p8"), data.join("receipt-key.old.p8")).unwrap();
    let rotated = Stores::open(&StoreChoice::Sqlite, data).await.unwrap();
    let new_key = rotated.receipts.key_id().to_owned();
    let again = nutripro_local::write_checkpoint(&rotated).await.unwrap();
    assert_eq!(again["written"], true, "{again}");
    // Kept beside the first (never rewritten), and the newest from now on.
    let dir = data.join("audit-checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.retain(|n| n != "latest.json");
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let read = |name: &str| -> AuditCheckpoint {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    assert_ne!(read(&names[0]).key_id, new_key);
    assert_eq!(read(&names[1]).key_id, new_key);
    assert_eq!(read(&names[1]).seq, again["seq"].as_u64().unwrap());
    let latest = rotated.checkpoints.latest().await.unwrap().unwrap();
    assert_eq!(latest.key_id, new_key);
    assert_eq!(
        nutripro_local::write_checkpoint(&rotated).await.unwrap()["written"],
        false,
        "and once only"
    );
}

/// After the audit table was rightly restored to an earlier moment, its newest entries
/// are gone for good and the job refuses; an operator names the head verify shows
/// (`checkpoint --reanchor SEQ:HASH`, in AWS `AUDIT_REANCHOR`) and the job signs it —
/// only that head: a re-anchor naming another entry changes nothing.
#[tokio::test]
async fn an_operator_re_anchors_a_chain_restored_to_an_earlier_moment() {
    let stack = LocalStack::start().await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    change(&stack, &admin, 5).await;
    assert_eq!(checkpoint(&stack).await["written"], true);
    // The restore: the newest two entries are gone.
    assert_eq!(delete_from(&stack, 4), 2);
    assert!(checkpoint_refused(&stack).await);
    let shown = verify(&stack, &admin).await;
    assert_eq!(shown["checkpoint"]["status"], "tail_deleted");
    let (seq, hash) = (
        shown["head_seq"].as_u64().unwrap(),
        shown["head_hash"].as_str().unwrap().to_owned(),
    );
    assert_eq!(seq, 3);
    let stores = stores(&stack).await;
    let reanchor = |seq: u64, hash: &str| {
        Some(nutripro_shared::domain::audit_checkpoint::Reanchor {
            seq,
            hash: hash.to_owned(),
        })
    };
    // Not the head: refused as before.
    for (s, h) in [(seq - 1, hash.as_str()), (seq, &"0".repeat(64))] {
        assert!(
            nutripro_local::write_checkpoint_reanchored(&stores, reanchor(s, h))
                .await
                .is_err(),
            "{s}:{h}"
        );
    }
    let written = nutripro_local::write_checkpoint_reanchored(&stores, reanchor(seq, &hash))
        .await
        .unwrap();
    assert_eq!(written, json!({"written": true, "seq": seq}));
    let after = verify(&stack, &admin).await;
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(
        after["checkpoint"],
        json!({"status": "consistent", "seq": seq})
    );
    // The chain grows on and is checkpointed as usual, the re-anchor no longer needed.
    change(&stack, &admin, 1).await;
    assert_eq!(checkpoint(&stack).await["written"], true);
}

/// The job's two checks each stand alone: the chain rewritten up to exactly the
/// checkpointed number (nothing after it to link on: only the checkpointed entry's hash
/// tells), an entry after the checkpoint altered in place (the checkpointed entry
/// unchanged: only the links after it tell), and the checkpointed entry altered in place
/// with its hash kept (only its own hash check tells). Each time nothing is signed.
#[tokio::test]
async fn the_job_refuses_a_chain_changed_at_or_after_its_checkpoint() {
    // Four entries, checkpointed at 4, then `more` entries.
    async fn checkpointed_at_4_then(more: usize) -> (LocalStack, String) {
        let stack = LocalStack::start().await;
        let admin = stack.admin_token(Role::PlatformAdmin, None);
        change(&stack, &admin, 4).await;
        assert_eq!(checkpoint(&stack).await["seq"], 4);
        change(&stack, &admin, more).await;
        (stack, admin)
    }
    fn alter(stack: &LocalStack, seq: i64) {
        let altered = rusqlite::Connection::open(stack.data_dir.path().join("nutripro.sqlite3"))
            .unwrap()
            .execute(
                "UPDATE audit_log SET subject = 'someone else' WHERE seq = ?1",
                [seq],
            )
            .unwrap();
        assert_eq!(altered, 1);
    }

    let (stack, admin) = checkpointed_at_4_then(0).await;
    // Entries 3 and 4 deleted, two others appended: the head is 4 again, another entry.
    assert_eq!(delete_from(&stack, 3), 2);
    change(&stack, &admin, 2).await;
    assert_eq!(verify(&stack, &admin).await["head_seq"], 4);
    assert!(checkpoint_refused(&stack).await);

    let (stack, _) = checkpointed_at_4_then(2).await;
    alter(&stack, 5);
    assert!(checkpoint_refused(&stack).await);

    // The checkpointed entry itself altered in place, its stored hash kept (so the
    // entries after it still link on).
    let (stack, _) = checkpointed_at_4_then(2).await;
    alter(&stack, 4);
    assert!(checkpoint_refused(&stack).await);
}
