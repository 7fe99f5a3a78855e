//! Applications (OAuth clients): machine-to-machine apps that take client-credentials tokens and first-party apps
//! that sign users in, with Logto's type names, hashed client secrets and a simple role set through which an app
//! gets Management API access.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::Choice;

use crate::clock::Timestamp;
use crate::ports::{Page, Pagination, RepoError};
use crate::secrets::{CLIENT_SECRET_LENGTH, OpaqueSecret, SecretHash, generate_secret};
use crate::user::Version;

/// The role that lets a `MachineToMachine` app call the Management API (Logto attaches a role carrying the
/// management resource's `all` scope; Latchkey keeps the idea as one named role on the app).
pub const MANAGEMENT_API_ROLE: &str = "Management API access";
/// The id under which [`MANAGEMENT_API_ROLE`] appears on the wire (`/api/applications/{id}/roles`).
pub const MANAGEMENT_API_ROLE_ID: &str = "management-api-access";

/// Logto's application types that Latchkey serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApplicationType {
    MachineToMachine,
    Traditional,
    #[serde(rename = "SPA")]
    Spa,
    Native,
}

impl ApplicationType {
    /// The name on Logto's wire (`type` of an application).
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::MachineToMachine => "MachineToMachine",
            Self::Traditional => "Traditional",
            Self::Spa => "SPA",
            Self::Native => "Native",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        [Self::MachineToMachine, Self::Traditional, Self::Spa, Self::Native]
            .into_iter()
            .find(|kind| kind.wire_name() == name)
    }

    /// Whether the type can keep a secret (SPA and native apps run on the user's device and cannot).
    pub const fn is_confidential(self) -> bool {
        matches!(self, Self::MachineToMachine | Self::Traditional)
    }
}

/// A client secret: its hash only, shown in clear once at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecret {
    pub name: String,
    pub hash: SecretHash,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl ClientSecret {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }
}

/// Logto's `customClientMetadata`. Latchkey acts on `allowTokenExchange`; the other Logto fields are kept as given
/// so that a client reads back what it wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomClientMetadata {
    #[serde(default)]
    pub allow_token_exchange: bool,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Logto's `oidcClientMetadata`: redirect URIs, which Latchkey stores for first-party apps (the redirect-based
/// flow is not served yet); other Logto fields are kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// The entity id, which is also the OAuth client id (21 characters when generated; an operator may choose
    /// another for the bootstrap app).
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub app_type: ApplicationType,
    pub secrets: Vec<ClientSecret>,
    pub oidc_client_metadata: OidcClientMetadata,
    pub custom_client_metadata: CustomClientMetadata,
    /// Logto's free-form `customData` of an application.
    pub custom_data: Map<String, Value>,
    pub is_third_party: bool,
    /// Role names, e.g. [`MANAGEMENT_API_ROLE`].
    pub roles: BTreeSet<String>,
    pub created_at: Timestamp,
    pub version: Version,
}

impl Application {
    /// An application with no secret, no role and default metadata.
    pub fn new(id: String, name: String, app_type: ApplicationType, now: Timestamp) -> Self {
        Self {
            id,
            name,
            description: None,
            app_type,
            secrets: Vec::new(),
            oidc_client_metadata: OidcClientMetadata::default(),
            custom_client_metadata: CustomClientMetadata::default(),
            custom_data: Map::new(),
            is_third_party: false,
            roles: BTreeSet::new(),
            created_at: now,
            version: Version::INITIAL,
        }
    }

