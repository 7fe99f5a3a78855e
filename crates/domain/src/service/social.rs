//! Social identities (Logto's `routes/verification` social routes, `routes/account/identities.ts` and the
//! Management API's `POST /api/users/:id/identities`): start a social verification at a configured connector,
//! verify the provider's callback, link the verified identity to the caller, unlink one, and link one for an
//! administrator straight from `connectorData`.
//!
//! Records are bound to the user and session that started them (spec README §4), and the callback's `state` must
//! be the one the record was started with. Every change goes through the account service's version-checked write
//! with its `User.Identities.Updated` audit entry, in one transaction.

use std::sync::Arc;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::audit::keys;
use crate::clock::Clock;
use crate::ids::{IdGenerator, UserId};
use crate::ports::RepoError;
use crate::service::{AccountError, RecordMade, UserAdminService, UserWrite};
use crate::social::{
    AuthorizationRequest, SocialCeremony, SocialConnector, SocialConnectorError, SocialConnectors, SocialIdentity,
    SocialSession,
};
use crate::user::{User, identity_target};
use crate::verification_record::{RecordHolder, RecordKind, VerificationRecord, VerificationRecordRepository};

/// What the social use cases need.
#[derive(Clone)]
pub struct SocialPorts {
    pub users: UserAdminService,
    pub records: Arc<dyn VerificationRecordRepository>,
    pub connectors: SocialConnectors,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for SocialPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialPorts").field("connectors", &self.connectors).finish_non_exhaustive()
    }
}

/// Why a social step was refused; [`SocialError::logto_error`] gives Logto's answer.
#[derive(Debug, Error)]
pub enum SocialError {
    /// 422 `session.invalid_connector_id`: no social connector has this id.
    #[error("no social connector has the id `{0}`")]
    InvalidConnectorId(String),
    /// 400 `session.insufficient_info`: `state` or `redirectUri` is empty.
    #[error("state and redirectUri are required")]
    InsufficientInfo,
    /// 400 `verification_record.not_found`: no usable social record of this id for the caller.
    #[error("no such verification record")]
    RecordNotFound,
    /// 400 `session.csrf_token_mismatch`: the callback's `state` is not the one the record was started with.
    #[error("the callback's state does not match the verification record's")]
    StateMismatch,
    #[error(transparent)]
    Connector(#[from] SocialConnectorError),
    /// 400 `user.identity_already_in_use`: the caller already has an identity at this target.
    #[error("the user already has an identity at this target")]
    TargetAlreadyLinked,
    /// 400 `user.last_sign_in_method_required`: the identity is the user's last way to sign in.
    #[error("the last sign-in method of the account cannot be removed")]
    LastSignInMethod,
    /// Refusals shared with the other user changes (`user.identity_already_in_use` 422, `user.identity_not_exist`
    /// 404, storage).
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<RepoError> for SocialError {
    fn from(error: RepoError) -> Self {
        Self::Account(error.into())
    }
}

impl SocialError {
    /// Logto's status, code and message for this refusal.
    pub fn logto_error(&self) -> (u16, &'static str, String) {
        match self {
            Self::InvalidConnectorId(_) => (422, "session.invalid_connector_id", self.to_string()),
            Self::InsufficientInfo => (400, "session.insufficient_info", self.to_string()),
            Self::RecordNotFound => (400, "verification_record.not_found", self.to_string()),
            Self::StateMismatch => (400, "session.csrf_token_mismatch", self.to_string()),
            Self::Connector(error) => {
                let (status, code) = error.logto_error();
                (status, code, self.to_string())
            }
            Self::TargetAlreadyLinked => (400, "user.identity_already_in_use", self.to_string()),
            Self::LastSignInMethod => (400, "user.last_sign_in_method_required", self.to_string()),
            Self::Account(error) => {
                let (status, code, message) = error.logto_error();
                (status, code, message.to_owned())
            }
        }
    }
}

/// What linking an identity does when the user already has one at the connector's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingLink {
    /// Logto's `POST /my-account/identities`: 400 `user.identity_already_in_use`.
    Refuse,
    /// Logto's `PUT /my-account/identities`: the new identity takes its place.
    Replace,
}

/// The social use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SocialService {
    ports: SocialPorts,
}

impl SocialService {
    pub fn new(ports: SocialPorts) -> Self {
        Self { ports }
    }

