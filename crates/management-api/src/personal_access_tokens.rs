//! `/api/users/{userId}/personal-access-tokens`: Logto's personal access token routes (list, create, rename, delete,
//! with both Logto's current body forms and its legacy `…/{name}` paths).
//!
//! Stricter than Logto: the `pat_…` value is returned once, by the create call, and stored only as a hash, so the
//! list shows no `value`; tokens may carry `scopes` and record `lastUsedAt`. Deleting a token ends every access
//! token exchanged from it on the next request. Each create, rename and delete is logged (name and action, never
//! the value) in the same transaction as the change.

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::audit::{AuditEntry, details, keys};
use latchkey_domain::personal_access_token::{NAME_MAX_CHARS, PersonalAccessToken, PersonalAccessTokenRepository};
use latchkey_domain::ports::{Conflict, RepoError, UserRepository};
use latchkey_domain::{Clock, IdGenerator, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::TENANT_ID;
use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;
use crate::users::audit_context;

/// What the personal access token handlers need; register it once as `web::Data<PersonalAccessTokensDeps>`.
#[derive(Clone)]
pub struct PersonalAccessTokensDeps {
    pub tokens: Arc<dyn PersonalAccessTokenRepository>,
    /// To answer 404 for an unknown user.
    pub users: Arc<dyn UserRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for PersonalAccessTokensDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalAccessTokensDeps").finish_non_exhaustive()
    }
}

/// Routes relative to the `/api/users` scope. `…/delete` is registered before `…/{name}`, and also answers the
/// legacy methods for a token that happens to be named `delete`.
pub(crate) fn user_routes(config: &mut ServiceConfig) {
    config
        .service(
            web::resource("/{userId}/personal-access-tokens")
                .route(web::get().to(list))
                .route(web::post().to(create))
                .route(web::patch().to(rename)),
        )
        .service(
            web::resource("/{userId}/personal-access-tokens/delete")
                .route(web::post().to(delete))
                .route(web::patch().to(rename_named_delete))
                .route(web::delete().to(delete_named_delete)),
        )
        .service(
            web::resource("/{userId}/personal-access-tokens/{name}")
                .route(web::patch().to(rename_by_path))
                .route(web::delete().to(delete_by_path)),
        );
}

type Json<T> = Result<web::Json<T>, actix_web::Error>;
type Deps = web::Data<PersonalAccessTokensDeps>;

/// A token as listed: never its value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalAccessTokenBody {
    tenant_id: &'static str,
    user_id: String,
    name: String,
    /// The `pat_…` value: only in the create response.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// Scopes the token is limited to (a Latchkey extension; empty: none).
    scopes: Vec<String>,
    /// Milliseconds since the epoch.
    created_at: i64,
    /// Milliseconds since the epoch; `null`: never expires.
    expires_at: Option<i64>,
    /// When the token was last exchanged (a Latchkey extension); `null`: never.
    last_used_at: Option<i64>,
}

