//! The revocation port. Tokens are self-contained, but Latchkey revokes them immediately: on every request the
//! verified principal is checked against the state of its session, user and personal access token.

use async_trait::async_trait;
use thiserror::Error;

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
