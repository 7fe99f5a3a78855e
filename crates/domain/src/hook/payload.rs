//! Which changes are hook events, and the JSON body Logto sends for each kind of event, so that receivers written
//! for Logto read Latchkey's deliveries unchanged.
//!
//! - Data events (`User.Created`, `User.Data.Updated`, …): `{hookId, event, createdAt, userAgent, ip,
//!   applicationId, data}`, `data` being the entity after the change (before it, for a deletion).
//! - Interaction events (`PostSignIn`): `{hookId, event, interactionEvent, createdAt, sessionId, userAgent,
//!   userId, userIp, user, application}`.
//! - Exception events (`Identifier.Lockout`): `{hookId, event, createdAt, userAgent, ip, applicationId, type,
//!   value}`, naming the identifier that was locked.

use serde_json::{Map, Value, json};

use crate::audit::{AuditContext, keys};
use crate::clock::Timestamp;
use crate::hook::HookEvent;

/// The hook event an audit entry stands for, if any. Every change to a user's data (profile, identifiers,
/// password, MFA factors, social identities) is `User.Data.Updated`, as Logto fires it for each of those routes.
pub fn event_of(audit_key: &str) -> Option<HookEvent> {
    Some(match audit_key {
        keys::USER_CREATED => HookEvent::USER_CREATED,
        keys::USER_DATA_UPDATED
        | keys::USER_PASSWORD_UPDATED
        | keys::USER_MFA_UPDATED
        | keys::USER_IDENTITIES_UPDATED => HookEvent::USER_DATA_UPDATED,
        keys::USER_SUSPENSION_UPDATED => HookEvent::USER_SUSPENSION_STATUS_UPDATED,
        keys::USER_DELETED => HookEvent::USER_DELETED,
        keys::USER_SIGNED_IN => HookEvent::POST_SIGN_IN,
        keys::ROLE_CREATED => HookEvent::ROLE_CREATED,
        keys::ROLE_DATA_UPDATED => HookEvent::ROLE_DATA_UPDATED,
        keys::ROLE_DELETED => HookEvent::ROLE_DELETED,
        _ => return None,
    })
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// A data event's entity, as the Management API shows it (a `UserView` for user events).
    Entity(Value),
    /// A completed sign-in: the user as the Management API shows it, and the client's `{id, type, name,
    /// description}` when known.
    SignIn { user: Value, application: Option<Value> },
    /// An identifier blocked by the sentinel: its type (`username`, `email`, `phone`) and value.
    Lockout { identifier_type: &'static str, value: String },
}

/// Everything a payload is built from, except the hook it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEventOccurrence {
    pub event: HookEvent,
    pub context: AuditContext,
    /// The user the event is about, if any.
    pub user_id: Option<String>,
    pub data: EventData,
    pub created_at: Timestamp,
}

impl HookEventOccurrence {
    /// The body delivered to `hook_id`, serialized once: the signature is computed over these exact bytes.
    pub fn payload_for(&self, hook_id: &str) -> String {
        let mut body = Map::new();
        body.insert("hookId".into(), json!(hook_id));
        body.insert("event".into(), json!(self.event.as_str()));
        if self.event.is_interaction() {
            body.insert("interactionEvent".into(), json!("SignIn"));
        }
        body.insert("createdAt".into(), json!(self.created_at.to_iso8601()));
        let context = &self.context;
        insert_some(&mut body, "userAgent", context.user_agent.as_deref());
        match &self.data {
            EventData::SignIn { user, application } => {
                insert_some(&mut body, "userId", self.user_id.as_deref());
                insert_some(&mut body, "userIp", context.ip.as_deref());
                insert_some(&mut body, "applicationId", context.application_id.as_deref());
                body.insert("user".into(), user.clone());
                if let Some(application) = application {
                    body.insert("application".into(), application.clone());
                }
            }
            EventData::Entity(data) => {
                insert_some(&mut body, "ip", context.ip.as_deref());
                insert_some(&mut body, "applicationId", context.application_id.as_deref());
                body.insert("data".into(), data.clone());
            }
            EventData::Lockout { identifier_type, value } => {
                insert_some(&mut body, "ip", context.ip.as_deref());
                insert_some(&mut body, "applicationId", context.application_id.as_deref());
                body.insert("type".into(), json!(identifier_type));
                body.insert("value".into(), json!(value));
            }
        }
        Value::Object(body).to_string()
    }
}

fn insert_some(body: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        body.insert(key.to_owned(), json!(value));
    }
}

