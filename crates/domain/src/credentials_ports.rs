//! The revocation state that the token verifier reads on every request: one cheap look-up per token, by primary
//! key, answering whether the session (or PAT) and its user still allow the token. It is read from the database
//! each time, so a revocation made on one instance is seen by every instance on the next request.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::RepoError;

/// A session and its user, as the token verifier needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub user_id: UserId,
    pub revoked: bool,
    /// Past the session's expiry at the `now` asked about.
    pub expired: bool,
    pub user_exists: bool,
    pub user_suspended: bool,
}

impl SessionState {
    /// Whether tokens of this session may still be honoured.
    pub fn allows_tokens(&self) -> bool {
        !self.revoked && !self.expired && self.user_exists && !self.user_suspended
    }
}

/// A personal access token and its user, as the token verifier needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatState {
    pub user_id: UserId,
    pub revoked: bool,
    pub expired: bool,
    pub user_exists: bool,
    pub user_suspended: bool,
}

impl PatState {
    pub fn allows_tokens(&self) -> bool {
        !self.revoked && !self.expired && self.user_exists && !self.user_suspended
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenStateRepository: Send + Sync {
    /// One query joining the session and its user; `None` when the session does not exist.
    async fn session_state(&self, session_id: &str, now: Timestamp) -> Result<Option<SessionState>, RepoError>;
    /// One query joining the PAT and its user; `None` when the PAT does not exist (deleted).
    async fn pat_state(&self, pat_id: &str, now: Timestamp) -> Result<Option<PatState>, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_of_revocation_expiry_deletion_or_suspension_refuses_tokens() {
        let live = SessionState {
            user_id: UserId::parse("abcdefghijkl").unwrap(),
            revoked: false,
            expired: false,
            user_exists: true,
            user_suspended: false,
        };
        assert!(live.allows_tokens());
        assert!(!SessionState { revoked: true, ..live.clone() }.allows_tokens());
        assert!(!SessionState { expired: true, ..live.clone() }.allows_tokens());
        assert!(!SessionState { user_exists: false, ..live.clone() }.allows_tokens());
        assert!(!SessionState { user_suspended: true, ..live }.allows_tokens());
    }
}