    /// `POST /api/verifications/social`: an unverified record for the holder, keeping what the callback needs,
    /// and the provider's authorization URI.
    pub async fn start(
        &self,
        holder: RecordHolder<'_>,
        connector_id: &str,
        request: AuthorizationRequest,
    ) -> Result<(RecordMade, String), SocialError> {
        if request.state.is_empty() || request.redirect_uri.is_empty() {
            return Err(SocialError::InsufficientInfo);
        }
        let connector = self.connector(connector_id)?;
        let started = connector.authorization_uri(&request).await?;
        let session = SocialSession {
            state: request.state,
            redirect_uri: request.redirect_uri,
            connector_session: started.connector_session,
        };
        let kind =
            RecordKind::Social { connector_id: connector_id.to_owned(), ceremony: SocialCeremony::Started(session) };
        let record = VerificationRecord::new(self.ports.ids.entity_id(), holder, kind, false, self.ports.clock.now());
        match self.ports.records.insert(&record).await {
            Ok(()) => Ok((RecordMade { id: record.id, expires_at: record.expires_at }, started.uri)),
            Err(RepoError::NotFound) => Err(AccountError::UserNotFound.into()),
            Err(other) => Err(other.into()),
        }
    }

    /// `POST /api/verifications/social/verify`: checks the callback's `state`, lets the connector exchange the
    /// callback for the identity the provider vouches for, and stores it in the record. A record verifies once.
    pub async fn verify(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
        connector_data: &Map<String, Value>,
    ) -> Result<RecordMade, SocialError> {
        let record = self.own_record(holder, record_id).await?;
        let RecordKind::Social { connector_id, ceremony: SocialCeremony::Started(session) } = &record.kind else {
            return Err(SocialError::RecordNotFound);
        };
        if connector_data.get("state").and_then(Value::as_str) != Some(session.state.as_str()) {
            return Err(SocialError::StateMismatch);
        }
        let connector = self.connector(connector_id)?;
        let user_info = connector.user_info(connector_data, Some(session.clone())).await?;
        let identity = SocialIdentity { target: connector.target().to_owned(), user_info };
        let verified =
            RecordKind::Social { connector_id: connector_id.clone(), ceremony: SocialCeremony::Verified(identity) };
        self.ports.records.mark_verified(&record.id, &verified).await?;
        Ok(RecordMade { id: record.id, expires_at: record.expires_at })
    }

