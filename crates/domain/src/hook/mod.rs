//! Webhooks ("hooks" in Logto): an administrator registers a URL for some events; every such event is written to
//! an outbox in the transaction of the change that caused it and delivered at least once, signed with the hook's
//! key. See `docs/webhooks.md`.
//!
//! - [`Hook`], [`HookEvent`], [`HookConfig`] and the [`HookRepository`] port: Logto's `hooks` table and guards.
//! - [`delivery`]: one delivery of one event to one hook, the [`delivery::DeliveryOutbox`] port and the retry rule.
//! - [`payload`]: which audit entries are hook events, and the JSON body Logto sends for them.
//! - [`signature`] — `logto-signature-sha-256`.
//! - [`target`]: which addresses a hook may be delivered to.

pub mod delivery;
pub mod payload;
pub mod signature;
pub mod target;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::ports::{Page, Pagination, RepoError};

/// Logto's limit on a hook's name (`varchar(256)`).
pub const MAX_NAME_CHARS: usize = 256;
/// Bounds on what a hook's configuration may hold, so that one hook cannot make every delivery huge.
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_HEADERS: usize = 32;
pub const MAX_HEADER_CHARS: usize = 4096;
/// Logto's deprecated `config.retries` accepts 0 to 3.
pub const MAX_CONFIG_RETRIES: u8 = 3;

/// The events a hook may subscribe to: Logto's `hookEvents`, less the adaptive-MFA event Logto only accepts with
/// its development features on. Latchkey fires the ones in [`HookEvent::FIRED`]; the others are accepted so that
/// a Logto configuration can be loaded unchanged, and never fire.
pub const REGISTRABLE_EVENTS: &[&str] = &[
    "PostRegister",
    "PostSignIn",
    "PostResetPassword",
    "User.Created",
    "User.Deleted",
    "User.Data.Updated",
    "User.SuspensionStatus.Updated",
    "Role.Created",
    "Role.Deleted",
    "Role.Data.Updated",
    "Role.Scopes.Updated",
    "Scope.Created",
    "Scope.Deleted",
    "Scope.Data.Updated",
    "Organization.Created",
    "Organization.Deleted",
    "Organization.Data.Updated",
    "Organization.Membership.Updated",
    "OrganizationRole.Created",
    "OrganizationRole.Deleted",
    "OrganizationRole.Data.Updated",
    "OrganizationRole.Scopes.Updated",
    "OrganizationScope.Created",
    "OrganizationScope.Deleted",
    "OrganizationScope.Data.Updated",
    "Identifier.Lockout",
    "Message.RateLimited",
];

/// What the log keys of deliveries start with (Logto's `TriggerHook.<event>`).
const LOG_KEY_PREFIX: &str = "TriggerHook.";

/// One of [`REGISTRABLE_EVENTS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct HookEvent(&'static str);

// By hand: a derived `Deserialize` would borrow the `'static` name from the input.
impl<'de> Deserialize<'de> for HookEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::try_from(name).map_err(serde::de::Error::custom)
    }
}

impl HookEvent {
    pub const USER_CREATED: Self = Self("User.Created");
    pub const USER_DELETED: Self = Self("User.Deleted");
    pub const USER_DATA_UPDATED: Self = Self("User.Data.Updated");
    pub const USER_SUSPENSION_STATUS_UPDATED: Self = Self("User.SuspensionStatus.Updated");
    pub const ROLE_CREATED: Self = Self("Role.Created");
    pub const ROLE_DELETED: Self = Self("Role.Deleted");
    pub const ROLE_DATA_UPDATED: Self = Self("Role.Data.Updated");
    pub const POST_SIGN_IN: Self = Self("PostSignIn");
    pub const IDENTIFIER_LOCKOUT: Self = Self("Identifier.Lockout");

