//! The template's Lambda functions, in-process: every row of the endpoint table
//! (`nutripro_endpoints::ENDPOINTS`), built exactly as the Lambda host builds it, from
//! the embedded store instead of DynamoDB.

use crate::llm::LlmChoice;
use crate::stores::Stores;
use nutripro_endpoints::{AuthorizerFn, Function, HttpFn, JobFn, Llm, Services, WiringError};
use nutripro_shared::adapters::jwt::IdpConfig;
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::config::DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS;
use nutripro_shared::ports::billing::{BillingStore, GenerationCommit};
use nutripro_shared::ports::checkpoints::CheckpointStore;
use nutripro_shared::ports::content::ContentStore;
use nutripro_shared::ports::events::{EventPublisher, LogEvents};
use nutripro_shared::ports::receipts::ReceiptSigner;
use nutripro_shared::ports::sealing::SealingKeys;
use nutripro_shared::ports::{AdminStore, AuditStore, Clock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub type HttpHandler = HttpFn;
pub type Authorizer = AuthorizerFn;

/// Local mode's wiring: the stores ([`Stores`]: the embedded one, or DynamoDB);
/// settings are read on every request (a change applies at once); the local identity
/// provider stands in for Cognito.
pub struct LocalServices {
    pub stores: Stores,
    pub clock: Arc<dyn Clock>,
    pub llm: LlmChoice,
    pub admin_idp: IdpConfig,
}

impl Services for LocalServices {
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn control_plane(&self) -> Result<Arc<dyn AdminStore>, WiringError> {
        Ok(self.stores.admin.clone())
    }

    fn content(&self) -> Result<Arc<dyn ContentStore>, WiringError> {
        Ok(self.stores.content.clone())
    }

    fn billing(&self) -> Result<Arc<dyn BillingStore>, WiringError> {
        Ok(self.stores.billing.clone())
    }

    fn audit(&self) -> Result<Arc<dyn AuditStore>, WiringError> {
        Ok(self.stores.audit.clone())
    }

    fn generation_commit(&self) -> Result<Arc<dyn GenerationCommit>, WiringError> {
        Ok(self.stores.commit.clone())
    }

    fn sealing(&self) -> Result<Arc<dyn SealingKeys>, WiringError> {
        Ok(self.stores.sealing.clone())
    }

    fn receipts(&self) -> Result<Arc<dyn ReceiptSigner>, WiringError> {
        Ok(self.stores.receipts.clone())
    }

    fn checkpoints(&self) -> Result<Arc<dyn CheckpointStore>, WiringError> {
        Ok(self.stores.checkpoints.clone())
    }

    /// Events go to the gateway's log.
    fn events(&self) -> Result<Arc<dyn EventPublisher>, WiringError> {
        Ok(Arc::new(LogEvents))
    }

    fn llm(&self) -> Result<Llm, WiringError> {
        Ok(Llm {
            provider: self.llm.provider.clone(),
            model: self.llm.model.clone(),
            timeout: self.llm.timeout,
        })
    }

    fn admin_identity(&self) -> Result<IdpConfig, WiringError> {
        Ok(self.admin_idp.clone())
    }

    fn settings_ttl(&self) -> Duration {
        Duration::ZERO
    }

    fn key_last_used_interval_seconds(&self) -> Result<i64, WiringError> {
        Ok(DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS)
    }
}

/// Every function of the endpoint table, by name and kind.
pub struct Registry {
    pub handlers: BTreeMap<&'static str, HttpHandler>,
    pub authorizers: BTreeMap<&'static str, Authorizer>,
    pub jobs: BTreeMap<&'static str, JobFn>,
    /// Every name of the table (triggers included), to compare with the template.
    pub names: Vec<&'static str>,
}

impl Registry {
    /// `admin_idp` is the identity provider the admin authorizer trusts (the local one,
    /// see [`crate::idp`]).
    pub fn new(
        store: Arc<SqliteStore>,
        clock: Arc<dyn Clock>,
        llm: LlmChoice,
        admin_idp: IdpConfig,
    ) -> Self {
        Self::with_stores(Stores::from_sqlite(store, "SQLite"), clock, llm, admin_idp)
    }

    /// Every row built on `stores`.
    pub fn with_stores(
        stores: Stores,
        clock: Arc<dyn Clock>,
        llm: LlmChoice,
        admin_idp: IdpConfig,
    ) -> Self {
        let services = LocalServices {
            stores,
            clock,
            llm,
            admin_idp,
        };
        let mut registry = Self {
            handlers: BTreeMap::new(),
            authorizers: BTreeMap::new(),
            jobs: BTreeMap::new(),
            names: Vec::new(),
        };
        for endpoint in nutripro_endpoints::ENDPOINTS {
            registry.names.push(endpoint.name);
            // Local wiring supplies everything, so a row that fails here is a bug.
            match (endpoint.build)(&services).unwrap_or_else(|error| {
                panic!("{} cannot be built locally: {error}", endpoint.name)
            }) {
                Function::Http(handler) => {
                    registry.handlers.insert(endpoint.name, handler);
                }
                Function::Authorizer(authorizer) => {
                    registry.authorizers.insert(endpoint.name, authorizer);
                }
                Function::Job(job) => {
                    registry.jobs.insert(endpoint.name, job);
                }
                // The Cognito trigger has nothing to do locally: the local identity
                // provider puts the tenant claim in its tokens itself.
                Function::CognitoTrigger(_) => {}
            }
        }
        registry
    }
}