    /// Adds a freshly generated secret under `name` and returns it in clear (the only time it is visible).
    pub fn add_generated_secret(
        &mut self,
        name: String,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> OpaqueSecret {
        let secret = generate_secret("", CLIENT_SECRET_LENGTH);
        self.add_secret(name, &secret, now, expires_at);
        secret
    }

    /// Adds a secret chosen elsewhere (the operator's bootstrap secret).
    pub fn add_secret(&mut self, name: String, secret: &OpaqueSecret, now: Timestamp, expires_at: Option<Timestamp>) {
        self.secrets.push(ClientSecret { name, hash: secret.hash(), created_at: now, expires_at });
    }

    /// Whether `presented` is one of the app's unexpired secrets. Every secret is compared in constant time and
    /// all are visited, so the time taken says nothing about which one matched.
    pub fn verify_secret(&self, presented: &str, now: Timestamp) -> bool {
        let mut matched = Choice::from(0);
        for secret in &self.secrets {
            matched |= Choice::from(u8::from(secret.hash.matches(presented) && !secret.is_expired(now)));
        }
        bool::from(matched)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether client-credentials tokens of this app may carry the Management API's `all` scope.
    pub fn has_management_api_access(&self) -> bool {
        self.app_type == ApplicationType::MachineToMachine && self.has_role(MANAGEMENT_API_ROLE)
    }

    /// Logto's rule: token exchange needs `allowTokenExchange` and is never open to third-party apps.
    pub fn may_exchange_tokens(&self) -> bool {
        self.custom_client_metadata.allow_token_exchange && !self.is_third_party
    }
}

/// Applications, one aggregate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApplicationRepository: Send + Sync {
    /// Fails with `Conflict(Id)` when the id is taken.
    async fn insert(&self, application: &Application) -> Result<(), RepoError>;
    async fn find_by_id(&self, id: &str) -> Result<Option<Application>, RepoError>;
    /// Newest first (ties by id), with the total count.
    async fn list(&self, pagination: Pagination) -> Result<Page<Application>, RepoError>;
    /// Writes `application` if the stored version still equals `application.version` and returns it with the next
    /// version: secrets live in the row, so a blind last write could drop a secret that someone added in between.
    /// Fails with `Conflict(Version)` or `NotFound`.
    async fn update(&self, application: &Application) -> Result<Application, RepoError>;
    async fn delete(&self, id: &str) -> Result<(), RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(app_type: ApplicationType) -> Application {
        Application::new("app".to_owned(), "App".to_owned(), app_type, Timestamp::from_secs(100))
    }

    #[test]
    fn a_generated_secret_verifies_and_others_do_not() {
        let mut application = app(ApplicationType::MachineToMachine);
        let secret = application.add_generated_secret("default".to_owned(), Timestamp::from_secs(100), None);
        assert!(secret.expose().len() >= CLIENT_SECRET_LENGTH);
        assert!(application.verify_secret(secret.expose(), Timestamp::from_secs(200)));
        assert!(!application.verify_secret("wrong", Timestamp::from_secs(200)));
        assert!(!application.verify_secret("", Timestamp::from_secs(200)));
    }

    #[test]
    fn an_expired_secret_no_longer_verifies_but_a_second_one_does() {
        let mut application = app(ApplicationType::MachineToMachine);
        let now = Timestamp::from_secs(100);
        let old = application.add_generated_secret("old".to_owned(), now, Some(Timestamp::from_secs(150)));
        let new = application.add_generated_secret("new".to_owned(), now, None);
        let later = Timestamp::from_secs(150);
        assert!(!application.verify_secret(old.expose(), later));
        assert!(application.verify_secret(new.expose(), later));
    }

    #[test]
    fn only_machine_to_machine_apps_with_the_role_reach_the_management_api() {
        let mut m2m = app(ApplicationType::MachineToMachine);
        assert!(!m2m.has_management_api_access());
        m2m.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        assert!(m2m.has_management_api_access());

        let mut traditional = app(ApplicationType::Traditional);
        traditional.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        assert!(!traditional.has_management_api_access());
    }

    #[test]
    fn token_exchange_needs_the_flag_and_a_first_party_app() {
        let mut application = app(ApplicationType::Traditional);
        assert!(!application.may_exchange_tokens());
        application.custom_client_metadata.allow_token_exchange = true;
        assert!(application.may_exchange_tokens());
        application.is_third_party = true;
        assert!(!application.may_exchange_tokens());
    }

    #[test]
    fn type_names_are_logtos() {
        for (kind, name) in [
            (ApplicationType::MachineToMachine, "MachineToMachine"),
            (ApplicationType::Traditional, "Traditional"),
            (ApplicationType::Spa, "SPA"),
            (ApplicationType::Native, "Native"),
        ] {
            assert_eq!(kind.wire_name(), name);
            assert_eq!(ApplicationType::from_wire_name(name), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::String(name.to_owned()));
        }
        assert_eq!(ApplicationType::from_wire_name("Protected"), None);
    }

    #[test]
    fn unknown_metadata_fields_are_kept() {
        let metadata: CustomClientMetadata =
            serde_json::from_value(serde_json::json!({"allowTokenExchange": true, "idTokenTtl": 3600})).unwrap();
        assert!(metadata.allow_token_exchange);
        assert_eq!(
            serde_json::to_value(&metadata).unwrap(),
            serde_json::json!({"allowTokenExchange": true, "idTokenTtl": 3600})
        );
    }
}
