//! The generic OAuth 2.0 / OpenID Connect social connector (Logto's "OIDC" connector), on the `openidconnect` crate:
//! the provider is discovered from its issuer on first use (and the discovery kept), the authorization URI carries a
//! PKCE challenge (S256) and a nonce that the connector session keeps, and the callback's code is exchanged for
//! tokens whose ID token is checked (signature against the provider's JWKS, issuer, audience, expiry, nonce) before
//! the userinfo endpoint is asked for the profile. An email or phone counts only when the provider marks it verified.

use std::time::Duration;

use async_trait::async_trait;
use latchkey_domain::social::{
    AuthorizationRequest, AuthorizationStarted, SocialConnector, SocialConnectorError, SocialSession, SocialUserInfo,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SubjectIdentifier, TokenResponse, UserInfoError,
};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::settings::SocialConnectorSettings;

/// The keys of the connector session (kept in the verification record until the callback).
const NONCE_KEY: &str = "nonce";
const CODE_VERIFIER_KEY: &str = "codeVerifier";

/// How long one call to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The scope every OpenID Connect request carries; `openidconnect` adds it itself.
const OPENID_SCOPE: &str = "openid";

/// A client of the discovered provider: authorization endpoint known, token and userinfo endpoints as advertised.
type DiscoveredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// One configured OpenID Connect provider.
pub struct OidcConnector {
    target: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: Vec<String>,
    http: reqwest::Client,
    discovered: OnceCell<CoreProviderMetadata>,
}

impl std::fmt::Debug for OidcConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConnector")
            .field("target", &self.target)
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

impl OidcConnector {
    /// The connector of `settings`; the provider is not contacted yet. The error says what is wrong.
    pub fn new(settings: &SocialConnectorSettings) -> Result<Self, String> {
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|error| format!("issuer: {error}"))?;
        // Redirects stay off: a provider answering with a redirect must not make the server fetch another URL.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|error| format!("HTTP client: {error}"))?;
        Ok(Self {
            target: settings.target.clone(),
            issuer,
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: ClientSecret::new(settings.client_secret.expose().to_owned()),
            scopes: scopes(&settings.scope),
            http,
            discovered: OnceCell::new(),
        })
    }

    /// The provider's metadata and keys, discovered once; a failed discovery is tried again on the next request.
    async fn provider(&self) -> Result<&CoreProviderMetadata, SocialConnectorError> {
        self.discovered
            .get_or_try_init(|| async {
                CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await.map_err(|error| {
                    tracing::warn!(issuer = self.issuer.as_str(), %error, "OpenID Connect discovery failed");
                    SocialConnectorError::General(format!("the provider's discovery failed: {error}"))
                })
            })
            .await
    }

    async fn client(&self, redirect_uri: &str) -> Result<DiscoveredClient, SocialConnectorError> {
        let redirect_uri = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| SocialConnectorError::InsufficientRequestParameters("a valid redirectUri"))?;
        let provider = self.provider().await?.clone();
        Ok(CoreClient::from_provider_metadata(provider, self.client_id.clone(), Some(self.client_secret.clone()))
            .set_redirect_uri(redirect_uri))
    }

    /// The signing algorithms the provider advertises, "none" never among them.
    async fn signing_algorithms(&self) -> Result<Vec<CoreJwsSigningAlgorithm>, SocialConnectorError> {
        let provider = self.provider().await?;
        Ok(provider
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|algorithm| **algorithm != CoreJwsSigningAlgorithm::None)
            .cloned()
            .collect())
    }

    /// The profile from the userinfo endpoint, or from the ID token's claims when the provider has none.
    async fn profile(
        &self,
        client: &DiscoveredClient,
        access_token: AccessToken,
        subject: SubjectIdentifier,
        id_token_claims: Value,
    ) -> Result<Value, SocialConnectorError> {
        let Ok(request) = client.user_info(access_token, Some(subject)) else {
            return Ok(id_token_claims);
        };
        let claims: CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|error| match error {
            UserInfoError::Request(error) => {
                SocialConnectorError::General(format!("the userinfo request failed: {error}"))
            }
            other => SocialConnectorError::InvalidResponse(format!("the userinfo answer is unusable: {other}")),
        })?;
        serde_json::to_value(&claims).map_err(|error| SocialConnectorError::InvalidResponse(error.to_string()))
    }
}

#[async_trait]
impl SocialConnector for OidcConnector {
    fn target(&self) -> &str {
        &self.target
    }

