//! Backup and restore of the embedded store (`nutripro-local backup` / `restore`).
//!
//! A backup is SQLite's online backup of the database into a new file, copied in one
//! step under one read transaction: in WAL mode a running `serve` keeps writing while it
//! runs, and the copy is the database as of one instant — every write committed before
//! the backup began is in it, none half-done. It is checked (`PRAGMA integrity_check`,
//! the schema version) before it is given its name.
//!
//! A restore checks the file the same way and refuses one from a newer build, moves the
//! data directory's current database aside (`before-restore-<time>/`, never deleted)
//! and copies the backup in (a temporary name, then a rename). It must not run under a
//! server: `serve` holds [`ServeLock`] on the data directory, and restore takes it too.
//!
//! Generations are sealed with the data directory's keys (`sealing-keys.json`), without
//! which they cannot be verified: a backup copies the keyring beside the file
//! (`FILE.sealing-keys.json`, owner-only), and a restore brings it along (the keyring it
//! replaces moves aside with the database).

use super::{DB_FILE, MIGRATIONS};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn io(path: &Path, error: std::io::Error) -> BackupError {
    BackupError::Io {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// What a backup or restore holds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupSummary {
    pub file: PathBuf,
    pub bytes: u64,
    pub schema_version: u32,
    pub tenants: u64,
    pub generations: u64,
    pub ledger_entries: u64,
    pub audit_entries: u64,
    /// Where a restore moved the database it replaced (none: there was none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PathBuf>,
    /// The sealing keyring copied with it (`FILE.sealing-keys.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealing_keys: Option<PathBuf>,
}

const KEYRING_FILE: &str = "sealing-keys.json";

/// Where a backup's keyring lives: beside it.
fn keyring_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sealing-keys.json");
    PathBuf::from(name)
}

/// Copies a keyring readable by its owner only.
fn copy_private(from: &Path, to: &Path) -> Result<(), BackupError> {
    let text = std::fs::read(from).map_err(|e| io(from, e))?;
    let mut options = File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(to).map_err(|e| io(to, e))?;
    std::io::Write::write_all(&mut file, &text).map_err(|e| io(to, e))?;
    file.sync_all().map_err(|e| io(to, e))
}

/// The data directory's exclusive lock: held by `serve` for its life and by `restore`
/// while it replaces the database. Released when dropped or when the process dies.
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    pub const FILE: &'static str = "serve.lock";

    pub fn acquire(data_dir: &Path, holder: &str) -> Result<Self, BackupError> {
        std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
        let path = data_dir.join(Self::FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Refused(format!(
                "{} is in use by a running nutripro-local serve; stop it before {holder}",
                data_dir.display()
            ))),
            Err(std::fs::TryLockError::Error(error)) => Err(io(&path, error)),
        }
    }
}

