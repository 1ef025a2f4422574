//! `nutripro-local bootstrap`: a tenant and its first API key, so a newcomer can call
//! the API within a minute. (The admin API takes this over once it lands.)

use nutripro_shared::domain::{
    ApiKey, ApiKeyToken, PlanId, Tenant, TenantName, Timestamp, ValidationError,
};
use nutripro_shared::ports::{ControlPlaneStore, StoreError};
use serde::Serialize;

/// What `bootstrap` prints: the only time the key's secret is shown.
#[derive(Debug, Serialize)]
pub struct Bootstrapped {
    pub tenant_id: String,
    pub key_id: String,
    pub api_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

pub async fn bootstrap(
    store: &dyn ControlPlaneStore,
    tenant_name: &str,
    now: Timestamp,
) -> Result<(Bootstrapped, ApiKeyToken), BootstrapError> {
    let tenant = Tenant::new(
        TenantName::parse(tenant_name)?,
        PlanId::new(PlanId::DEFAULT),
        now,
    );
    store.create_tenant(&tenant).await?;
    let (key, token) = ApiKey::issue(tenant.id.clone(), "bootstrap", now, None)?;
    store.create_key(&key).await?;
    let printed = Bootstrapped {
        tenant_id: tenant.id.to_string(),
        key_id: key.key_id.to_string(),
        api_key: token.expose().to_owned(),
    };
    Ok((printed, token))
}
