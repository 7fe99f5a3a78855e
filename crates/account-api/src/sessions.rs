//! The caller's sessions, connected applications and activity (logto-reference §1): `GET /api/my-account/sessions`,
//! `DELETE …/sessions/:sessionId`, `GET …/grants`, `DELETE …/grants/:grantId`, and ours, `GET …/logs`.
//!
//! Same shapes as the Management API's (the domain's [`SessionView`], [`GrantView`] and [`LogView`]), with Logto's
//! `isCurrent` on the caller's own session. Each route needs the `urn:logto:scope:sessions` scope, the `session` field
//! and a verification record, checked in Logto's order by the policy. Revoking ends the session's tokens on their next
//! request (the caller's own included) and is logged in the same transaction.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::audit::{AuditFilter, LogView};
use latchkey_domain::ports::{Pagination, RepoError};
use latchkey_domain::session::{GrantList, GrantsQuery, SessionList, SessionView};
use serde::Deserialize;

use crate::account::{AccountDeps, allow};
use crate::error::ApiError;
use crate::policy::AccountRoute;

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("/api/my-account/sessions").route(web::get().to(list_sessions)))
        .service(web::resource("/api/my-account/sessions/{sessionId}").route(web::delete().to(revoke_session)))
        .service(web::resource("/api/my-account/grants").route(web::get().to(list_grants)))
        .service(web::resource("/api/my-account/grants/{grantId}").route(web::delete().to(revoke_grant)))
        .service(web::resource("/api/my-account/logs").route(web::get().to(list_logs)));
}

type Deps = web::Data<AccountDeps>;

/// Logto's `revokeGrantsTarget`. A Latchkey session is its own grant, so revoking it already ends every token the
/// applications got through it; the value is checked and has nothing more to revoke.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeSessionQuery {
    #[serde(default, rename = "revokeGrantsTarget")]
    _revoke_grants_target: Option<RevokeGrantsTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum RevokeGrantsTarget {
    All,
    FirstParty,
}

fn query<T: serde::de::DeserializeOwned>(request: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::InvalidBody(error.to_string()))
}

#[utoipa::path(
    get,
    path = "/api/my-account/sessions",
    tag = "Account",
    summary = "List the caller's active sessions",
    description = "Needs `urn:logto:scope:sessions`, the `session` field readable and a verification record \
        (`logto-verification-id`). Most recently active first; `isCurrent` marks the session of the calling token.",
    responses(
        (status = 200, description = "`{sessions}`.", body = SessionList),
        (status = 400, description = "`account_center.field_not_enabled`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`, or `auth.unauthorized` without the \
            sessions scope.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_sessions(principal: Principal, request: HttpRequest, deps: Deps) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadSessions).await?;
    let current = allowed.caller.session_id();
    let sessions = deps.sessions.active(allowed.caller.user_id()).await.map_err(ApiError::Store)?;
    let sessions = sessions.iter().map(|session| SessionView::new(session).seen_from(current)).collect();
    Ok(HttpResponse::Ok().json(SessionList { sessions }))
}

#[utoipa::path(
    delete,
    path = "/api/my-account/sessions/{sessionId}",
    tag = "Account",
    summary = "Revoke one of the caller's sessions",
    description = "Needs `urn:logto:scope:sessions`, the `session` field editable, a first-party client and a \
        verification record. Every token of the session fails from its next request, the calling token's own if it is the caller's session. \
        Logto's `revokeGrantsTarget` is accepted and has nothing more to revoke: a Latchkey session is its own grant.",
    params(
        ("sessionId" = String, Path, description = "The session's id."),
        ("revokeGrantsTarget" = Option<String>, Query, description = "`all` or `firstParty`."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "`account_center.field_not_editable`, or `guard.invalid_input` for an unknown \
            `revokeGrantsTarget`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 404, description = "`oidc.session_not_found`: no live session of the caller's has that id.",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_session(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _target: RevokeSessionQuery = query(&request)?;
    let allowed = allow(&principal, &request, &deps, AccountRoute::RevokeSessions).await?;
    let user_id = allowed.caller.user_id();
    let session = deps.sessions.find_active(user_id, &path).await.map_err(ApiError::Store)?;
    let session = session.ok_or(ApiError::SessionNotFound)?;
    deps.sessions.revoke(user_id, &[session], &allowed.context).await.map_err(ApiError::Store)?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/my-account/grants",
    tag = "Account",
    summary = "List the applications the caller is connected to",
    description = "Needs `urn:logto:scope:sessions`, the `session` field readable and a verification record. One \
        grant per application with live sessions; its id is the application's id.",
    params(("appType" = Option<String>, Query, description = "`firstParty` or `thirdParty`: only those applications.")),
    responses(
        (status = 200, description = "`{grants}`.", body = GrantList),
        (status = 400, description = "`guard.invalid_input` (unknown `appType`) or \
            `account_center.field_not_enabled`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_grants(principal: Principal, request: HttpRequest, deps: Deps) -> Result<HttpResponse, ApiError> {
    let GrantsQuery { app_type } = query(&request)?;
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadSessions).await?;
    let grants = deps.sessions.grants(allowed.caller.user_id(), app_type).await.map_err(ApiError::Store)?;
    Ok(HttpResponse::Ok().json(GrantList { grants }))
}

#[utoipa::path(
    delete,
    path = "/api/my-account/grants/{grantId}",
    tag = "Account",
    summary = "Disconnect the caller from an application",
    description = "Needs `urn:logto:scope:sessions`, the `session` field editable, a first-party client and a \
        verification record. Revokes every live session of the caller with the application (the grant's id).",
    params(("grantId" = String, Path, description = "The grant's id: the application's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "`account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no live session with that application.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_grant(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::RevokeSessions).await?;
    match deps.sessions.revoke_grant(allowed.caller.user_id(), &path, &allowed.context).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(RepoError::NotFound) => Err(ApiError::GrantNotFound),
        Err(other) => Err(ApiError::Store(other)),
    }
}

#[utoipa::path(
    get,
    path = "/api/my-account/logs",
    tag = "Account",
    summary = "List the caller's account activity",
    description = "Latchkey extension. The audit log entries about the caller, newest first, in the Management API's \
        log shape: sign-ins, changes (by the user or an administrator, with impersonation shown), revocations. \
        Guarded as the sessions are: `urn:logto:scope:sessions`, the `session` field readable, a verification record.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
    ),
    responses(
        (status = 200, description = "A page of entries, newest first.", body = [LogView], headers(
            ("Total-Number" = String, description = "How many entries there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination` or `account_center.field_not_enabled`.",
            body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
pub async fn list_logs(principal: Principal, request: HttpRequest, deps: Deps) -> Result<HttpResponse, ApiError> {
    let pagination = Pagination::from_query(request.query_string()).ok_or(ApiError::InvalidPagination)?;
    let allowed = allow(&principal, &request, &deps, AccountRoute::ReadActivity).await?;
    let filter = AuditFilter { user_id: Some(allowed.caller.user_id().as_str().to_owned()), ..AuditFilter::default() };
    let page = deps.audit_log.list(&filter, pagination).await.map_err(ApiError::Store)?;
    let items: Vec<LogView> = page.items.iter().map(LogView::new).collect();
    let url = format!("{}{}", deps.endpoint, request.path());
    let mut response = HttpResponse::Ok();
    for header in pagination.response_headers(&url, request.query_string(), page.total) {
        response.insert_header(header);
    }
    Ok(response.json(items))
}
