//! The audit log: who changed what about a user, when, through which client and from where, and on whose behalf
//! when an administrator impersonated the user.
//!
//! An entry describing a change to a user is handed to the [`UserRepository`](crate::ports::UserRepository) write
//! that makes the change, which stores both in one transaction: a change without its entry, or an entry for a
//! change that was rolled back, cannot exist. Entries never hold secrets (passwords, digests, codes, token values):
//! `details` names what changed, not the new values of secret fields.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::{Page, Pagination, RepoError};

/// The event keys of the entries Latchkey writes. The user events share their names with Logto's webhook events
/// (`User.Created`, `User.Data.Updated`, `User.Deleted`, `User.SuspensionStatus.Updated`); the rest follow the
/// same pattern.
pub mod keys {
    pub const USER_CREATED: &str = "User.Created";
    pub const USER_DATA_UPDATED: &str = "User.Data.Updated";
    pub const USER_PASSWORD_UPDATED: &str = "User.Password.Updated";
    pub const USER_SUSPENSION_UPDATED: &str = "User.SuspensionStatus.Updated";
    pub const USER_DELETED: &str = "User.Deleted";
    pub const USER_RESTORED: &str = "User.Restored";
    pub const USER_MFA_UPDATED: &str = "User.Mfa.Updated";
    pub const USER_IDENTITIES_UPDATED: &str = "User.Identities.Updated";
    pub const USER_ROLES_UPDATED: &str = "User.Roles.Updated";
    pub const USER_SIGNED_IN: &str = "User.SignedIn";
    pub const USER_IMPERSONATION_STARTED: &str = "User.Impersonation.Started";
    pub const USER_SESSIONS_REVOKED: &str = "User.Sessions.Revoked";
    pub const USER_PERSONAL_ACCESS_TOKENS_UPDATED: &str = "User.PersonalAccessTokens.Updated";
    pub const ROLE_CREATED: &str = "Role.Created";
    pub const ROLE_DATA_UPDATED: &str = "Role.Data.Updated";
    pub const ROLE_DELETED: &str = "Role.Deleted";
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Actor {
    /// An application acting for itself (a Management API token from client credentials).
    Application { id: String },
    /// A user, with a token of their own or one an administrator obtained by impersonation.
    User { id: String },
    /// Someone at the server's command line.
    Operator { name: String },
    /// Latchkey itself (e.g. a sign-in's bookkeeping).
    System,
}

/// Where a request came from: the client's address and `User-Agent`, as the HTTP layer saw them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who acted, through which client and from where: the part of an entry a request gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditContext {
    pub actor: Actor,
    /// The user who impersonated the actor (the token's `act`), when the token came from impersonation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator: Option<String>,
    /// The client the request's token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl AuditContext {
    pub fn new(actor: Actor) -> Self {
        Self { actor, impersonator: None, application_id: None, ip: None, user_agent: None }
    }

    /// Latchkey's own bookkeeping, with no request behind it.
    pub fn system() -> Self {
        Self::new(Actor::System)
    }

    #[must_use]
    pub fn with_application(mut self, application_id: impl Into<String>) -> Self {
        self.application_id = Some(application_id.into());
        self
    }

    #[must_use]
    pub fn with_origin(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(|ip| truncate(ip, MAX_IP_CHARS));
        self.user_agent = user_agent.map(|agent| truncate(agent, MAX_USER_AGENT_CHARS));
        self
    }

    #[must_use]
    pub fn from_request(self, origin: &RequestOrigin) -> Self {
        self.with_origin(origin.ip.as_deref(), origin.user_agent.as_deref())
    }

    #[must_use]
    pub fn with_impersonator(mut self, impersonator: Option<&str>) -> Self {
        self.impersonator = impersonator.map(str::to_owned);
        self
    }
}

const MAX_IP_CHARS: usize = 64;
const MAX_USER_AGENT_CHARS: usize = 512;

fn truncate(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

/// Whether the logged operation succeeded (Logto's `payload.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditResult {
    Success,
    Error,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// 21 characters, as Logto's log ids.
    pub id: String,
    /// One of [`keys`].
    pub key: String,
    /// The user the entry is about.
    pub user_id: Option<UserId>,
    pub context: AuditContext,
    pub result: AuditResult,
    /// What changed (field names, factor types, role ids, a reason): never a secret.
    pub details: Map<String, Value>,
    pub created_at: Timestamp,
}

impl AuditEntry {
    /// A successful event about something other than a user (a role, say).
    pub fn of(id: String, key: &str, context: &AuditContext, details: Map<String, Value>, now: Timestamp) -> Self {
        Self {
            id,
            key: key.to_owned(),
            user_id: None,
            context: context.clone(),
            result: AuditResult::Success,
            details,
            created_at: now,
        }
    }

