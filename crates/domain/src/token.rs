//! What an access token says about its holder, independent of the token format: the token crate turns these claims
//! into signed facts and back. Plain data, so policies can be tested without minting anything.

use crate::clock::Timestamp;
use crate::ids::UserId;

/// The OIDC scope every Account API token needs (Logto answers 403 `auth.forbidden` without it).
pub const OPENID_SCOPE: &str = "openid";

/// The scopes a user token may carry, as Logto's `UserScope` (`packages/toolkit/core-kit/src/openid.ts`) plus
/// `openid` and `offline_access`. Requested scopes outside this list are dropped, as OIDC providers do.
pub const USER_SCOPES: [&str; 10] = [
    OPENID_SCOPE,
    "offline_access",
    "profile",
    "email",
    "phone",
    "address",
    "custom_data",
    "identities",
    "roles",
    "urn:logto:scope:sessions",
];

/// What a user token gets when the client asks for no scope: Logto's SDK defaults.
pub const DEFAULT_USER_SCOPES: [&str; 3] = [OPENID_SCOPE, "offline_access", "profile"];

/// The scopes granted for a space-separated `scope` request: the known user scopes among them, in request order
/// without repeats, or [`DEFAULT_USER_SCOPES`] when the request names none. `openid` is always granted.
pub fn grant_user_scopes(requested: Option<&str>) -> Vec<String> {
    let mut granted: Vec<String> = Vec::new();
    let requested = requested.unwrap_or_default().split(' ').filter(|scope| !scope.is_empty());
    for scope in requested {
        if USER_SCOPES.contains(&scope) && !granted.iter().any(|kept| kept == scope) {
            granted.push(scope.to_owned());
        }
    }
    if granted.is_empty() {
        return DEFAULT_USER_SCOPES.iter().map(|scope| (*scope).to_owned()).collect();
    }
    if !granted.iter().any(|scope| scope == OPENID_SCOPE) {
        granted.insert(0, OPENID_SCOPE.to_owned());
    }
    granted
}

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

    #[test]
    fn granted_user_scopes_keep_known_ones_add_openid_and_default_when_none() {
        assert_eq!(grant_user_scopes(None), DEFAULT_USER_SCOPES);
        assert_eq!(grant_user_scopes(Some("  ")), DEFAULT_USER_SCOPES);
        assert_eq!(grant_user_scopes(Some("email unknown email custom_data")), ["openid", "email", "custom_data"]);
        assert_eq!(grant_user_scopes(Some("profile openid")), ["profile", "openid"]);
        assert_eq!(grant_user_scopes(Some("admin")), DEFAULT_USER_SCOPES);
    }

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
