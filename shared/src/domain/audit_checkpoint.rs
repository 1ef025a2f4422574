//! Audit checkpoints (threat T07): the chain's head — sequence number, hash, time —
//! signed by the service's key and written where the database's writers cannot reach it
//! (an S3 bucket with Object Lock in compliance mode; locally a directory). A chain that
//! ends before the newest checkpoint has lost its tail; a chain whose entry at the
//! checkpoint's sequence number has another hash was rewritten — both caught even when
//! every remaining link is consistent.

use super::audit::AuditEntry;
use super::Timestamp;
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    pub seq: u64,
    pub hash: String,
    /// When the head was read (epoch ms).
    pub at_ms: i64,
    /// The signing key's id (a kid of the receipt key set).
    pub key_id: String,
    /// ECDSA P-256 / SHA-256, `r || s`, base64, over [`AuditCheckpoint::message`].
    pub signature: String,
}

impl AuditCheckpoint {
    /// The signed bytes: a domain tag, then seq, hash and time, one per line.
    pub fn message(seq: u64, hash: &str, at: Timestamp) -> Vec<u8> {
        format!(
            "nutripro-audit-checkpoint-v1\n{seq}\n{hash}\n{}",
            at.as_millis()
        )
        .into_bytes()
    }

    pub fn at(&self) -> Timestamp {
        Timestamp::from_millis(self.at_ms)
    }

    /// Whether the signature is the key's over this checkpoint's own fields.
    pub fn verifies_with(&self, public_key: &[u8]) -> bool {
        STANDARD.decode(&self.signature).is_ok_and(|signature| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
                .verify(&Self::message(self.seq, &self.hash, self.at()), &signature)
                .is_ok()
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// An operator's word that the chain now rightly ends at `seq` with `hash` — after the
/// audit table was restored to an earlier moment, its newest entries are gone for good and
/// the checkpoint job, which refuses to sign a chain that lacks its newest checkpoint,
/// would refuse forever. Given to the job as `AUDIT_REANCHOR=<seq>:<hash>` (template
/// parameter `AuditCheckpointReanchor`) or `nutripro-local checkpoint --reanchor`; it
/// applies only while the chain's head is exactly that entry, so it names what verify
/// showed, not "whatever is there".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reanchor {
    pub seq: u64,
    pub hash: String,
}

impl Reanchor {
    /// `<seq>:<hash>`: a sequence number from 1 and 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected <seq>:<hash> (the head_seq and head_hash verify answers)";
        let (seq, hash) = text.trim().split_once(':').ok_or(expected)?;
        let seq = seq.parse::<u64>().ok().filter(|s| *s > 0).ok_or(expected)?;
        if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(expected.into());
        }
        Ok(Self {
            seq,
            hash: hash.to_owned(),
        })
    }

    pub fn names(&self, entry: &AuditEntry) -> bool {
        entry.seq == self.seq && entry.hash == self.hash
    }
}

/// How the chain stands against its newest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckpointStanding {
    /// No checkpoint written yet.
    None,
    /// The chain reaches the checkpoint and holds its hash there.
    Consistent { seq: u64 },
    /// The chain ends before the checkpoint: entries after `chain_head` were deleted.
    TailDeleted { seq: u64, chain_head: u64 },
    /// The entry at the checkpoint's sequence number is not the one checkpointed.
    Rewritten { seq: u64 },
    /// The checkpoint is not signed by the service's key (it was forged or damaged).
    BadSignature { seq: u64 },
}

impl CheckpointStanding {
    pub fn is_consistent(&self) -> bool {
        matches!(self, Self::None | Self::Consistent { .. })
    }
}

/// Compares the newest checkpoint with the chain: `at_seq` is the chain's entry at the
/// checkpoint's sequence number (if it still has one), `head` its last entry's.
pub fn standing(
    checkpoint: Option<&AuditCheckpoint>,
    public_key: &[u8],
    at_seq: Option<&AuditEntry>,
    head: Option<u64>,
) -> CheckpointStanding {
    let Some(checkpoint) = checkpoint else {
        return CheckpointStanding::None;
    };
    let seq = checkpoint.seq;
    if !checkpoint.verifies_with(public_key) {
        return CheckpointStanding::BadSignature { seq };
    }
    match at_seq {
        Some(entry) if entry.hash == checkpoint.hash => CheckpointStanding::Consistent { seq },
        Some(_) => CheckpointStanding::Rewritten { seq },
        None => CheckpointStanding::TailDeleted {
            seq,
            chain_head: head.unwrap_or(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reanchor_names_one_entry() {
        let hash = "0a".repeat(32);
        let parsed = Reanchor::parse(&format!(" 12:{hash}\n")).unwrap();
        assert_eq!(
            parsed,
            Reanchor {
                seq: 12,
                hash: hash.clone()
            }
        );
        for bad in [
            "".to_owned(),
            "12".to_owned(),
            format!("0:{hash}"),
            format!("-1:{hash}"),
            format!("12:{}", "0A".repeat(32)),
            format!("12:{}", "0a".repeat(31)),
            format!("12:{hash}:extra"),
        ] {
            assert!(Reanchor::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
