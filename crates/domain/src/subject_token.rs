//! Subject tokens (Logto's impersonation tokens): a `sub_…` value that an admin creates for a user and an app
//! exchanges, once and within 600 seconds, for an access token acting as that user.

use async_trait::async_trait;
use serde_json::Value;

use crate::audit::AuditEntry;
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::RepoError;
use crate::secrets::{OpaqueSecret, SUBJECT_TOKEN_LENGTH, SUBJECT_TOKEN_PREFIX, SecretHash, generate_secret};

/// Lifetime of a subject token (Logto's constant).
pub const SUBJECT_TOKEN_TTL_SECS: i64 = 600;

#[derive(Debug, Clone, PartialEq)]
pub struct SubjectToken {
    /// The hash of the `sub_…` value: the token's identity in storage.
    pub token_hash: SecretHash,
    pub user_id: UserId,
    /// Free JSON that the creator attaches (Logto passes it to custom-claims scripts).
    pub context: Value,
    /// Who created the token (an application or user id), for audit.
    pub creator_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
}

impl SubjectToken {
    /// A fresh token valid for [`SUBJECT_TOKEN_TTL_SECS`], in clear (to hand out once) and as stored.
    pub fn issue(user_id: UserId, context: Value, creator_id: String, now: Timestamp) -> (OpaqueSecret, SubjectToken) {
        let value = generate_secret(SUBJECT_TOKEN_PREFIX, SUBJECT_TOKEN_LENGTH);
        let token = SubjectToken {
            token_hash: value.hash(),
            user_id,
            context,
            creator_id,
            created_at: now,
            expires_at: now.plus_secs(SUBJECT_TOKEN_TTL_SECS),
            consumed_at: None,
        };
        (value, token)
    }
}

/// What [`SubjectTokenRepository::consume`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Consumption {
    /// The token was live and is now consumed; it is returned with `consumed_at` set.
    Consumed(SubjectToken),
    AlreadyConsumed,
    Expired,
    Unknown,
}

/// Subject tokens, one aggregate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubjectTokenRepository: Send + Sync {
    /// Stores the token and `audit` (the impersonation's entry) in one transaction; `NotFound` when the user does
    /// not exist.
    async fn insert(&self, token: &SubjectToken, audit: &AuditEntry) -> Result<(), RepoError>;
    /// Consumes the token atomically: of two concurrent calls, at most one gets `Consumed`.
    async fn consume(&self, token_hash: &SecretHash, now: Timestamp) -> Result<Consumption, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_have_logtos_shape_and_live_600_seconds() {
        let now = Timestamp::from_secs(1_000);
        let (value, token) = SubjectToken::issue(
            UserId::parse("abcdefghijkl").unwrap(),
            serde_json::json!({"reason": "support"}),
            "admin-app".to_owned(),
            now,
        );
        assert!(value.expose().starts_with("sub_"));
        assert_eq!(value.expose().len(), 25);
        assert!(token.token_hash.matches(value.expose()));
        assert_eq!(token.expires_at, Timestamp::from_secs(1_600));
    }
}