    /// A successful event about `user_id`.
    pub fn about(
        id: String,
        key: &str,
        user_id: &UserId,
        context: &AuditContext,
        details: Map<String, Value>,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            key: key.to_owned(),
            user_id: Some(user_id.clone()),
            context: context.clone(),
            result: AuditResult::Success,
            details,
            created_at: now,
        }
    }
}

/// Which entries `GET /api/logs` asks for (Logto's filters).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub application_id: Option<String>,
    pub key: Option<String>,
    /// Inclusive lower bound of `created_at`.
    pub since: Option<Timestamp>,
    /// Exclusive upper bound of `created_at`.
    pub until: Option<Timestamp>,
}

/// The audit log, read newest first. Entries about user changes are written by the user repository in the
/// change's own transaction; [`AuditLogRepository::append`] is for events that change nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLogRepository: Send + Sync {
    async fn append(&self, entry: &AuditEntry) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<AuditEntry>, RepoError>;
    async fn list(&self, filter: &AuditFilter, pagination: Pagination) -> Result<Page<AuditEntry>, RepoError>;
}

/// `details` from `(name, value)` pairs.
pub fn details<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

/// One entry as the APIs show it: Logto's `logs` row (without `tenantId`). The payload says who acted (`actor`, and
/// `impersonator` when an administrator acted as the user), through which client, from where, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub id: String,
    pub key: String,
    /// `key`, `result`, `userId`, `applicationId`, `ip`, `userAgent`, and ours: `actor`, `impersonator`, `details`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl LogView {
    pub fn new(entry: &AuditEntry) -> Self {
        let context = &entry.context;
        let mut payload = Map::new();
        payload.insert("key".into(), Value::String(entry.key.clone()));
        payload.insert("result".into(), serde_json::to_value(entry.result).unwrap_or(Value::Null));
        let optional = [
            ("userId", entry.user_id.as_ref().map(|id| id.as_str().to_owned())),
            ("applicationId", context.application_id.clone()),
            ("ip", context.ip.clone()),
            ("userAgent", context.user_agent.clone()),
            ("impersonator", context.impersonator.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                payload.insert(name.into(), Value::String(value));
            }
        }
        payload.insert("actor".into(), serde_json::to_value(&context.actor).unwrap_or(Value::Null));
        payload.insert("details".into(), Value::Object(entry.details.clone()));
        Self {
            id: entry.id.clone(),
            key: entry.key.clone(),
            payload: Value::Object(payload),
            created_at: entry.created_at.as_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_context_serializes_with_logtos_camel_case_and_omits_what_is_unknown() {
        let context = AuditContext::new(Actor::Application { id: "m2m".into() }).with_application("m2m");
        assert_eq!(
            serde_json::to_value(&context).unwrap(),
            json!({ "actor": { "type": "application", "id": "m2m" }, "applicationId": "m2m" })
        );
    }

    #[test]
    fn a_log_view_is_logtos_row_with_who_acted_and_what_changed() {
        let user = UserId::parse("abcdefghijkl").unwrap();
        let context = AuditContext::new(Actor::User { id: user.as_str().into() })
            .with_application("app")
            .with_origin(Some("10.0.0.1"), None)
            .with_impersonator(Some("admin-app"));
        let entry = AuditEntry::about(
            "log1".into(),
            keys::USER_DATA_UPDATED,
            &user,
            &context,
            details([("fields", json!(["name"]))]),
            Timestamp::from_millis(1_234),
        );
        let view = serde_json::to_value(LogView::new(&entry)).unwrap();
        assert_eq!(
            view,
            json!({
                "id": "log1",
                "key": "User.Data.Updated",
                "createdAt": 1_234,
                "payload": {
                    "key": "User.Data.Updated",
                    "result": "Success",
                    "userId": "abcdefghijkl",
                    "applicationId": "app",
                    "ip": "10.0.0.1",
                    "impersonator": "admin-app",
                    "actor": { "type": "user", "id": "abcdefghijkl" },
                    "details": { "fields": ["name"] },
                },
            })
        );
    }

    #[test]
    fn origins_are_cut_to_bounded_lengths() {
        let agent = "a".repeat(2_000);
        let context = AuditContext::system().with_origin(Some("127.0.0.1"), Some(&agent));
        assert_eq!(context.user_agent.map(|agent| agent.len()), Some(MAX_USER_AGENT_CHARS));
        assert_eq!(context.ip.as_deref(), Some("127.0.0.1"));
    }
}
