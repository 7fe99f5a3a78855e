//! `POST /oidc/token` and `POST /oidc/token/revocation`. The token endpoint serves `client_credentials` (Management
//! API tokens for `MachineToMachine` apps), `refresh_token` (rotation with reuse detection) and Logto's token
//! exchange (subject tokens and personal access tokens, optionally with an actor); the revocation endpoint (RFC 7009)
//! ends the session behind a refresh or access token. Errors follow RFC 6749 §5.2 with Logto's `code` and `message`
//! added.

mod client_auth;
mod client_credentials;
mod exchange;
mod refresh;
mod revocation;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use latchkey_domain::application::{Application, ApplicationRepository};
use latchkey_domain::personal_access_token::PersonalAccessTokenRepository;
use latchkey_domain::ports::UserRepository;
use latchkey_domain::session::SessionRepository;
use latchkey_domain::subject_token::SubjectTokenRepository;
use latchkey_domain::{Clock, IdGenerator, RepoError, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use revocation::{RevocationRequest, revoke, revoke_token};

use crate::keys::KeyRing;
use crate::openapi::SecuritySchemes;
use crate::revocation::RevocationCheck;
use crate::session_tokens::{IssueError, SessionTokens};
use client_auth::ClientAuthentication;

/// The Management API's resource indicator in Logto's default tenant, accepted as an alias of `<endpoint>/api` so
/// that clients written for Logto work unchanged.
pub const MANAGEMENT_API_ALIAS: &str = "https://default.logto.app/api";
/// The Management API's only scope.
pub const MANAGEMENT_API_SCOPE: &str = "all";
/// Lifetime of a client-credentials access token, as in Logto.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;
/// The grants this endpoint serves.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token types of token exchange (RFC 8693 §3 and Logto's own).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const PERSONAL_ACCESS_TOKEN_TYPE: &str = "urn:logto:token-type:personal_access_token";
/// Logto's deprecated name for a subject token; accepted like [`ACCESS_TOKEN_TYPE`] with a `sub_…` value.
pub const IMPERSONATION_TOKEN_TYPE: &str = "urn:logto:token-type:impersonation_token";
/// The path a token presented to the endpoint (an actor token) is verified for, so that holders' path checks apply.
pub const TOKEN_PATH: &str = "/oidc/token";
const BASIC_REALM: &str = "latchkey";

/// What the token endpoint works with: the credential stores behind each grant, the keys and the session issuer.
pub struct TokenEndpointPorts {
    pub applications: Arc<dyn ApplicationRepository>,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub subject_tokens: Arc<dyn SubjectTokenRepository>,
    pub personal_access_tokens: Arc<dyn PersonalAccessTokenRepository>,
    /// Checks actor tokens the way the API routes check bearer tokens.
    pub revocation: Arc<dyn RevocationCheck>,
    pub session_tokens: Arc<SessionTokens>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl fmt::Debug for TokenEndpointPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpointPorts").field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// What the token and revocation endpoints need; register it once as `web::Data<TokenEndpoint>`.
pub struct TokenEndpoint {
    ports: TokenEndpointPorts,
    management_api_indicator: String,
}

impl TokenEndpoint {
    /// `endpoint` is the public base URL; the Management API's indicator is `<endpoint>/api`.
    pub fn new(ports: TokenEndpointPorts, endpoint: &str) -> Self {
        let management_api_indicator = format!("{}/api", endpoint.trim_end_matches('/'));
        Self { ports, management_api_indicator }
    }

    /// The Management API's resource indicator on this server.
    pub fn management_api_indicator(&self) -> &str {
        &self.management_api_indicator
    }

    fn is_management_api(&self, resource: &str) -> bool {
        resource == self.management_api_indicator || resource == MANAGEMENT_API_ALIAS
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// The calling application, authenticated as its type requires.
    async fn authenticate_client(
        &self,
        authorization: Option<&str>,
        client_id: Option<String>,
        client_secret: Option<String>,
    ) -> Result<Application, TokenEndpointError> {
        let client = ClientAuthentication::read(authorization, client_id, client_secret)?;
        client.authenticate(self.ports.applications.as_ref(), self.now()).await
    }
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("management_api_indicator", &self.management_api_indicator)
            .finish_non_exhaustive()
    }
}

/// The form parameters the endpoint reads; others are ignored, a repeated one is an `invalid_request`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`, `refresh_token` or `urn:ietf:params:oauth:grant-type:token-exchange`.
    #[schema(example = "client_credentials")]
    pub grant_type: Option<String>,
    /// With `client_secret`, instead of HTTP Basic; a public application sends it alone.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `client_credentials`: the Management API indicator, `<endpoint>/api` (or `https://default.logto.app/api`).
    /// Token exchange: none for an Account API token.
    pub resource: Option<String>,
    /// Space-separated; `all` for the Management API.
    pub scope: Option<String>,
    /// `refresh_token` grant: the token to rotate; reusing a rotated one revokes its session.
    pub refresh_token: Option<String>,
    /// Token exchange: a `sub_…` subject token or a `pat_…` personal access token.
    pub subject_token: Option<String>,
    /// `urn:ietf:params:oauth:token-type:access_token` or `urn:logto:token-type:personal_access_token`.
    pub subject_token_type: Option<String>,
    /// Token exchange: the acting party's access token, recorded as the `act` of the new token.
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    /// Organizations are not supported yet.
    pub organization_id: Option<String>,
}

impl fmt::Debug for TokenRequest {
    /// Secrets and tokens are left out: a request may be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .field("subject_token_type", &self.subject_token_type)
            .field("actor_token_type", &self.actor_token_type)
            .field("organization_id", &self.organization_id)
            .finish_non_exhaustive()
    }
}