    /// `POST /api/my-account/identities` ([`ExistingLink::Refuse`]) and `PUT` ([`ExistingLink::Replace`]): links
    /// the identity of the holder's verified social record to the holder. Refused when another user has that
    /// identity (422), and with `Refuse` when the holder already has one at that target (400).
    pub async fn link_own(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
        existing: ExistingLink,
        write: UserWrite<'_>,
    ) -> Result<User, SocialError> {
        let record = self.own_record(holder, record_id).await?;
        let RecordKind::Social { ceremony: SocialCeremony::Verified(identity), .. } = record.kind else {
            return Err(SocialError::RecordNotFound);
        };
        let target = identity.target.clone();
        self.ensure_not_elsewhere(holder.user_id, &identity).await?;
        let accounts = self.ports.users.accounts();
        let user = accounts.load(holder.user_id).await?;
        let refuse_existing = existing == ExistingLink::Refuse;
        if refuse_existing && user.identities.contains_key(&target) {
            return Err(SocialError::TargetAlreadyLinked);
        }
        let action = if user.identities.contains_key(&target) { "replaced" } else { "linked" };
        let details = crate::audit::details([("action", Value::from(action)), ("target", Value::from(&*target))]);
        let linked = identity.to_identity();
        let mut already_linked = false;
        let result = accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_IDENTITIES_UPDATED), |user| {
                // A concurrent link of the same target is found on the fresh read of a retry.
                if refuse_existing && user.identities.contains_key(&target) {
                    already_linked = true;
                    return Err(AccountError::IdentityInUse);
                }
                user.identities.insert(target.clone(), linked.clone());
                Ok(())
            })
            .await;
        match result {
            Err(_) if already_linked => Err(SocialError::TargetAlreadyLinked),
            other => Ok(other?),
        }
    }

    /// `DELETE /api/my-account/identities/:target`: unlinks the holder's identity at `target`, unless it is their
    /// last way to sign in.
    pub async fn unlink_own(&self, user_id: &UserId, target: &str, write: UserWrite<'_>) -> Result<User, SocialError> {
        let accounts = self.ports.users.accounts();
        let user = accounts.load(user_id).await?;
        if !user.identities.contains_key(target) {
            return Err(AccountError::IdentityNotFound.into());
        }
        let details = crate::audit::details([("action", Value::from("unlinked")), ("target", Value::from(target))]);
        let mut last_method = false;
        let result = accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_IDENTITIES_UPDATED), |user| {
                if user.identities.remove(target).is_none() {
                    return Err(AccountError::IdentityNotFound);
                }
                if user.sign_in_identifier_count() == 0 {
                    last_method = true;
                    return Err(AccountError::IdentityNotFound);
                }
                Ok(())
            })
            .await;
        match result {
            Err(_) if last_method => Err(SocialError::LastSignInMethod),
            other => Ok(other?),
        }
    }

    /// `POST /api/users/:id/identities`: the connector exchanges `connector_data` (with its `redirectUri`, since no
    /// record kept one) and the identity is linked to the user, replacing one at the same target, as Logto does.
    pub async fn link_by_connector(
        &self,
        user_id: &UserId,
        connector_id: &str,
        connector_data: &Map<String, Value>,
        write: UserWrite<'_>,
    ) -> Result<User, SocialError> {
        let connector = self.connector(connector_id)?;
        // The user must exist before the provider is asked anything.
        self.ports.users.get(user_id).await?;
        let user_info = connector.user_info(connector_data, None).await?;
        let identity = SocialIdentity { target: connector.target().to_owned(), user_info };
        let (user, _) =
            self.ports.users.link_identity(user_id, &identity.target, identity.to_identity(), write).await?;
        Ok(user)
    }

    fn connector(&self, connector_id: &str) -> Result<&Arc<dyn SocialConnector>, SocialError> {
        let connector = self.ports.connectors.find(connector_id);
        connector
            .filter(|connector| identity_target(connector.target()))
            .ok_or_else(|| SocialError::InvalidConnectorId(connector_id.to_owned()))
    }

    /// The holder's own unexpired record `record_id`.
    async fn own_record(&self, holder: RecordHolder<'_>, record_id: &str) -> Result<VerificationRecord, SocialError> {
        let now = self.ports.clock.now();
        let record = self.ports.records.find(record_id).await?;
        record.filter(|record| record.is_open_to(holder, now)).ok_or(SocialError::RecordNotFound)
    }

    async fn ensure_not_elsewhere(&self, user_id: &UserId, identity: &SocialIdentity) -> Result<(), SocialError> {
        let users = &self.ports.users.accounts().ports().users;
        match users.find_by_identity(&identity.target, &identity.user_info.id).await? {
            Some(owner) if owner.id != *user_id => Err(AccountError::IdentityInUse.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::always;

    use super::*;
    use crate::clock::{MockClock, Timestamp};
    use crate::ids::MockIdGenerator;
    use crate::password::hasher::MockPasswordHasher;
    use crate::ports::MockUserRepository;
    use crate::secret_box::AesGcmSecretBox;
    use crate::social::{AuthorizationStarted, MockSocialConnector, SocialUserInfo};
    use crate::verification_record::MockVerificationRecordRepository;

    const NOW: Timestamp = Timestamp::from_secs(10_000);

    fn user_id() -> UserId {
        UserId::parse("useruseruser").unwrap()
    }

    fn service(records: MockVerificationRecordRepository, connector: MockSocialConnector) -> SocialService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        let mut ids = MockIdGenerator::new();
        ids.expect_entity_id().returning(|| "r".repeat(21));
        let connector: Arc<dyn SocialConnector> = Arc::new(connector);
        SocialService::new(SocialPorts {
            users: admin_service(),
            records: Arc::new(records),
            connectors: SocialConnectors::new([("oidc".to_owned(), connector)]),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        })
    }

    /// The account service behind linking; these tests stop before any user is read.
    fn admin_service() -> UserAdminService {
        let ports = crate::service::Ports {
            users: Arc::new(MockUserRepository::new()),
            hasher: Arc::new(MockPasswordHasher::new()),
            clock: Arc::new(crate::clock::SystemClock),
            ids: Arc::new(crate::ids::RandomIds),
            secrets: Arc::new(AesGcmSecretBox::single("test", [7; 32]).unwrap()),
        };
        UserAdminService::new(crate::service::AccountService::new(ports), std::time::Duration::from_secs(60))
    }

    fn started_record(state: &str) -> VerificationRecord {
        let user = user_id();
        let kind = RecordKind::Social {
            connector_id: "oidc".to_owned(),
            ceremony: SocialCeremony::Started(SocialSession {
                state: state.to_owned(),
                redirect_uri: "https://app.example.com/cb".to_owned(),
                connector_session: Map::new(),
            }),
        };
        VerificationRecord::new("r".repeat(21), RecordHolder { user_id: &user, session_id: "s1" }, kind, false, NOW)
    }

    fn connector() -> MockSocialConnector {
        let mut connector = MockSocialConnector::new();
        connector.expect_target().return_const("oidc".to_owned());
        connector
    }

    #[tokio::test]
    async fn starting_at_an_unknown_connector_is_logtos_invalid_connector_id() {
        let service = service(MockVerificationRecordRepository::new(), connector());
        let user = user_id();
        let request = AuthorizationRequest {
            state: "s".to_owned(),
            redirect_uri: "https://app.example.com/cb".to_owned(),
            scope: None,
        };
        let error =
            service.start(RecordHolder { user_id: &user, session_id: "s1" }, "github", request).await.unwrap_err();
        assert_eq!(error.logto_error().0, 422);
        assert_eq!(error.logto_error().1, "session.invalid_connector_id");
    }

    #[tokio::test]
    async fn starting_keeps_state_redirect_uri_and_connector_session_in_an_unverified_record() {
        let mut records = MockVerificationRecordRepository::new();
        records
            .expect_insert()
            .withf(|record| {
                !record.verified
                    && matches!(&record.kind, RecordKind::Social { ceremony: SocialCeremony::Started(session), .. }
                        if session.state == "s" && session.connector_session.contains_key("nonce"))
            })
            .returning(|_| Ok(()));
        let mut connector = connector();
        connector.expect_authorization_uri().returning(|_| {
            Ok(AuthorizationStarted {
                uri: "https://op.example.com/auth?state=s".to_owned(),
                connector_session: Map::from_iter([("nonce".to_owned(), Value::from("n"))]),
            })
        });
        let service = service(records, connector);
        let user = user_id();
        let request = AuthorizationRequest {
            state: "s".to_owned(),
            redirect_uri: "https://app.example.com/cb".to_owned(),
            scope: None,
        };
        let (made, uri) =
            service.start(RecordHolder { user_id: &user, session_id: "s1" }, "oidc", request).await.unwrap();
        assert_eq!(uri, "https://op.example.com/auth?state=s");
        assert_eq!(made.expires_at, NOW.plus_secs(600));
    }

    #[tokio::test]
    async fn a_callback_with_another_state_is_refused_before_the_provider_is_asked() {
        let mut records = MockVerificationRecordRepository::new();
        records.expect_find().returning(|_| Ok(Some(started_record("expected"))));
        let mut connector = connector();
        connector.expect_user_info().never();
        let service = service(records, connector);
        let user = user_id();
        let data = Map::from_iter([("code".to_owned(), Value::from("c")), ("state".to_owned(), Value::from("forged"))]);
        let error = service
            .verify(RecordHolder { user_id: &user, session_id: "s1" }, &"r".repeat(21), &data)
            .await
            .unwrap_err();
        assert!(matches!(error, SocialError::StateMismatch), "{error:?}");
    }

    #[tokio::test]
    async fn a_record_of_another_session_is_not_found() {
        let mut records = MockVerificationRecordRepository::new();
        records.expect_find().returning(|_| Ok(Some(started_record("s"))));
        let service = service(records, connector());
        let user = user_id();
        let data = Map::from_iter([("state".to_owned(), Value::from("s"))]);
        let error = service
            .verify(RecordHolder { user_id: &user, session_id: "s2" }, &"r".repeat(21), &data)
            .await
            .unwrap_err();
        assert!(matches!(error, SocialError::RecordNotFound), "{error:?}");
    }

    #[tokio::test]
    async fn a_matching_callback_stores_the_vouched_identity_under_the_connectors_target() {
        let mut records = MockVerificationRecordRepository::new();
        records.expect_find().returning(|_| Ok(Some(started_record("s"))));
        records
            .expect_mark_verified()
            .with(always(), always())
            .withf(|_, kind| {
                matches!(kind, RecordKind::Social { ceremony: SocialCeremony::Verified(identity), .. }
                    if identity.target == "oidc" && identity.user_info.id == "alice")
            })
            .returning(|_, _| Ok(()));
        let mut connector = connector();
        connector
            .expect_user_info()
            .withf(|_, session| session.as_ref().is_some_and(|session| session.state == "s"))
            .returning(|_, _| Ok(SocialUserInfo { id: "alice".to_owned(), ..SocialUserInfo::default() }));
        let service = service(records, connector);
        let user = user_id();
        let data = Map::from_iter([("code".to_owned(), Value::from("c")), ("state".to_owned(), Value::from("s"))]);
        service.verify(RecordHolder { user_id: &user, session_id: "s1" }, &"r".repeat(21), &data).await.unwrap();
    }
}
