//! What an access token says about its holder, independent of the token format: the token crate turns these claims
//! into signed facts and back. Plain data, so policies can be tested without minting anything.

use crate::clock::Timestamp;
use crate::ids::UserId;

/// Who the token speaks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An end user, signed in through an application.
    User(UserId),
    /// A machine-to-machine application acting on its own behalf; holds the application's client id.
    Application(String),
}

/// Which API the token is meant for (OAuth's `aud`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The Account API (`/api/my-account`, `/api/verifications`): a token requested without `resource`.
    Account,
    /// A resource indicator, such as the Management API's `<endpoint>/api`.
    Resource(String),
}

/// The claims of one access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    pub subject: Subject,
    /// The application the token was issued to.
    pub client_id: String,
    pub audience: Audience,
    pub scopes: Vec<String>,
    /// The sign-in session the token derives from, so that revoking the session revokes the token.
    pub session_id: Option<String>,
    /// A unique id of this token (OAuth's `jti`).
    pub token_id: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// The id of the user impersonating the subject (Logto's `act.sub`).
    pub actor: Option<String>,
    /// The id of the personal access token this token was exchanged from.
    pub personal_access_token: Option<String>,
}

impl AccessClaims {
    /// Claims with no scopes, session, actor or personal access token; add them with the `with_*` methods.
    pub fn new(
        subject: Subject,
        client_id: impl Into<String>,
        audience: Audience,
        token_id: impl Into<String>,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            subject,
            client_id: client_id.into(),
            audience,
            scopes: Vec::new(),
            session_id: None,
            token_id: token_id.into(),
            issued_at,
            expires_at,
            actor: None,
            personal_access_token: None,
        }
    }

    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn with_personal_access_token(mut self, pat_id: impl Into<String>) -> Self {
        self.personal_access_token = Some(pat_id.into());
        self
    }

    /// The user the token speaks for, if it speaks for a user.
    pub fn user_id(&self) -> Option<&UserId> {
        match &self.subject {
            Subject::User(user) => Some(user),
            Subject::Application(_) => None,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// A token is valid up to, and not including, its expiry instant.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Seconds from `now` until expiry (OAuth's `expires_in`), never negative.
    pub fn expires_in_secs(&self, now: Timestamp) -> i64 {
        (self.expires_at.as_secs() - now.as_secs()).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_claims() -> AccessClaims {
        AccessClaims::new(
            Subject::User(UserId::parse("abcdefghijkl").unwrap()),
            "client",
            Audience::Account,
            "token-1",
            Timestamp::from_secs(1_000),
            Timestamp::from_secs(4_600),
        )
    }

    #[test]
    fn a_token_is_valid_until_just_before_its_expiry() {
        let claims = user_claims();
        assert!(!claims.is_expired_at(Timestamp::from_millis(4_599_999)));
        assert!(claims.is_expired_at(Timestamp::from_secs(4_600)));
    }

    #[test]
    fn expires_in_counts_remaining_seconds_and_stops_at_zero() {
        let claims = user_claims();
        assert_eq!(claims.expires_in_secs(Timestamp::from_secs(1_000)), 3_600);
        assert_eq!(claims.expires_in_secs(Timestamp::from_secs(9_000)), 0);
    }

    #[test]
    fn only_user_subjects_have_a_user_id() {
        assert_eq!(user_claims().user_id().map(UserId::as_str), Some("abcdefghijkl"));
        let mut application = user_claims();
        application.subject = Subject::Application("m2m-app".into());
        assert_eq!(application.user_id(), None);
    }

    #[test]
    fn scopes_match_exactly_and_not_by_prefix() {
        let claims = user_claims().with_scopes(["profile", "all"]);
        assert!(claims.has_scope("all"));
        assert!(!claims.has_scope("prof"));
        assert!(!user_claims().has_scope("all"));
    }

    #[test]
    fn the_with_methods_fill_the_optional_claims() {
        let claims = user_claims().with_session("s1").with_actor("admin").with_personal_access_token("pat1");
        assert_eq!(claims.session_id.as_deref(), Some("s1"));
        assert_eq!(claims.actor.as_deref(), Some("admin"));
        assert_eq!(claims.personal_access_token.as_deref(), Some("pat1"));
    }
}
