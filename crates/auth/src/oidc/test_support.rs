//! A token endpoint on mocks of every port, for the grants' unit tests.

use std::sync::Arc;

use biscuit_auth::KeyPair;
use latchkey_domain::application::{Application, ApplicationType, MockApplicationRepository};
use latchkey_domain::clock::FixedClock;
use latchkey_domain::credentials_ports::MockTokenStateRepository;
use latchkey_domain::personal_access_token::MockPersonalAccessTokenRepository;
use latchkey_domain::ports::MockUserRepository;
use latchkey_domain::session::MockSessionRepository;
use latchkey_domain::subject_token::MockSubjectTokenRepository;
use latchkey_domain::{RandomIds, Timestamp, User, UserId};

use super::{TokenEndpoint, TokenEndpointPorts, TokenRequest};
use crate::keys::KeyRing;
use crate::revocation::MockRevocationCheck;
use crate::session_tokens::{SessionTokens, TokenLifetimes};

pub(crate) const NOW: Timestamp = Timestamp::from_secs(1_000_000);
pub(crate) const USER: &str = "user00000001";

/// One mock per port; set expectations, then build the endpoint. The session mock serves both the endpoint and
/// its `SessionTokens`, as the store does.
pub(crate) struct Mocks {
    pub(crate) applications: MockApplicationRepository,
    pub(crate) users: MockUserRepository,
    pub(crate) sessions: MockSessionRepository,
    pub(crate) token_state: MockTokenStateRepository,
    pub(crate) subject_tokens: MockSubjectTokenRepository,
    pub(crate) personal_access_tokens: MockPersonalAccessTokenRepository,
    pub(crate) revocation: MockRevocationCheck,
}

impl Mocks {
    pub(crate) fn new() -> Self {
        Self {
            applications: MockApplicationRepository::new(),
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            token_state: MockTokenStateRepository::new(),
            subject_tokens: MockSubjectTokenRepository::new(),
            personal_access_tokens: MockPersonalAccessTokenRepository::new(),
            revocation: MockRevocationCheck::new(),
        }
    }

    /// The application store holds `application` and nothing else.
    pub(crate) fn with_application(&mut self, application: Application) {
        self.applications
            .expect_find_by_id()
            .returning(move |id| Ok((id == application.id).then(|| application.clone())));
    }

    pub(crate) fn with_user(&mut self, user: User) {
        self.users.expect_find_by_id().returning(move |id| Ok((*id == user.id).then(|| user.clone())));
    }

    pub(crate) fn endpoint(self) -> (TokenEndpoint, Arc<KeyRing>) {
        let keys = Arc::new(KeyRing::new([("k1".to_owned(), KeyPair::new())]).expect("a key ring"));
        let sessions = Arc::new(self.sessions);
        let session_tokens = SessionTokens::new(
            sessions.clone(),
            Arc::new(self.token_state),
            Arc::clone(&keys),
            Arc::new(FixedClock(NOW)),
            Arc::new(RandomIds),
            TokenLifetimes::default(),
        );
        let ports = TokenEndpointPorts {
            applications: Arc::new(self.applications),
            users: Arc::new(self.users),
            sessions,
            subject_tokens: Arc::new(self.subject_tokens),
            personal_access_tokens: Arc::new(self.personal_access_tokens),
            revocation: Arc::new(self.revocation),
            session_tokens: Arc::new(session_tokens),
            keys: Arc::clone(&keys),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
        };
        (TokenEndpoint::new(ports, "http://127.0.0.1:3001"), keys)
    }
}

pub(crate) fn application(id: &str, app_type: ApplicationType) -> Application {
    Application::new(id.to_owned(), "App".to_owned(), app_type, NOW)
}

/// A confidential application and its secret.
pub(crate) fn application_with_secret(id: &str, app_type: ApplicationType) -> (Application, String) {
    let mut application = application(id, app_type);
    let secret = application.add_generated_secret("default".to_owned(), NOW, None);
    (application, secret.expose().to_owned())
}

pub(crate) fn user(suspended: bool) -> User {
    let mut user = User::new(UserId::parse(USER).expect("a valid user id"), NOW);
    user.is_suspended = suspended;
    user
}

/// A form from a public client (`client_id` only).
pub(crate) fn form(client_id: &str) -> TokenRequest {
    TokenRequest { client_id: Some(client_id.to_owned()), ..TokenRequest::default() }
}
