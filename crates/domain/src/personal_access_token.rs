//! Personal access tokens: `pat_…` values that a user (or an admin for them) creates and exchanges for access
//! tokens. Unlike Logto, the value is stored only as a hash and shown once; tokens may carry scopes and record when
//! they were last used.

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::RepoError;
use crate::secrets::{
    OpaqueSecret, PERSONAL_ACCESS_TOKEN_LENGTH, PERSONAL_ACCESS_TOKEN_PREFIX, SecretHash, generate_secret,
};

/// Longest name (Logto's column size).
pub const NAME_MAX_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalAccessToken {
    /// 21-character entity id; access tokens minted from the PAT name it, so its revocation reaches them.
    pub id: String,
    pub user_id: UserId,
    /// Unique per user; Logto's API addresses a PAT by user and name.
    pub name: String,
    pub value_hash: SecretHash,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    /// `None`: never expires (as Logto).
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl PersonalAccessToken {
    /// A fresh token, in clear (to show once) and as stored.
    pub fn issue(
        id: String,
        user_id: UserId,
        name: String,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> (OpaqueSecret, PersonalAccessToken) {
        let value = generate_secret(PERSONAL_ACCESS_TOKEN_PREFIX, PERSONAL_ACCESS_TOKEN_LENGTH);
        let token = PersonalAccessToken {
            id,
            user_id,
            name,
            value_hash: value.hash(),
            scopes: Vec::new(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        (value, token)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }

    /// Whether the token may be exchanged at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && !self.is_expired(now)
    }
}

/// Personal access tokens, one aggregate. Creating, renaming and deleting a token store `audit` (which names the
/// token, never its value) in the same transaction as the change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PersonalAccessTokenRepository: Send + Sync {
    /// Fails with `Conflict(Name)` when the user already has a token of that name (user and name are the token's key
    /// in Logto's API), `NotFound` when the user does not exist.
    async fn create(&self, token: &PersonalAccessToken, audit: &AuditEntry) -> Result<(), RepoError>;
    /// Every token of the user (revoked and expired ones included), oldest first.
    async fn list_for_user(&self, user_id: &UserId) -> Result<Vec<PersonalAccessToken>, RepoError>;
    async fn find_by_value_hash(&self, value_hash: &SecretHash) -> Result<Option<PersonalAccessToken>, RepoError>;
    /// `NotFound` when the user has no token named `current_name`, `Conflict(Name)` when `new_name` is taken.
    async fn rename(
        &self,
        user_id: &UserId,
        current_name: &str,
        new_name: &str,
        audit: &AuditEntry,
    ) -> Result<(), RepoError>;
    /// `NotFound` when the user has no token of that name.
    async fn delete(&self, user_id: &UserId, name: &str, audit: &AuditEntry) -> Result<(), RepoError>;
    /// Records a use at `now` (`NotFound` when the token is gone).
    async fn mark_used(&self, id: &str, now: Timestamp) -> Result<(), RepoError>;
    /// Revokes every unrevoked token of the user and returns how many.
    async fn revoke_all_for_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_have_logtos_shape_and_are_stored_by_hash() {
        let (value, token) = PersonalAccessToken::issue(
            "p".repeat(21),
            UserId::parse("abcdefghijkl").unwrap(),
            "ci".to_owned(),
            Timestamp::from_secs(1),
            None,
        );
        assert!(value.expose().starts_with("pat_"));
        assert_eq!(value.expose().len(), 36);
        assert!(token.value_hash.matches(value.expose()));
    }

    #[test]
    fn a_token_is_usable_until_it_expires_or_is_revoked() {
        let (_, mut token) = PersonalAccessToken::issue(
            "p".repeat(21),
            UserId::parse("abcdefghijkl").unwrap(),
            "ci".to_owned(),
            Timestamp::from_secs(1),
            Some(Timestamp::from_secs(10)),
        );
        assert!(token.is_usable(Timestamp::from_secs(9)));
        assert!(!token.is_usable(Timestamp::from_secs(10)));
        token.expires_at = None;
        assert!(token.is_usable(Timestamp::from_secs(1_000_000)));
        token.revoked_at = Some(Timestamp::from_secs(5));
        assert!(!token.is_usable(Timestamp::from_secs(6)));
    }
}
