//! Where the sealing keyring comes from (threat T05, `domain::sealing`): a Secrets
//! Manager secret in AWS (`SEALING_SECRET_ARN`, cached like every secret), a file in the
//! data directory locally.

use super::secrets::{SecretError, SecretSource};
use crate::domain::sealing::Keyring;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[async_trait]
pub trait SealingKeys: Send + Sync {
    async fn keyring(&self) -> Result<Keyring, SecretError>;
}

/// A fixed keyring (tests).
pub struct StaticKeyring(pub Keyring);

#[async_trait]
impl SealingKeys for StaticKeyring {
    async fn keyring(&self) -> Result<Keyring, SecretError> {
        Ok(self.0.clone())
    }
}

/// The keyring in a secret (its JSON is the keyring's stored form), parsed again only
/// when the secret's value changes (the source caches the value itself).
pub struct SecretKeyring {
    source: Arc<dyn SecretSource>,
    parsed: std::sync::Mutex<Option<(super::secrets::Secret, Keyring)>>,
}

impl SecretKeyring {
    pub fn new(source: Arc<dyn SecretSource>) -> Self {
        Self {
            source,
            parsed: std::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl SealingKeys for SecretKeyring {
    async fn keyring(&self) -> Result<Keyring, SecretError> {
        let secret = self.source.current().await?;
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((text, keyring)) = parsed.as_ref() {
            if *text == secret {
                return Ok(keyring.clone());
            }
        }
        let keyring = Keyring::parse(secret.expose()).map_err(SecretError)?;
        *parsed = Some((secret, keyring.clone()));
        Ok(keyring)
    }
}

/// A function that was given no keyring (its template resource has no
/// `SEALING_SECRET_ARN`): every use fails, loudly.
pub struct NoKeyring;

#[async_trait]
impl SealingKeys for NoKeyring {
    async fn keyring(&self) -> Result<Keyring, SecretError> {
        Err(SecretError(
            "this function has no sealing keyring (SEALING_SECRET_ARN)".into(),
        ))
    }
}

/// Local mode: `<data dir>/sealing-keys.json`, created on first use with one random key.
/// A directory that already holds a store from before sealing keys gets a keyring that
/// accepts its plain-hash records until `nutripro-local reseal` has re-sealed them.
pub struct FileKeyring {
    path: PathBuf,
}

impl FileKeyring {
    pub const FILE: &'static str = "sealing-keys.json";

    /// The keyring of `data_dir`, created if missing.
    pub fn open(data_dir: &Path, store_existed: bool) -> Result<Self, SecretError> {
        let path = data_dir.join(Self::FILE);
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(|e| SecretError(e.to_string()))?;
            let (_, json) = Keyring::generate(store_existed);
            write_private(&path, &json)?;
        }
        Ok(Self { path })
    }

    /// Rewrites the keyring with `accept_unkeyed` (after the migration).
    pub fn set_accept_unkeyed(&self, accept: bool) -> Result<(), SecretError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| SecretError(e.to_string()))?;
        let mut value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| SecretError(e.to_string()))?;
        value["accept_unkeyed"] = serde_json::Value::Bool(accept);
        Keyring::parse(&value.to_string()).map_err(SecretError)?;
        write_private(&self.path, &value.to_string())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `text` readable by its owner only, through a temporary file and a rename.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), SecretError> {
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        use std::io::Write;
        let mut file = options.open(&partial)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    result.map_err(|e| SecretError(format!("{}: {e}", path.display())))
}

#[async_trait]
impl SealingKeys for FileKeyring {
    async fn keyring(&self) -> Result<Keyring, SecretError> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| SecretError(format!("{}: {e}", self.path.display())))?;
        Keyring::parse(&text).map_err(SecretError)
    }
}
