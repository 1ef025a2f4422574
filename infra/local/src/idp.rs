//! Local mode's stand-in for the Cognito user pool: the key lives in the data directory,
//! the gateway publishes its JWKS, `nutripro-local token` signs access tokens with it,
//! and the admin authorizer trusts it through the same [`IdpConfig`] it uses for Cognito.

use nutripro_shared::adapters::jwt::{IdpConfig, TokenUse};
use nutripro_shared::adapters::local_idp::{LOCAL_CLIENT_ID, LOCAL_ISSUER, LOCAL_JWKS_PATH};

/// What the admin authorizer of a gateway at `base_url` trusts.
pub fn config(base_url: &str) -> IdpConfig {
    IdpConfig {
        issuer: LOCAL_ISSUER.to_owned(),
        client_id: LOCAL_CLIENT_ID.to_owned(),
        token_use: TokenUse::Access,
        jwks_url: format!("{}{LOCAL_JWKS_PATH}", base_url.trim_end_matches('/')),
    }
}