/// Where a token request came from, beyond its form: the client's `Authorization` header, and the origin a new
/// session records.
#[derive(Default)]
pub struct RequestOrigin {
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl RequestOrigin {
    fn from_request(request: &HttpRequest) -> Result<Self, TokenEndpointError> {
        let authorization = request.headers().get(header::AUTHORIZATION).map(|value| value.to_str());
        let authorization = authorization
            .transpose()
            .map_err(|_| TokenEndpointError::InvalidRequest("the Authorization header is not valid text"))?;
        let user_agent = request.headers().get(header::USER_AGENT).and_then(|value| value.to_str().ok());
        Ok(Self {
            authorization: authorization.map(str::to_owned),
            user_agent: user_agent.map(str::to_owned),
            // The peer, or the client a trusted proxy names; never a forwarded-for header the client wrote itself.
            ip: crate::client_ip(request).map(|address| address.to_string()),
        })
    }
}

impl fmt::Debug for RequestOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOrigin")
            .field("user_agent", &self.user_agent)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// A successful token response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: &'static str,
    pub scope: String,
    /// Only from the `refresh_token` grant (the successor token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why the token or revocation endpoint refused a request. Each variant has exactly one status and OAuth error (see
/// [`TokenEndpointError::wire`]).
#[derive(Debug, Error)]
pub enum TokenEndpointError {
    /// A parameter is missing, repeated or malformed, or the client used two authentication methods.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// Unknown client, wrong or missing secret, or a secret from a public client: one answer for all, so the
    /// response says nothing about which. `basic` is whether the client tried HTTP Basic, which then gets a
    /// `WWW-Authenticate` challenge.
    #[error("client authentication failed")]
    InvalidClient { basic: bool },
    /// The client authenticated but may not use this grant (client credentials for non-M2M apps, token exchange
    /// without `allowTokenExchange`).
    #[error("the client may not use this grant")]
    UnauthorizedClient,
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    /// The refresh, subject, personal access or actor token is unknown, expired, used up, another client's, or its
    /// user may not get tokens. The reason is logged, never sent: one description for all.
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// `resource` is missing, unknown, or not supported by the grant.
    #[error("the requested resource is invalid, missing or unknown")]
    InvalidTarget,
    /// A scope the grant cannot give was requested.
    #[error("the requested scope is not allowed")]
    InvalidScope,
    /// The database could not be reached; the client may retry. RFC 6749 defines `temporarily_unavailable` for
    /// the authorization endpoint only, but it is the one OAuth error that says "try again" and matches the 503
    /// `service_unavailable` every other route answers during an outage.
    #[error("the token endpoint's storage is unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// A store or the signer failed; the cause is logged, never sent.
    #[error("the token endpoint failed: {0}")]
    ServerError(String),
}

impl TokenEndpointError {
    /// The status, the OAuth `error` and its `error_description`.
    pub fn wire(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::InvalidRequest(description) => (StatusCode::BAD_REQUEST, "invalid_request", *description),
            Self::InvalidClient { .. } => (StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed"),
            Self::UnauthorizedClient => {
                (StatusCode::BAD_REQUEST, "unauthorized_client", "requested grant type is not allowed for this client")
            }
            Self::UnsupportedGrantType => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type", "unsupported grant_type requested")
            }
            Self::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant", "grant request is invalid"),
            Self::InvalidTarget => {
                (StatusCode::BAD_REQUEST, "invalid_target", "resource indicator is missing or unknown")
            }
            Self::InvalidScope => (StatusCode::BAD_REQUEST, "invalid_scope", "requested scope is not allowed"),
            Self::TemporarilyUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable, retry later",
            ),
            Self::ServerError(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "an unexpected error occurred"),
        }
    }
}

