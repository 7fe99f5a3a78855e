//! The wire shapes of `/api/users`: the user as Logto returns it, and the bodies it accepts. Identifier values are
//! checked here, field by field, so that a bad value is answered as Logto's guard does (400
//! `guard.invalid_input` naming the key path).

use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::password::{PasswordAlgorithm, PlainPassword, StoredPassword};
use latchkey_domain::service::{NewPassword, NewUser, UserPatch};
use latchkey_domain::user::{CustomData, LogtoConfig, LogtoConfigChange, Profile, limits};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Logto's longest accepted password digest.
const PASSWORD_DIGEST_MAX_CHARS: usize = 256;

/// A user as the Management API returns it: the domain's view, which user events carry too.
pub use latchkey_domain::user::view::UserView as UserBody;

/// `POST /api/users`. Unknown keys (a client-supplied `id` among them) are ignored, as Logto does.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserBody {
    pub username: Option<String>,
    pub primary_email: Option<String>,
    pub primary_phone: Option<String>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub password: Option<String>,
    /// An imported hash, with `passwordAlgorithm`.
    pub password_digest: Option<String>,
    /// `Argon2i`, `Argon2id`, `Argon2d`, `SHA1`, `SHA256`, `MD5`, `Bcrypt` or `Legacy`.
    pub password_algorithm: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Value>,
}

impl CreateUserBody {
    pub fn into_new_user(self) -> Result<NewUser, ApiError> {
        let password = match (self.password, self.password_digest, self.password_algorithm) {
            (Some(_), Some(_), _) => return Err(ApiError::PasswordAndDigest),
            (Some(password), None, _) => Some(NewPassword::Plain(PlainPassword::new(password))),
            (None, Some(_), None) => return Err(ApiError::PasswordAlgorithmRequired),
            (None, Some(digest), Some(algorithm)) => {
                if digest.chars().count() > PASSWORD_DIGEST_MAX_CHARS {
                    return Err(ApiError::InvalidField("passwordDigest"));
                }
                let algorithm =
                    PasswordAlgorithm::from_wire_name(&algorithm).ok_or(ApiError::InvalidField("passwordAlgorithm"))?;
                Some(NewPassword::Imported(StoredPassword { algorithm, digest }))
            }
            (None, None, _) => None,
        };
        Ok(NewUser {
            username: self.username.as_deref().map(username).transpose()?,
            primary_email: self.primary_email.as_deref().map(email).transpose()?,
            primary_phone: self.primary_phone.as_deref().map(phone).transpose()?,
            name: self.name.map(|name| bounded("name", name, limits::NAME_MAX_CHARS)).transpose()?,
            avatar: self.avatar.map(|avatar| bounded("avatar", avatar, limits::AVATAR_MAX_CHARS)).transpose()?,
            profile: self.profile.map(profile).transpose()?.unwrap_or_default(),
            custom_data: self.custom_data.map(custom_data).transpose()?.unwrap_or_default(),
            password,
        })
    }
}

/// `PATCH /api/users/:id`. An absent key leaves the field alone; `null` (or `""` for identifiers, name and
/// avatar, as Logto accepts) clears it. `customData` and `profile` replace the stored objects.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchUserBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub primary_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub primary_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Value>,
}

impl PatchUserBody {
    pub fn into_patch(self) -> Result<UserPatch, ApiError> {
        Ok(UserPatch {
            username: clearable(self.username, username)?,
            primary_email: clearable(self.primary_email, email)?,
            primary_phone: clearable(self.primary_phone, phone)?,
            name: clearable(self.name, |name| bounded("name", name.to_owned(), limits::NAME_MAX_CHARS))?,
            avatar: clearable(self.avatar, |avatar| bounded("avatar", avatar.to_owned(), limits::AVATAR_MAX_CHARS))?,
            custom_data: self.custom_data.map(custom_data).transpose()?,
            profile: self.profile.map(profile).transpose()?,
        })
    }
}