/// The payloads `POST /api/hooks/:id/test` sends: one per event, with made-up data of the event's kind, as Logto's
/// test payloads.
pub fn test_payload(hook_id: &str, event: &HookEvent, now: Timestamp) -> String {
    let fake_user = json!({
        "id": "fake-id",
        "username": "fake-user",
        "primaryEmail": "fake-user@fake-service.com",
        "primaryPhone": "1234567890",
        "name": "Fake User",
        "avatar": "https://fake-service.com/avatars/fake-user.png",
        "customData": {"theme": "light"},
        "identities": {},
        "lastSignInAt": now.as_millis(),
        "createdAt": now.as_millis(),
        "updatedAt": now.as_millis(),
        "profile": {},
        "applicationId": "fake-application-id",
        "isSuspended": false,
        "hasPassword": true,
    });
    let data = if event.is_interaction() {
        EventData::SignIn {
            user: fake_user,
            application: Some(json!({
                "id": "fake-spa-application-id",
                "type": "SPA",
                "name": "Fake Application",
                "description": "Fake application data for testing",
            })),
        }
    } else if *event == HookEvent::IDENTIFIER_LOCKOUT {
        EventData::Lockout { identifier_type: "email", value: "fake-user@fake-service.com".into() }
    } else {
        EventData::Entity(fake_user)
    };
    let context = AuditContext::system().with_origin(Some("fake-user-ip"), Some("fake-user-agent"));
    HookEventOccurrence { event: event.clone(), context, user_id: Some("fake-id".into()), data, created_at: now }
        .payload_for(hook_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrence(event: HookEvent, data: EventData) -> HookEventOccurrence {
        HookEventOccurrence {
            event,
            context: AuditContext::system().with_application("app1").with_origin(Some("203.0.113.9"), Some("curl/8")),
            user_id: Some("u1".into()),
            data,
            created_at: Timestamp::from_millis(1_700_000_000_000),
        }
    }

    fn parsed(payload: &str) -> Value {
        serde_json::from_str(payload).unwrap()
    }

    #[test]
    fn user_changes_map_to_logtos_user_events() {
        assert_eq!(event_of(keys::USER_CREATED), Some(HookEvent::USER_CREATED));
        for key in [
            keys::USER_DATA_UPDATED,
            keys::USER_PASSWORD_UPDATED,
            keys::USER_MFA_UPDATED,
            keys::USER_IDENTITIES_UPDATED,
        ] {
            assert_eq!(event_of(key), Some(HookEvent::USER_DATA_UPDATED), "{key}");
        }
        assert_eq!(event_of(keys::USER_SUSPENSION_UPDATED), Some(HookEvent::USER_SUSPENSION_STATUS_UPDATED));
        assert_eq!(event_of(keys::USER_DELETED), Some(HookEvent::USER_DELETED));
        assert_eq!(event_of(keys::USER_SIGNED_IN), Some(HookEvent::POST_SIGN_IN));
        assert_eq!(event_of(keys::ROLE_CREATED), Some(HookEvent::ROLE_CREATED));
        assert_eq!(event_of(keys::ROLE_DATA_UPDATED), Some(HookEvent::ROLE_DATA_UPDATED));
        assert_eq!(event_of(keys::ROLE_DELETED), Some(HookEvent::ROLE_DELETED));
        for quiet in
            [keys::USER_SESSIONS_REVOKED, keys::USER_IMPERSONATION_STARTED, keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED]
        {
            assert_eq!(event_of(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn a_data_event_carries_the_request_context_and_the_entity() {
        let payload = occurrence(HookEvent::USER_CREATED, EventData::Entity(json!({"id": "u1"}))).payload_for("h1");
        assert_eq!(
            parsed(&payload),
            json!({
                "hookId": "h1",
                "event": "User.Created",
                "createdAt": "2023-11-14T22:13:20.000Z",
                "userAgent": "curl/8",
                "ip": "203.0.113.9",
                "applicationId": "app1",
                "data": {"id": "u1"},
            })
        );
    }

    #[test]
    fn a_sign_in_carries_the_user_and_client_at_the_top_level() {
        let data = EventData::SignIn { user: json!({"id": "u1"}), application: Some(json!({"id": "app1"})) };
        let payload = parsed(&occurrence(HookEvent::POST_SIGN_IN, data).payload_for("h1"));
        assert_eq!(payload["event"], "PostSignIn");
        assert_eq!(payload["interactionEvent"], "SignIn");
        assert_eq!(payload["userId"], "u1");
        assert_eq!(payload["userIp"], "203.0.113.9");
        assert_eq!(payload["user"], json!({"id": "u1"}));
        assert_eq!(payload["application"], json!({"id": "app1"}));
        assert!(payload.get("data").is_none());
    }

    #[test]
    fn a_lockout_names_the_identifier() {
        let data = EventData::Lockout { identifier_type: "email", value: "a@example.com".into() };
        let payload = parsed(&occurrence(HookEvent::IDENTIFIER_LOCKOUT, data).payload_for("h1"));
        assert_eq!((payload["type"].as_str(), payload["value"].as_str()), (Some("email"), Some("a@example.com")));
    }

    #[test]
    fn test_payloads_have_each_kind_of_shape() {
        let now = Timestamp::from_millis(0);
        assert!(parsed(&test_payload("h", &HookEvent::POST_SIGN_IN, now))["user"].is_object());
        assert!(parsed(&test_payload("h", &HookEvent::USER_CREATED, now))["data"].is_object());
        assert_eq!(parsed(&test_payload("h", &HookEvent::IDENTIFIER_LOCKOUT, now))["type"], "email");
    }
}
