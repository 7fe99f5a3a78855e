//! The Account API's MFA routes (logto-reference §1, §5): `GET`/`PATCH /api/my-account/mfa-settings`,
//! `GET`/`PATCH …/logto-configs`, and `…/mfa-verifications`: list, generate a TOTP secret or backup codes (nothing
//! stored), bind, replace the TOTP factor, reveal the backup codes, remove a factor.
//!
//! As in [`crate::account`], every handler gathers the facts and asks [`crate::policy::decide_route`] first; the domain's use
//! cases then write the change with its audit entry in one transaction. Factors are bound only when the sign-in
//! experience enables them. Passkeys (WebAuthn) are registered through [`crate::passkeys`] and bound here.

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::mfa::{self, MfaFactorType, MfaFactorView};
use latchkey_domain::service::AccountError;
use latchkey_domain::user::{LogtoConfig, LogtoConfigChange};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::account::{AccountDeps, allow};
use crate::error::ApiError;
use crate::policy::AccountRoute;

pub(crate) fn routes(config: &mut ServiceConfig) {
    // The fixed paths come before `{verificationId}`, so that they are not taken for a factor's id.
    config
        .service(
            web::resource("/api/my-account/mfa-settings")
                .route(web::get().to(get_mfa_settings))
                .route(web::patch().to(update_mfa_settings)),
        )
        .service(
            web::resource("/api/my-account/logto-configs")
                .route(web::get().to(get_logto_configs))
                .route(web::patch().to(update_logto_configs)),
        )
        .service(
            web::resource("/api/my-account/mfa-verifications")
                .route(web::get().to(list_mfa_verifications))
                .route(web::post().to(bind_mfa_verification)),
        )
        .service(
            web::resource("/api/my-account/mfa-verifications/totp-secret/generate")
                .route(web::post().to(generate_totp_secret)),
        )
        .service(
            web::resource("/api/my-account/mfa-verifications/backup-codes/generate")
                .route(web::post().to(generate_backup_codes)),
        )
        .service(web::resource("/api/my-account/mfa-verifications/backup-codes").route(web::get().to(get_backup_codes)))
        .service(web::resource("/api/my-account/mfa-verifications/totp").route(web::put().to(replace_totp)))
        .service(
            web::resource("/api/my-account/mfa-verifications/{verificationId}")
                .route(web::delete().to(remove_mfa_verification)),
        );
}

type Deps = web::Data<AccountDeps>;
type Json<T> = Result<web::Json<T>, actix_web::Error>;

/// The factors the stored sign-in experience lets users bind.
async fn enabled_factors(deps: &AccountDeps) -> Result<Vec<MfaFactorType>, ApiError> {
    Ok(deps.sign_in_experience.get().await?.settings.mfa.factors)
}

/// Secrets and codes are credentials: no cache may keep an answer carrying them.
fn no_store(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

/// `{skipMfaOnSignIn}`: whether the user skips MFA at sign-in (ignored when the tenant's MFA policy is mandatory).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaSettingsBody {
    pub skip_mfa_on_sign_in: bool,
}

