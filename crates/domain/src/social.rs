//! Social sign-in connectors (Logto's social connectors): the [`SocialConnector`] port that builds a provider's
//! authorization URI and turns the provider's callback (`connectorData`) into the identity it vouches for, the
//! [`SocialConnectors`] configured, and the ceremony a social verification record goes through.
//!
//! The domain knows no protocol: the server implements the port (a generic OAuth 2.0 / OpenID Connect connector in
//! `apps/server/src/social/`). What the domain does itself is the part that must never depend on a connector: the
//! callback's `state` must be the one the record was started with (Logto leaves this to its front end).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// What a client asks for when it starts a social verification (`POST /api/verifications/social`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The client's anti-forgery value; the provider sends it back to `redirect_uri`.
    pub state: String,
    /// Where the provider sends the user back to; the client's own page.
    pub redirect_uri: String,
    /// Scopes replacing the connector's configured ones.
    pub scope: Option<String>,
}

/// A started authorization: the URI to send the user to, and what the connector must see again on the callback
/// (its nonce and PKCE verifier, for instance), kept in the verification record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStarted {
    pub uri: String,
    pub connector_session: Map<String, Value>,
}

/// What the provider vouched for (Logto's `SocialUserInfo`): the user's id there, and the profile it shared.
/// `email` and `phone` are only the ones the provider marked verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialUserInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The provider's claims as it sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<Value>,
}

/// A verified social identity: the connector's target (`github`, `google`, …) and what the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialIdentity {
    pub target: String,
    pub user_info: SocialUserInfo,
}

impl SocialIdentity {
    /// Logto's identity as stored on the user: `{userId, details}`, the details being the user info.
    pub fn to_identity(&self) -> crate::user::Identity {
        crate::user::Identity {
            user_id: self.user_info.id.clone(),
            details: serde_json::to_value(&self.user_info).ok(),
        }
    }
}

/// What a started social verification keeps for its callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialSession {
    pub state: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub connector_session: Map<String, Value>,
}

/// Where a social verification record is: started (waiting for the callback), or verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub enum SocialCeremony {
    Started(SocialSession),
    Verified(SocialIdentity),
}

/// Why a connector could not build a URI or vouch for a user; each is one of Logto's `connector.*` answers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SocialConnectorError {
    /// 400 `connector.insufficient_request_parameters`: `connectorData` lacks the authorization code.
    #[error("the connector data lacks {0}")]
    InsufficientRequestParameters(&'static str),
    /// 401 `connector.social_auth_code_invalid`: the provider refused the authorization code.
    #[error("the provider refused the authorization code: {0}")]
    AuthCodeInvalid(String),
    /// 401 `connector.social_id_token_invalid`: the ID token's signature, issuer, audience, expiry or nonce.
    #[error("the ID token is invalid: {0}")]
    IdTokenInvalid(String),
    /// 400 `connector.invalid_response`: the provider answered something unusable.
    #[error("the provider's answer is unusable: {0}")]
    InvalidResponse(String),
    /// 400 `connector.general`: the provider could not be reached, or another failure.
    #[error("the connector failed: {0}")]
    General(String),
}

impl SocialConnectorError {
    /// Logto's status and code (`koa-connector-error-handler`).
    pub fn logto_error(&self) -> (u16, &'static str) {
        match self {
            Self::InsufficientRequestParameters(_) => (400, "connector.insufficient_request_parameters"),
            Self::AuthCodeInvalid(_) => (401, "connector.social_auth_code_invalid"),
            Self::IdTokenInvalid(_) => (401, "connector.social_id_token_invalid"),
            Self::InvalidResponse(_) => (400, "connector.invalid_response"),
            Self::General(_) => (400, "connector.general"),
        }
    }
}

/// A configured social connector.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SocialConnector: Send + Sync {
    /// The identity target the connector's users are linked under (`github`, `google`, …).
    fn target(&self) -> &str;

    /// The provider's authorization URI for `request`, and the session the callback needs.
    async fn authorization_uri(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<AuthorizationStarted, SocialConnectorError>;

    /// Exchanges the callback's `connector_data` (`code`, and `redirectUri` when there is no `session`) for the
    /// identity the provider vouches for. `session` is what [`SocialConnector::authorization_uri`] kept, when the
    /// flow started here; its `state` has already been checked.
    async fn user_info(
        &self,
        connector_data: &Map<String, Value>,
        session: Option<SocialSession>,
    ) -> Result<SocialUserInfo, SocialConnectorError>;
}

/// The configured social connectors, by connector id. Cheap to clone.
#[derive(Clone, Default)]
pub struct SocialConnectors {
    by_id: Arc<BTreeMap<String, Arc<dyn SocialConnector>>>,
}

impl SocialConnectors {
    pub fn new(connectors: impl IntoIterator<Item = (String, Arc<dyn SocialConnector>)>) -> Self {
        Self { by_id: Arc::new(connectors.into_iter().collect()) }
    }

    pub fn find(&self, connector_id: &str) -> Option<&Arc<dyn SocialConnector>> {
        self.by_id.get(connector_id)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl std::fmt::Debug for SocialConnectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_id.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_stored_as_logtos_user_id_and_details() {
        let identity = SocialIdentity {
            target: "oidc".to_owned(),
            user_info: SocialUserInfo {
                id: "alice".to_owned(),
                email: Some("alice@example.com".to_owned()),
                raw_data: Some(serde_json::json!({"sub": "alice"})),
                ..SocialUserInfo::default()
            },
        };
        let stored = identity.to_identity();
        assert_eq!(stored.user_id, "alice");
        assert_eq!(
            stored.details,
            Some(serde_json::json!({"id": "alice", "email": "alice@example.com", "rawData": {"sub": "alice"}}))
        );
    }

    #[test]
    fn a_ceremony_round_trips_through_json() {
        let started = SocialCeremony::Started(SocialSession {
            state: "s".to_owned(),
            redirect_uri: "https://app.example.com/cb".to_owned(),
            connector_session: Map::from_iter([("nonce".to_owned(), Value::from("n"))]),
        });
        let json = serde_json::to_string(&started).unwrap();
        assert_eq!(serde_json::from_str::<SocialCeremony>(&json).unwrap(), started);
    }
}
