//! Conversions between rows and the domain `User`. Reading is fallible: a row that no longer satisfies the domain's
//! invariants (edited by hand, written by a buggy version) becomes `RepoError::Unavailable`, never a panic.

use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::password::{PasswordAlgorithm, StoredPassword};
use latchkey_domain::ports::RepoError;
use latchkey_domain::user::{CustomData, User, Version};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::entity::users;

impl TryFrom<users::Model> for User {
    type Error = RepoError;

    /// A row that cannot become a `User` is reported by id and column, never by content: a column may hold a
    /// password digest or sealed MFA secrets.
    fn try_from(row: users::Model) -> Result<Self, Self::Error> {
        let corrupt =
            |reason: String| RepoError::Unavailable(format!("stored user `{}` is unreadable: {reason}", row.id));
        let password = match (row.password_digest.clone(), row.password_algorithm.as_deref()) {
            (None, None) => None,
            (Some(digest), Some(name)) => {
                let algorithm = PasswordAlgorithm::from_wire_name(name)
                    .ok_or_else(|| corrupt(format!("unknown password algorithm `{name}`")))?;
                Some(StoredPassword { algorithm, digest })
            }
            _ => return Err(corrupt("password digest and algorithm must be set together".to_owned())),
        };
        let custom_data =
            CustomData::new(row.custom_data.clone()).map_err(|error| corrupt(format!("custom_data: {error}")))?;
        Ok(User {
            id: UserId::parse(&row.id).map_err(|error| corrupt(error.to_string()))?,
            username: optional(row.username.as_deref(), Username::parse).map_err(|error| corrupt(error.to_string()))?,
            primary_email: optional(row.primary_email.as_deref(), Email::parse)
                .map_err(|error| corrupt(error.to_string()))?,
            primary_phone: optional(row.primary_phone.as_deref(), Phone::parse)
                .map_err(|error| corrupt(error.to_string()))?,
            name: row.name.clone(),
            avatar: row.avatar.clone(),
            profile: json_column("profile", &row.profile).map_err(corrupt)?,
            custom_data,
            identities: json_column("identities", &row.identities).map_err(corrupt)?,
            logto_config: json_column("logto_config", &row.logto_config).map_err(corrupt)?,
            mfa_factors: json_column("mfa_verifications", &row.mfa_verifications).map_err(corrupt)?,
            password,
            is_suspended: row.is_suspended,
            is_password_expired: row.is_password_expired,
            application_id: row.application_id.clone(),
            last_sign_in_at: row.last_sign_in_at.map(Timestamp::from_millis),
            password_updated_at: row.password_updated_at.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
            version: Version(row.version),
        })
    }
}

impl TryFrom<&User> for users::ActiveModel {
    type Error = RepoError;

    fn try_from(user: &User) -> Result<Self, Self::Error> {
        Ok(users::ActiveModel {
            id: Set(user.id.as_str().to_owned()),
            username: Set(user.username.as_ref().map(|username| username.as_str().to_owned())),
            primary_email: Set(user.primary_email.as_ref().map(|email| email.as_str().to_owned())),
            primary_email_key: Set(user.primary_email.as_ref().map(Email::normalized)),
            primary_phone: Set(user.primary_phone.as_ref().map(|phone| phone.as_str().to_owned())),
            name: Set(user.name.clone()),
            avatar: Set(user.avatar.clone()),
            profile: Set(to_json("profile", &user.profile)?),
            custom_data: Set(user.custom_data.clone().into_value()),
            identities: Set(to_json("identities", &user.identities)?),
            logto_config: Set(to_json("logto_config", &user.logto_config)?),
            mfa_verifications: Set(to_json("mfa_verifications", &user.mfa_factors)?),
            password_digest: Set(user.password.as_ref().map(|password| password.digest.clone())),
            password_algorithm: Set(user.password.as_ref().map(|password| password.algorithm.wire_name().to_owned())),
            is_suspended: Set(user.is_suspended),
            is_password_expired: Set(user.is_password_expired),
            application_id: Set(user.application_id.clone()),
            last_sign_in_at: Set(user.last_sign_in_at.map(Timestamp::as_millis)),
            password_updated_at: Set(user.password_updated_at.map(Timestamp::as_millis)),
            created_at: Set(user.created_at.as_millis()),
            updated_at: Set(user.updated_at.as_millis()),
            version: Set(user.version.0),
        })
    }
}