    /// The events Latchkey fires.
    pub const FIRED: &'static [Self] = &[
        Self::USER_CREATED,
        Self::USER_DELETED,
        Self::USER_DATA_UPDATED,
        Self::USER_SUSPENSION_STATUS_UPDATED,
        Self::ROLE_CREATED,
        Self::ROLE_DELETED,
        Self::ROLE_DATA_UPDATED,
        Self::POST_SIGN_IN,
        Self::IDENTIFIER_LOCKOUT,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        REGISTRABLE_EVENTS.iter().find(|known| **known == name).map(|known| Self(known))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Interaction events (`PostSignIn`, …) carry the user and the client at the top level of the payload; the
    /// others carry the changed entity in `data`.
    pub fn is_interaction(&self) -> bool {
        matches!(self.0, "PostRegister" | "PostSignIn" | "PostResetPassword")
    }

    /// The key of the delivery's log entry (Logto's `TriggerHook.<event>`).
    pub fn log_key(&self) -> String {
        format!("{LOG_KEY_PREFIX}{}", self.0)
    }

    /// The event a delivery log key names, if any: the inverse of [`HookEvent::log_key`].
    pub fn from_log_key(log_key: &str) -> Option<Self> {
        log_key.strip_prefix(LOG_KEY_PREFIX).and_then(Self::parse)
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl TryFrom<String> for HookEvent {
    type Error = InvalidHook;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or(InvalidHook::Event(value))
    }
}

impl From<HookEvent> for String {
    fn from(event: HookEvent) -> Self {
        event.0.to_owned()
    }
}

/// Where and how a hook is delivered (Logto's `HookConfig`): always `POST`, with extra headers.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookConfig {
    pub url: String,
    /// Sent with every delivery. They may hold the receiver's credentials: never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Logto's deprecated retry count, kept for its clients; Latchkey's retry rule is the server's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u8>,
}

// Header values and the URL's path and query may carry the receiver's credentials: only the host and the header
// names are printed.
impl std::fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = url::Url::parse(&self.url).ok().and_then(|url| url.host_str().map(str::to_owned));
        let header_names: Vec<&String> = self.headers.iter().flat_map(|headers| headers.keys()).collect();
        f.debug_struct("HookConfig")
            .field("host", &host)
            .field("header_names", &header_names)
            .field("retries", &self.retries)
            .finish()
    }
}

/// Headers a hook's configuration may not set: they are the delivery's own or would change its framing.
const RESERVED_HEADERS: &[&str] = &[
    signature::SIGNATURE_HEADER,
    delivery::DELIVERY_ID_HEADER,
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

impl HookConfig {
    /// An absolute `http` or `https` URL with a host, no user-info, and well-formed headers. Whether the host's
    /// addresses may be reached is decided at delivery time ([`target`]), when they are resolved.
    pub fn validate(&self) -> Result<(), InvalidHook> {
        if self.url.chars().count() > MAX_URL_CHARS {
            return Err(InvalidHook::Url);
        }
        let url = url::Url::parse(&self.url).map_err(|_| InvalidHook::Url)?;
        let has_credentials = !url.username().is_empty() || url.password().is_some();
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || has_credentials {
            return Err(InvalidHook::Url);
        }
        if self.retries.is_some_and(|retries| retries > MAX_CONFIG_RETRIES) {
            return Err(InvalidHook::Retries);
        }
        let headers = self.headers.iter().flatten();
        if self.headers.as_ref().is_some_and(|headers| headers.len() > MAX_HEADERS) {
            return Err(InvalidHook::Headers);
        }
        for (name, value) in headers {
            let token = !name.is_empty()
                && name.bytes().all(|byte| byte.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&byte));
            let printable = value.chars().all(|c| c == '\t' || (' '..='~').contains(&c));
            let reserved = RESERVED_HEADERS.iter().any(|reserved| reserved.eq_ignore_ascii_case(name));
            if !token || !printable || reserved || name.len() + value.len() > MAX_HEADER_CHARS {
                return Err(InvalidHook::Headers);
            }
        }
        Ok(())
    }
}

