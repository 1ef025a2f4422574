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

/// A checkpoint now, as the job (and `nutripro-local checkpoint`) writes it.
async fn checkpoint(stack: &LocalStack) -> Value {
    let stores = Stores::open(&StoreChoice::Sqlite, stack.data_dir.path())
        .await
        .expect("the data directory's stores");
    nutripro_local::write_checkpoint(&stores)
        .await
        .expect("checkpoint written")
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

    // A checkpoint someone wrote without the service key.
    let mut forged: AuditCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    forged.seq = 99;
    std::fs::write(
        stack
            .data_dir
            .path()
            .join("audit-checkpoints")
            .join(format!("{:020}.json", 99)),
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