/// `{"customData": {…}}` of `PATCH /users/:id/custom-data`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomDataBody {
    #[schema(value_type = Object)]
    pub custom_data: Value,
}

/// `{"profile": {…}}` of `PATCH /users/:id/profile`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    #[schema(value_type = Object)]
    pub profile: Value,
}

/// `{"password": "…"}`.
#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    pub password: String,
}

impl std::fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordBody { .. }")
    }
}

/// `{"isSuspended": bool}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspensionBody {
    pub is_suspended: bool,
}

/// `{"hasPassword": bool}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HasPasswordBody {
    pub has_password: bool,
}

/// `GET`/`PATCH /users/:id/logto-configs` as Logto returns them: `{mfa: {enabled?, skipped, skipMfaOnSignIn},
/// passkeySignIn: {skipped}}`. The stored `additionalBindingSuggestionSkipped` can be written but is not returned,
/// as in Logto's OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogtoConfigBody {
    pub mfa: MfaConfigBody,
    pub passkey_sign_in: PasskeySignInBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaConfigBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub skipped: bool,
    pub skip_mfa_on_sign_in: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeySignInBody {
    pub skipped: bool,
}

impl LogtoConfigBody {
    pub fn new(config: &LogtoConfig) -> Self {
        Self {
            mfa: MfaConfigBody {
                enabled: config.mfa.enabled,
                skipped: config.mfa.skipped,
                skip_mfa_on_sign_in: config.mfa.skip_mfa_on_sign_in,
            },
            passkey_sign_in: PasskeySignInBody { skipped: config.passkey_sign_in.skipped },
        }
    }
}

/// `PATCH /users/:id/logto-configs`: each given switch replaces the stored one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogtoConfigPatch {
    pub mfa: Option<MfaConfigPatch>,
    pub passkey_sign_in: Option<PasskeySignInPatch>,
}