/// A registered webhook (Logto's `hooks` row, without the tenant).
#[derive(Clone, PartialEq, Eq)]
pub struct Hook {
    /// 21 characters.
    pub id: String,
    pub name: String,
    /// Logto's deprecated single event; new hooks use `events`.
    pub event: Option<HookEvent>,
    pub events: Vec<HookEvent>,
    pub config: HookConfig,
    /// The HMAC key of `logto-signature-sha-256`, shown to administrators (Logto returns it with the hook).
    pub signing_key: String,
    pub enabled: bool,
    pub created_at: Timestamp,
}

// The signing key and the configured headers are credentials: never printed.
impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl Hook {
    /// Whether this hook wants `event`: enabled, and `event` among its `events` (or, for hooks made before
    /// `events` existed, its single `event`), as Logto decides.
    pub fn wants(&self, event: &HookEvent) -> bool {
        self.enabled
            && if self.events.is_empty() { self.event.as_ref() == Some(event) } else { self.events.contains(event) }
    }

    pub fn validate(&self) -> Result<(), InvalidHook> {
        if self.name.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidHook::Name);
        }
        if self.events.is_empty() && self.event.is_none() {
            return Err(InvalidHook::MissingEvents);
        }
        self.config.validate()
    }
}

/// A new random signing key: 32 characters of `[0-9a-zA-Z]` (Logto's `generateStandardSecret`).
pub fn generate_signing_key() -> String {
    crate::ids::random_string(crate::ids::ALPHANUMERIC, 32)
}

/// Keeps the first occurrence of each event, in order (Logto deduplicates `events`).
pub fn deduplicate(events: Vec<HookEvent>) -> Vec<HookEvent> {
    let mut seen = std::collections::BTreeSet::new();
    events.into_iter().filter(|event| seen.insert(event.clone())).collect()
}

/// Why a hook's fields are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidHook {
    #[error("a hook name is at most {MAX_NAME_CHARS} characters")]
    Name,
    #[error("`{0}` is not a hook event")]
    Event(String),
    #[error("a hook needs at least one event")]
    MissingEvents,
    #[error("the hook URL must be an absolute http or https URL without credentials")]
    Url,
    #[error("`config.retries` is 0 to {MAX_CONFIG_RETRIES}")]
    Retries,
    #[error("hook headers must be at most {MAX_HEADERS} well-formed headers, none of the delivery's own")]
    Headers,
}

