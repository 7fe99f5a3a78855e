//! Tokens for users. Every sign-in and every token exchange starts a session of its own (spec §4), and every user
//! access token names its session, so that ending the session ends the tokens. Sign-in sessions also get a rotating
//! refresh token; presenting a rotated one again revokes the session, since someone else holds a copy.
//!
//! Lifetimes: access tokens live an hour (Logto's default). A session lives at most
//! [`SessionLifetimes::session_secs`] from sign-in, however often it is refreshed; within that, each refresh token
//! lives [`SessionLifetimes::refresh_token_secs`] from its issue, so an idle session ends after that long.
//!
//! A password or code sign-in stores its session itself, with the sign-in record (the domain's sign-in service);
//! [`SessionTokens::tokens_for`] then mints that session's access token. Token exchange starts its sessions here.

use std::fmt;
use std::sync::Arc;

use latchkey_domain::credentials_ports::TokenStateRepository;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::{OpaqueSecret, hash_secret};
use latchkey_domain::session::{
    RefreshToken, RevokeReason, Rotation, Session, SessionLifetimes, SessionRepository, SessionStart,
};
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use latchkey_domain::{Clock, IdGenerator, Timestamp, UserId};
use thiserror::Error;

use crate::keys::KeyRing;
use crate::token::{TokenError, mint};

/// How long user tokens and sessions live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub access_token_secs: i64,
    pub sessions: SessionLifetimes,
}

impl Default for TokenLifetimes {
    /// An hour for access tokens as in Logto; the domain's defaults for sessions and refresh tokens.
    fn default() -> Self {
        Self { access_token_secs: 3600, sessions: SessionLifetimes::default() }
    }
}

/// What a new session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: UserId,
    /// The application the user signed in through, or that exchanged the token.
    pub client_id: String,
    pub audience: Audience,
    pub scopes: Vec<String>,
    /// The impersonating user or application (`act`), for token exchange with an actor.
    pub actor: Option<String>,
    /// The personal access token the session was exchanged from.
    pub personal_access_token: Option<String>,
    /// Whether the session gets a refresh token (a sign-in's does, but the sign-in service stores that session
    /// itself; token exchange gets none, as in Logto).
    pub with_refresh_token: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl NewSession {
    /// An Account API session for `user_id` through `client_id`, with no refresh token, actor or origin.
    pub fn account(user_id: UserId, client_id: impl Into<String>, scopes: Vec<String>) -> Self {
        Self {
            user_id,
            client_id: client_id.into(),
            audience: Audience::Account,
            scopes,
            actor: None,
            personal_access_token: None,
            with_refresh_token: false,
            user_agent: None,
            ip: None,
        }
    }
}

/// Tokens handed to the client: an OAuth token response's content.
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    /// Space-separated granted scopes.
    pub scope: String,
    pub refresh_token: Option<OpaqueSecret>,
    pub session_id: String,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Error)]
pub enum IssueError {
    /// The refresh token is unknown, expired, already used, or its session or user no longer allows tokens. One
    /// variant for all, so that the client learns nothing about which (RFC 6749 `invalid_grant`).
    #[error("the refresh token is invalid")]
    InvalidGrant,
    /// A refresh asked for a scope the session was not granted (`invalid_scope`).
    #[error("the requested scope exceeds the session's scopes")]
    ScopeNotGranted,
    /// The user does not exist (a session cannot start for them).
    #[error("the user does not exist")]
    UnknownUser,
    #[error("the session store failed: {0}")]
    Store(RepoError),
    #[error("signing the access token failed: {0}")]
    Signing(#[from] TokenError),
}

/// Starts sessions and mints their tokens; refreshes them with rotation and reuse detection.
pub struct SessionTokens {
    sessions: Arc<dyn SessionRepository>,
    token_state: Arc<dyn TokenStateRepository>,
    keys: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    lifetimes: TokenLifetimes,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens").field("lifetimes", &self.lifetimes).finish_non_exhaustive()
    }
}

