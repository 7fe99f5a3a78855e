//! How the APIs show a user's sessions and the applications they connect the user to (Logto's `sessions` and
//! `grants` answers). The Management API and the Account API answer with these shapes.
//!
//! Logto keeps `oidc-provider` sessions and grants; Latchkey has one session per sign-in or token exchange, each for
//! one application. The shapes follow Logto's as far as that model maps: a session carries Logto's `payload`
//! (`exp`, `iat`, `jti`, `kind`, `loginTs`, `accountId`, `authorizations`), `clientId`, `accountId` and `expiresAt`,
//! plus ours (`id`, `createdAt`, `lastActiveAt`, `userAgent`, `ip`); a **grant** is the user's connection to one
//! application, made of its live sessions, and its id is the application's id.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Session;
use crate::clock::Timestamp;
use crate::ids::UserId;

/// A session in Logto's shape (an `oidc-provider` session instance), with Latchkey's own fields after.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    /// Logto's session payload: `exp`, `iat`, `loginTs` in seconds, `jti`, `kind: "Session"`, `accountId`, and
    /// `authorizations` keyed by client id.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    /// Always `null`: Latchkey keeps no interaction context.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub last_submission: Option<Value>,
    pub client_id: String,
    pub account_id: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch (a Latchkey extension).
    pub created_at: i64,
    /// Milliseconds since the epoch (a Latchkey extension).
    pub last_active_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token that asked (Account API only; absent from admin answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_current: Option<bool>,
}

impl SessionView {
    pub fn new(session: &Session) -> Self {
        let account_id = session.user_id.as_str().to_owned();
        let payload = json!({
            "exp": session.expires_at.as_secs(),
            "iat": session.created_at.as_secs(),
            "jti": session.id,
            "uid": session.id,
            "kind": "Session",
            "loginTs": session.created_at.as_secs(),
            "accountId": account_id,
            "authorizations": { session.client_id.as_str(): { "grantId": session.client_id, "sid": session.id } },
        });
        Self {
            id: session.id.clone(),
            payload,
            last_submission: None,
            client_id: session.client_id.clone(),
            account_id,
            expires_at: session.expires_at.as_millis(),
            created_at: session.created_at.as_millis(),
            last_active_at: session.last_active_at.as_millis(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            is_current: None,
        }
    }

    /// The view as the holder of `current_session_id` sees it: `isCurrent` says whether it is their own session.
    pub fn seen_from(mut self, current_session_id: Option<&str>) -> Self {
        self.is_current = Some(current_session_id == Some(self.id.as_str()));
        self
    }
}

/// The application a grant connects the user to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantApplication {
    pub id: String,
    /// `null` when the application no longer exists.
    pub name: Option<String>,
}

/// A grant in Logto's shape: the user's connection to one application.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    /// The application's id.
    pub id: String,
    /// Logto's grant payload: `exp`, `iat` in seconds, `jti`, `kind: "Grant"`, `clientId`, `accountId`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    /// Milliseconds since the epoch: when the application's last session ends.
    pub expires_at: i64,
    pub application: GrantApplication,
    /// The ids of the live sessions the grant is made of (a Latchkey extension).
    pub session_ids: Vec<String>,
}

impl GrantView {
    /// The grant of `user_id` to the application `client_id`, made of its live `sessions` (at least one).
    pub fn new(user_id: &UserId, client_id: &str, sessions: &[&Session], name: Option<String>) -> Self {
        let issued_at = sessions.iter().map(|session| session.created_at).min().unwrap_or(Timestamp::from_millis(0));
        let expires_at = sessions.iter().map(|session| session.expires_at).max().unwrap_or(issued_at);
        Self {
            id: client_id.to_owned(),
            payload: json!({
                "exp": expires_at.as_secs(),
                "iat": issued_at.as_secs(),
                "jti": client_id,
                "kind": "Grant",
                "clientId": client_id,
                "accountId": user_id.as_str(),
            }),
            expires_at: expires_at.as_millis(),
            application: GrantApplication { id: client_id.to_owned(), name },
            session_ids: sessions.iter().map(|session| session.id.clone()).collect(),
        }
    }
}

/// `GET …/sessions`' answer in both APIs: `{sessions}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `GET …/grants`' answer in both APIs: `{grants}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}

/// `GET …/grants`' query in both APIs: Logto's `appType` (`firstParty` or `thirdParty`), absent for all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantsQuery {
    #[serde(default)]
    pub app_type: Option<GrantAudience>,
}

/// Which applications' grants to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantAudience {
    FirstParty,
    ThirdParty,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, client: &str, created: i64, expires: i64) -> Session {
        let user = UserId::parse("abcdefghijkl").unwrap();
        Session::new(
            id.to_owned(),
            user,
            client.to_owned(),
            Timestamp::from_secs(created),
            Timestamp::from_secs(expires),
        )
    }

    #[test]
    fn a_session_shows_logtos_payload_and_ours_and_marks_the_callers_own() {
        let view = SessionView::new(&session("s1", "app", 100, 200));
        let body = serde_json::to_value(&view).unwrap();
        assert_eq!(body["payload"]["exp"], 200);
        assert_eq!(body["payload"]["loginTs"], 100);
        assert_eq!(body["payload"]["kind"], "Session");
        assert_eq!(body["payload"]["authorizations"]["app"], json!({"grantId": "app", "sid": "s1"}));
        assert_eq!(body["expiresAt"], 200_000);
        assert_eq!(body["accountId"], "abcdefghijkl");
        assert!(body.get("isCurrent").is_none(), "admins' answers carry no isCurrent");
        assert_eq!(view.clone().seen_from(Some("s1")).is_current, Some(true));
        assert_eq!(view.clone().seen_from(Some("s2")).is_current, Some(false));
        assert_eq!(view.seen_from(None).is_current, Some(false));
    }

    #[test]
    fn a_grant_spans_its_sessions() {
        let (early, late) = (session("s1", "app", 100, 300), session("s2", "app", 150, 500));
        let user = UserId::parse("abcdefghijkl").unwrap();
        let grant = GrantView::new(&user, "app", &[&early, &late], Some("App".to_owned()));
        assert_eq!(grant.payload["iat"], 100);
        assert_eq!(grant.payload["exp"], 500);
        assert_eq!(grant.expires_at, 500_000);
        assert_eq!(grant.session_ids, ["s1", "s2"]);
        assert_eq!(grant.application, GrantApplication { id: "app".to_owned(), name: Some("App".to_owned()) });
    }
}
