//! Sessions and their rotating refresh tokens. Every sign-in and every token exchange starts a session; access
//! tokens name their session, so revoking it (sign-out, reuse of a rotated refresh token, suspension, password
//! change) makes them fail on the next request.

mod view;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::RepoError;
use crate::secrets::{OpaqueSecret, REFRESH_TOKEN_LENGTH, SecretHash, generate_secret};

pub use view::{GrantApplication, GrantAudience, GrantList, GrantView, GrantsQuery, SessionList, SessionView};

/// Longest stored `User-Agent`; longer ones are cut (they are informative only).
pub const USER_AGENT_MAX_CHARS: usize = 512;
/// Longest stored client address.
pub const IP_MAX_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// 21-character entity id.
    pub id: String,
    pub user_id: UserId,
    /// The application (OAuth client) the session was started for.
    pub client_id: String,
    pub created_at: Timestamp,
    pub last_active_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<RevokeReason>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The scopes granted when the session started; a refresh mints tokens with these (or fewer).
    pub scopes: Vec<String>,
}

impl Session {
    /// A live session from `now` until `expires_at`.
    pub fn new(id: String, user_id: UserId, client_id: String, now: Timestamp, expires_at: Timestamp) -> Self {
        Self {
            id,
            user_id,
            client_id,
            created_at: now,
            last_active_at: now,
            expires_at,
            revoked_at: None,
            revoke_reason: None,
            user_agent: None,
            ip: None,
            scopes: Vec::new(),
        }
    }

    /// The scopes granted at sign-in.
    #[must_use]
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Records where the session comes from, cut to the stored lengths.
    #[must_use]
    pub fn with_origin(mut self, user_agent: Option<&str>, ip: Option<&str>) -> Self {
        self.user_agent = user_agent.map(|value| truncate(value, USER_AGENT_MAX_CHARS));
        self.ip = ip.map(|value| truncate(value, IP_MAX_CHARS));
        self
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && !self.is_expired(now)
    }
}

fn truncate(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

/// Why a session ended before its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokeReason {
    SignOut,
    /// A rotated refresh token was presented again: someone holds a copy.
    RefreshTokenReuse,
    PasswordChanged,
    UserSuspended,
    UserDeleted,
    /// An administrator or the user ended it explicitly.
    Revoked,
}

impl RevokeReason {
    const ALL: [RevokeReason; 6] = [
        Self::SignOut,
        Self::RefreshTokenReuse,
        Self::PasswordChanged,
        Self::UserSuspended,
        Self::UserDeleted,
        Self::Revoked,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SignOut => "sign_out",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::PasswordChanged => "password_changed",
            Self::UserSuspended => "user_suspended",
            Self::UserDeleted => "user_deleted",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name)
    }
}

/// A refresh token as stored: its hash, the session it extends, and when it was rotated (used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: SecretHash,
    pub session_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when the token was exchanged for its successor; presenting it again is reuse.
    pub used_at: Option<Timestamp>,
}

impl RefreshToken {
    /// A fresh token for `session_id`, in clear (to hand out once) and as stored.
    pub fn issue(session_id: String, now: Timestamp, expires_at: Timestamp) -> (OpaqueSecret, RefreshToken) {
        let secret = generate_secret("", REFRESH_TOKEN_LENGTH);
        let token = RefreshToken { token_hash: secret.hash(), session_id, created_at: now, expires_at, used_at: None };
        (secret, token)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }
}

/// How long sessions and their refresh tokens live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// From each refresh token's issue: an idle session ends after this long.
    pub refresh_token_secs: i64,
    /// From sign-in, however often the session is refreshed.
    pub session_secs: i64,
}

impl Default for SessionLifetimes {
    /// 14 days for refresh tokens as in Logto; sessions end after 30 days at most.
    fn default() -> Self {
        Self { refresh_token_secs: 14 * 24 * 3600, session_secs: 30 * 24 * 3600 }
    }
}

impl SessionLifetimes {
    /// A new session of `user_id` through `client_id`, started at `now` and ending `session_secs` later at the
    /// latest.
    pub fn new_session(&self, id: String, user_id: UserId, client_id: String, now: Timestamp) -> Session {
        Session::new(id, user_id, client_id, now, now.plus_secs(self.session_secs))
    }

    /// When a refresh token issued at `now` stops working: after its own lifetime, or with its session.
    pub fn refresh_token_expiry(&self, now: Timestamp, session_expires_at: Timestamp) -> Timestamp {
        now.plus_secs(self.refresh_token_secs).min(session_expires_at)
    }
}

/// A session to store, with its first refresh token when it gets one. A sign-in stores it in the same
/// transaction as the user's sign-in record ([`crate::ports::UserChange::start_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStart {
    pub session: Session,
    pub first_refresh_token: Option<RefreshToken>,
}

