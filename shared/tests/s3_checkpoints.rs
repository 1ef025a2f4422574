//! The S3 checkpoint store against an S3-compatible server on loopback (moto, started by
//! scripts/test): a bucket with Object Lock in compliance mode, as the template makes it.
//! Checkpoints are kept, the newest is read back, and a locked checkpoint cannot be
//! deleted (the point of the bucket: a database writer who deletes the audit tail cannot
//! delete its checkpoint too).

use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule,
};
use nutripro_shared::adapters::s3::{local_client, S3Checkpoints};
use nutripro_shared::domain::audit_checkpoint::AuditCheckpoint;
use nutripro_shared::ports::checkpoints::CheckpointStore;

fn endpoint() -> String {
    std::env::var("NUTRIPRO_TEST_S3_ENDPOINT").expect(
        "NUTRIPRO_TEST_S3_ENDPOINT is not set: this test needs the moto server on loopback \
         that scripts/test starts (it serves S3 too)",
    )
}

fn checkpoint(seq: u64) -> AuditCheckpoint {
    AuditCheckpoint {
        seq,
        hash: format!("{seq:064x}"),
        at_ms: 1_800_000_000_000 + seq as i64,
        key_id: "local-test".into(),
        signature: "AAAA".into(),
    }
}

#[tokio::test]
#[ignore = "needs an S3-compatible server on loopback: run scripts/test"]
async fn checkpoints_are_kept_under_object_lock_and_the_newest_is_read_back() {
    let client = local_client(&endpoint());
    let bucket = format!("nutripro-checkpoints-{}", nutripro_shared::domain::new_id());
    client
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("create the bucket");
    client
        .put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("compliance-mode default retention");
    let store = S3Checkpoints::new(client.clone(), &bucket);
    assert_eq!(store.latest().await.unwrap(), None, "no checkpoint yet");
    for seq in [3, 7] {
        store
            .write(&checkpoint(seq))
            .await
            .expect("written under object lock");
    }
    assert_eq!(store.latest().await.unwrap(), Some(checkpoint(7)));
    // A locked version cannot be deleted.
    let versions = client
        .list_object_versions()
        .bucket(&bucket)
        .prefix("checkpoints/")
        .send()
        .await
        .unwrap();
    let version = versions.versions()[0].clone();
    let deleted = client
        .delete_object()
        .bucket(&bucket)
        .key(version.key().unwrap())
        .version_id(version.version_id().unwrap())
        .send()
        .await;
    assert!(
        deleted.is_err(),
        "a checkpoint under compliance retention is not deletable"
    );
    let missing = S3Checkpoints::new(client, "no-such-bucket-here")
        .latest()
        .await;
    assert!(
        missing.is_err(),
        "a missing bucket is an error, not 'no checkpoint'"
    );
}
