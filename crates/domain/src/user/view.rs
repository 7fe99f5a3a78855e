//! The user as Logto shows it to administrators and webhooks: the Management API's answer and the `data` of
//! user events.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::user::{Identity, User};

/// A user with Logto's keys in Logto's order. Secrets (password digest, MFA secrets) are never part of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// 12 characters of `[0-9a-z]`.
    pub id: String,
    pub username: Option<String>,
    pub primary_email: Option<String>,
    pub primary_phone: Option<String>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_data: Value,
    /// Linked social identities by connector target.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub identities: Value,
    /// Milliseconds since the epoch.
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub profile: Value,
    pub application_id: Option<String>,
    pub is_suspended: bool,
    pub has_password: bool,
}

impl UserView {
    pub fn new(user: &User) -> Self {
        Self {
            id: user.id.as_str().to_owned(),
            username: user.username.as_ref().map(|username| username.as_str().to_owned()),
            primary_email: user.primary_email.as_ref().map(|email| email.as_str().to_owned()),
            primary_phone: user.primary_phone.as_ref().map(|phone| phone.as_str().to_owned()),
            name: user.name.clone(),
            avatar: user.avatar.clone(),
            custom_data: user.custom_data.clone().into_value(),
            identities: identities(user),
            last_sign_in_at: user.last_sign_in_at.map(|at| at.as_millis()),
            created_at: user.created_at.as_millis(),
            updated_at: user.updated_at.as_millis(),
            profile: serde_json::to_value(&user.profile).unwrap_or_else(|_| Value::Object(Map::new())),
            application_id: user.application_id.clone(),
            is_suspended: user.is_suspended,
            has_password: user.has_password(),
        }
    }
}

fn identities(user: &User) -> Value {
    let map: Map<String, Value> =
        user.identities.iter().map(|(target, identity)| (target.clone(), identity_value(identity))).collect();
    Value::Object(map)
}

/// One linked identity as Logto shows it (`{userId, details?}`).
pub fn identity_value(identity: &Identity) -> Value {
    serde_json::to_value(identity).unwrap_or(Value::Null)
}