/// Copies the whole database of `from` into `to` in one step, retrying while a writer
/// holds it for a moment (bounded: 30 s).
fn copy(from: &Connection, to: &mut Connection) -> Result<(), BackupError> {
    let backup = Backup::new(from, to)?;
    let started = Instant::now();
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ => {
                if started.elapsed() > Duration::from_secs(30) {
                    return Err(BackupError::Refused(
                        "the database stayed busy for 30 s; try again".into(),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn count(conn: &Connection, table: &str) -> Result<u64, BackupError> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Checks that `path` is a sound database of this store that this build can open, and
/// says what it holds.
fn inspect(path: &Path) -> Result<BackupSummary, BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|_| {
            BackupError::Refused(format!("{} is not a SQLite database", path.display()))
        })?;
    if integrity != "ok" {
        return Err(BackupError::Refused(format!(
            "{} failed its integrity check: {integrity}",
            path.display()
        )));
    }
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        return Err(BackupError::Refused(format!(
            "{} is not a nutripro-local store",
            path.display()
        )));
    }
    if version as usize > MIGRATIONS.len() {
        return Err(BackupError::Refused(format!(
            "{} is from a newer nutripro-local (schema {version}, this one knows {})",
            path.display(),
            MIGRATIONS.len()
        )));
    }
    Ok(BackupSummary {
        file: path.to_owned(),
        bytes: std::fs::metadata(path).map_err(|e| io(path, e))?.len(),
        schema_version: version,
        tenants: count(&conn, "tenants")?,
        generations: count(&conn, "generations")?,
        ledger_entries: count(&conn, "billing_ledger")?,
        audit_entries: count(&conn, "audit_log")?,
        previous: None,
        sealing_keys: None,
    })
}

fn sync(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Backs up the store in `data_dir` into the new file `to` (never overwritten).
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupSummary, BackupError> {
    let source = data_dir.join(DB_FILE);
    if !source.exists() {
        return Err(BackupError::Refused(format!(
            "{} holds no store (no {DB_FILE})",
            data_dir.display()
        )));
    }
    let keyring = data_dir.join(KEYRING_FILE);
    let keyring_copy = keyring_beside(to);
    if to.exists() || keyring_copy.exists() {
        return Err(BackupError::Refused(format!(
            "{} (or its keyring) exists; a backup never overwrites a file",
            to.display()
        )));
    }
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let from = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        from.busy_timeout(Duration::from_secs(5))?;
        let mut into = Connection::open(&partial)?;
        copy(&from, &mut into)?;
        // A self-contained file: no WAL beside it.
        into.pragma_update(None, "journal_mode", "DELETE")?;
        drop(into);
        sync(&partial)?;
        inspect(&partial)?;
        std::fs::rename(&partial, to).map_err(|e| io(to, e))?;
        let mut summary = inspect(to)?;
        if keyring.exists() {
            copy_private(&keyring, &keyring_copy)?;
            summary.sealing_keys = Some(keyring_copy.clone());
        }
        Ok(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Restores the backup `from` as the store of `data_dir` (no server may run on it).
pub fn restore(from: &Path, data_dir: &Path) -> Result<BackupSummary, BackupError> {
    inspect(from)?;
    let _lock = ServeLock::acquire(data_dir, "restoring")?;
    let target = data_dir.join(DB_FILE);
    let partial = data_dir.join(format!("{DB_FILE}.restoring"));
    let _ = std::fs::remove_file(&partial);
    {
        let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut into = Connection::open(&partial)?;
        copy(&source, &mut into)?;
        into.pragma_update(None, "journal_mode", "WAL")?;
    }
    sync(&partial)?;
    inspect(&partial)?;
    // The current database (with its WAL, which may hold committed pages) moves aside
    // as a whole; nothing is deleted.
    let mut previous = None;
    if target.exists() {
        let aside = data_dir.join(format!("before-restore-{}", stamp_now()));
        std::fs::create_dir_all(&aside).map_err(|e| io(&aside, e))?;
        for suffix in ["", "-wal", "-shm"] {
            let file = data_dir.join(format!("{DB_FILE}{suffix}"));
            if file.exists() {
                std::fs::rename(&file, aside.join(format!("{DB_FILE}{suffix}")))
                    .map_err(|e| io(&file, e))?;
            }
        }
        previous = Some(aside);
    }
    // The backup's keyring verifies its generations; the one it replaces moves aside.
    let keyring_copy = keyring_beside(from);
    let keyring = data_dir.join(KEYRING_FILE);
    let mut sealing_keys = None;
    if keyring_copy.exists() {
        if keyring.exists() {
            let aside = previous
                .get_or_insert_with(|| data_dir.join(format!("before-restore-{}", stamp_now())));
            std::fs::create_dir_all(&*aside).map_err(|e| io(aside, e))?;
            std::fs::rename(&keyring, aside.join(KEYRING_FILE)).map_err(|e| io(&keyring, e))?;
        }
        copy_private(&keyring_copy, &keyring)?;
        sealing_keys = Some(keyring.clone());
    }
    // The audit checkpoints vouch for the chain being replaced, which may be longer than
    // the backup's: they go aside with it (kept), and the restored chain is checkpointed
    // afresh — otherwise verify would call the restored chain a deleted tail for good,
    // and the checkpoint job would refuse to sign over it.
    let checkpoints = data_dir.join(crate::ports::checkpoints::DirCheckpoints::DIR);
    if checkpoints.exists() {
        let aside = previous
            .get_or_insert_with(|| data_dir.join(format!("before-restore-{}", stamp_now())));
        std::fs::create_dir_all(&*aside).map_err(|e| io(aside, e))?;
        std::fs::rename(
            &checkpoints,
            aside.join(crate::ports::checkpoints::DirCheckpoints::DIR),
        )
        .map_err(|e| io(&checkpoints, e))?;
    }
    std::fs::rename(&partial, &target).map_err(|e| io(&target, e))?;
    // The journal the restored file was written with goes with it.
    for suffix in ["-wal", "-shm"] {
        let stray = data_dir.join(format!("{DB_FILE}.restoring{suffix}"));
        let _ = std::fs::remove_file(stray);
    }
    let mut summary = inspect(&target)?;
    summary.previous = previous;
    summary.sealing_keys = sealing_keys;
    Ok(summary)
}

fn stamp_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