    async fn authorization_uri(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<AuthorizationStarted, SocialConnectorError> {
        let client = self.client(&request.redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = request.state.clone();
        let mut authorization = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            || CsrfToken::new(state),
            Nonce::new_random,
        );
        let requested = request.scope.as_deref().map(scopes);
        for scope in requested.as_ref().unwrap_or(&self.scopes) {
            authorization = authorization.add_scope(Scope::new(scope.clone()));
        }
        let (uri, _, nonce) = authorization.set_pkce_challenge(challenge).url();
        let connector_session = Map::from_iter([
            (NONCE_KEY.to_owned(), Value::from(nonce.secret().as_str())),
            (CODE_VERIFIER_KEY.to_owned(), Value::from(verifier.secret().as_str())),
        ]);
        Ok(AuthorizationStarted { uri: uri.to_string(), connector_session })
    }

    async fn user_info(
        &self,
        connector_data: &Map<String, Value>,
        session: Option<SocialSession>,
    ) -> Result<SocialUserInfo, SocialConnectorError> {
        let text = |key: &str| connector_data.get(key).and_then(Value::as_str).filter(|value| !value.is_empty());
        let code = text("code").ok_or(SocialConnectorError::InsufficientRequestParameters("code"))?;
        let redirect_uri = match &session {
            Some(session) => session.redirect_uri.clone(),
            None => text("redirectUri")
                .ok_or(SocialConnectorError::InsufficientRequestParameters("redirectUri"))?
                .to_owned(),
        };
        let kept =
            |key: &str| session.as_ref().and_then(|session| session.connector_session.get(key)).and_then(Value::as_str);
        let client = self.client(&redirect_uri).await?;
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| SocialConnectorError::General(format!("the provider has no token endpoint: {error}")))?;
        if let Some(verifier) = kept(CODE_VERIFIER_KEY) {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let tokens = exchange.request_async(&self.http).await.map_err(|error| match error {
            RequestTokenError::ServerResponse(response) => SocialConnectorError::AuthCodeInvalid(response.to_string()),
            RequestTokenError::Request(error) => {
                SocialConnectorError::General(format!("the token request failed: {error}"))
            }
            other => SocialConnectorError::InvalidResponse(format!("the token answer is unusable: {other}")),
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SocialConnectorError::InvalidResponse("the token answer has no ID token".to_owned()))?;
        let verifier = client.id_token_verifier().set_allowed_algs(self.signing_algorithms().await?);
        let invalid =
            |error: openidconnect::ClaimsVerificationError| SocialConnectorError::IdTokenInvalid(error.to_string());
        let claims = match (&session, kept(NONCE_KEY)) {
            (Some(_), Some(nonce)) => id_token.claims(&verifier, &Nonce::new(nonce.to_owned())).map_err(invalid)?,
            // A flow started here always kept a nonce: a session without one cannot be trusted.
            (Some(_), None) => {
                return Err(SocialConnectorError::General("the connector session lost its nonce".into()));
            }
            // An administrator's link (`POST /api/users/:id/identities`) brings a code from a flow started elsewhere,
            // with whatever nonce that flow chose; signature, issuer, audience and expiry are still checked.
            (None, _) => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).map_err(invalid)?,
        };
        let subject = claims.subject().clone();
        let id_token_claims =
            serde_json::to_value(claims).map_err(|error| SocialConnectorError::InvalidResponse(error.to_string()))?;
        let profile = self.profile(&client, tokens.access_token().clone(), subject.clone(), id_token_claims).await?;
        Ok(user_info_from_claims(subject.as_str(), profile))
    }
}

/// Logto's `SocialUserInfo` from OpenID Connect standard claims: the email and phone only when marked verified.
fn user_info_from_claims(subject: &str, claims: Value) -> SocialUserInfo {
    let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::to_owned);
    let verified = |key: &str| claims.get(key).and_then(Value::as_bool) == Some(true);
    SocialUserInfo {
        id: subject.to_owned(),
        email: text("email").filter(|_| verified("email_verified")),
        phone: text("phone_number").filter(|_| verified("phone_number_verified")),
        name: text("name"),
        avatar: text("picture"),
        raw_data: Some(claims),
    }
}

/// The scopes of a space-separated list, without `openid`, which every request carries anyway.
fn scopes(list: &str) -> Vec<String> {
    list.split_whitespace().filter(|scope| *scope != OPENID_SCOPE).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_unverified_email_is_not_vouched_for() {
        let claims = json!({"sub": "alice", "email": "alice@example.com", "email_verified": false, "name": "Alice"});
        let info = user_info_from_claims("alice", claims);
        assert_eq!(info.email, None);
        assert_eq!(info.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn a_verified_email_and_the_picture_are_kept() {
        let claims = json!({"sub": "bob", "email": "bob@example.com", "email_verified": true,
            "picture": "https://example.com/bob.png"});
        let info = user_info_from_claims("bob", claims);
        assert_eq!(info.email.as_deref(), Some("bob@example.com"));
        assert_eq!(info.avatar.as_deref(), Some("https://example.com/bob.png"));
        assert_eq!(info.id, "bob");
    }

    #[test]
    fn openid_is_not_repeated_among_the_requested_scopes() {
        assert_eq!(scopes("openid profile  email"), ["profile", "email"]);
    }

    #[tokio::test]
    async fn a_callback_without_a_code_is_refused_before_the_provider_is_asked() {
        let settings = SocialConnectorSettings {
            target: "oidc".to_owned(),
            // Nothing listens here: the test fails if the connector calls out.
            issuer: "http://127.0.0.1:9".to_owned(),
            client_id: "client".to_owned(),
            client_secret: crate::settings::SecretSetting::new("secret"),
            scope: "openid".to_owned(),
        };
        let connector = OidcConnector::new(&settings).unwrap();
        let error = connector.user_info(&Map::new(), None).await.unwrap_err();
        assert_eq!(error, SocialConnectorError::InsufficientRequestParameters("code"));
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let settings = SocialConnectorSettings {
            target: "oidc".to_owned(),
            issuer: "https://op.example.com".to_owned(),
            client_id: "client".to_owned(),
            client_secret: crate::settings::SecretSetting::new("s3cr3t-value"),
            scope: "openid".to_owned(),
        };
        let connector = OidcConnector::new(&settings).unwrap();
        assert!(!format!("{connector:?}").contains("s3cr3t-value"));
        assert!(!format!("{settings:?}").contains("s3cr3t-value"));
    }
}
