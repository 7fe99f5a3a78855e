//! The Account API's part of the OpenAPI document (`GET /api/swagger.json`): `GET /api/my-account` and the
//! sign-in API, which is a Latchkey extension (its operations carry `x-latchkey-extension: true`).
//!
//! The two schemas below describe JSON the handlers build field by field (the account view depends on scopes and
//! settings; the MFA challenge is an error's `data`), so no Rust type of that shape exists to derive them from.
//! They are never constructed: documentation only.
#![allow(dead_code)]

use latchkey_auth::openapi::SecuritySchemes;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::{account, account_data, identities, mfa, my_account, passkeys, sessions, sign_in};

/// The Account API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    AccountApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(
        my_account::get_my_account,
        account::update_account,
        account_data::delete_account,
        account_data::export_account,
        account::update_profile,
        account::set_password,
        account::set_primary_email,
        account::remove_primary_email,
        account::set_primary_phone,
        account::remove_primary_phone,
        account::verify_password,
        account::send_code,
        account::verify_code,
        mfa::get_mfa_settings,
        mfa::update_mfa_settings,
        mfa::get_logto_configs,
        mfa::update_logto_configs,
        mfa::list_mfa_verifications,
        mfa::bind_mfa_verification,
        mfa::replace_totp,
        mfa::generate_totp_secret,
        mfa::generate_backup_codes,
        mfa::get_backup_codes,
        mfa::remove_mfa_verification,
        passkeys::start_registration,
        passkeys::verify_registration,
        passkeys::rename_passkey,
        sessions::list_sessions,
        sessions::revoke_session,
        sessions::list_grants,
        sessions::revoke_grant,
        sessions::list_logs,
        identities::start_social_verification,
        identities::verify_social_verification,
        identities::link_identity,
        identities::replace_identity,
        identities::unlink_identity,
        identities::get_identity_access_token,
        sign_in::sign_in,
        sign_in::verify_mfa,
        sign_in::send_verification_code,
        sign_in::sign_out,
    ),
    components(schemas(MfaRequiredData)),
    tags(
        (name = "Account", description = "The Account API: an end user manages their own account with an Account \
            API token (`openid` scope required)."),
        (name = "Sign-in", description = "Latchkey extension (not in Logto): redirect-free sign-in for first-party \
            applications, the MFA step and sign-out. Every operation is marked `x-latchkey-extension: true`."),
    ),
    modifiers(&SecuritySchemes),
)]
struct AccountApiDoc;

/// `GET /api/my-account`: each field is present only when the token's scopes reach it and the account center does
/// not have it `Off` (`profile` → name, avatar, username, profile, timestamps, suspension, `hasPassword`; `email`,
/// `phone`, `custom_data`, `identities` → the field of that name; `address` → `profile.address`).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    id: String,
    username: Option<String>,
    primary_email: Option<String>,
    primary_phone: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    identities: Option<Value>,
    /// Milliseconds since the epoch, as are the other timestamps.
    last_sign_in_at: Option<i64>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
    #[schema(value_type = Option<Object>)]
    profile: Option<Value>,
    application_id: Option<String>,
    is_suspended: Option<bool>,
    has_password: Option<bool>,
    /// Whether sensitive changes can ask for a verification record (a password, email or phone is set).
    has_security_verification_method: bool,
}

/// The `data` of a 403 `session.mfa.require_mfa_verification` from `POST /api/sign-in`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaRequiredData {
    /// Send it to `POST /api/sign-in/mfa`.
    mfa_token: String,
    /// Logto's factor names: `Totp`, `BackupCode`, `WebAuthn`.
    available_factors: Vec<String>,
    /// Milliseconds since the epoch.
    expires_at: i64,
}

/// One of the caller's MFA factors, without its secret (`GET /api/my-account/mfa-verifications`): TOTP `{id,
/// createdAt, type}`; WebAuthn adds `lastUsedAt`, `agent` and `name`; backup codes add `remainCodes`. Times are
/// ISO-8601 strings, as in Logto.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaVerificationView {
    id: String,
    created_at: String,
    last_used_at: Option<String>,
    /// `Totp`, `WebAuthn` or `BackupCode`.
    #[serde(rename = "type")]
    factor_type: String,
    agent: Option<String>,
    name: Option<String>,
    remain_codes: Option<u32>,
}

/// `GET /api/my-account/mfa-verifications/backup-codes`: every code of the set in clear.
#[derive(Debug, ToSchema)]
pub struct BackupCodesView {
    codes: Vec<BackupCodeEntry>,
}

/// One backup code and when it was used (ISO 8601; absent while unused).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodeEntry {
    code: String,
    used_at: Option<String>,
}
