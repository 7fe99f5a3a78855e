//! `/api/users/{userId}/sessions` and `/api/users/{userId}/grants`: a user's live sessions and the applications
//! they connect the user to, as Logto's admin routes show them (the domain's [`SessionView`] and [`GrantView`]).
//! Revoking a session, or a grant (every session of that application), ends every token derived from it on the next
//! request, and is logged (the domain's [`UserSessionService`]).

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::UserId;
use latchkey_domain::ports::{RepoError, UserRepository};
use latchkey_domain::service::UserSessionService;
use latchkey_domain::session::{GrantList, GrantsQuery, Session, SessionList, SessionView};

use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;
use crate::users::audit_context;

/// What the session and grant handlers need; register it once as `web::Data<UserSessionsDeps>`.
#[derive(Clone)]
pub struct UserSessionsDeps {
    pub sessions: UserSessionService,
    pub users: Arc<dyn UserRepository>,
}

impl std::fmt::Debug for UserSessionsDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSessionsDeps").finish_non_exhaustive()
    }
}

/// Routes relative to the `/api/users` scope.
pub(crate) fn user_routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("/{userId}/sessions").route(web::get().to(list)))
        .service(
            web::resource("/{userId}/sessions/{sessionId}").route(web::get().to(get)).route(web::delete().to(revoke)),
        )
        .service(web::resource("/{userId}/grants").route(web::get().to(list_grants)))
        .service(web::resource("/{userId}/grants/{grantId}").route(web::delete().to(revoke_grant)));
}

type Deps = web::Data<UserSessionsDeps>;

/// `GET /api/users/{userId}/sessions`: the user's live sessions, most recently active first.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/sessions",
    tag = "Users",
    summary = "List a user's active sessions",
    description = "Neither revoked nor expired, most recently active first.",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "`{sessions}`.", body = SessionList),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(caller: ManagementCaller, deps: Deps, path: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadUsers)?;
    let user_id = existing_user(&deps, &path).await?;
    let sessions = deps.sessions.active(&user_id).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(SessionList { sessions: sessions.iter().map(SessionView::new).collect() }))
}

/// `GET /api/users/{userId}/sessions/{sessionId}`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/sessions/{sessionId}",
    tag = "Users",
    summary = "Get one of a user's active sessions",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("sessionId" = String, Path, description = "The session's id."),
    ),
    responses(
        (status = 200, description = "The session.", body = SessionView),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found` (no such user) or `oidc.session_not_found`.",
            body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadUsers)?;
    let (user_id, session_id) = path.into_inner();
    let user_id = existing_user(&deps, &user_id).await?;
    let session = active_session(&deps, &user_id, &session_id).await?;
    Ok(HttpResponse::Ok().json(SessionView::new(&session)))
}

/// `DELETE /api/users/{userId}/sessions/{sessionId}`: 204; the session's tokens fail from their next request.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/sessions/{sessionId}",
    tag = "Users",
    summary = "Revoke one of a user's sessions",
    description = "Every token of the session fails from its next request. Logto's `revokeGrantsTarget` is \
        accepted and has nothing more to revoke: a Latchkey session is its own grant.",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("sessionId" = String, Path, description = "The session's id."),
        ("revokeGrantsTarget" = Option<String>, Query, description = "`all` or `firstParty` (no effect)."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found` (no such user) or `oidc.session_not_found`.",
            body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn revoke(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    let (user_id, session_id) = path.into_inner();
    let user_id = existing_user(&deps, &user_id).await?;
    let session = active_session(&deps, &user_id, &session_id).await?;
    deps.sessions.revoke(&user_id, &[session], &audit_context(&caller, &request)).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/users/{userId}/grants`: one grant per application the user has live sessions with.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/grants",
    tag = "Users",
    summary = "List the applications a user is connected to",
    description = "One grant per application with live sessions; its id is the application's id.",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("appType" = Option<String>, Query, description = "`firstParty` or `thirdParty`: only those applications."),
    ),
    responses(
        (status = 200, description = "`{grants}`.", body = GrantList),
        (status = 400, description = "`guard.invalid_input`: unknown `appType`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list_grants(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadUsers)?;
    let query = web::Query::<GrantsQuery>::from_query(request.query_string())
        .map_err(|error| ApiError::InvalidBody(error.to_string()))?
        .into_inner();
    let user_id = existing_user(&deps, &path).await?;
    let grants = deps.sessions.grants(&user_id, query.app_type).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(GrantList { grants }))
}

/// `DELETE /api/users/{userId}/grants/{grantId}`: revokes every session of that application for the user.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/grants/{grantId}",
    tag = "Users",
    summary = "Disconnect a user from an application",
    description = "Revokes every live session of the user with the application (the grant's id); their tokens \
        fail from their next request.",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("grantId" = String, Path, description = "The grant's id: the application's id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user, or no live session with the application.",
            body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn revoke_grant(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    let (user_id, grant_id) = path.into_inner();
    let user_id = existing_user(&deps, &user_id).await?;
    deps.sessions.revoke_grant(&user_id, &grant_id, &audit_context(&caller, &request)).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user's live session of that id, or 404 `oidc.session_not_found`.
async fn active_session(deps: &UserSessionsDeps, user_id: &UserId, session_id: &str) -> Result<Session, ApiError> {
    deps.sessions.find_active(user_id, session_id).await?.ok_or(ApiError::SessionNotFound)
}

/// The user named by the path, or 404 `entity.not_found` (a malformed id names no user either).
async fn existing_user(deps: &UserSessionsDeps, user_id: &str) -> Result<UserId, ApiError> {
    let user_id = UserId::parse(user_id).map_err(|_| ApiError::Repository(RepoError::NotFound))?;
    deps.users.find_by_id(&user_id).await?.ok_or(ApiError::Repository(RepoError::NotFound))?;
    Ok(user_id)
}
