//! Where local mode keeps its data: the embedded store (one SQLite file in the data
//! directory, the default), or — with the `dynamodb` feature — the production DynamoDB
//! adapters against any DynamoDB-compatible endpoint (moto, DynamoDB Local, the fault
//! proxy in front of either, or AWS), tables created if missing. Either way the gateway,
//! the admin page and every test suite run the same code above the ports.

use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::sealing::Keyring;
use nutripro_shared::ports::billing::{BillingStore, GenerationCommit};
use nutripro_shared::ports::checkpoints::{CheckpointStore, DirCheckpoints, MemoryCheckpoints};
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::receipts::{LocalReceiptKey, ReceiptSigner};
use nutripro_shared::ports::sealing::{FileKeyring, SealingKeys, StaticKeyring};
use nutripro_shared::ports::{AdminStore, AuditStore, ControlPlaneStore, StoreError};
use std::path::Path;
use std::sync::Arc;

/// Which store `serve` and `bootstrap` use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `<data dir>/nutripro.sqlite3`.
    Sqlite,
    /// Four tables (`<prefix>control-plane`, `content`, `billing`, `audit`) at
    /// `endpoint`.
    DynamoDb {
        endpoint: String,
        table_prefix: String,
    },
}

/// The default table-name prefix of local mode on DynamoDB.
pub const DEFAULT_TABLE_PREFIX: &str = "nutripro-local-";

/// The embedded store's file in a data directory.
const DB_FILE: &str = "nutripro.sqlite3";

/// Every port, as the functions are built from them.
#[derive(Clone)]
pub struct Stores {
    pub admin: Arc<dyn AdminStore>,
    pub content: Arc<dyn ContentStore>,
    pub billing: Arc<dyn BillingStore>,
    pub audit: Arc<dyn AuditStore>,
    pub commit: Arc<dyn GenerationCommit>,
    /// What it says, for messages ("SQLite in ./local-data", "DynamoDB at …").
    pub description: String,
    /// The keys generations are sealed with (the data directory's keyring).
    pub sealing: Arc<dyn SealingKeys>,
    /// The key generation answers are signed with (the data directory's).
    pub receipts: Arc<dyn ReceiptSigner>,
    /// Signed audit checkpoints (the data directory's `audit-checkpoints/`).
    pub checkpoints: Arc<dyn CheckpointStore>,
}

impl Stores {
    /// One embedded store for every port, with a keyring of its own (in memory: use
    /// [`Stores::with_sealing`] for the data directory's).
    pub fn from_sqlite(store: Arc<SqliteStore>, description: impl Into<String>) -> Self {
        Self {
            admin: store.clone(),
            content: store.clone(),
            billing: store.clone(),
            audit: store.clone(),
            commit: store,
            description: description.into(),
            sealing: Arc::new(StaticKeyring(Keyring::generate(false).0)),
            receipts: Arc::new(LocalReceiptKey::ephemeral()),
            checkpoints: Arc::new(MemoryCheckpoints::default()),
        }
    }

    pub fn with_sealing(mut self, sealing: Arc<dyn SealingKeys>) -> Self {
        self.sealing = sealing;
        self
    }

    /// The data directory's keys and checkpoints: the sealing keyring, the receipt key
    /// (each created on first use, owner-only) and `audit-checkpoints/`.
    pub fn with_data_dir_keys(
        self,
        data_dir: &Path,
        store_existed: bool,
    ) -> Result<Self, StoreError> {
        let receipts =
            LocalReceiptKey::open(data_dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut stores = self.with_sealing(Self::data_dir_keyring(data_dir, store_existed)?);
        stores.receipts = Arc::new(receipts);
        stores.checkpoints = Arc::new(DirCheckpoints::open(data_dir)?);
        Ok(stores)
    }

    /// The keyring of `data_dir` (created on first use; one created beside a store from
    /// before sealing keys accepts its plain-hash records until `reseal`).
    pub fn data_dir_keyring(
        data_dir: &Path,
        store_existed: bool,
    ) -> Result<Arc<dyn SealingKeys>, StoreError> {
        FileKeyring::open(data_dir, store_existed)
            .map(|keys| Arc::new(keys) as Arc<dyn SealingKeys>)
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    pub fn control_plane(&self) -> Arc<dyn ControlPlaneStore> {
        self.admin.clone()
    }

    /// Opens (creating if needed) what `choice` names.
    pub async fn open(choice: &StoreChoice, data_dir: &Path) -> Result<Self, StoreError> {
        let existed = data_dir.join(DB_FILE).exists();
        let stores = match choice {
            StoreChoice::Sqlite => Self::from_sqlite(
                Arc::new(SqliteStore::open(data_dir)?),
                format!("SQLite in {}", data_dir.display()),
            ),
            StoreChoice::DynamoDb {
                endpoint,
                table_prefix,
            } => Self::dynamodb(endpoint, table_prefix).await?,
        };
        stores.with_data_dir_keys(data_dir, existed)
    }

    #[cfg(feature = "dynamodb")]
    async fn dynamodb(endpoint: &str, prefix: &str) -> Result<Self, StoreError> {
        use nutripro_shared::adapters::dynamodb::admin::DynamoAuditStore;
        use nutripro_shared::adapters::dynamodb::billing::DynamoBillingStore;
        use nutripro_shared::adapters::dynamodb::commit::DynamoGenerationCommit;
        use nutripro_shared::adapters::dynamodb::content::DynamoContentStore;
        use nutripro_shared::adapters::dynamodb::{schema, DynamoStore};
        let client = schema::client_for(endpoint).await;
        let [control, content, billing, audit] =
            ["control-plane", "content", "billing", "audit"].map(|t| format!("{prefix}{t}"));
        for table in [&control, &content, &billing, &audit] {
            schema::ensure_table(&client, table).await?;
        }
        Ok(Self {
            admin: Arc::new(DynamoStore::new(client.clone(), control)),
            content: Arc::new(DynamoContentStore::new(client.clone(), content.clone())),
            billing: Arc::new(DynamoBillingStore::new(client.clone(), billing.clone())),
            audit: Arc::new(DynamoAuditStore::new(client.clone(), audit)),
            commit: Arc::new(DynamoGenerationCommit::new(client, content, billing)),
            description: format!("DynamoDB at {endpoint} (tables {prefix}*)"),
            sealing: Arc::new(StaticKeyring(Keyring::generate(false).0)),
            receipts: Arc::new(LocalReceiptKey::ephemeral()),
            checkpoints: Arc::new(MemoryCheckpoints::default()),
        })
    }

    #[cfg(not(feature = "dynamodb"))]
    async fn dynamodb(_endpoint: &str, _prefix: &str) -> Result<Self, StoreError> {
        Err(StoreError::Unavailable(
            "this build has no DynamoDB adapter: build with `--features dynamodb` \
             (cargo run -p nutripro-local --features dynamodb -- serve --store dynamodb …)"
                .into(),
        ))
    }
}
