//! The user aggregate: identifiers, profile, custom data, social identities, MFA factors, password, suspension,
//! timestamps and a version for optimistic concurrency.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::identifiers::{Email, Phone, Username};
use crate::ids::UserId;
use crate::mfa::MfaFactor;
use crate::password::StoredPassword;

/// Limits of free-form fields (Logto's column sizes; custom data is bounded by us, Logto does not bound it).
pub mod view;

pub mod limits {
    pub const NAME_MAX_CHARS: usize = 128;
    pub const AVATAR_MAX_CHARS: usize = 2048;
    pub const PROFILE_FIELD_MAX_CHARS: usize = 2048;
    /// Serialized size of `customData`.
    pub const CUSTOM_DATA_MAX_BYTES: usize = 64 * 1024;
    /// Nesting depth of `customData` (objects and arrays).
    pub const CUSTOM_DATA_MAX_DEPTH: usize = 16;
}

/// Optimistic-concurrency version: bumped by every successful update. Stores refuse an update whose expected
/// version is not the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub i64);

impl Version {
    pub const INITIAL: Version = Version(1);

    #[must_use]
    pub const fn next(self) -> Version {
        Version(self.0 + 1)
    }

    /// The version an `If-Match` value names: `Some(None)` for `*` (any version), `Some(Some(v))` for the strong
    /// tag `"v"` (the first of a list), `None` for anything else (a weak or foreign tag, which cannot match).
    pub fn from_entity_tag(value: &str) -> Option<Option<Version>> {
        let value = value.trim();
        if value == "*" {
            return Some(None);
        }
        // A list names several acceptable versions; only the first is honoured, as Latchkey never sends more.
        let first = value.split(',').next().unwrap_or_default().trim();
        let version = first.strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok()?;
        Some(Some(Version(version)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: Option<Username>,
    pub primary_email: Option<Email>,
    pub primary_phone: Option<Phone>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub profile: Profile,
    pub custom_data: CustomData,
    /// Linked social identities, keyed by connector target (e.g. `github`).
    pub identities: BTreeMap<String, Identity>,
    pub logto_config: LogtoConfig,
    pub mfa_factors: Vec<MfaFactor>,
    pub password: Option<StoredPassword>,
    pub is_suspended: bool,
    pub is_password_expired: bool,
    pub application_id: Option<String>,
    pub last_sign_in_at: Option<Timestamp>,
    pub password_updated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: Version,
}

impl User {
    /// A user with nothing but an id, as `POST /api/users` with `{}` creates.
    pub fn new(id: UserId, now: Timestamp) -> Self {
        Self {
            id,
            username: None,
            primary_email: None,
            primary_phone: None,
            name: None,
            avatar: None,
            profile: Profile::default(),
            custom_data: CustomData::default(),
            identities: BTreeMap::new(),
            logto_config: LogtoConfig::default(),
            mfa_factors: Vec::new(),
            password: None,
            is_suspended: false,
            is_password_expired: false,
            application_id: None,
            last_sign_in_at: None,
            password_updated_at: None,
            created_at: now,
            updated_at: now,
            version: Version::INITIAL,
        }
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// How many ways the user has left to sign in (username, email, phone, social identities). Self-service
    /// removals must leave at least one.
    pub fn sign_in_identifier_count(&self) -> usize {
        usize::from(self.username.is_some())
            + usize::from(self.primary_email.is_some())
            + usize::from(self.primary_phone.is_some())
            + self.identities.len()
    }
}

/// Whether `target` can name a social connector (`github`, `google`, `wechat-native`…): 1 to 64 characters of
/// `[A-Za-z0-9_-]`, so that it is safe as a JSON key path everywhere.
pub fn identity_target(target: &str) -> bool {
    (1..=64).contains(&target.len())
        && target.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// A social identity linked to the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The OIDC standard claims Logto keeps in `profile` (all strings), with an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
/// Unknown claims are dropped on input, as Logto's guard strips them.
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("profile field `{field}` is longer than {max} characters")]
    FieldTooLong { field: &'static str, max: usize },
}

impl Profile {
    /// The claims of `patch` over these (Logto's shallow merge: a given `address` replaces the whole address).
    #[must_use]
    pub fn merged(&self, patch: &Profile) -> Profile {
        let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        Profile {
            family_name: pick(&patch.family_name, &self.family_name),
            given_name: pick(&patch.given_name, &self.given_name),
            middle_name: pick(&patch.middle_name, &self.middle_name),
            nickname: pick(&patch.nickname, &self.nickname),
            preferred_username: pick(&patch.preferred_username, &self.preferred_username),
            profile: pick(&patch.profile, &self.profile),
            website: pick(&patch.website, &self.website),
            gender: pick(&patch.gender, &self.gender),
            birthdate: pick(&patch.birthdate, &self.birthdate),
            zoneinfo: pick(&patch.zoneinfo, &self.zoneinfo),
            locale: pick(&patch.locale, &self.locale),
            address: patch.address.clone().or_else(|| self.address.clone()),
        }
    }

    /// Checks the length bound of every claim.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let address = self.address.clone().unwrap_or_default();
        let fields: [(&'static str, &Option<String>); 17] = [
            ("familyName", &self.family_name),
            ("givenName", &self.given_name),
            ("middleName", &self.middle_name),
            ("nickname", &self.nickname),
            ("preferredUsername", &self.preferred_username),
            ("profile", &self.profile),
            ("website", &self.website),
            ("gender", &self.gender),
            ("birthdate", &self.birthdate),
            ("zoneinfo", &self.zoneinfo),
            ("locale", &self.locale),
            ("address.formatted", &address.formatted),
            ("address.streetAddress", &address.street_address),
            ("address.locality", &address.locality),
            ("address.region", &address.region),
            ("address.postalCode", &address.postal_code),
            ("address.country", &address.country),
        ];
        for (field, value) in fields {
            if value.as_ref().is_some_and(|v| v.chars().count() > limits::PROFILE_FIELD_MAX_CHARS) {
                return Err(ProfileError::FieldTooLong { field, max: limits::PROFILE_FIELD_MAX_CHARS });
            }
        }
        Ok(())
    }
}

/// Free-form JSON object that applications attach to a user. Bounded in size and depth so that one user cannot
/// bloat the database or make parsing expensive.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CustomData(Map<String, Value>);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CustomDataError {
    #[error("customData must be a JSON object")]
    NotAnObject,
    #[error("customData is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("customData is nested deeper than {max} levels")]
    TooDeep { max: usize },
}

impl CustomData {
    pub fn new(value: Value) -> Result<Self, CustomDataError> {
        let Value::Object(map) = value else { return Err(CustomDataError::NotAnObject) };
        Self::from_map(map)
    }

    pub fn from_map(map: Map<String, Value>) -> Result<Self, CustomDataError> {
        let object = Value::Object(map);
        if depth(&object) > limits::CUSTOM_DATA_MAX_DEPTH {
            return Err(CustomDataError::TooDeep { max: limits::CUSTOM_DATA_MAX_DEPTH });
        }
        let size = serde_json::to_vec(&object).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        if size > limits::CUSTOM_DATA_MAX_BYTES {
            return Err(CustomDataError::TooLarge { max: limits::CUSTOM_DATA_MAX_BYTES });
        }
        let Value::Object(map) = object else { unreachable!("constructed as an object above") };
        Ok(Self(map))
    }

    /// Shallow merge (top-level keys of `patch` replace those here), as `PATCH /users/:id/custom-data` does.
    pub fn merged(&self, patch: Map<String, Value>) -> Result<Self, CustomDataError> {
        let mut map = self.0.clone();
        map.extend(patch);
        Self::from_map(map)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

impl<'de> Deserialize<'de> for CustomData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Per-user switches that Logto keeps in `logto_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogtoConfig {
    #[serde(default)]
    pub mfa: MfaConfig,
    #[serde(default)]
    pub passkey_sign_in: PasskeySignInConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub skipped: bool,
    #[serde(default)]
    pub skip_mfa_on_sign_in: bool,
    #[serde(default)]
    pub additional_binding_suggestion_skipped: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySignInConfig {
    #[serde(default)]
    pub skipped: bool,
}

/// A change of the switches (Logto's `PATCH …/logto-configs`): each `Some` replaces the stored value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogtoConfigChange {
    pub mfa_enabled: Option<bool>,
    pub mfa_skipped: Option<bool>,
    pub skip_mfa_on_sign_in: Option<bool>,
    pub additional_binding_suggestion_skipped: Option<bool>,
    pub passkey_sign_in_skipped: Option<bool>,
}

impl LogtoConfig {
    pub fn apply(&mut self, change: LogtoConfigChange) {
        if let Some(enabled) = change.mfa_enabled {
            self.mfa.enabled = Some(enabled);
        }
        let replace = |stored: &mut bool, given: Option<bool>| *stored = given.unwrap_or(*stored);
        replace(&mut self.mfa.skipped, change.mfa_skipped);
        replace(&mut self.mfa.skip_mfa_on_sign_in, change.skip_mfa_on_sign_in);
        replace(&mut self.mfa.additional_binding_suggestion_skipped, change.additional_binding_suggestion_skipped);
        replace(&mut self.passkey_sign_in.skipped, change.passkey_sign_in_skipped);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_logto_config_change_replaces_only_the_switches_it_names() {
        let mut config = LogtoConfig::default();
        config.mfa.skip_mfa_on_sign_in = true;
        config.apply(LogtoConfigChange {
            mfa_enabled: Some(true),
            passkey_sign_in_skipped: Some(true),
            ..Default::default()
        });
        assert_eq!(config.mfa.enabled, Some(true));
        assert!(config.mfa.skip_mfa_on_sign_in, "untouched");
        assert!(config.passkey_sign_in.skipped && !config.mfa.skipped);
        config.apply(LogtoConfigChange { skip_mfa_on_sign_in: Some(false), ..Default::default() });
        assert!(!config.mfa.skip_mfa_on_sign_in);
        assert_eq!(config.mfa.enabled, Some(true), "untouched");
    }

    #[test]
    fn custom_data_must_be_an_object() {
        assert_eq!(CustomData::new(json!([1, 2])), Err(CustomDataError::NotAnObject));
        assert_eq!(CustomData::new(json!("x")), Err(CustomDataError::NotAnObject));
    }

    #[test]
    fn oversized_custom_data_is_rejected() {
        let big = "x".repeat(limits::CUSTOM_DATA_MAX_BYTES);
        assert_eq!(
            CustomData::new(json!({ "blob": big })),
            Err(CustomDataError::TooLarge { max: limits::CUSTOM_DATA_MAX_BYTES })
        );
    }

    #[test]
    fn deeply_nested_custom_data_is_rejected() {
        let mut value = json!(1);
        for _ in 0..limits::CUSTOM_DATA_MAX_DEPTH {
            value = json!({ "a": value });
        }
        assert!(CustomData::new(value.clone()).is_ok(), "exactly the limit is allowed");
        assert_eq!(
            CustomData::new(json!({ "a": value })),
            Err(CustomDataError::TooDeep { max: limits::CUSTOM_DATA_MAX_DEPTH })
        );
    }

    #[test]
    fn merging_custom_data_replaces_top_level_keys_only() {
        let data = CustomData::new(json!({ "plan": "free", "prefs": { "theme": "dark" } })).unwrap();
        let Value::Object(patch) = json!({ "plan": "pro" }) else { unreachable!() };
        let merged = data.merged(patch).unwrap();
        assert_eq!(merged.into_value(), json!({ "plan": "pro", "prefs": { "theme": "dark" } }));
    }

    #[test]
    fn deserializing_custom_data_enforces_the_bounds() {
        let result: Result<CustomData, _> = serde_json::from_str("[1]");
        assert!(result.is_err());
    }

    #[test]
    fn profile_drops_unknown_claims_and_rejects_overlong_values() {
        let parsed: Profile = serde_json::from_value(json!({ "shoeSize": "44", "nickname": "bo" })).unwrap();
        assert_eq!(parsed, Profile { nickname: Some("bo".into()), ..Profile::default() });
        let profile = Profile { nickname: Some("n".repeat(limits::PROFILE_FIELD_MAX_CHARS + 1)), ..Profile::default() };
        assert_eq!(
            profile.validate(),
            Err(ProfileError::FieldTooLong { field: "nickname", max: limits::PROFILE_FIELD_MAX_CHARS })
        );
    }

    #[test]
    fn merging_a_profile_keeps_claims_the_patch_leaves_out() {
        let stored = Profile { nickname: Some("bo".into()), locale: Some("en".into()), ..Profile::default() };
        let patch = Profile { locale: Some("fr".into()), ..Profile::default() };
        assert_eq!(
            stored.merged(&patch),
            Profile { nickname: Some("bo".into()), locale: Some("fr".into()), ..Profile::default() }
        );
    }

    #[test]
    fn sign_in_identifiers_count_social_identities() {
        let mut user = User::new(UserId::parse("abcdefghijkl").unwrap(), Timestamp::from_millis(0));
        assert_eq!(user.sign_in_identifier_count(), 0);
        user.identities.insert("github".into(), Identity { user_id: "42".into(), details: None });
        assert_eq!(user.sign_in_identifier_count(), 1);
    }

    #[test]
    fn versions_increase() {
        assert_eq!(Version::INITIAL.next(), Version(2));
    }
}