impl SessionStart {
    pub fn without_refresh_token(session: Session) -> Self {
        Self { session, first_refresh_token: None }
    }

    /// `session` with its first refresh token, issued when the session starts; the token in clear is for the
    /// client, once.
    pub fn with_refresh_token(session: Session, lifetimes: &SessionLifetimes) -> (Self, OpaqueSecret) {
        let now = session.created_at;
        let expires_at = lifetimes.refresh_token_expiry(now, session.expires_at);
        let (secret, token) = RefreshToken::issue(session.id.clone(), now, expires_at);
        (Self { session, first_refresh_token: Some(token) }, secret)
    }
}

/// What [`SessionRepository::rotate_refresh_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now used and the new one stored; the session (live) is returned for minting.
    Rotated(Session),
    /// The token had already been rotated (or a concurrent rotation won): the caller must revoke `session_id`
    /// with [`RevokeReason::RefreshTokenReuse`]. Nothing was written.
    Reused { session_id: String },
    /// The token is past its expiry. Nothing was written.
    Expired,
    /// The token's session is revoked or expired. Nothing was written.
    SessionEnded,
    /// No such token.
    Unknown,
}

/// Sessions and refresh tokens, one aggregate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with its first refresh token, if it has one: both or neither. Fails with
    /// `Conflict(Id)` when the id (or the token's hash) is taken, `NotFound` when the user does not exist.
    async fn create(&self, session: &Session, first_refresh_token: Option<RefreshToken>) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<Session>, RepoError>;
    /// The user's sessions that are neither revoked nor expired at `now`, most recently active first.
    async fn list_active_for_user(&self, user_id: &UserId, now: Timestamp) -> Result<Vec<Session>, RepoError>;
    /// Ends the session at `now`. Revoking an already revoked session keeps its first time and reason;
    /// `NotFound` when there is no such session.
    async fn revoke(&self, id: &str, reason: RevokeReason, now: Timestamp) -> Result<(), RepoError>;
    /// Ends the sessions `ids` at `now` and writes `entry` in the same transaction, so that a revocation someone
    /// asked for is never done unlogged. Sessions already ended keep their first time and reason; unknown ids are
    /// skipped.
    async fn revoke_logged(
        &self,
        ids: &[String],
        reason: RevokeReason,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), RepoError>;
    /// Ends every unrevoked session of the user and returns how many it ended.
    async fn revoke_all_for_user(
        &self,
        user_id: &UserId,
        reason: RevokeReason,
        now: Timestamp,
    ) -> Result<u64, RepoError>;
    /// Records activity on an unrevoked session; `NotFound` when it is absent or revoked.
    async fn touch(&self, id: &str, now: Timestamp) -> Result<(), RepoError>;
    async fn find_refresh_token(&self, token_hash: &SecretHash) -> Result<Option<RefreshToken>, RepoError>;
    /// Atomically marks the token `old_hash` used (only if it was unused, unexpired and its session live) and
    /// stores `new_hash` for the same session, expiring at `new_expires_at`. Of two concurrent rotations of one
    /// token exactly one gets `Rotated`; the other gets `Reused`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &SecretHash,
        new_hash: &SecretHash,
        new_expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<Rotation, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(
            "s".repeat(21),
            UserId::parse("abcdefghijkl").unwrap(),
            "client".to_owned(),
            Timestamp::from_secs(100),
            Timestamp::from_secs(200),
        )
    }

    #[test]
    fn a_session_is_active_until_its_expiry_or_revocation() {
        let mut session = session();
        assert!(session.is_active(Timestamp::from_secs(199)));
        assert!(!session.is_active(Timestamp::from_secs(200)));
        session.revoked_at = Some(Timestamp::from_secs(150));
        assert!(!session.is_active(Timestamp::from_secs(160)));
    }

    #[test]
    fn origins_are_cut_to_the_stored_lengths() {
        let long = "x".repeat(USER_AGENT_MAX_CHARS + 10);
        let session = session().with_origin(Some(&long), Some("203.0.113.7"));
        assert_eq!(session.user_agent.unwrap().chars().count(), USER_AGENT_MAX_CHARS);
        assert_eq!(session.ip.as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn revoke_reasons_round_trip_through_their_stored_names() {
        for reason in RevokeReason::ALL {
            assert_eq!(RevokeReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(RevokeReason::parse("other"), None);
    }

    #[test]
    fn issued_refresh_tokens_are_stored_by_hash_with_enough_entropy() {
        let (secret, token) = RefreshToken::issue("s".repeat(21), Timestamp::from_secs(1), Timestamp::from_secs(2));
        assert!(secret.expose().len() >= 43);
        assert!(token.token_hash.matches(secret.expose()));
        assert_eq!(token.used_at, None);
    }
}