impl PersonalAccessTokenBody {
    fn new(token: &PersonalAccessToken) -> Self {
        Self {
            tenant_id: TENANT_ID,
            user_id: token.user_id.as_str().to_owned(),
            name: token.name.clone(),
            value: None,
            scopes: token.scopes.clone(),
            created_at: token.created_at.as_millis(),
            expires_at: token.expires_at.map(Timestamp::as_millis),
            last_used_at: token.last_used_at.map(Timestamp::as_millis),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePersonalAccessToken {
    /// Unique within the user, 1 to 256 characters.
    name: String,
    /// Milliseconds since the epoch, in the future; absent or `null`: never expires.
    #[serde(default)]
    expires_at: Option<i64>,
    /// Scopes the exchanged access tokens are limited to (a Latchkey extension).
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenamePersonalAccessToken {
    /// The new name, unique within the user.
    name: String,
    /// The token's current name (required on `PATCH …/personal-access-tokens`, ignored on the legacy path).
    #[serde(default)]
    current_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeletePersonalAccessToken {
    /// The name of the token to delete.
    name: String,
}

/// `GET /api/users/{userId}/personal-access-tokens`: every token of the user, oldest first, without values.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/personal-access-tokens",
    tag = "Users",
    summary = "List a user's personal access tokens",
    description = "Without `value` (shown once, at creation; stored hashed, unlike Logto), with `scopes` and \
        `lastUsedAt`.",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user's tokens, oldest first.", body = [PersonalAccessTokenBody]),
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
    let tokens = deps.tokens.list_for_user(&user_id).await.map_err(ApiError::from)?;
    let body: Vec<_> = tokens.iter().map(PersonalAccessTokenBody::new).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/users/{userId}/personal-access-tokens`: 201 with the token and its value, shown this once.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/personal-access-tokens",
    tag = "Users",
    summary = "Create a personal access token",
    description = "The response's `value` (`pat_…`) is shown once: only its hash is stored.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = CreatePersonalAccessToken,
    responses(
        (status = 201, description = "The new token with its `value`.", body = PersonalAccessTokenBody),
        (status = 400, description = "`guard.invalid_input` (malformed body or name) or `request.invalid_input` \
            (`expiresAt` not in the future).", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user.", body = ErrorBody),
        (status = 422, description = "`user.personal_access_token_name_exists`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
    body: Json<CreatePersonalAccessToken>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    let body = body?.into_inner();
    check_name(&body.name)?;
    let now = deps.clock.now();
    let expires_at = body.expires_at.map(Timestamp::from_millis);
    if expires_at.is_some_and(|expires_at| expires_at <= now) {
        return Err(ApiError::InvalidInput("The value of `expiresAt` must be in the future.").into());
    }
    let user_id = existing_user(&deps, &path).await?;
    let (value, mut token) = PersonalAccessToken::issue(deps.ids.entity_id(), user_id, body.name, now, expires_at);
    token.scopes = body.scopes.unwrap_or_default();
    let entry = logged(&deps, &caller, &request, &token.user_id, "created", &token.name, now);
    deps.tokens.create(&token, &entry).await.map_err(name_taken)?;
    let mut response = PersonalAccessTokenBody::new(&token);
    response.value = Some(value.expose().to_owned());
    Ok(HttpResponse::Created().json(response))
}

/// `PATCH /api/users/{userId}/personal-access-tokens`: Logto's current rename, `{currentName, name}`.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/personal-access-tokens",
    tag = "Users",
    summary = "Rename a personal access token",
    description = "Renames the token named `currentName`; its value does not change.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = RenamePersonalAccessToken,
    responses(
        (status = 200, description = "The renamed token (without value).", body = PersonalAccessTokenBody),
        (status = 400, description = "`guard.invalid_input`: malformed body or name, or no `currentName`.",
            body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user or token.", body = ErrorBody),
        (status = 422, description = "`user.personal_access_token_name_exists`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn rename(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
    body: Json<RenamePersonalAccessToken>,
) -> actix_web::Result<HttpResponse> {
    let body = body?.into_inner();
    let current_name =
        body.current_name.ok_or_else(|| ApiError::InvalidBody("`currentName` is required".to_owned()))?;
    rename_token(&caller, &deps, &path, &request, &current_name, &body.name).await
}

/// `PATCH /api/users/{userId}/personal-access-tokens/{name}`: Logto's legacy rename, `{name}`.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/personal-access-tokens/{name}",
    tag = "Users",
    summary = "Rename a personal access token (legacy path)",
    description = "Deprecated in Logto in favour of `PATCH /api/users/{userId}/personal-access-tokens`.",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("name" = String, Path, description = "The token's current name."),
    ),
    request_body = RenamePersonalAccessToken,
    responses(
        (status = 200, description = "The renamed token (without value).", body = PersonalAccessTokenBody),
        (status = 400, description = "`guard.invalid_input`: malformed body or name.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user or token.", body = ErrorBody),
        (status = 422, description = "`user.personal_access_token_name_exists`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn rename_by_path(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: Json<RenamePersonalAccessToken>,
) -> actix_web::Result<HttpResponse> {
    let (user_id, current_name) = path.into_inner();
    rename_token(&caller, &deps, &user_id, &request, &current_name, &body?.name).await
}

/// The legacy rename of a token named `delete`, whose path the `POST …/delete` resource takes.
async fn rename_named_delete(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
    body: Json<RenamePersonalAccessToken>,
) -> actix_web::Result<HttpResponse> {
    rename_token(&caller, &deps, &path, &request, "delete", &body?.name).await
}

/// `POST /api/users/{userId}/personal-access-tokens/delete`: Logto's current delete, `{name}`.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/personal-access-tokens/delete",
    tag = "Users",
    summary = "Delete a personal access token",
    description = "Access tokens exchanged from it stop working on their next request.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = DeletePersonalAccessToken,
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`guard.invalid_input`: malformed body.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user or token.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
    body: Json<DeletePersonalAccessToken>,
) -> actix_web::Result<HttpResponse> {
    delete_token(&caller, &deps, &path, &request, &body?.name).await
}

/// `DELETE /api/users/{userId}/personal-access-tokens/{name}`: Logto's legacy delete.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/personal-access-tokens/{name}",
    tag = "Users",
    summary = "Delete a personal access token (legacy path)",
    description = "Deprecated in Logto in favour of `POST /api/users/{userId}/personal-access-tokens/delete`.",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("name" = String, Path, description = "The token's name."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user or token.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_by_path(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let (user_id, name) = path.into_inner();
    delete_token(&caller, &deps, &user_id, &request, &name).await
}

/// The legacy delete of a token named `delete`, whose path the `POST …/delete` resource takes.
async fn delete_named_delete(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    delete_token(&caller, &deps, &path, &request, "delete").await
}

async fn rename_token(
    caller: &ManagementCaller,
    deps: &PersonalAccessTokensDeps,
    user_id: &str,
    request: &HttpRequest,
    current_name: &str,
    new_name: &str,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    check_name(new_name)?;
    let user_id = existing_user(deps, user_id).await?;
    let now = deps.clock.now();
    let mut entry = logged(deps, caller, request, &user_id, "renamed", new_name, now);
    entry.details.insert("previousName".to_owned(), json!(current_name));
    deps.tokens.rename(&user_id, current_name, new_name, &entry).await.map_err(name_taken)?;
    let tokens = deps.tokens.list_for_user(&user_id).await.map_err(ApiError::from)?;
    let renamed =
        tokens.iter().find(|token| token.name == new_name).ok_or(ApiError::Repository(RepoError::NotFound))?;
    Ok(HttpResponse::Ok().json(PersonalAccessTokenBody::new(renamed)))
}

async fn delete_token(
    caller: &ManagementCaller,
    deps: &PersonalAccessTokensDeps,
    user_id: &str,
    request: &HttpRequest,
    name: &str,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    let user_id = existing_user(deps, user_id).await?;
    let entry = logged(deps, caller, request, &user_id, "deleted", name, deps.clock.now());
    deps.tokens.delete(&user_id, name, &entry).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user named by the path, or 404 `entity.not_found` (a malformed id names no user either).
async fn existing_user(deps: &PersonalAccessTokensDeps, user_id: &str) -> Result<UserId, ApiError> {
    let user_id = UserId::parse(user_id).map_err(|_| ApiError::Repository(RepoError::NotFound))?;
    deps.users.find_by_id(&user_id).await?.ok_or(ApiError::Repository(RepoError::NotFound))?;
    Ok(user_id)
}

/// Logto's column bounds: 1 to 256 characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    if length == 0 || length > NAME_MAX_CHARS {
        return Err(ApiError::InvalidBody(format!("`name` must have 1 to {NAME_MAX_CHARS} characters")));
    }
    Ok(())
}

/// The audit entry of a token change: its name and the action, never its value.
fn logged(
    deps: &PersonalAccessTokensDeps,
    caller: &ManagementCaller,
    request: &HttpRequest,
    user_id: &UserId,
    action: &str,
    name: &str,
    now: Timestamp,
) -> AuditEntry {
    AuditEntry::about(
        deps.ids.entity_id(),
        keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED,
        user_id,
        &audit_context(caller, request),
        details([("action", json!(action)), ("name", json!(name))]),
        now,
    )
}

fn name_taken(error: RepoError) -> ApiError {
    match error {
        RepoError::Conflict(Conflict::Name) => ApiError::PersonalAccessTokenNameInUse,
        other => ApiError::from(other),
    }
}
