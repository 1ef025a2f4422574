//! Where audit checkpoints are kept (threat T07): an S3 bucket with Object Lock in
//! compliance mode in AWS (`CHECKPOINT_BUCKET`), `DATA_DIR/audit-checkpoints/` locally.

use super::StoreError;
use crate::domain::audit_checkpoint::AuditCheckpoint;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Keeps `checkpoint`, never replacing an earlier one. A second checkpoint of the same
    /// sequence number (the head signed again after a key rotation) is kept beside the
    /// first and is the newest from then on.
    async fn write(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError>;
    /// The newest checkpoint (highest sequence number), if any.
    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError>;
}

/// Local mode: one file per checkpoint, named by its zero-padded sequence number
/// (`<seq>.json`; the same head signed again after a key rotation: `<seq>.r<at_ms>.json`,
/// which sorts after it). Files are never rewritten.
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
}

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
        if path.exists() {
            return Ok(());
        }
        let partial = path.with_extension("partial");
        std::fs::write(&partial, checkpoint.to_json())
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let newest = std::fs::read_dir(&self.dir)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .max();
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
        if !kept.contains(checkpoint) {
            kept.push(checkpoint.clone());
        }
        Ok(())
    }

    async fn latest(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(kept.iter().max_by_key(|c| (c.seq, c.at_ms)).cloned())
    }
}
