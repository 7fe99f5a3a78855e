//! Latchkey extensions over the caller's whole account (spec README §5): `DELETE /api/my-account` deletes it into
//! the same restorable tombstone as an administrator's delete, and `GET /api/my-account/export` hands over
//! everything stored about the user (GDPR art. 15/20) without any secret. Both need a verification record of this
//! session, as any sensitive change does.

use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::audit::{AuditFilter, LogView};
use latchkey_domain::mfa::MfaFactorView;
use latchkey_domain::ports::Pagination;
use latchkey_domain::service::UserWrite;
use latchkey_domain::user::User;
use serde_json::{Value, json};

use crate::account::{AccountDeps, allow, expected_version};
use crate::error::ApiError;
use crate::policy::AccountRoute;

/// Audit entries an export carries at most (the newest); `auditLogTruncated` says when there were more.
const EXPORT_AUDIT_ENTRIES: u64 = 10_000;

type Deps = web::Data<AccountDeps>;

#[utoipa::path(
    delete,
    path = "/api/my-account",
    tag = "Account",
    summary = "Delete the caller's account",
    description = "Latchkey extension. Needs a verification record (`logto-verification-id`) and a first-party \
        client. The account goes into a tombstone that an administrator can restore (`POST \
        /api/users/{userId}/restore`) within the configured retention; every session and token ends at once.",
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 412, description = "`request.precondition_failed`.", body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
pub async fn delete_account(principal: Principal, request: HttpRequest, deps: Deps) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::DeleteAccount).await?;
    let write = UserWrite::new(&allowed.context).expecting(expected_version(&request)?);
    deps.users.delete(allowed.caller.user_id(), write).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/my-account/export",
    tag = "Account",
    summary = "Export everything stored about the caller",
    description = "Latchkey extension (GDPR art. 15/20). Needs a verification record and a first-party client. \
        The account with every stored field except secrets (no password digest, TOTP secret or backup code), the \
        MFA factors as listed, and the audit log about the user (newest first, at most 10,000 entries, in the log \
        shape of `GET /api/my-account/logs`).",
    responses(
        (status = 200, description = "`{exportedAt, account, auditLog, auditLogTruncated}`.", body = Object),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
pub async fn export_account(principal: Principal, request: HttpRequest, deps: Deps) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ExportAccount).await?;
    let filter = AuditFilter { user_id: Some(allowed.user.id.as_str().to_owned()), ..AuditFilter::default() };
    let mut entries = Vec::new();
    let mut truncated = false;
    for page in 1.. {
        let pagination = Pagination::new(page, Pagination::MAX_PAGE_SIZE).unwrap_or_default();
        let found = deps.audit_log.list(&filter, pagination).await?;
        let done = found.items.len() < usize::try_from(Pagination::MAX_PAGE_SIZE).unwrap_or(usize::MAX);
        entries.extend(found.items.iter().map(LogView::new));
        if entries.len() as u64 >= EXPORT_AUDIT_ENTRIES {
            truncated = found.total > EXPORT_AUDIT_ENTRIES;
            break;
        }
        if done {
            break;
        }
    }
    let body = json!({
        "exportedAt": deps.clock.now().to_iso8601(),
        "account": account_export(&allowed.user),
        "auditLog": entries,
        "auditLogTruncated": truncated,
    });
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body))
}

/// Every stored field of the user but the secrets.
fn account_export(user: &User) -> Value {
    let millis = |at: Option<latchkey_domain::Timestamp>| at.map(|at| at.as_millis());
    json!({
        "id": user.id.as_str(),
        "username": user.username.as_ref().map(|username| username.as_str()),
        "primaryEmail": user.primary_email.as_ref().map(|email| email.as_str()),
        "primaryPhone": user.primary_phone.as_ref().map(|phone| phone.as_str()),
        "name": user.name,
        "avatar": user.avatar,
        "profile": user.profile,
        "customData": user.custom_data,
        "identities": user.identities,
        "logtoConfig": user.logto_config,
        "mfaVerifications": user.mfa_factors.iter().map(MfaFactorView::new).collect::<Vec<_>>(),
        "hasPassword": user.has_password(),
        "passwordUpdatedAt": millis(user.password_updated_at),
        "isSuspended": user.is_suspended,
        "applicationId": user.application_id,
        "lastSignInAt": millis(user.last_sign_in_at),
        "createdAt": user.created_at.as_millis(),
        "updatedAt": user.updated_at.as_millis(),
    })
}
