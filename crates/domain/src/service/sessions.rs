//! A user's sessions and grants as both APIs manage them: an administrator for any user (`/api/users/:id/sessions`,
//! `…/grants`), a user for themselves (`/api/my-account/sessions`, `…/grants`). Revoking a session, or a grant (every
//! live session of that application), ends every token derived from it on its next request, and the revocation is
//! logged in the same transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::application::ApplicationRepository;
use crate::audit::{AuditContext, AuditEntry, details, keys};
use crate::clock::Clock;
use crate::ids::{IdGenerator, UserId};
use crate::ports::RepoError;
use crate::session::{GrantAudience, GrantView, RevokeReason, Session, SessionRepository};

/// The session and grant use cases. Cheap to clone.
#[derive(Clone)]
pub struct UserSessionService {
    sessions: Arc<dyn SessionRepository>,
    applications: Arc<dyn ApplicationRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for UserSessionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSessionService").finish_non_exhaustive()
    }
}

impl UserSessionService {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        applications: Arc<dyn ApplicationRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { sessions, applications, clock, ids }
    }

    /// The user's live sessions, most recently active first.
    pub async fn active(&self, user_id: &UserId) -> Result<Vec<Session>, RepoError> {
        self.sessions.list_active_for_user(user_id, self.clock.now()).await
    }

    /// The user's live session `session_id`; `None` when it is another user's, ended, or unknown (the APIs answer
    /// all three alike, so that session ids of other users cannot be probed).
    pub async fn find_active(&self, user_id: &UserId, session_id: &str) -> Result<Option<Session>, RepoError> {
        let session = self.sessions.find(session_id).await?;
        Ok(session.filter(|session| session.user_id == *user_id && session.is_active(self.clock.now())))
    }

    /// One grant per application the user has live sessions with, in application-id order.
    pub async fn grants(&self, user_id: &UserId, audience: Option<GrantAudience>) -> Result<Vec<GrantView>, RepoError> {
        let sessions = self.active(user_id).await?;
        let mut by_client: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
        for session in &sessions {
            by_client.entry(session.client_id.as_str()).or_default().push(session);
        }
        let mut grants = Vec::with_capacity(by_client.len());
        for (client_id, sessions) in by_client {
            let application = self.applications.find_by_id(client_id).await?;
            let third_party = application.as_ref().is_some_and(|application| application.is_third_party);
            let wanted = match audience {
                None => true,
                Some(GrantAudience::FirstParty) => !third_party,
                Some(GrantAudience::ThirdParty) => third_party,
            };
            if wanted {
                let name = application.map(|application| application.name);
                grants.push(GrantView::new(user_id, client_id, &sessions, name));
            }
        }
        Ok(grants)
    }

    /// Ends `sessions` (all the user's) and logs it, in one transaction.
    pub async fn revoke(
        &self,
        user_id: &UserId,
        sessions: &[Session],
        context: &AuditContext,
    ) -> Result<(), RepoError> {
        let now = self.clock.now();
        let session_ids: Vec<String> = sessions.iter().map(|session| session.id.clone()).collect();
        let client_ids: Vec<&str> = sessions.iter().map(|session| session.client_id.as_str()).collect();
        let entry = AuditEntry::about(
            self.ids.entity_id(),
            keys::USER_SESSIONS_REVOKED,
            user_id,
            context,
            details([("sessionIds", json!(session_ids)), ("clientIds", json!(client_ids))]),
            now,
        );
        self.sessions.revoke_logged(&session_ids, RevokeReason::Revoked, now, &entry).await
    }

    /// Ends every live session of the user with the application `client_id`; `NotFound` when there is none.
    pub async fn revoke_grant(
        &self,
        user_id: &UserId,
        client_id: &str,
        context: &AuditContext,
    ) -> Result<(), RepoError> {
        let granted: Vec<Session> =
            self.active(user_id).await?.into_iter().filter(|session| session.client_id == client_id).collect();
        if granted.is_empty() {
            return Err(RepoError::NotFound);
        }
        self.revoke(user_id, &granted, context).await
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::application::{Application, ApplicationType, MockApplicationRepository};
    use crate::audit::Actor;
    use crate::clock::{FixedClock, Timestamp};
    use crate::ids::RandomIds;
    use crate::session::MockSessionRepository;

    fn user() -> UserId {
        UserId::parse("abcdefghijkl").unwrap()
    }

    fn session(id: &str, client: &str) -> Session {
        Session::new(id.to_owned(), user(), client.to_owned(), Timestamp::from_secs(10), Timestamp::from_secs(1_000))
    }

    fn service(sessions: MockSessionRepository, applications: MockApplicationRepository) -> UserSessionService {
        UserSessionService::new(
            Arc::new(sessions),
            Arc::new(applications),
            Arc::new(FixedClock(Timestamp::from_secs(100))),
            Arc::new(RandomIds),
        )
    }

    fn context() -> AuditContext {
        AuditContext::new(Actor::User { id: user().as_str().to_owned() }).with_application("app")
    }

    #[tokio::test]
    async fn grants_group_sessions_by_application_and_filter_by_party() {
        let mut sessions = MockSessionRepository::new();
        sessions.expect_list_active_for_user().returning(|_, _| {
            Ok(vec![session("s1", "first"), session("s2", "third"), session("s3", "first"), session("s4", "gone")])
        });
        let mut applications = MockApplicationRepository::new();
        applications.expect_find_by_id().returning(|id| {
            Ok(match id {
                "gone" => None,
                id => {
                    let mut application = Application::new(
                        id.to_owned(),
                        id.to_uppercase(),
                        ApplicationType::Spa,
                        Timestamp::from_secs(1),
                    );
                    application.is_third_party = id == "third";
                    Some(application)
                }
            })
        });
        let service = service(sessions, applications);
        let all = service.grants(&user(), None).await.unwrap();
        let ids: Vec<(&str, Vec<String>)> =
            all.iter().map(|grant| (grant.id.as_str(), grant.session_ids.clone())).collect();
        assert_eq!(
            ids,
            [
                ("first", vec!["s1".to_owned(), "s3".to_owned()]),
                ("gone", vec!["s4".to_owned()]),
                ("third", vec!["s2".to_owned()])
            ]
        );
        assert_eq!(all[0].application.name.as_deref(), Some("FIRST"));
        assert_eq!(all[1].application.name, None, "a deleted application has no name");
        let first: Vec<String> =
            service.grants(&user(), Some(GrantAudience::FirstParty)).await.unwrap().into_iter().map(|g| g.id).collect();
        assert_eq!(first, ["first", "gone"]);
        let third: Vec<String> =
            service.grants(&user(), Some(GrantAudience::ThirdParty)).await.unwrap().into_iter().map(|g| g.id).collect();
        assert_eq!(third, ["third"]);
    }

    #[tokio::test]
    async fn another_users_or_an_ended_session_is_not_found() {
        let mut sessions = MockSessionRepository::new();
        sessions.expect_find().returning(|id| {
            Ok(match id {
                "mine" => Some(session("mine", "app")),
                "ended" => {
                    let mut ended = session("ended", "app");
                    ended.revoked_at = Some(Timestamp::from_secs(50));
                    Some(ended)
                }
                "theirs" => {
                    let mut theirs = session("theirs", "app");
                    theirs.user_id = UserId::parse("zyxwvutsrqpo").unwrap();
                    Some(theirs)
                }
                _ => None,
            })
        });
        let service = service(sessions, MockApplicationRepository::new());
        assert!(service.find_active(&user(), "mine").await.unwrap().is_some());
        for id in ["ended", "theirs", "unknown"] {
            assert!(service.find_active(&user(), id).await.unwrap().is_none(), "{id}");
        }
    }

    #[tokio::test]
    async fn revoking_a_grant_ends_that_applications_sessions_only_and_logs_it() {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_list_active_for_user()
            .returning(|_, _| Ok(vec![session("s1", "app"), session("s2", "other"), session("s3", "app")]));
        sessions
            .expect_revoke_logged()
            .withf(|ids, reason, _, entry| {
                ids == ["s1".to_owned(), "s3".to_owned()]
                    && *reason == RevokeReason::Revoked
                    && entry.key == keys::USER_SESSIONS_REVOKED
                    && entry.details["clientIds"] == json!(["app", "app"])
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let service = service(sessions, MockApplicationRepository::new());
        service.revoke_grant(&user(), "app", &context()).await.unwrap();
        assert_eq!(service.revoke_grant(&user(), "none", &context()).await, Err(RepoError::NotFound));
    }

    #[tokio::test]
    async fn listing_asks_for_the_sessions_live_now() {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_list_active_for_user()
            .with(eq(user()), eq(Timestamp::from_secs(100)))
            .returning(|_, _| Ok(vec![session("s1", "app")]));
        let listed = service(sessions, MockApplicationRepository::new()).active(&user()).await.unwrap();
        assert_eq!(listed.len(), 1);
    }
}