impl SessionTokens {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        token_state: Arc<dyn TokenStateRepository>,
        keys: Arc<KeyRing>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        lifetimes: TokenLifetimes,
    ) -> Self {
        Self { sessions, token_state, keys, clock, ids, lifetimes }
    }

    pub fn lifetimes(&self) -> TokenLifetimes {
        self.lifetimes
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Stores a new session (and its first refresh token when asked) and mints its first access token. The
    /// caller has checked the user may sign in (exists, not suspended, credentials verified).
    pub async fn start(&self, new: NewSession) -> Result<IssuedTokens, IssueError> {
        let now = self.clock.now();
        let lifetimes = &self.lifetimes.sessions;
        let session = lifetimes
            .new_session(self.ids.entity_id(), new.user_id.clone(), new.client_id.clone(), now)
            .with_origin(new.user_agent.as_deref(), new.ip.as_deref())
            .with_scopes(new.scopes.clone());
        let (start, refresh_token) = if new.with_refresh_token {
            let (start, secret) = SessionStart::with_refresh_token(session, lifetimes);
            (start, Some(secret))
        } else {
            (SessionStart::without_refresh_token(session), None)
        };
        self.sessions.create(&start.session, start.first_refresh_token).await.map_err(|error| match error {
            RepoError::NotFound => IssueError::UnknownUser,
            other => IssueError::Store(other),
        })?;
        let session = start.session;
        let mut claims = self.claims(&session.id, &new.user_id, &new.client_id, new.audience, &new.scopes, now);
        if let Some(actor) = new.actor {
            claims = claims.with_actor(actor);
        }
        if let Some(pat) = new.personal_access_token {
            claims = claims.with_personal_access_token(pat);
        }
        self.issue(claims, refresh_token, now)
    }

    /// Rotates `presented` and mints a new access token for its session, with the session's scopes or the
    /// `requested` subset of them. A rotated token presented again revokes the session. The token must have been
    /// issued to `client_id` (RFC 6749 §6), which the caller has authenticated when the client is confidential.
    pub async fn refresh(
        &self,
        presented: &str,
        client_id: &str,
        requested: Option<&[String]>,
    ) -> Result<IssuedTokens, IssueError> {
        let now = self.clock.now();
        let old_hash = hash_secret(presented);
        let Some(old) = self.sessions.find_refresh_token(&old_hash).await.map_err(IssueError::Store)? else {
            return Err(IssueError::InvalidGrant);
        };
        let Some(session) = self.sessions.find(&old.session_id).await.map_err(IssueError::Store)? else {
            return Err(IssueError::InvalidGrant);
        };
        if session.client_id != client_id {
            return Err(IssueError::InvalidGrant);
        }
        let scopes = match requested {
            Some(requested) if requested.iter().any(|scope| !session.scopes.contains(scope)) => {
                return Err(IssueError::ScopeNotGranted);
            }
            Some(requested) => requested.to_vec(),
            None => session.scopes.clone(),
        };
        let (successor, stored) = RefreshToken::issue(
            session.id.clone(),
            now,
            self.lifetimes.sessions.refresh_token_expiry(now, session.expires_at),
        );
        match self.sessions.rotate_refresh_token(&old_hash, &stored.token_hash, stored.expires_at, now).await {
            Ok(Rotation::Rotated(_)) => {}
            Ok(Rotation::Reused { session_id }) => {
                tracing::warn!(session_id, "a rotated refresh token was presented again; revoking its session");
                match self.sessions.revoke(&session_id, RevokeReason::RefreshTokenReuse, now).await {
                    Ok(()) | Err(RepoError::NotFound) => {}
                    Err(error) => return Err(IssueError::Store(error)),
                }
                return Err(IssueError::InvalidGrant);
            }
            Ok(Rotation::Expired | Rotation::SessionEnded | Rotation::Unknown) => return Err(IssueError::InvalidGrant),
            Err(error) => return Err(IssueError::Store(error)),
        }
        // The session is live, but its user may have been suspended or deleted since sign-in: no new tokens then.
        let state = self.token_state.session_state(&session.id, now).await.map_err(IssueError::Store)?;
        if !state.is_some_and(|state| state.allows_tokens()) {
            return Err(IssueError::InvalidGrant);
        }
        match self.sessions.touch(&session.id, now).await {
            Ok(()) | Err(RepoError::NotFound) => {}
            Err(error) => return Err(IssueError::Store(error)),
        }
        let claims = self.claims(&session.id, &session.user_id, &session.client_id, Audience::Account, &scopes, now);
        self.issue(claims, Some(successor), now)
    }

    /// The first access token of a session stored elsewhere (with a sign-in record), for the session's user,
    /// client and scopes, handed out with the session's first `refresh_token`.
    pub fn tokens_for(
        &self,
        session: &Session,
        audience: Audience,
        refresh_token: Option<OpaqueSecret>,
    ) -> Result<IssuedTokens, IssueError> {
        let now = self.clock.now();
        let claims = self.claims(&session.id, &session.user_id, &session.client_id, audience, &session.scopes, now);
        self.issue(claims, refresh_token, now)
    }

    fn claims(
        &self,
        session_id: &str,
        user_id: &UserId,
        client_id: &str,
        audience: Audience,
        scopes: &[String],
        now: Timestamp,
    ) -> AccessClaims {
        AccessClaims::new(
            Subject::User(user_id.clone()),
            client_id,
            audience,
            self.ids.entity_id(),
            now,
            now.plus_secs(self.lifetimes.access_token_secs),
        )
        .with_scopes(scopes.iter().cloned())
        .with_session(session_id)
    }

    fn issue(
        &self,
        claims: AccessClaims,
        refresh_token: Option<OpaqueSecret>,
        now: Timestamp,
    ) -> Result<IssuedTokens, IssueError> {
        let access_token = mint(&self.keys, &claims)?;
        Ok(IssuedTokens {
            access_token,
            expires_in: claims.expires_in_secs(now),
            scope: claims.scopes.join(" "),
            refresh_token,
            session_id: claims.session_id.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use biscuit_auth::KeyPair;
    use latchkey_domain::RandomIds;
    use latchkey_domain::clock::FixedClock;
    use latchkey_domain::credentials_ports::{MockTokenStateRepository, SessionState};
    use latchkey_domain::session::MockSessionRepository;
    use mockall::predicate::eq;

    use super::*;
    use crate::token::{Operation, RequestFacts, verify};

    const NOW: Timestamp = Timestamp::from_secs(1_000_000);

    fn user() -> UserId {
        UserId::parse("abcdefghijkl").unwrap()
    }

    fn keys() -> Arc<KeyRing> {
        Arc::new(KeyRing::new([("k1".to_owned(), KeyPair::new())]).unwrap())
    }

    fn session(scopes: &[&str]) -> Session {
        Session::new("s".repeat(21), user(), "app".to_owned(), NOW, NOW.plus_secs(3600 * 24))
            .with_scopes(scopes.iter().copied())
    }

    fn live_state() -> SessionState {
        SessionState { user_id: user(), revoked: false, expired: false, user_exists: true, user_suspended: false }
    }

    fn tokens(sessions: MockSessionRepository, state: MockTokenStateRepository, keys: Arc<KeyRing>) -> SessionTokens {
        SessionTokens::new(
            Arc::new(sessions),
            Arc::new(state),
            keys,
            Arc::new(FixedClock(NOW)),
            Arc::new(RandomIds),
            TokenLifetimes::default(),
        )
    }

    fn stored_token(session: &Session, used: bool) -> RefreshToken {
        RefreshToken {
            token_hash: hash_secret("presented"),
            session_id: session.id.clone(),
            created_at: NOW,
            expires_at: NOW.plus_secs(60),
            used_at: used.then_some(NOW),
        }
    }

    #[tokio::test]
    async fn a_new_session_gets_a_token_naming_it_and_a_refresh_token_capped_by_the_session() {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_create()
            .withf(|session, refresh_token| {
                refresh_token.as_ref().is_some_and(|token| {
                    token.session_id == session.id
                        && token.expires_at == NOW.plus_secs(SessionLifetimes::default().refresh_token_secs)
                })
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let keys = keys();
        let new = NewSession { with_refresh_token: true, ..NewSession::account(user(), "app", vec!["email".into()]) };
        let issued = tokens(sessions, MockTokenStateRepository::new(), Arc::clone(&keys)).start(new).await.unwrap();

        let principal =
            verify(&keys, &issued.access_token, &RequestFacts::new(Operation::Read, "/api/my-account"), NOW).unwrap();
        assert_eq!(principal.claims.session_id.as_deref(), Some(issued.session_id.as_str()));
        assert_eq!(principal.claims.scopes, ["email"]);
        assert_eq!((issued.expires_in, issued.scope.as_str()), (3600, "email"));
        assert!(issued.refresh_token.is_some());
    }

    #[tokio::test]
    async fn a_session_for_a_missing_user_is_refused() {
        let mut sessions = MockSessionRepository::new();
        sessions.expect_create().returning(|_, _| Err(RepoError::NotFound));
        let error = tokens(sessions, MockTokenStateRepository::new(), keys())
            .start(NewSession::account(user(), "app", vec![]))
            .await
            .unwrap_err();
        assert!(matches!(error, IssueError::UnknownUser));
    }

    #[tokio::test]
    async fn a_refresh_rotates_and_keeps_the_sessions_scopes() {
        let session = session(&["profile", "email"]);
        let mut sessions = MockSessionRepository::new();
        let stored = stored_token(&session, false);
        sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        let found = session.clone();
        sessions.expect_find().returning(move |_| Ok(Some(found.clone())));
        let rotated = session.clone();
        sessions
            .expect_rotate_refresh_token()
            .times(1)
            .returning(move |_, _, _, _| Ok(Rotation::Rotated(rotated.clone())));
        sessions.expect_touch().with(eq(session.id.clone()), eq(NOW)).times(1).returning(|_, _| Ok(()));
        let mut state = MockTokenStateRepository::new();
        state.expect_session_state().returning(|_, _| Ok(Some(live_state())));

        let issued = tokens(sessions, state, keys()).refresh("presented", "app", None).await.unwrap();
        assert_eq!(issued.scope, "profile email");
        assert_eq!(issued.session_id, session.id);
        assert!(issued.refresh_token.is_some_and(|successor| successor.expose() != "presented"));
    }

    #[tokio::test]
    async fn a_reused_refresh_token_revokes_its_session() {
        let session = session(&[]);
        let mut sessions = MockSessionRepository::new();
        let stored = stored_token(&session, true);
        sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        let found = session.clone();
        sessions.expect_find().returning(move |_| Ok(Some(found.clone())));
        let id = session.id.clone();
        sessions
            .expect_rotate_refresh_token()
            .returning(move |_, _, _, _| Ok(Rotation::Reused { session_id: id.clone() }));
        sessions
            .expect_revoke()
            .with(eq(session.id.clone()), eq(RevokeReason::RefreshTokenReuse), eq(NOW))
            .times(1)
            .returning(|_, _, _| Ok(()));

        let error = tokens(sessions, MockTokenStateRepository::new(), keys()).refresh("presented", "app", None).await;
        assert!(matches!(error, Err(IssueError::InvalidGrant)));
    }

    #[tokio::test]
    async fn a_refresh_for_a_suspended_user_is_refused_after_rotation() {
        let session = session(&[]);
        let mut sessions = MockSessionRepository::new();
        let stored = stored_token(&session, false);
        sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        let found = session.clone();
        sessions.expect_find().returning(move |_| Ok(Some(found.clone())));
        let rotated = session.clone();
        sessions.expect_rotate_refresh_token().returning(move |_, _, _, _| Ok(Rotation::Rotated(rotated.clone())));
        sessions.expect_touch().never();
        let mut state = MockTokenStateRepository::new();
        state.expect_session_state().returning(|_, _| Ok(Some(SessionState { user_suspended: true, ..live_state() })));

        let error = tokens(sessions, state, keys()).refresh("presented", "app", None).await;
        assert!(matches!(error, Err(IssueError::InvalidGrant)));
    }

    #[tokio::test]
    async fn a_refresh_may_narrow_the_scopes_but_not_widen_them() {
        let session = session(&["profile"]);
        let mut sessions = MockSessionRepository::new();
        let stored = stored_token(&session, false);
        sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        sessions.expect_find().returning(move |_| Ok(Some(session.clone())));
        sessions.expect_rotate_refresh_token().never();

        let requested = ["profile".to_owned(), "email".to_owned()];
        let error = tokens(sessions, MockTokenStateRepository::new(), keys())
            .refresh("presented", "app", Some(&requested))
            .await;
        assert!(matches!(error, Err(IssueError::ScopeNotGranted)));
    }

    #[tokio::test]
    async fn a_refresh_token_of_another_client_is_an_invalid_grant() {
        let session = session(&[]);
        let mut sessions = MockSessionRepository::new();
        let stored = stored_token(&session, false);
        sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        sessions.expect_find().returning(move |_| Ok(Some(session.clone())));
        sessions.expect_rotate_refresh_token().never();
        let error = tokens(sessions, MockTokenStateRepository::new(), keys()).refresh("presented", "other", None).await;
        assert!(matches!(error, Err(IssueError::InvalidGrant)));
    }

    #[tokio::test]
    async fn an_unknown_refresh_token_is_an_invalid_grant() {
        let mut sessions = MockSessionRepository::new();
        sessions.expect_find_refresh_token().returning(|_| Ok(None));
        let error = tokens(sessions, MockTokenStateRepository::new(), keys()).refresh("nope", "app", None).await;
        assert!(matches!(error, Err(IssueError::InvalidGrant)));
    }
}