impl From<RepoError> for TokenEndpointError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Unavailable(cause) => Self::TemporarilyUnavailable(cause),
            other => Self::ServerError(other.to_string()),
        }
    }
}

impl From<IssueError> for TokenEndpointError {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::InvalidGrant => Self::InvalidGrant("the refresh token or its session is not usable"),
            IssueError::UnknownUser => Self::InvalidGrant("the user does not exist"),
            IssueError::ScopeNotGranted => Self::InvalidScope,
            IssueError::Store(error) => error.into(),
            IssueError::Signing(error) => Self::ServerError(error.to_string()),
        }
    }
}

/// RFC 6749 §5.2's `error` and `error_description`, with Logto's `code` (`oidc.<error>`) and `message` added.
#[derive(Serialize, utoipa::ToSchema)]
struct OidcErrorBody<'a> {
    #[schema(example = "oidc.invalid_grant")]
    code: &'a str,
    message: &'a str,
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for TokenEndpointError {
    fn status_code(&self) -> StatusCode {
        self.wire().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, error, error_description) = self.wire();
        match self {
            Self::ServerError(cause) => tracing::error!(%cause, "token endpoint failed"),
            Self::TemporarilyUnavailable(cause) => tracing::warn!(%cause, "token endpoint storage unavailable"),
            Self::InvalidGrant(reason) => tracing::debug!(reason, "invalid grant"),
            _ => {}
        }
        let code = format!("oidc.{error}");
        let message = format!("An OIDC error occurred: {code}.");
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
        if let Self::InvalidClient { basic: true } = self {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                format!("Basic realm=\"{BASIC_REALM}\", error=\"{error}\", error_description=\"{error_description}\""),
            ));
        }
        response.json(OidcErrorBody { code: &code, message: &message, error, error_description })
    }
}