/// Registered hooks. Deleting a hook deletes its deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HookRepository: Send + Sync {
    async fn insert(&self, hook: &Hook) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<Hook>, RepoError>;
    /// Replaces the stored hook with the same id; `NotFound` when there is none.
    async fn update(&self, hook: &Hook) -> Result<(), RepoError>;
    /// `NotFound` when there is none.
    async fn delete(&self, id: &str) -> Result<(), RepoError>;
    /// Oldest first; every hook when `pagination` is `None` (Logto's optional pagination).
    async fn list(&self, pagination: Option<Pagination>) -> Result<Page<Hook>, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> HookConfig {
        HookConfig { url: url.to_owned(), headers: None, retries: None }
    }

    fn hook(events: &[&str], event: Option<&str>, enabled: bool) -> Hook {
        Hook {
            id: "h".into(),
            name: "n".into(),
            event: event.and_then(HookEvent::parse),
            events: events.iter().filter_map(|name| HookEvent::parse(name)).collect(),
            config: config("https://example.com/hook"),
            signing_key: generate_signing_key(),
            enabled,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn events_are_logtos_names_and_nothing_else() {
        assert_eq!(HookEvent::parse("User.Created"), Some(HookEvent::USER_CREATED));
        assert_eq!(HookEvent::parse("user.created"), None);
        assert_eq!(HookEvent::parse("PostSignInAdaptiveMfaTriggered"), None);
        assert!(HookEvent::FIRED.iter().all(|event| REGISTRABLE_EVENTS.contains(&event.as_str())));
        assert_eq!(HookEvent::from_log_key(&HookEvent::USER_CREATED.log_key()), Some(HookEvent::USER_CREATED));
        assert_eq!(HookEvent::from_log_key("User.Created"), None);
        let parsed: Result<Vec<HookEvent>, _> = serde_json::from_str(r#"["PostSignIn","Nope"]"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn a_hook_wants_its_events_only_while_enabled_and_falls_back_to_the_single_event() {
        assert!(hook(&["User.Created"], None, true).wants(&HookEvent::USER_CREATED));
        assert!(!hook(&["User.Created"], None, false).wants(&HookEvent::USER_CREATED));
        assert!(!hook(&["User.Created"], None, true).wants(&HookEvent::USER_DELETED));
        assert!(hook(&[], Some("PostSignIn"), true).wants(&HookEvent::POST_SIGN_IN));
        // `events`, when present, wins over the deprecated `event`.
        assert!(!hook(&["User.Created"], Some("PostSignIn"), true).wants(&HookEvent::POST_SIGN_IN));
    }

    #[test]
    fn a_hook_needs_an_event_and_a_plain_http_url() {
        assert_eq!(hook(&[], None, true).validate(), Err(InvalidHook::MissingEvents));
        for bad in ["ftp://example.com/", "/relative", "https://user:pw@example.com/", "not a url", "http://"] {
            assert_eq!(config(bad).validate(), Err(InvalidHook::Url), "{bad}");
        }
        assert_eq!(config("http://127.0.0.1:8080/hook").validate(), Ok(()));
        let too_many_retries = HookConfig { retries: Some(4), ..config("https://example.com/") };
        assert_eq!(too_many_retries.validate(), Err(InvalidHook::Retries));
    }

    #[test]
    fn configured_headers_cannot_forge_the_signature_or_break_framing() {
        for (name, value) in
            [("logto-signature-sha-256", "x"), ("Content-Length", "1"), ("bad name", "x"), ("x-ok", "line\r\nbreak")]
        {
            let headers = BTreeMap::from([(name.to_owned(), value.to_owned())]);
            let config = HookConfig { headers: Some(headers), ..config("https://example.com/") };
            assert_eq!(config.validate(), Err(InvalidHook::Headers), "{name}: {value:?}");
        }
        let headers = BTreeMap::from([("Authorization".to_owned(), "Bearer abc".to_owned())]);
        assert_eq!(HookConfig { headers: Some(headers), ..config("https://example.com/") }.validate(), Ok(()));
    }

    #[test]
    fn signing_keys_are_fresh_and_never_printed() {
        let hook = hook(&["User.Created"], None, true);
        assert_eq!(hook.signing_key.len(), 32);
        assert_ne!(generate_signing_key(), generate_signing_key());
        assert!(!format!("{hook:?}").contains(&hook.signing_key));
    }

    #[test]
    fn a_printed_config_shows_neither_header_values_nor_the_url_path() {
        let headers = BTreeMap::from([("Authorization".to_owned(), "Bearer s3cret".to_owned())]);
        let config =
            HookConfig { url: "https://r.example/hook?token=t0ken".into(), headers: Some(headers), retries: None };
        let printed = format!("{config:?}");
        assert!(printed.contains("r.example") && printed.contains("Authorization"), "{printed}");
        assert!(!printed.contains("s3cret") && !printed.contains("t0ken"), "{printed}");
    }

    #[test]
    fn duplicate_events_collapse_in_order() {
        let events = ["User.Deleted", "User.Created", "User.Deleted"].map(|name| HookEvent::parse(name).unwrap());
        assert_eq!(deduplicate(events.to_vec()), vec![HookEvent::USER_DELETED, HookEvent::USER_CREATED]);
    }
}
