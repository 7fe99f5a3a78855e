//! The `client_credentials` grant: a `MachineToMachine` application with Management API access trades its id and
//! secret for a Management API token.

use latchkey_domain::application::ApplicationType;
use latchkey_domain::token::{AccessClaims, Audience, Subject};

use super::{
    ACCESS_TOKEN_LIFETIME_SECS, MANAGEMENT_API_SCOPE, RequestOrigin, TokenEndpoint, TokenEndpointError, TokenRequest,
    TokenResponse,
};
use crate::token::mint;

pub(super) async fn grant(
    endpoint: &TokenEndpoint,
    origin: &RequestOrigin,
    form: TokenRequest,
) -> Result<TokenResponse, TokenEndpointError> {
    let application =
        endpoint.authenticate_client(origin.authorization.as_deref(), form.client_id, form.client_secret).await?;
    if application.app_type != ApplicationType::MachineToMachine {
        return Err(TokenEndpointError::UnauthorizedClient);
    }

    let resource = form.resource.filter(|resource| endpoint.is_management_api(resource));
    let resource = resource.ok_or(TokenEndpointError::InvalidTarget)?;
    let requested_scope = form.scope.unwrap_or_default();
    let only_management_scope =
        requested_scope.split(' ').filter(|scope| !scope.is_empty()).all(|s| s == MANAGEMENT_API_SCOPE);
    if !only_management_scope || !application.has_management_api_access() {
        return Err(TokenEndpointError::InvalidScope);
    }

    let now = endpoint.now();
    let claims = AccessClaims::new(
        Subject::Application(application.id.clone()),
        application.id,
        Audience::Resource(resource),
        endpoint.ports.ids.entity_id(),
        now,
        now.plus_secs(ACCESS_TOKEN_LIFETIME_SECS),
    )
    .with_scopes([MANAGEMENT_API_SCOPE]);
    let access_token =
        mint(&endpoint.ports.keys, &claims).map_err(|error| TokenEndpointError::ServerError(error.to_string()))?;
    Ok(TokenResponse {
        access_token,
        expires_in: claims.expires_in_secs(now),
        token_type: "Bearer",
        scope: MANAGEMENT_API_SCOPE.to_owned(),
        refresh_token: None,
    })
}
