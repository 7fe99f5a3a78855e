//! `/api/users/{userId}/sessions` and `/api/users/{userId}/grants`: a user's live sessions and the applications
//! they connect the user to, as Logto's admin routes show them.
//!
//! Logto keeps `oidc-provider` sessions and grants; Latchkey has one session per sign-in or token exchange, each for
//! one application. The shapes follow Logto's as far as that model maps: a session carries Logto's `payload`
//! (`exp`, `iat`, `jti`, `kind`, `loginTs`, `accountId`, `authorizations`), `clientId`, `accountId` and `expiresAt`,
//! plus ours (`createdAt`, `lastActiveAt`, `userAgent`, `ip`); a **grant** is the user's connection to one
//! application, made of its live sessions, and its id is the application's id. Revoking a session, or a grant
//! (every session of that application), ends every token derived from it on the next request, and is logged.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::application::ApplicationRepository;
use latchkey_domain::audit::{AuditEntry, details, keys};
use latchkey_domain::ports::{RepoError, UserRepository};
use latchkey_domain::session::{RevokeReason, Session, SessionRepository};
use latchkey_domain::{Clock, IdGenerator, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;
use crate::users::audit_context;

/// What the session and grant handlers need; register it once as `web::Data<UserSessionsDeps>`.
#[derive(Clone)]
pub struct UserSessionsDeps {
    pub sessions: Arc<dyn SessionRepository>,
    pub users: Arc<dyn UserRepository>,
    /// For the `application` of each grant.
    pub applications: Arc<dyn ApplicationRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
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

/// A session in Logto's shape (an `oidc-provider` session instance), with Latchkey's own fields after.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    id: String,
    /// Logto's session payload: `exp`, `iat`, `loginTs` in seconds, `jti`, `kind: "Session"`, `accountId`, and
    /// `authorizations` keyed by client id.
    #[schema(value_type = Object)]
    payload: Value,
    /// Always `null`: Latchkey keeps no interaction context.
    #[schema(value_type = Option<Object>)]
    last_submission: Option<Value>,
    client_id: String,
    account_id: String,
    /// Milliseconds since the epoch.
    expires_at: i64,
    /// Milliseconds since the epoch (a Latchkey extension).
    created_at: i64,
    /// Milliseconds since the epoch (a Latchkey extension).
    last_active_at: i64,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl SessionBody {
    fn new(session: &Session) -> Self {
        let account_id = session.user_id.as_str().to_owned();
        let payload = json!({
            "exp": session.expires_at.as_secs(),
            "iat": session.created_at.as_secs(),
            "jti": session.id,
            "uid": session.id,
            "kind": "Session",
            "loginTs": session.created_at.as_secs(),
            "accountId": account_id,
            "authorizations": { session.client_id.as_str(): { "grantId": session.client_id, "sid": session.id } },
        });
        Self {
            id: session.id.clone(),
            payload,
            last_submission: None,
            client_id: session.client_id.clone(),
            account_id,
            expires_at: session.expires_at.as_millis(),
            created_at: session.created_at.as_millis(),
            last_active_at: session.last_active_at.as_millis(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsBody {
    sessions: Vec<SessionBody>,
}

/// The application a grant connects the user to.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantApplication {
    id: String,
    /// `null` when the application no longer exists.
    name: Option<String>,
}

/// A grant in Logto's shape: the user's connection to one application.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantBody {
    /// The application's id.
    id: String,
    /// Logto's grant payload: `exp`, `iat` in seconds, `jti`, `kind: "Grant"`, `clientId`, `accountId`.
    #[schema(value_type = Object)]
    payload: Value,
    /// Milliseconds since the epoch: when the application's last session ends.
    expires_at: i64,
    application: GrantApplication,
    /// The ids of the live sessions the grant is made of (a Latchkey extension).
    session_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantsBody {
    grants: Vec<GrantBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantsQuery {
    #[serde(default)]
    app_type: Option<AppType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum AppType {
    FirstParty,
    ThirdParty,
}

/// `GET /api/users/{userId}/sessions`: the user's live sessions, most recently active first.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/sessions",
    tag = "Users",
    summary = "List a user's active sessions",
    description = "Neither revoked nor expired, most recently active first.",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "`{sessions}`.", body = SessionsBody),
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
    let sessions = deps.sessions.list_active_for_user(&user_id, deps.clock.now()).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(SessionsBody { sessions: sessions.iter().map(SessionBody::new).collect() }))
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
        (status = 200, description = "The session.", body = SessionBody),
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
    Ok(HttpResponse::Ok().json(SessionBody::new(&session)))
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
    revoke_sessions(&deps, &caller, &request, &user_id, &[session]).await?;
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
        (status = 200, description = "`{grants}`.", body = GrantsBody),
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
    let sessions = deps.sessions.list_active_for_user(&user_id, deps.clock.now()).await.map_err(ApiError::from)?;
    let mut by_client: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
    for session in &sessions {
        by_client.entry(session.client_id.as_str()).or_default().push(session);
    }
    let mut grants = Vec::with_capacity(by_client.len());
    for (client_id, sessions) in by_client {
        let application = deps.applications.find_by_id(client_id).await.map_err(ApiError::from)?;
        let third_party = application.as_ref().is_some_and(|application| application.is_third_party);
        let wanted = match query.app_type {
            None => true,
            Some(AppType::FirstParty) => !third_party,
            Some(AppType::ThirdParty) => third_party,
        };
        if wanted {
            grants.push(grant(&user_id, client_id, &sessions, application.map(|application| application.name)));
        }
    }
    Ok(HttpResponse::Ok().json(GrantsBody { grants }))
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
    let sessions = deps.sessions.list_active_for_user(&user_id, deps.clock.now()).await.map_err(ApiError::from)?;
    let granted: Vec<Session> = sessions.into_iter().filter(|session| session.client_id == grant_id).collect();
    if granted.is_empty() {
        return Err(ApiError::Repository(RepoError::NotFound).into());
    }
    revoke_sessions(&deps, &caller, &request, &user_id, &granted).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn grant(user_id: &UserId, client_id: &str, sessions: &[&Session], name: Option<String>) -> GrantBody {
    let issued_at = sessions.iter().map(|session| session.created_at).min().unwrap_or(Timestamp::from_millis(0));
    let expires_at = sessions.iter().map(|session| session.expires_at).max().unwrap_or(issued_at);
    GrantBody {
        id: client_id.to_owned(),
        payload: json!({
            "exp": expires_at.as_secs(),
            "iat": issued_at.as_secs(),
            "jti": client_id,
            "kind": "Grant",
            "clientId": client_id,
            "accountId": user_id.as_str(),
        }),
        expires_at: expires_at.as_millis(),
        application: GrantApplication { id: client_id.to_owned(), name },
        session_ids: sessions.iter().map(|session| session.id.clone()).collect(),
    }
}

/// Ends `sessions` and logs it, in one transaction.
async fn revoke_sessions(
    deps: &UserSessionsDeps,
    caller: &ManagementCaller,
    request: &HttpRequest,
    user_id: &UserId,
    sessions: &[Session],
) -> Result<(), ApiError> {
    let now = deps.clock.now();
    let session_ids: Vec<String> = sessions.iter().map(|session| session.id.clone()).collect();
    let client_ids: Vec<&str> = sessions.iter().map(|session| session.client_id.as_str()).collect();
    let entry = AuditEntry::about(
        deps.ids.entity_id(),
        keys::USER_SESSIONS_REVOKED,
        user_id,
        &audit_context(caller, request),
        details([("sessionIds", json!(session_ids)), ("clientIds", json!(client_ids))]),
        now,
    );
    deps.sessions.revoke_logged(&session_ids, RevokeReason::Revoked, now, &entry).await?;
    Ok(())
}

/// The user's live session of that id, or 404 `oidc.session_not_found`.
async fn active_session(deps: &UserSessionsDeps, user_id: &UserId, session_id: &str) -> Result<Session, ApiError> {
    let session = deps.sessions.find(session_id).await?;
    session
        .filter(|session| session.user_id == *user_id && session.is_active(deps.clock.now()))
        .ok_or(ApiError::SessionNotFound)
}

/// The user named by the path, or 404 `entity.not_found` (a malformed id names no user either).
async fn existing_user(deps: &UserSessionsDeps, user_id: &str) -> Result<UserId, ApiError> {
    let user_id = UserId::parse(user_id).map_err(|_| ApiError::Repository(RepoError::NotFound))?;
    deps.users.find_by_id(&user_id).await?.ok_or(ApiError::Repository(RepoError::NotFound))?;
    Ok(user_id)
}