/// The handler of `POST /oidc/token`; the app must hold a `web::Data<TokenEndpoint>`.
#[utoipa::path(
    post,
    path = "/oidc/token",
    tag = "OIDC",
    summary = "Issue tokens",
    description = "The token endpoint: `client_credentials` (Management API tokens for `MachineToMachine` apps), \
        `refresh_token` (rotating; reuse revokes the session) and token exchange (subject tokens and personal access \
        tokens, with an optional actor). The client authenticates by HTTP Basic or by `client_id` + \
        `client_secret` form fields; public apps send `client_id` alone.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The tokens (`Cache-Control: no-store`).", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unauthorized_client`, \
            `unsupported_grant_type`, `invalid_target` or `invalid_scope`.", body = OidcErrorBody),
        (status = 401, description = "`invalid_client`; a client that tried HTTP Basic gets a `WWW-Authenticate` \
            challenge.", body = OidcErrorBody),
        (status = 500, description = "`server_error`.", body = OidcErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be reached; retry later.", body = OidcErrorBody),
    ),
    security((), ("clientBasic" = [])),
)]
pub async fn token(
    endpoint: web::Data<TokenEndpoint>,
    request: HttpRequest,
    form: Result<web::Form<TokenRequest>, actix_web::Error>,
) -> Result<HttpResponse, TokenEndpointError> {
    let form = form
        .map_err(|_| TokenEndpointError::InvalidRequest("the body is not a valid form with each parameter once"))?
        .into_inner();
    let origin = RequestOrigin::from_request(&request)?;
    let response = issue(&endpoint, &origin, form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

/// The OpenAPI document of `POST /oidc/token` and `POST /oidc/token/revocation`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <OidcDoc as utoipa::OpenApi>::openapi()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(token, revocation::revoke),
    tags((name = "OIDC", description = "OAuth 2.0 token endpoints (RFC 6749, RFC 7009, RFC 8693) and the token keys.")),
    modifiers(&SecuritySchemes),
)]
struct OidcDoc;

/// The endpoint's logic without HTTP: picks the grant, which authenticates the client and issues the tokens.
pub async fn issue(
    endpoint: &TokenEndpoint,
    origin: &RequestOrigin,
    form: TokenRequest,
) -> Result<TokenResponse, TokenEndpointError> {
    match form.grant_type.as_deref() {
        None | Some("") => Err(TokenEndpointError::InvalidRequest("missing required parameter 'grant_type'")),
        Some(CLIENT_CREDENTIALS) => client_credentials::grant(endpoint, origin, form).await,
        Some(REFRESH_TOKEN) => refresh::grant(endpoint, origin, form).await,
        Some(TOKEN_EXCHANGE) => exchange::grant(endpoint, origin, form).await,
        Some(_) => Err(TokenEndpointError::UnsupportedGrantType),
    }
}

/// A parameter the grant cannot do without; empty counts as missing.
fn required(value: Option<String>, missing: &'static str) -> Result<String, TokenEndpointError> {
    value.filter(|value| !value.is_empty()).ok_or(TokenEndpointError::InvalidRequest(missing))
}

/// A space-separated `scope` parameter as a list; `None` when absent or empty.
fn requested_scopes(scope: Option<&str>) -> Option<Vec<String>> {
    let scopes: Vec<String> = scope?.split(' ').filter(|scope| !scope.is_empty()).map(str::to_owned).collect();
    (!scopes.is_empty()).then_some(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scope_parameter_requests_nothing_in_particular() {
        assert_eq!(requested_scopes(None), None);
        assert_eq!(requested_scopes(Some("  ")), None);
        assert_eq!(requested_scopes(Some(" openid  email")), Some(vec!["openid".to_owned(), "email".to_owned()]));
    }

    #[test]
    fn every_invalid_grant_has_the_same_wire_description() {
        let reasons = [
            TokenEndpointError::InvalidGrant("one"),
            TokenEndpointError::from(IssueError::InvalidGrant),
            TokenEndpointError::from(IssueError::UnknownUser),
        ];
        for error in reasons {
            assert_eq!(error.wire(), (StatusCode::BAD_REQUEST, "invalid_grant", "grant request is invalid"));
        }
        assert_eq!(TokenEndpointError::from(IssueError::ScopeNotGranted).wire().1, "invalid_scope");
    }

    #[test]
    fn an_unreachable_database_is_a_retryable_503_and_other_store_failures_stay_500() {
        let unavailable = [
            TokenEndpointError::from(RepoError::Unavailable("connection refused".into())),
            TokenEndpointError::from(IssueError::Store(RepoError::Unavailable("pool timed out".into()))),
        ];
        for error in unavailable {
            assert_eq!(error.wire().0, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(error.wire().1, "temporarily_unavailable");
        }
        let broken = TokenEndpointError::from(RepoError::Conflict(latchkey_domain::ports::Conflict::Id));
        assert_eq!(broken.wire().0, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(broken.wire().1, "server_error");
    }

    #[test]
    fn debug_output_of_a_request_leaves_out_secrets_and_tokens() {
        let request = TokenRequest {
            client_secret: Some("client-secret-value".to_owned()),
            refresh_token: Some("refresh-token-value".to_owned()),
            subject_token: Some("sub_value".to_owned()),
            actor_token: Some("actor-token-value".to_owned()),
            ..TokenRequest::default()
        };
        let debug = format!("{request:?}");
        for secret in ["client-secret-value", "refresh-token-value", "sub_value", "actor-token-value"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
