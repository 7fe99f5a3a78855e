//! Account-center settings: whether the Account API is on at all, and per field whether end users may not see it
//! (`Off`), see it (`ReadOnly`) or change it (`Edit`). Shape and defaults as Logto's `account_centers` row.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ports::RepoError;
use crate::user::Version;

/// Logto's bound on `deleteAccountUrl` (`varchar(2048)`).
pub const MAX_DELETE_ACCOUNT_URL_LENGTH: usize = 2048;

/// Access to one field of the account through the Account API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FieldAccess {
    #[default]
    Off,
    ReadOnly,
    Edit,
}

impl FieldAccess {
    pub fn can_read(self) -> bool {
        matches!(self, FieldAccess::ReadOnly | FieldAccess::Edit)
    }

    pub fn can_edit(self) -> bool {
        self == FieldAccess::Edit
    }
}

/// The fields an admin can switch. Absent means `Off`; `passkey` falls back to `mfa` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountField {
    Name,
    Avatar,
    Profile,
    Email,
    Phone,
    Password,
    Username,
    Social,
    CustomData,
    Mfa,
    Passkey,
    Session,
    TrustedDevice,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCenterFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<FieldAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_device: Option<FieldAccess>,
}

/// Logto's OSS seed: disabled, no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCenterSettings {
    pub enabled: bool,
    #[serde(default)]
    pub fields: AccountCenterFields,
    #[serde(default)]
    pub webauthn_related_origins: Vec<String>,
    #[serde(default)]
    pub delete_account_url: Option<String>,
    /// CSS for the prebuilt account-center page.
    #[serde(default)]
    pub custom_css: Option<String>,
    /// The custom profile fields the prebuilt page shows, in order; `None` until configured.
    #[serde(default)]
    pub profile_fields: Option<Vec<ProfileField>>,
}

/// One entry of `profileFields`: a custom profile field, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileField {
    pub name: String,
}

/// A setting that Logto's guard would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountCenterError {
    #[error("deleteAccountUrl must be at most 2048 characters")]
    DeleteAccountUrlTooLong,
    #[error("deleteAccountUrl must be a valid http(s) URL")]
    DeleteAccountUrlInvalid,
}

/// Checks a `deleteAccountUrl` as Logto does: at most 2048 characters, an absolute http(s) URL, or `""`, which
/// clears it (`None`).
pub fn parse_delete_account_url(value: &str) -> Result<Option<String>, AccountCenterError> {
    use validator::ValidateUrl;

    if value.chars().count() > MAX_DELETE_ACCOUNT_URL_LENGTH {
        return Err(AccountCenterError::DeleteAccountUrlTooLong);
    }
    if value.is_empty() {
        return Ok(None);
    }
    let http = value.starts_with("https://") || value.starts_with("http://");
    if !http || !value.validate_url() {
        return Err(AccountCenterError::DeleteAccountUrlInvalid);
    }
    Ok(Some(value.to_owned()))
}

/// The origins with repeats removed, first occurrence kept (Logto's `deduplicate`).
pub fn deduplicate_origins(origins: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    origins.into_iter().filter(|origin| seen.insert(origin.clone())).collect()
}

impl AccountCenterSettings {
    /// The effective access to `field`: absent is `Off`, an absent `passkey` follows `mfa`.
    pub fn access(&self, field: AccountField) -> FieldAccess {
        let fields = &self.fields;
        let configured = match field {
            AccountField::Name => fields.name,
            AccountField::Avatar => fields.avatar,
            AccountField::Profile => fields.profile,
            AccountField::Email => fields.email,
            AccountField::Phone => fields.phone,
            AccountField::Password => fields.password,
            AccountField::Username => fields.username,
            AccountField::Social => fields.social,
            AccountField::CustomData => fields.custom_data,
            AccountField::Mfa => fields.mfa,
            AccountField::Passkey => fields.passkey.or(fields.mfa),
            AccountField::Session => fields.session,
            AccountField::TrustedDevice => fields.trusted_device,
        };
        configured.unwrap_or_default()
    }
}