impl LogtoConfigPatch {
    /// The change it asks for, in the domain's terms.
    pub fn change(&self) -> LogtoConfigChange {
        let mfa = self.mfa.as_ref();
        LogtoConfigChange {
            mfa_enabled: mfa.and_then(|mfa| mfa.enabled),
            mfa_skipped: mfa.and_then(|mfa| mfa.skipped),
            skip_mfa_on_sign_in: mfa.and_then(|mfa| mfa.skip_mfa_on_sign_in),
            additional_binding_suggestion_skipped: mfa.and_then(|mfa| mfa.additional_binding_suggestion_skipped),
            passkey_sign_in_skipped: self.passkey_sign_in.as_ref().and_then(|passkey| passkey.skipped),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaConfigPatch {
    pub enabled: Option<bool>,
    pub skipped: Option<bool>,
    pub skip_mfa_on_sign_in: Option<bool>,
    pub additional_binding_suggestion_skipped: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeySignInPatch {
    pub skipped: Option<bool>,
}

/// `Some(value)` whenever the key is present, `null` included, so that `Option<Option<_>>` tells absent from null.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An absent field stays absent; `null` and `""` clear; anything else must parse.
fn clearable<T>(
    field: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, ApiError>,
) -> Result<Option<Option<T>>, ApiError> {
    match field {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(value)) if value.is_empty() => Ok(Some(None)),
        Some(Some(value)) => parse(&value).map(|parsed| Some(Some(parsed))),
    }
}

fn username(value: &str) -> Result<Username, ApiError> {
    Username::parse(value).map_err(|_| ApiError::InvalidField("username"))
}

fn email(value: &str) -> Result<Email, ApiError> {
    Email::parse(value).map_err(|_| ApiError::InvalidField("primaryEmail"))
}

fn phone(value: &str) -> Result<Phone, ApiError> {
    Phone::parse(value).map_err(|_| ApiError::InvalidField("primaryPhone"))
}

fn bounded(field: &'static str, value: String, max_chars: usize) -> Result<String, ApiError> {
    if value.chars().count() > max_chars { Err(ApiError::InvalidField(field)) } else { Ok(value) }
}

pub(crate) fn custom_data(value: Value) -> Result<CustomData, ApiError> {
    CustomData::new(value).map_err(|_| ApiError::InvalidField("customData"))
}

pub(crate) fn profile(value: Value) -> Result<Profile, ApiError> {
    let profile: Profile = serde_json::from_value(value).map_err(|_| ApiError::InvalidField("profile"))?;
    profile.validate().map_err(|_| ApiError::InvalidField("profile"))?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn create(body: Value) -> Result<NewUser, ApiError> {
        serde_json::from_value::<CreateUserBody>(body).unwrap().into_new_user()
    }

    fn invalid_field(result: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        match result {
            Err(ApiError::InvalidField(field)) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn identifiers_are_checked_field_by_field() {
        assert_eq!(invalid_field(create(json!({ "primaryEmail": "not-an-email" }))), "primaryEmail");
        assert_eq!(invalid_field(create(json!({ "username": "1abc" }))), "username");
        assert_eq!(invalid_field(create(json!({ "primaryPhone": "+1 (555) 123" }))), "primaryPhone");
        assert_eq!(invalid_field(create(json!({ "customData": [1] }))), "customData");
        assert!(create(json!({ "id": "ignored", "unknown": 1 })).is_ok(), "unknown keys are ignored");
    }

    #[test]
    fn a_password_and_a_digest_cannot_come_together_and_a_digest_needs_its_algorithm() {
        let both = create(json!({ "password": "x", "passwordDigest": "y", "passwordAlgorithm": "Bcrypt" }));
        assert!(matches!(both, Err(ApiError::PasswordAndDigest)));
        assert!(matches!(create(json!({ "passwordDigest": "y" })), Err(ApiError::PasswordAlgorithmRequired)));
        assert_eq!(
            invalid_field(create(json!({ "passwordDigest": "y", "passwordAlgorithm": "Rot13" }))),
            "passwordAlgorithm"
        );
        let imported =
            create(json!({ "passwordDigest": "5f4dcc3b5aa765d61d8327deb882cf99", "passwordAlgorithm": "MD5" }));
        assert!(matches!(imported.unwrap().password, Some(NewPassword::Imported(_))));
    }

    #[test]
    fn a_patch_tells_absent_from_null_and_empty_from_a_value() {
        let body: PatchUserBody =
            serde_json::from_value(json!({ "primaryPhone": null, "username": "", "name": "Ada" })).unwrap();
        let patch = body.into_patch().unwrap();
        assert_eq!(patch.primary_phone, Some(None));
        assert_eq!(patch.username, Some(None));
        assert_eq!(patch.name, Some(Some("Ada".to_owned())));
        assert!(patch.primary_email.is_none());
        assert!(patch.custom_data.is_none());
    }

    #[test]
    fn the_user_body_has_logtos_keys_in_logtos_order_and_no_secrets() {
        let user = latchkey_domain::User::new(
            latchkey_domain::UserId::parse("abcdefghijkl").unwrap(),
            latchkey_domain::Timestamp::from_millis(5),
        );
        let text = serde_json::to_string(&UserBody::new(&user)).unwrap();
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, Value>>(&text).unwrap().keys().cloned().collect();
        let order = [
            "id",
            "username",
            "primaryEmail",
            "primaryPhone",
            "name",
            "avatar",
            "customData",
            "identities",
            "lastSignInAt",
            "createdAt",
            "updatedAt",
            "profile",
            "applicationId",
            "isSuspended",
            "hasPassword",
        ];
        let mut expected: Vec<String> = order.iter().map(|key| (*key).to_owned()).collect();
        expected.sort();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        let positions: Vec<usize> = order.iter().map(|key| text.find(&format!("\"{key}\"")).unwrap()).collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    }
}
