//! The audit log: an append-only hash chain (spec section 7, threats T07, S08).
//!
//! Entry `n` stores `prev_hash` (the hash of entry `n - 1`, or 64 zeros for the first)
//! and its own `hash`: SHA-256 over a domain tag, the sequence number, `prev_hash` and
//! every field, each length-prefixed so no two different entries hash alike. Changing
//! any field breaks that entry's hash; deleting an entry leaves a gap in the sequence;
//! re-hashing a changed entry breaks the next entry's link. [`verify_chain`] reports the
//! first entry where any of that shows.

use super::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

const HASH_DOMAIN: &[u8] = b"nutripro-audit-v1\0";
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a recorded action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// The actor lacked the permission (403) or the target was out of reach (404).
    Denied,
    /// The request was invalid or the target did not exist; nothing changed.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Rejected]
            .into_iter()
            .find(|o| o.as_str() == value)
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The identity provider's subject (`sub`), or `key:<key id>` for API-key events.
    pub subject: String,
    /// Comma-separated roles at the time of the action.
    pub roles: String,
}

/// An entry before it joins the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: Timestamp,
    pub actor: Actor,
    /// Dotted verb, e.g. `tenant.create`, `key.rotate`.
    pub action: String,
    /// What it was done to, e.g. `tenant/<id>`, `key/<id>`.
    pub target: String,
    pub tenant_id: Option<String>,
    pub request_id: String,
    pub source_ip: String,
    pub outcome: Outcome,
    /// Small JSON object with action-specific facts (never secrets).
    pub details: serde_json::Value,
}

/// A chained entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub draft: AuditDraft,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Links `draft` after `previous` (the current head; `None` for the first entry).
    pub fn chain(previous: Option<&AuditEntry>, draft: AuditDraft) -> Self {
        let (seq, prev_hash) = match previous {
            Some(head) => (head.seq + 1, head.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = compute_hash(seq, &prev_hash, &draft);
        Self {
            seq,
            draft,
            prev_hash,
            hash,
        }
    }

    /// Whether the stored hash matches the stored fields.
    pub fn is_intact(&self) -> bool {
        compute_hash(self.seq, &self.prev_hash, &self.draft) == self.hash
    }
}

fn compute_hash(seq: u64, prev_hash: &str, draft: &AuditDraft) -> String {
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    let details = draft.details.to_string();
    let at = draft.at.as_millis().to_string();
    let seq = seq.to_string();
    let fields: [&str; 12] = [
        &seq,
        prev_hash,
        &at,
        &draft.actor.subject,
        &draft.actor.roles,
        &draft.action,
        &draft.target,
        draft.tenant_id.as_deref().unwrap_or(""),
        &draft.request_id,
        &draft.source_ip,
        draft.outcome.as_str(),
        &details,
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    super::hex(&hasher.finalize())
}

/// Where a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The first sequence number that fails.
    pub seq: u64,
    /// `missing` (deleted or never written), `hash_mismatch` (fields changed) or
    /// `link_mismatch` (its `prev_hash` is not the previous entry's hash).
    pub reason: &'static str,
}

/// Checks consecutive entries (in sequence order) against each other. `expected_seq` and
/// `expected_prev` carry the state between pages; start with 1 and [`GENESIS_HASH`].
pub struct ChainVerifier {
    pub expected_seq: u64,
    pub expected_prev: String,
    pub checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            expected_prev: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Feeds the next entry; the first failure is returned and the verifier stops there.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        let broken = |reason| BrokenLink {
            seq: self.expected_seq,
            reason,
        };
        if entry.seq != self.expected_seq {
            return Err(broken("missing"));
        }
        if !entry.is_intact() {
            return Err(broken("hash_mismatch"));
        }
        if entry.prev_hash != self.expected_prev {
            return Err(broken("link_mismatch"));
        }
        self.expected_seq += 1;
        self.expected_prev = entry.hash.clone();
        self.checked += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(action: &str) -> AuditDraft {
        AuditDraft {
            at: Timestamp::from_millis(1_800_000_000_000),
            actor: Actor {
                subject: "sub-1".into(),
                roles: "platform-admin".into(),
            },
            action: action.into(),
            target: "tenant/t1".into(),
            tenant_id: Some("t1".into()),
            request_id: "r1".into(),
            source_ip: "127.0.0.1".into(),
            outcome: Outcome::Success,
            details: serde_json::json!({"name": "Acme"}),
        }
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let entry = AuditEntry::chain(entries.last(), draft(&format!("a{i}")));
            entries.push(entry);
        }
        entries
    }

    fn verify(entries: &[AuditEntry]) -> Result<u64, BrokenLink> {
        let mut verifier = ChainVerifier::default();
        for entry in entries {
            verifier.check(entry)?;
        }
        Ok(verifier.checked)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain(4);
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(entries[3].seq, 4);
        assert_eq!(verify(&entries), Ok(4));
    }

    #[test]
    fn a_changed_field_breaks_that_entry() {
        let mut entries = chain(4);
        entries[2].draft.outcome = Outcome::Denied;
        assert_eq!(
            verify(&entries),
            Err(BrokenLink {
                seq: 3,
                reason: "hash_mismatch"
            })
        );
    }

    #[test]
    fn a_rehashed_entry_breaks_the_next_link() {
        let mut entries = chain(4);
        entries[1].draft.actor.subject = "someone-else".into();
        entries[1].hash = compute_hash(2, &entries[1].prev_hash, &entries[1].draft);
        assert_eq!(
            verify(&entries),
            Err(BrokenLink {
                seq: 3,
                reason: "link_mismatch"
            })
        );
    }

    #[test]
    fn a_deleted_entry_leaves_a_gap() {
        let mut entries = chain(4);
        entries.remove(1);
        assert_eq!(
            verify(&entries),
            Err(BrokenLink {
                seq: 2,
                reason: "missing"
            })
        );
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = draft("x");
        a.target = "ab".into();
        a.request_id = "c".into();
        let mut b = draft("x");
        b.target = "a".into();
        b.request_id = "bc".into();
        assert_ne!(
            compute_hash(1, GENESIS_HASH, &a),
            compute_hash(1, GENESIS_HASH, &b)
        );
    }
}
