//! Cognito pre-token-generation trigger (V2): copies the user's `custom:tenant_id`
//! attribute into the access token, where the admin authorizer reads a tenant-manager's
//! tenant. The attribute is writable by administrators only (the app client's
//! `WriteAttributes` leave it out), so a user cannot bind itself to another tenant.

use aws_lambda_events::cognito::{
    ClaimsAndScopeOverrideDetailsV2, CognitoAccessTokenGenerationV2,
    CognitoEventUserPoolsPreTokenGenV2,
};
use nutripro_shared::adapters::jwt::TENANT_CLAIM;

/// Adds the tenant claim to the access token (and nothing else).
pub fn add_tenant_claim(
    mut event: CognitoEventUserPoolsPreTokenGenV2,
) -> CognitoEventUserPoolsPreTokenGenV2 {
    let mut access = CognitoAccessTokenGenerationV2::default();
    if let Some(tenant) = event
        .request
        .user_attributes
        .get(TENANT_CLAIM)
        .filter(|t| !t.is_empty())
    {
        access
            .claims_to_add_or_override
            .insert(TENANT_CLAIM.to_owned(), tenant.clone().into());
    }
    let mut details = ClaimsAndScopeOverrideDetailsV2::default();
    details.access_token_generation = Some(access);
    event.response.claims_and_scope_override_details = Some(details);
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(attributes: serde_json::Value) -> CognitoEventUserPoolsPreTokenGenV2 {
        serde_json::from_value(serde_json::json!({
            "version": "2", "triggerSource": "TokenGeneration_Authentication",
            "region": "eu-west-1", "userPoolId": "eu-west-1_x", "userName": "alice",
            "callerContext": {"awsSdkVersion": "x", "clientId": "c"},
            "request": {"userAttributes": attributes,
                        "groupConfiguration": {"groupsToOverride": ["tenant-manager"],
                                               "iamRolesToOverride": [], "preferredRole": null},
                        "scopes": ["openid"]},
            "response": {"claimsAndScopeOverrideDetails": null}
        }))
        .expect("a Cognito V2 pre-token-generation event")
    }

    fn access_claims(event: &CognitoEventUserPoolsPreTokenGenV2) -> serde_json::Value {
        let details = event
            .response
            .claims_and_scope_override_details
            .as_ref()
            .unwrap();
        serde_json::to_value(
            &details
                .access_token_generation
                .as_ref()
                .unwrap()
                .claims_to_add_or_override,
        )
        .unwrap()
    }

    #[test]
    fn copies_the_tenant_attribute_into_the_access_token() {
        let out = add_tenant_claim(event(serde_json::json!({
            "sub": "s", "custom:tenant_id": "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"
        })));
        assert_eq!(
            access_claims(&out),
            serde_json::json!({"custom:tenant_id": "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"})
        );
    }

    #[test]
    fn users_without_a_tenant_get_no_claim() {
        let out = add_tenant_claim(event(serde_json::json!({"sub": "s"})));
        assert_eq!(access_claims(&out), serde_json::json!({}));
    }
}