/// The settings and their version, for optimistic concurrency on updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedSettings {
    pub settings: AccountCenterSettings,
    /// [`Version::INITIAL`] for the never-saved defaults.
    pub version: Version,
}

/// The one account-center row of the deployment.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountCenterRepository: Send + Sync {
    /// The stored settings, or Logto's defaults (disabled, no fields) when none were ever saved.
    async fn get(&self) -> Result<VersionedSettings, RepoError>;
    /// Saves `settings` if the stored version is still `expected` and returns the new version; `Conflict(Version)`
    /// when someone saved in between.
    async fn save(
        &self,
        settings: &AccountCenterSettings,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, RepoError>;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_fields_are_off() {
        let settings = AccountCenterSettings { enabled: true, ..Default::default() };
        assert_eq!(settings.access(AccountField::Email), FieldAccess::Off);
    }

    #[test]
    fn passkey_falls_back_to_mfa_only_when_absent() {
        let mut settings: AccountCenterSettings =
            serde_json::from_value(json!({ "enabled": true, "fields": { "mfa": "Edit" } })).unwrap();
        assert_eq!(settings.access(AccountField::Passkey), FieldAccess::Edit);
        settings.fields.passkey = Some(FieldAccess::ReadOnly);
        assert_eq!(settings.access(AccountField::Passkey), FieldAccess::ReadOnly);
    }

    #[test]
    fn read_and_edit_follow_the_access_level() {
        assert!(!FieldAccess::Off.can_read());
        assert!(FieldAccess::ReadOnly.can_read() && !FieldAccess::ReadOnly.can_edit());
        assert!(FieldAccess::Edit.can_read() && FieldAccess::Edit.can_edit());
    }

    #[test]
    fn the_default_is_logtos_oss_seed() {
        let value = serde_json::to_value(AccountCenterSettings::default()).unwrap();
        assert_eq!(
            value,
            json!({
                "enabled": false,
                "fields": {},
                "webauthnRelatedOrigins": [],
                "deleteAccountUrl": null,
                "customCss": null,
                "profileFields": null
            })
        );
    }

    #[test]
    fn settings_saved_before_the_newer_fields_still_read() {
        let stored = json!({ "enabled": true, "fields": { "email": "Edit" }, "webauthnRelatedOrigins": [] });
        let settings: AccountCenterSettings = serde_json::from_value(stored).unwrap();
        assert_eq!(settings.custom_css, None);
        assert_eq!(settings.profile_fields, None);
        assert_eq!(settings.access(AccountField::Email), FieldAccess::Edit);
    }

    #[test]
    fn a_delete_account_url_is_an_http_url_of_at_most_2048_characters_or_empty() {
        assert_eq!(parse_delete_account_url(""), Ok(None));
        let url = "https://example.com/delete?me=1";
        assert_eq!(parse_delete_account_url(url), Ok(Some(url.to_owned())));
        assert_eq!(parse_delete_account_url("http://localhost:3000/x"), Ok(Some("http://localhost:3000/x".into())));
        for refused in ["ftp://example.com/x", "example.com/delete", "https://", "javascript:alert(1)", "https://a b"] {
            assert_eq!(
                parse_delete_account_url(refused),
                Err(AccountCenterError::DeleteAccountUrlInvalid),
                "{refused}"
            );
        }
        let longest = format!("https://example.com/{}", "a".repeat(MAX_DELETE_ACCOUNT_URL_LENGTH - 20));
        assert_eq!(longest.len(), MAX_DELETE_ACCOUNT_URL_LENGTH);
        assert!(parse_delete_account_url(&longest).is_ok());
        assert_eq!(parse_delete_account_url(&format!("{longest}a")), Err(AccountCenterError::DeleteAccountUrlTooLong));
    }

    #[test]
    fn repeated_origins_are_kept_once_in_their_first_position() {
        let origins = ["https://b.example", "https://a.example", "https://b.example"].map(String::from).to_vec();
        assert_eq!(deduplicate_origins(origins), ["https://b.example", "https://a.example"]);
    }
}