fn optional<T, E>(value: Option<&str>, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    value.map(parse).transpose()
}

/// Parses a JSON column. serde's messages can quote the offending value, so only the column and the position
/// go into the error.
fn json_column<T: DeserializeOwned>(column: &str, value: &Value) -> Result<T, String> {
    T::deserialize(value)
        .map_err(|error| format!("column `{column}` does not hold the expected JSON ({:?} error)", error.classify()))
}

fn to_json<T: Serialize>(column: &str, value: &T) -> Result<Value, RepoError> {
    serde_json::to_value(value)
        .map_err(|error| RepoError::Unavailable(format!("cannot serialize `{column}`: {:?} error", error.classify())))
}

#[cfg(test)]
mod tests {
    use latchkey_domain::user::User;

    use super::*;

    fn stored_row() -> users::Model {
        let user = User::new(UserId::parse("abcdefghijkl").unwrap(), Timestamp::from_millis(1_000));
        let active = users::ActiveModel::try_from(&user).unwrap();
        users::Model {
            id: active.id.unwrap(),
            username: active.username.unwrap(),
            primary_email: active.primary_email.unwrap(),
            primary_email_key: active.primary_email_key.unwrap(),
            primary_phone: active.primary_phone.unwrap(),
            name: active.name.unwrap(),
            avatar: active.avatar.unwrap(),
            profile: active.profile.unwrap(),
            custom_data: active.custom_data.unwrap(),
            identities: active.identities.unwrap(),
            logto_config: active.logto_config.unwrap(),
            mfa_verifications: active.mfa_verifications.unwrap(),
            password_digest: active.password_digest.unwrap(),
            password_algorithm: active.password_algorithm.unwrap(),
            is_suspended: active.is_suspended.unwrap(),
            is_password_expired: active.is_password_expired.unwrap(),
            application_id: active.application_id.unwrap(),
            last_sign_in_at: active.last_sign_in_at.unwrap(),
            password_updated_at: active.password_updated_at.unwrap(),
            created_at: active.created_at.unwrap(),
            updated_at: active.updated_at.unwrap(),
            version: active.version.unwrap(),
        }
    }

    #[test]
    fn a_fresh_user_survives_the_row_round_trip() {
        let user = User::try_from(stored_row()).unwrap();
        assert_eq!(user, User::new(UserId::parse("abcdefghijkl").unwrap(), Timestamp::from_millis(1_000)));
    }

    #[test]
    fn a_row_with_a_malformed_json_column_is_reported_without_its_content() {
        let mut row = stored_row();
        row.mfa_verifications = serde_json::json!([{ "secret": "top-secret-value" }]);
        let error = User::try_from(row).unwrap_err();
        let RepoError::Unavailable(message) = error else { panic!("expected Unavailable, got {error:?}") };
        assert!(message.contains("mfa_verifications"), "{message}");
        assert!(!message.contains("top-secret-value"), "{message}");
    }

    #[test]
    fn a_digest_without_an_algorithm_is_corrupt() {
        let mut row = stored_row();
        row.password_digest = Some("$argon2id$...".to_owned());
        assert!(User::try_from(row).is_err());
    }

    #[test]
    fn an_unknown_password_algorithm_is_corrupt() {
        let mut row = stored_row();
        row.password_digest = Some("x".to_owned());
        row.password_algorithm = Some("Rot13".to_owned());
        assert!(User::try_from(row).is_err());
    }

    #[test]
    fn the_email_key_is_the_lower_cased_email() {
        let mut user = User::new(UserId::parse("abcdefghijkl").unwrap(), Timestamp::from_millis(1_000));
        user.primary_email = Some(Email::parse("Bob@Example.COM").unwrap());
        let active = users::ActiveModel::try_from(&user).unwrap();
        assert_eq!(active.primary_email.unwrap().as_deref(), Some("Bob@Example.COM"));
        assert_eq!(active.primary_email_key.unwrap().as_deref(), Some("bob@example.com"));
    }
}
