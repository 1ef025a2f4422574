//! Where audit checkpoints are kept (threat T07): an S3 bucket with Object Lock in
//! compliance mode in AWS (`CHECKPOINT_BUCKET`), `DATA_DIR/audit-checkpoints/` locally.

use super::StoreError;
use crate::domain::audit_checkpoint::AuditCheckpoint;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Keeps `checkpoint`, never replacing an earlier one, and makes it the newest (also
    /// when it names an earlier entry than the one before: a re-anchor). A second
    /// checkpoint of the same sequence number (a key rotation) is kept beside the first.
    async fn write(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError>;
    /// The newest checkpoint written, if any.
    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError>;
}

/// Local mode, shaped like the bucket: one file per checkpoint, named by its zero-padded
/// sequence number (`<seq>.json`; the same entry signed again — a key rotation, a
/// re-anchor — `<seq>.r<at_ms>.json` beside it), never rewritten; and `latest.json`, a
/// copy of the newest written, replaced on each write (a directory from before it: the
/// highest-numbered file).
pub struct DirCheckpoints {
    dir: PathBuf,
}

impl DirCheckpoints {
    pub const DIR: &'static str = "audit-checkpoints";

    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.join(Self::DIR);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `path` whole or not at all (a partial file, then a rename).
    fn put(&self, path: &Path, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        let partial = path.with_extension("partial");
        std::fs::write(&partial, checkpoint.to_json())
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))
    }
}

/// The newest checkpoint written, as in the bucket.
const LATEST_FILE: &str = "latest.json";

#[async_trait]
impl CheckpointStore for DirCheckpoints {
    async fn write(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        let first = self.dir.join(format!("{:020}.json", checkpoint.seq));
        let path = match std::fs::read_to_string(&first) {
            Err(_) => first,
            Ok(text) if AuditCheckpoint::from_json(&text).as_ref() == Some(checkpoint) => {
                return Ok(())
            }
            Ok(_) => self.dir.join(format!(
                "{:020}.r{:020}.json",
                checkpoint.seq, checkpoint.at_ms
            )),
        };
        if !path.exists() {
            self.put(&path, checkpoint)?;
        }
        self.put(&self.dir.join(LATEST_FILE), checkpoint)
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let newest = if self.dir.join(LATEST_FILE).exists() {
            Some(LATEST_FILE.to_owned())
        } else {
            std::fs::read_dir(&self.dir)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    name.ends_with(".json") && name.starts_with(|c: char| c.is_ascii_digit())
                })
                .max()
        };
        let Some(name) = newest else { return Ok(None) };
        let text = std::fs::read_to_string(self.dir.join(&name))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        AuditCheckpoint::from_json(&text)
            .map(Some)
            .ok_or_else(|| StoreError::Unavailable(format!("checkpoint {name} is unreadable")))
    }
}

/// A function given no checkpoint store (`CHECKPOINT_BUCKET`): every use fails.
pub struct NoCheckpoints;

#[async_trait]
impl CheckpointStore for NoCheckpoints {
    async fn write(&self, _checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "no checkpoint store (CHECKPOINT_BUCKET)".into(),
        ))
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        Err(StoreError::Unavailable(
            "no checkpoint store (CHECKPOINT_BUCKET)".into(),
        ))
    }
}

/// Checkpoints in memory (a registry without a data directory, tests).
#[derive(Default)]
pub struct MemoryCheckpoints(std::sync::Mutex<Vec<AuditCheckpoint>>);

#[async_trait]
impl CheckpointStore for MemoryCheckpoints {
    async fn write(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|c| c != checkpoint);
        kept.push(checkpoint.clone());
        Ok(())
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The newest written, as `latest.json`.
        Ok(kept.last().cloned())
    }
}
