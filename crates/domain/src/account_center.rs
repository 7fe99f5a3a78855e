//! Account-center settings: whether the Account API is on at all, and per field whether end users may not see it
//! (`Off`), see it (`ReadOnly`) or change it (`Edit`). Shape and defaults as Logto's `account_centers` row.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ports::RepoError;
use crate::user::Version;

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
            json!({ "enabled": false, "fields": {}, "webauthnRelatedOrigins": [], "deleteAccountUrl": null })
        );
    }
}
