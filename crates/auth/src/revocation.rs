//! The revocation port. Tokens are self-contained, but Latchkey revokes them immediately: on every request the
//! verified principal is checked against the state of its session, user and personal access token.

use std::sync::Arc;

use async_trait::async_trait;
use latchkey_domain::application::ApplicationRepository;
use latchkey_domain::clock::Clock;
use latchkey_domain::credentials_ports::TokenStateRepository;
use latchkey_domain::ports::UserRepository;
use latchkey_domain::token::Subject;
use thiserror::Error;

use crate::oidc::MANAGEMENT_API_SCOPE;
use crate::token::Principal;

/// Why a verified token was still refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RevocationError {
    /// The session, user or personal access token behind the token is revoked, suspended or gone.
    #[error("the token's session, user or personal access token is revoked")]
    Revoked,
    /// The revocation state could not be read; failing closed, the request is refused.
    #[error("the revocation state is unavailable")]
    Unavailable,
}

/// Looks up whether a verified token has been revoked.
///
/// Implementations read the database on every request (the store implements this port): the session named by the
/// `session` fact must be live, a user subject must exist and not be suspended, and a token derived from a personal
/// access token must find it unexpired and not deleted. Any cache must keep staleness at or under one second, and
/// say so where it is built.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RevocationCheck: Send + Sync {
    async fn check(&self, principal: &Principal) -> Result<(), RevocationError>;
}

/// The revocation check on the domain's ports, read on every request (no cache, so no staleness): one indexed
/// query for a session- or PAT-bound token, else one look-up of the user or application behind the token.
pub struct PortsRevocationCheck {
    pub token_state: Arc<dyn TokenStateRepository>,
    pub users: Arc<dyn UserRepository>,
    pub applications: Arc<dyn ApplicationRepository>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PortsRevocationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortsRevocationCheck { .. }")
    }
}

