//! `/api/users/:userId/mfa-verifications`: an administrator lists a user's MFA factors, provisions a TOTP factor
//! (a given or fresh secret, answered with its QR code) or a set of backup codes, and removes a factor, with
//! Logto's bodies and rules. A factor can only be bound when the sign-in experience enables it. Removing the last
//! factor other than backup codes removes the backup codes too (Logto leaves them alone).

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::mfa::{MfaFactorType, MfaFactorView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Deps, Json, WriteRequest, user_id};
use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("/{userId}/mfa-verifications").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/{userId}/mfa-verifications/{verificationId}").route(web::delete().to(remove)));
}

/// The `POST` body: a TOTP factor with an optional base32 secret (16–32 characters; a fresh one when absent), or
/// a set of backup codes (exactly 10 of 10 hexadecimal characters; a fresh set when absent).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum CreateMfaVerification {
    Totp {
        #[serde(default)]
        secret: Option<String>,
    },
    BackupCode {
        #[serde(default)]
        codes: Option<Vec<String>>,
    },
}

/// What `POST` answers: the secret and its QR code, or the codes. Shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreatedMfaVerification {
    Totp {
        #[serde(rename = "type")]
        factor_type: &'static str,
        secret: String,
        /// A `data:image/png;base64,…` QR code of the otpauth URI; the issuer is this server's host name.
        #[serde(rename = "secretQrCode")]
        secret_qr_code: String,
    },
    BackupCode {
        codes: Vec<String>,
        #[serde(rename = "type")]
        factor_type: &'static str,
    },
}

/// `GET /api/users/:userId/mfa-verifications`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/mfa-verifications",
    tag = "Users",
    summary = "List a user's MFA factors",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user's factors, without their secrets.", body = [MfaFactorView]),
        (status = 401, description = "No valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(caller: ManagementCaller, deps: Deps, path: web::Path<String>) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let user = deps.admin.get(&user_id(&path)?).await.map_err(ApiError::from)?;
    let factors: Vec<_> = user.mfa_factors.iter().map(MfaFactorView::new).collect();
    Ok(HttpResponse::Ok().json(factors))
}

/// `POST /api/users/:userId/mfa-verifications`: 200 with the secret or the codes, as Logto.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/mfa-verifications",
    tag = "Users",
    summary = "Bind an MFA factor to a user",
    description = "`{type: \"Totp\", secret?}` answers `{type, secret, secretQrCode}`; `{type: \"BackupCode\", \
        codes?}` answers `{codes, type}`. The factor must be enabled in the sign-in experience; one TOTP factor \
        per user; one live set of backup codes, never as the only factor.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = CreateMfaVerification,
    responses(
        (status = 200, description = "Bound; the secret or codes, shown this once.", body = CreatedMfaVerification),
        (status = 400, description = "`guard.invalid_input`, `user.totp_secret_invalid` or \
            `session.mfa.mfa_factor_not_enabled`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 422, description = "`user.totp_already_in_use`, `user.backup_code_already_in_use`, \
            `session.mfa.backup_code_can_not_be_alone` or `user.wrong_backup_code_format`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<CreateMfaVerification>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let body = body?.into_inner();
    let writer = WriteRequest::new(&caller, &request)?;
    let enabled = deps.sign_in_experience.get().await.map_err(ApiError::from)?.settings.mfa.factors;
    let created = match body {
        CreateMfaVerification::Totp { secret } => {
            let (_, totp) = deps
                .admin
                .provision_totp(&id, secret, &deps.totp_issuer, &enabled, writer.write())
                .await
                .map_err(ApiError::from)?;
            CreatedMfaVerification::Totp {
                factor_type: MfaFactorType::Totp.as_str(),
                secret: totp.secret,
                secret_qr_code: totp.qr_code_data_url,
            }
        }
        CreateMfaVerification::BackupCode { codes } => {
            let (_, codes) = deps
                .admin
                .provision_backup_codes(&id, codes, &enabled, writer.write())
                .await
                .map_err(ApiError::from)?;
            CreatedMfaVerification::BackupCode { codes, factor_type: MfaFactorType::BackupCode.as_str() }
        }
    };
    // The secret and the codes are credentials: no cache may keep this answer.
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(created))
}

/// `DELETE /api/users/:userId/mfa-verifications/:verificationId`: 204.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/mfa-verifications/{verificationId}",
    tag = "Users",
    summary = "Remove a user's MFA factor",
    description = "Removing the last factor other than backup codes removes the backup codes too, so that they \
        never remain as the only factor (stricter than Logto).",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("verificationId" = String, Path, description = "The factor's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "`entity.not_found`: no such user or factor.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let (id, factor_id) = path.into_inner();
    let writer = WriteRequest::new(&caller, &request)?;
    deps.admin.remove_mfa_factor(&user_id(&id)?, &factor_id, writer.write()).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}