#[utoipa::path(
    get,
    path = "/api/my-account/mfa-settings",
    tag = "Account",
    summary = "Get the caller's MFA settings",
    description = "Needs the `identities` scope and `mfa` readable in the account center.",
    responses(
        (status = 200, description = "The settings.", body = MfaSettingsBody),
        (status = 400, description = "`account_center.field_not_enabled`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` (no `identities` scope).", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_mfa_settings(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadMfa).await?;
    Ok(HttpResponse::Ok()
        .json(MfaSettingsBody { skip_mfa_on_sign_in: allowed.user.logto_config.mfa.skip_mfa_on_sign_in }))
}

#[utoipa::path(
    patch,
    path = "/api/my-account/mfa-settings",
    tag = "Account",
    summary = "Change the caller's MFA settings",
    description = "Needs the `identities` scope, `mfa` editable and a verification record (`logto-verification-id`).",
    request_body = MfaSettingsBody,
    responses(
        (status = 200, description = "The settings after the change.", body = MfaSettingsBody),
        (status = 400, description = "`guard.invalid_input` or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update_mfa_settings(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<MfaSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::ChangeMfa).await?;
    let skip = body.skip_mfa_on_sign_in;
    let user = deps
        .users
        .update_logto_config(allowed.caller.user_id(), allowed.write(), |config| config.mfa.skip_mfa_on_sign_in = skip)
        .await?;
    Ok(HttpResponse::Ok().json(MfaSettingsBody { skip_mfa_on_sign_in: user.logto_config.mfa.skip_mfa_on_sign_in }))
}

/// `GET`/`PATCH /api/my-account/logto-configs`, as the Management API's `logto-configs` answers them: `{mfa:
/// {enabled?, skipped, skipMfaOnSignIn}, passkeySignIn: {skipped}}`. The stored
/// `additionalBindingSuggestionSkipped` can be written but is not returned.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogtoConfigsBody {
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

impl LogtoConfigsBody {
    fn new(config: &LogtoConfig) -> Self {
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

/// `PATCH /api/my-account/logto-configs`: each given switch replaces the stored one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogtoConfigsPatch {
    pub mfa: Option<MfaConfigPatch>,
    pub passkey_sign_in: Option<PasskeySignInPatch>,
}

impl LogtoConfigsPatch {
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
#[serde(rename_all = "camelCase")]
pub struct MfaConfigPatch {
    pub enabled: Option<bool>,
    pub skipped: Option<bool>,
    pub additional_binding_suggestion_skipped: Option<bool>,
    pub skip_mfa_on_sign_in: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasskeySignInPatch {
    pub skipped: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/my-account/logto-configs",
    tag = "Account",
    summary = "Get the caller's MFA and passkey switches",
    description = "Needs the `identities` scope and `passkey` (falling back to `mfa`) readable.",
    responses(
        (status = 200, description = "The switches.", body = LogtoConfigsBody),
        (status = 400, description = "`account_center.field_not_enabled`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` (no `identities` scope).", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_logto_configs(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadLogtoConfigs).await?;
    Ok(HttpResponse::Ok().json(LogtoConfigsBody::new(&allowed.user.logto_config)))
}

#[utoipa::path(
    patch,
    path = "/api/my-account/logto-configs",
    tag = "Account",
    summary = "Change the caller's MFA and passkey switches",
    description = "Each given switch replaces the stored one. Needs the `identities` scope, `passkey` (falling back \
        to `mfa`) editable and a verification record (`logto-verification-id`).",
    request_body = LogtoConfigsPatch,
    responses(
        (status = 200, description = "The switches after the change.", body = LogtoConfigsBody),
        (status = 400, description = "`guard.invalid_input` or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update_logto_configs(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<LogtoConfigsPatch>,
) -> Result<HttpResponse, ApiError> {
    let change = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner().change();
    let allowed = allow(&principal, &request, &deps, AccountRoute::ChangeLogtoConfigs).await?;
    let user = deps
        .users
        .update_logto_config(allowed.caller.user_id(), allowed.write(), |config: &mut LogtoConfig| {
            config.apply(change);
        })
        .await?;
    Ok(HttpResponse::Ok().json(LogtoConfigsBody::new(&user.logto_config)))
}

#[utoipa::path(
    get,
    path = "/api/my-account/mfa-verifications",
    tag = "Account",
    summary = "List the caller's MFA factors",
    description = "Without their secrets: TOTP `{id, createdAt, type}`, backup codes add `remainCodes`. Needs the \
        `identities` scope and `mfa` readable.",
    responses(
        (status = 200, description = "The factors.", body = [crate::openapi::MfaVerificationView]),
        (status = 400, description = "`account_center.field_not_enabled`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` (no `identities` scope).", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_mfa_verifications(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadMfa).await?;
    let factors: Vec<MfaFactorView> = allowed.user.mfa_factors.iter().map(MfaFactorView::new).collect();
    Ok(HttpResponse::Ok().json(factors))
}

/// `POST /api/my-account/mfa-verifications`, by `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum BindMfaBody {
    /// A base32 secret (from `…/totp-secret/generate`) and a current code from the authenticator.
    Totp { secret: String, code: Option<String> },
    /// Exactly 10 codes of 10 hexadecimal characters (from `…/backup-codes/generate`).
    BackupCode { codes: Vec<String> },
    /// The credential of a verified WebAuthn verification record (`/api/verifications/web-authn/registration`).
    #[serde(rename_all = "camelCase")]
    WebAuthn {
        new_identifier_verification_record_id: String,
        #[serde(default)]
        name: Option<String>,
    },
}

#[utoipa::path(
    post,
    path = "/api/my-account/mfa-verifications",
    tag = "Account",
    summary = "Bind an MFA factor to the caller",
    description = "`{type: \"Totp\", secret, code}` (the code must verify; Logto makes it optional) or `{type: \
        \"BackupCode\", codes}`. The factor must be enabled in the sign-in experience; one TOTP factor; one live \
        set of backup codes, never as the only factor. `{type: \"WebAuthn\", newIdentifierVerificationRecordId, \
        name?}` binds the passkey of a verified WebAuthn record of the caller's session (400 \
        `verification_record.not_found` otherwise) and is gated by `passkey` (falling back to `mfa`). Needs the \
        `identities` scope, `mfa` editable and a verification record.",
    request_body = BindMfaBody,
    responses(
        (status = 204, description = "Bound."),
        (status = 400, description = "`guard.invalid_input`, `account_center.field_not_editable`, \
            `session.mfa.mfa_factor_not_enabled`, `user.totp_secret_invalid` or `session.mfa.invalid_totp_code`.",
            body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 422, description = "`user.totp_already_in_use`, `user.backup_code_already_in_use`, \
            `session.mfa.backup_code_can_not_be_alone` or `user.wrong_backup_code_format`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn bind_mfa_verification(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<BindMfaBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let route = match body {
        BindMfaBody::WebAuthn { .. } => AccountRoute::ChangePasskey,
        _ => AccountRoute::ChangeMfa,
    };
    let allowed = allow(&principal, &request, &deps, route).await?;
    let enabled = enabled_factors(&deps).await?;
    let accounts = deps.users.accounts();
    let user_id = allowed.caller.user_id();
    match body {
        BindMfaBody::Totp { secret, code } => {
            let code = code.ok_or_else(|| ApiError::InvalidBody("code: required".to_owned()))?;
            // Logto's order: the factor rules, then the secret, then the code.
            mfa::check_can_bind(&allowed.user.mfa_factors, MfaFactorType::Totp, enabled.as_slice())
                .map_err(AccountError::from)?;
            accounts.bind_totp(user_id, &secret, &code, &enabled, &allowed.context).await?;
        }
        BindMfaBody::BackupCode { codes } => {
            accounts.bind_backup_codes(user_id, &codes, &enabled, allowed.write()).await?;
        }
        BindMfaBody::WebAuthn { new_identifier_verification_record_id, name } => {
            crate::passkeys::bind(&deps, &allowed, &new_identifier_verification_record_id, name, &enabled).await?;
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /api/my-account/mfa-verifications/totp`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplaceTotpBody {
    pub secret: String,
    pub code: String,
}

#[utoipa::path(
    put,
    path = "/api/my-account/mfa-verifications/totp",
    tag = "Account",
    summary = "Replace or add the caller's TOTP factor",
    description = "The code must verify against the new secret; the factor replaces the caller's TOTP factor \
        under a new id, or is added. Needs the `identities` scope, `mfa` editable and a verification record.",
    request_body = ReplaceTotpBody,
    responses(
        (status = 204, description = "Bound."),
        (status = 400, description = "`guard.invalid_input`, `account_center.field_not_editable`, \
            `session.mfa.mfa_factor_not_enabled`, `user.totp_secret_invalid` or `session.mfa.invalid_totp_code`.",
            body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn replace_totp(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<ReplaceTotpBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::ChangeMfa).await?;
    let enabled = enabled_factors(&deps).await?;
    deps.users
        .accounts()
        .replace_totp(allowed.caller.user_id(), &body.secret, &body.code, &enabled, allowed.write())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/my-account/mfa-verifications/totp-secret/generate",
    tag = "Account",
    summary = "Generate a TOTP secret",
    description = "A fresh base32 secret (20 bytes); nothing is stored. Bind it with `POST …/mfa-verifications`.",
    responses((status = 200, description = "`{secret}`.", body = Object)),
    security(("bearer" = [])),
)]
pub async fn generate_totp_secret(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    allow(&principal, &request, &deps, AccountRoute::GenerateMfaSecret).await?;
    Ok(no_store(json!({ "secret": mfa::totp::generate_secret() })))
}

#[utoipa::path(
    post,
    path = "/api/my-account/mfa-verifications/backup-codes/generate",
    tag = "Account",
    summary = "Generate backup codes",
    description = "Ten fresh codes of 10 hexadecimal characters; nothing is stored. Bind them with \
        `POST …/mfa-verifications`.",
    responses((status = 200, description = "`{codes}`.", body = Object)),
    security(("bearer" = [])),
)]
pub async fn generate_backup_codes(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    allow(&principal, &request, &deps, AccountRoute::GenerateMfaSecret).await?;
    Ok(no_store(json!({ "codes": mfa::backup_codes::generate_codes() })))
}

#[utoipa::path(
    get,
    path = "/api/my-account/mfa-verifications/backup-codes",
    tag = "Account",
    summary = "Reveal the caller's backup codes",
    description = "Every code of the set in clear, with when it was used. Needs the `identities` scope and a \
        verification record; no account-center field gates it (as Logto).",
    responses(
        (status = 200, description = "The codes.", body = crate::openapi::BackupCodesView),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 404, description = "`verification_record.not_found`: no backup codes.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_backup_codes(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::RevealBackupCodes).await?;
    let codes = deps.users.accounts().reveal_backup_codes(allowed.caller.user_id()).await?;
    let codes = codes.ok_or(ApiError::NoBackupCodes)?;
    Ok(no_store(json!({ "codes": codes })))
}

#[utoipa::path(
    delete,
    path = "/api/my-account/mfa-verifications/{verificationId}",
    tag = "Account",
    summary = "Remove one of the caller's MFA factors",
    description = "Removing the last factor other than backup codes removes the backup codes too, so that they \
        never remain as the only factor (stricter than Logto). Needs the `identities` scope, `mfa` editable and a \
        verification record.",
    params(("verificationId" = String, Path, description = "The factor's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`verification_record.not_found` or `account_center.field_not_editable`.",
            body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn remove_mfa_verification(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ChangeMfa).await?;
    deps.users.remove_mfa_factor(allowed.caller.user_id(), &path, allowed.write()).await?;
    Ok(HttpResponse::NoContent().finish())
}