#[async_trait]
impl RevocationCheck for PortsRevocationCheck {
    async fn check(&self, principal: &Principal) -> Result<(), RevocationError> {
        let claims = &principal.claims;
        let now = self.clock.now();
        let unavailable = |error: latchkey_domain::ports::RepoError| {
            tracing::error!(%error, "revocation state unavailable");
            RevocationError::Unavailable
        };
        let mut checked_user = false;
        if let Some(session_id) = &claims.session_id {
            let state = self.token_state.session_state(session_id, now).await.map_err(unavailable)?;
            let state = state.ok_or(RevocationError::Revoked)?;
            // A session belongs to one user: a token naming another user with this session is not honoured.
            if !state.allows_tokens() || claims.user_id().is_some_and(|user| *user != state.user_id) {
                return Err(RevocationError::Revoked);
            }
            checked_user = true;
        }
        if let Some(pat_id) = &claims.personal_access_token {
            let state = self.token_state.pat_state(pat_id, now).await.map_err(unavailable)?;
            let state = state.ok_or(RevocationError::Revoked)?;
            if !state.allows_tokens() || claims.user_id().is_some_and(|user| *user != state.user_id) {
                return Err(RevocationError::Revoked);
            }
            checked_user = true;
        }
        match &claims.subject {
            Subject::User(user_id) if !checked_user => {
                let user = self.users.find_by_id(user_id).await.map_err(unavailable)?;
                if user.is_none_or(|user| user.is_suspended) {
                    return Err(RevocationError::Revoked);
                }
            }
            Subject::Application(client_id) => {
                let application = self.applications.find_by_id(client_id).await.map_err(unavailable)?;
                // Management access comes from the app's role: taking the role away ends the tokens it gave.
                let allowed = application.is_some_and(|application| {
                    !claims.has_scope(MANAGEMENT_API_SCOPE) || application.has_management_api_access()
                });
                if !allowed {
                    return Err(RevocationError::Revoked);
                }
            }
            Subject::User(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::UserId;
    use latchkey_domain::application::{Application, ApplicationType, MANAGEMENT_API_ROLE, MockApplicationRepository};
    use latchkey_domain::clock::{FixedClock, Timestamp};
    use latchkey_domain::credentials_ports::{MockTokenStateRepository, SessionState};
    use latchkey_domain::ports::{MockUserRepository, RepoError};
    use latchkey_domain::token::{AccessClaims, Audience};
    use latchkey_domain::user::User;

    use super::*;

    fn user_id(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn principal(claims: AccessClaims) -> Principal {
        Principal { claims, blocks: 1 }
    }

    fn user_claims(user: &str) -> AccessClaims {
        AccessClaims::new(
            Subject::User(user_id(user)),
            "app",
            Audience::Account,
            "t1",
            Timestamp::from_secs(0),
            Timestamp::from_secs(3600),
        )
    }

    fn session(user: &str, revoked: bool, suspended: bool) -> SessionState {
        SessionState { user_id: user_id(user), revoked, expired: false, user_exists: true, user_suspended: suspended }
    }

    fn check(token_state: MockTokenStateRepository, users: MockUserRepository) -> PortsRevocationCheck {
        PortsRevocationCheck {
            token_state: Arc::new(token_state),
            users: Arc::new(users),
            applications: Arc::new(MockApplicationRepository::new()),
            clock: Arc::new(FixedClock(Timestamp::from_secs(10))),
        }
    }

    #[tokio::test]
    async fn a_session_token_lives_and_dies_with_its_session_and_user() {
        let cases = [
            (session("aaaaaaaaaaaa", false, false), Ok(())),
            (session("aaaaaaaaaaaa", true, false), Err(RevocationError::Revoked)),
            (session("aaaaaaaaaaaa", false, true), Err(RevocationError::Revoked)),
            // The session is someone else's: a token pairing it with this user is forged or confused.
            (session("bbbbbbbbbbbb", false, false), Err(RevocationError::Revoked)),
        ];
        for (state, expected) in cases {
            let mut token_state = MockTokenStateRepository::new();
            token_state.expect_session_state().returning(move |_, _| Ok(Some(state.clone())));
            let mut users = MockUserRepository::new();
            users.expect_find_by_id().never();
            let claims = user_claims("aaaaaaaaaaaa").with_session("s1");
            assert_eq!(check(token_state, users).check(&principal(claims)).await, expected);
        }
    }

    #[tokio::test]
    async fn a_deleted_session_revokes_its_tokens() {
        let mut token_state = MockTokenStateRepository::new();
        token_state.expect_session_state().returning(|_, _| Ok(None));
        let claims = user_claims("aaaaaaaaaaaa").with_session("gone");
        let result = check(token_state, MockUserRepository::new()).check(&principal(claims)).await;
        assert_eq!(result, Err(RevocationError::Revoked));
    }

    #[tokio::test]
    async fn a_user_token_without_a_session_checks_the_user_itself() {
        for (suspended, expected) in [(false, Ok(())), (true, Err(RevocationError::Revoked))] {
            let mut users = MockUserRepository::new();
            users.expect_find_by_id().returning(move |id| {
                let mut user = User::new(id.clone(), Timestamp::from_secs(0));
                user.is_suspended = suspended;
                Ok(Some(user))
            });
            let result =
                check(MockTokenStateRepository::new(), users).check(&principal(user_claims("aaaaaaaaaaaa"))).await;
            assert_eq!(result, expected, "suspended={suspended}");
        }
    }

    #[tokio::test]
    async fn an_unreadable_state_fails_closed() {
        let mut token_state = MockTokenStateRepository::new();
        token_state.expect_session_state().returning(|_, _| Err(RepoError::Unavailable("down".into())));
        let claims = user_claims("aaaaaaaaaaaa").with_session("s1");
        let result = check(token_state, MockUserRepository::new()).check(&principal(claims)).await;
        assert_eq!(result, Err(RevocationError::Unavailable));
    }

    fn management_claims() -> AccessClaims {
        AccessClaims::new(
            Subject::Application("m2m".into()),
            "m2m",
            Audience::Resource("http://127.0.0.1:3001/api".into()),
            "t2",
            Timestamp::from_secs(0),
            Timestamp::from_secs(3600),
        )
        .with_scopes(["all"])
    }

    fn with_applications(applications: MockApplicationRepository) -> PortsRevocationCheck {
        PortsRevocationCheck {
            applications: Arc::new(applications),
            ..check(MockTokenStateRepository::new(), MockUserRepository::new())
        }
    }

    fn m2m_app(management_access: bool) -> Application {
        let mut application =
            Application::new("m2m".into(), "m2m".into(), ApplicationType::MachineToMachine, Timestamp::from_secs(0));
        if management_access {
            application.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        }
        application
    }

    #[tokio::test]
    async fn an_application_token_dies_with_its_application() {
        let mut applications = MockApplicationRepository::new();
        applications.expect_find_by_id().returning(|_| Ok(None));
        let result = with_applications(applications).check(&principal(management_claims())).await;
        assert_eq!(result, Err(RevocationError::Revoked));
    }

    #[tokio::test]
    async fn a_management_token_dies_with_the_apps_management_role() {
        for (management_access, expected) in [(true, Ok(())), (false, Err(RevocationError::Revoked))] {
            let mut applications = MockApplicationRepository::new();
            applications.expect_find_by_id().returning(move |_| Ok(Some(m2m_app(management_access))));
            let result = with_applications(applications).check(&principal(management_claims())).await;
            assert_eq!(result, expected, "management access: {management_access}");
        }
    }
}
