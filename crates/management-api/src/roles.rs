//! `/api/roles` and `/api/users/{userId}/roles`: Logto's roles and users' roles.
//!
//! Stored roles come from the [`RoleRepository`]; the built-in Management API role ([`Role::management_api`]),
//! which applications hold by name, is listed with them as a `MachineToMachine` role, cannot be changed or deleted
//! (Logto's 403 `role.internal_role_violation` for internal roles) and cannot be given to users (422
//! `user.invalid_role_type`, as any `MachineToMachine` role). Every change to a user's roles is logged
//! (`User.Roles.Updated`) in the change's own transaction.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::audit::{AuditEntry, details, keys};
use latchkey_domain::ports::{Conflict, Page, Pagination, RepoError, UserRepository};
use latchkey_domain::role::{Role, RoleFilter, RoleRepository, RoleType};
// A role in Logto's wire shape: the domain's view, which role events carry too.
use latchkey_domain::role::RoleView as RoleBody;
use latchkey_domain::{Clock, IdGenerator, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::guard::{ManagementCaller, ManagementConfig};
use crate::pagination::{paged_response, requested_page};
use crate::policy::{Authorized, ManagementAction};
use crate::users::audit_context;

/// What the role handlers need; register it once as `web::Data<RolesDeps>`.
#[derive(Clone)]
pub struct RolesDeps {
    pub roles: Arc<dyn RoleRepository>,
    pub users: Arc<dyn UserRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for RolesDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolesDeps").finish_non_exhaustive()
    }
}

/// The routes under `/api/roles`.
pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(web::resource("").route(web::get().to(list)).route(web::post().to(create))).service(
        web::resource("/{id}").route(web::get().to(get)).route(web::patch().to(update)).route(web::delete().to(delete)),
    );
}

/// The routes under `/api/users` that this module serves.
pub(crate) fn user_routes(config: &mut ServiceConfig) {
    config
        .service(
            web::resource("/{userId}/roles")
                .route(web::get().to(list_user_roles))
                .route(web::post().to(assign_user_roles))
                .route(web::put().to(replace_user_roles)),
        )
        .service(web::resource("/{userId}/roles/{roleId}").route(web::delete().to(remove_user_role)));
}

type Json<T> = Result<web::Json<T>, actix_web::Error>;
type Deps = web::Data<RolesDeps>;

/// `GET /api/roles`: stored roles newest first, then the built-in role; paginated.
#[utoipa::path(
    get,
    path = "/api/roles",
    tag = "Roles",
    summary = "List roles",
    description = "Stored roles newest first, then the built-in `management-api-access` role (`MachineToMachine`), \
        paginated as Logto does.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
        ("search" = Option<String>, Query, description = "A case-insensitive `LIKE` pattern on the name, used \
            whole as Logto does (`%admin%` for a substring)."),
        ("type" = Option<String>, Query, description = "`User` or `MachineToMachine`."),
    ),
    responses(
        (status = 200, description = "A page of roles.", body = [RoleBody],
            headers(
            ("Total-Number" = String, description = "How many items there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination` or `guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadRoles)?;
    let pagination = requested_page(&request)?;
    let filter = requested_filter(&request)?;
    let stored = deps.roles.list(&filter, pagination).await.map_err(ApiError::from)?;
    let page = with_built_in(stored, &filter, pagination);
    let items: Vec<_> = page.items.iter().map(RoleBody::new).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, page.total, &items))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateRole {
    name: String,
    description: String,
    /// `User` (the default) or `MachineToMachine`.
    #[serde(rename = "type", default)]
    #[schema(value_type = Option<String>)]
    role_type: RoleType,
    #[serde(default)]
    is_default: bool,
    /// Logto's API resource scopes; Latchkey has none, so only an empty list is accepted.
    #[serde(default)]
    scope_ids: Vec<String>,
}

/// `POST /api/roles`: 200 with the new role, as Logto answers.
#[utoipa::path(
    post,
    path = "/api/roles",
    tag = "Roles",
    summary = "Create a role",
    request_body = CreateRole,
    responses(
        (status = 200, description = "The new role.", body = RoleBody),
        (status = 400, description = "`guard.invalid_input` (name or description not 1 to 128 characters) or \
            `request.invalid_input` (`scopeIds`).", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 422, description = "`role.name_in_use`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    request: HttpRequest,
    deps: Deps,
    body: Json<CreateRole>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteRoles)?;
    let body = body?.into_inner();
    if !body.scope_ids.is_empty() {
        return Err(ApiError::InvalidInput("scopeIds: Latchkey has no API resource scopes").into());
    }
    let role = Role {
        id: deps.ids.entity_id(),
        name: body.name,
        description: body.description,
        role_type: body.role_type,
        is_default: body.is_default,
        created_at: deps.clock.now(),
    };
    check(&role)?;
    let entry = role_entry(&deps, &caller, &request, keys::ROLE_CREATED, &role);
    insert(&authorized, &deps, &role, &entry).await?;
    Ok(HttpResponse::Ok().json(RoleBody::new(&role)))
}

/// `GET /api/roles/{id}`.
#[utoipa::path(
    get,
    path = "/api/roles/{id}",
    tag = "Roles",
    summary = "Get a role",
    params(("id" = String, Path, description = "The role's id.")),
    responses(
        (status = 200, description = "The role.", body = RoleBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps, id: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadRoles)?;
    let role = find(&deps, &id).await?;
    Ok(HttpResponse::Ok().json(RoleBody::new(&role)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateRole {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    is_default: Option<bool>,
}

/// `PATCH /api/roles/{id}`: name, description and `isDefault`.
#[utoipa::path(
    patch,
    path = "/api/roles/{id}",
    tag = "Roles",
    summary = "Update a role",
    params(("id" = String, Path, description = "The role's id.")),
    request_body = UpdateRole,
    responses(
        (status = 200, description = "The updated role.", body = RoleBody),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`, or `role.internal_role_violation` for the built-in role.",
            body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 422, description = "`role.name_in_use`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    request: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: Json<UpdateRole>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteRoles)?;
    let body = body?.into_inner();
    if Role::is_built_in(&id) {
        return Err(ApiError::InternalRole.into());
    }
    let mut role = find(&deps, &id).await?;
    role.name = body.name.unwrap_or(role.name);
    role.description = body.description.unwrap_or(role.description);
    role.is_default = body.is_default.unwrap_or(role.is_default);
    check(&role)?;
    if role.name == Role::management_api().name {
        return Err(ApiError::RoleNameInUse.into());
    }
    let entry = role_entry(&deps, &caller, &request, keys::ROLE_DATA_UPDATED, &role);
    deps.roles.update(&role, &entry).await.map_err(role_error)?;
    Ok(HttpResponse::Ok().json(RoleBody::new(&role)))
}

/// `DELETE /api/roles/{id}`: 204; users holding the role lose it.
#[utoipa::path(
    delete,
    path = "/api/roles/{id}",
    tag = "Roles",
    summary = "Delete a role",
    description = "Users holding the role lose it.",
    params(("id" = String, Path, description = "The role's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`, or `role.internal_role_violation` for the built-in role.",
            body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete(
    caller: ManagementCaller,
    request: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteRoles)?;
    if Role::is_built_in(&id) {
        return Err(ApiError::InternalRole.into());
    }
    let role = find(&deps, &id).await?;
    let entry = role_entry(&deps, &caller, &request, keys::ROLE_DELETED, &role);
    deps.roles.delete(&id, &entry).await.map_err(role_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/users/{userId}/roles`: the user's roles newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/roles",
    tag = "Roles",
    summary = "List a user's roles",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
        ("search" = Option<String>, Query, description = "A case-insensitive `LIKE` pattern on the name."),
    ),
    responses(
        (status = 200, description = "A page of the user's roles.", body = [RoleBody],
            headers(
            ("Total-Number" = String, description = "How many items there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination` or `guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list_user_roles(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    user_id: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadRoles)?;
    let user_id = existing_user(&deps, &user_id).await?;
    let pagination = requested_page(&request)?;
    let filter = RoleFilter { role_type: Some(RoleType::User), ..requested_filter(&request)? };
    let page = deps.roles.list_for_user(&user_id, &filter, pagination).await.map_err(ApiError::from)?;
    let items: Vec<_> = page.items.iter().map(RoleBody::new).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, page.total, &items))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RoleIds {
    role_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AssignedRoles {
    role_ids: Vec<String>,
    added_role_ids: Vec<String>,
}

/// `POST /api/users/{userId}/roles`: 201; roles the user holds already are skipped.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/roles",
    tag = "Roles",
    summary = "Give a user roles",
    description = "Roles the user holds already are skipped.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = RoleIds,
    responses(
        (status = 201, description = "The requested and the newly given role ids.", body = AssignedRoles),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found` (user) or `entity.not_exists_with_id` (role).",
            body = ErrorBody),
        (status = 422, description = "`user.invalid_role_type`: a `MachineToMachine` role.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn assign_user_roles(
    caller: ManagementCaller,
    deps: Deps,
    user_id: web::Path<String>,
    body: Json<RoleIds>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteRoles)?;
    let RoleIds { role_ids } = checked_role_ids(body)?;
    let user_id = existing_user(&deps, &user_id).await?;
    let held = held_role_ids(&deps, &user_id).await?;
    let added = missing(&role_ids, &held);
    check_user_roles(&deps, &added).await?;
    if !added.is_empty() {
        let entry = entry(&deps, &caller, &request, &user_id, json!({ "added": added }));
        deps.roles.assign(&user_id, &added, &entry).await.map_err(ApiError::from)?;
    }
    Ok(HttpResponse::Created().json(AssignedRoles { role_ids, added_role_ids: added }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReplacedRoles {
    role_ids: Vec<String>,
}

/// `PUT /api/users/{userId}/roles`: the user's roles become exactly `roleIds`.
#[utoipa::path(
    put,
    path = "/api/users/{userId}/roles",
    tag = "Roles",
    summary = "Replace a user's roles",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = RoleIds,
    responses(
        (status = 200, description = "The user's role ids now.", body = ReplacedRoles),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found` (user) or `entity.not_exists_with_id` (role).",
            body = ErrorBody),
        (status = 422, description = "`user.invalid_role_type`: a `MachineToMachine` role.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn replace_user_roles(
    caller: ManagementCaller,
    deps: Deps,
    user_id: web::Path<String>,
    body: Json<RoleIds>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteRoles)?;
    let RoleIds { role_ids } = checked_role_ids(body)?;
    let user_id = existing_user(&deps, &user_id).await?;
    let held = held_role_ids(&deps, &user_id).await?;
    let added = missing(&role_ids, &held);
    check_user_roles(&deps, &added).await?;
    let wanted: BTreeSet<&String> = role_ids.iter().collect();
    let removed: Vec<&String> = held.iter().filter(|id| !wanted.contains(id)).collect();
    if !added.is_empty() || !removed.is_empty() {
        let entry = entry(&deps, &caller, &request, &user_id, json!({ "added": added, "removed": removed }));
        deps.roles.replace(&user_id, &role_ids, &entry).await.map_err(ApiError::from)?;
    }
    Ok(HttpResponse::Ok().json(ReplacedRoles { role_ids: wanted.into_iter().cloned().collect() }))
}

/// `DELETE /api/users/{userId}/roles/{roleId}`: 204.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/roles/{roleId}",
    tag = "Roles",
    summary = "Take a role from a user",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("roleId" = String, Path, description = "The role's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_found` (user, or the user does not hold the role) or \
            `entity.not_exists_with_id` (role).", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove_user_role(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteRoles)?;
    let (user_id, role_id) = path.into_inner();
    let user_id = existing_user(&deps, &user_id).await?;
    let role = find(&deps, &role_id).await?;
    let entry = entry(&deps, &caller, &request, &user_id, json!({ "removed": [role.id] }));
    deps.roles.remove(&user_id, &role.id, &entry).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `search` (or Logto's `search.name`) and `type` of the request's query.
fn requested_filter(request: &HttpRequest) -> Result<RoleFilter, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|_| ApiError::InvalidInput("the query string is malformed"))?
        .into_inner();
    let mut filter = RoleFilter::default();
    for (key, value) in pairs {
        match key.as_str() {
            "search" | "search.name" => filter.name = Some(value),
            "type" => {
                let role_type = RoleType::from_wire_name(&value)
                    .ok_or_else(|| ApiError::InvalidBody("type: expected `User` or `MachineToMachine`".to_owned()))?;
                filter.role_type = Some(role_type);
            }
            _ => {}
        }
    }
    Ok(filter)
}

/// `stored` with the built-in role after the stored ones, when the filter lets it through.
fn with_built_in(stored: Page<Role>, filter: &RoleFilter, pagination: Pagination) -> Page<Role> {
    let built_in = Role::management_api();
    let listed = filter.role_type.is_none_or(|role_type| role_type == built_in.role_type)
        && filter.name.as_deref().is_none_or(|pattern| like_matches(pattern, &built_in.name));
    if !listed {
        return stored;
    }
    let Page { mut items, total } = stored;
    // The built-in role is the last item of the whole list, at index `total`.
    let offset = pagination.offset();
    if (offset..offset.saturating_add(pagination.page_size)).contains(&total) {
        items.push(built_in);
    }
    Page { items, total: total + 1 }
}

/// Whether `text` matches the case-insensitive `LIKE` `pattern` (`%` any run, `_` one character, `\` escapes), as
/// the store matches stored names.
fn like_matches(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy)]
    enum Piece {
        AnyRun,
        AnyOne,
        Literal(char),
    }
    let mut pieces = Vec::new();
    let mut chars = pattern.chars().flat_map(char::to_lowercase);
    while let Some(character) = chars.next() {
        pieces.push(match character {
            '%' => Piece::AnyRun,
            '_' => Piece::AnyOne,
            '\\' => Piece::Literal(chars.next().unwrap_or('\\')),
            other => Piece::Literal(other),
        });
    }
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // matched[j]: the pieces so far match the first j characters of the text.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for piece in pieces {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match piece {
                Piece::AnyRun => matched[j] || (j > 0 && next[j - 1]),
                Piece::AnyOne => j > 0 && matched[j - 1],
                Piece::Literal(character) => j > 0 && matched[j - 1] && text[j - 1] == character,
            };
        }
        matched = next;
    }
    matched[text.len()]
}

fn check(role: &Role) -> Result<(), ApiError> {
    role.validate().map_err(|error| ApiError::InvalidBody(error.to_string()))
}

/// Logto's guard: every role id is a non-empty string.
fn checked_role_ids(body: Json<RoleIds>) -> Result<RoleIds, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    if body.role_ids.iter().any(String::is_empty) {
        return Err(ApiError::InvalidBody("roleIds: a role id is empty".to_owned()));
    }
    Ok(body)
}

async fn find(deps: &RolesDeps, id: &str) -> Result<Role, ApiError> {
    if Role::is_built_in(id) {
        return Ok(Role::management_api());
    }
    deps.roles.find(id).await?.ok_or(ApiError::RoleNotFound)
}

async fn insert(_: &Authorized, deps: &RolesDeps, role: &Role, entry: &AuditEntry) -> Result<(), ApiError> {
    if role.name == Role::management_api().name {
        return Err(ApiError::RoleNameInUse);
    }
    deps.roles.insert(role, entry).await.map_err(role_error)
}

/// The user of `id`, which must exist (Logto's 404 `entity.not_found` otherwise).
async fn existing_user(deps: &RolesDeps, id: &str) -> Result<UserId, ApiError> {
    let id = UserId::parse(id).map_err(|_| ApiError::Repository(RepoError::NotFound))?;
    let user = deps.users.find_by_id(&id).await?.ok_or(ApiError::Repository(RepoError::NotFound))?;
    Ok(user.id)
}

async fn held_role_ids(deps: &RolesDeps, user_id: &UserId) -> Result<BTreeSet<String>, ApiError> {
    Ok(deps.roles.role_ids_of_user(user_id).await?.into_iter().collect())
}

/// The ids of `requested` not in `held`, once each, in the order asked.
fn missing(requested: &[String], held: &BTreeSet<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    requested.iter().filter(|id| !held.contains(*id) && seen.insert(id.as_str())).cloned().collect()
}

/// Every role of `role_ids` exists and is a `User` role.
async fn check_user_roles(deps: &RolesDeps, role_ids: &[String]) -> Result<(), ApiError> {
    for id in role_ids {
        if find(deps, id).await?.role_type != RoleType::User {
            return Err(ApiError::InvalidUserRoleType);
        }
    }
    Ok(())
}

/// The audit entry of a change to the role itself (`Role.Created`, `Role.Data.Updated`, `Role.Deleted`).
fn role_entry(
    deps: &RolesDeps,
    caller: &ManagementCaller,
    request: &HttpRequest,
    key: &str,
    role: &Role,
) -> AuditEntry {
    let details = details([("roleId", json!(role.id)), ("name", json!(role.name))]);
    AuditEntry::of(deps.ids.entity_id(), key, &audit_context(caller, request), details, deps.clock.now())
}

fn entry(
    deps: &RolesDeps,
    caller: &ManagementCaller,
    request: &HttpRequest,
    user_id: &UserId,
    change: serde_json::Value,
) -> AuditEntry {
    let details = match change {
        serde_json::Value::Object(details) => details,
        other => details([("change", other)]),
    };
    AuditEntry::about(
        deps.ids.entity_id(),
        keys::USER_ROLES_UPDATED,
        user_id,
        &audit_context(caller, request),
        details,
        deps.clock.now(),
    )
}

/// A role write's `NotFound` is the role's; a taken name is Logto's `role.name_in_use`.
fn role_error(error: RepoError) -> ApiError {
    match error {
        RepoError::NotFound => ApiError::RoleNotFound,
        RepoError::Conflict(Conflict::Name) => ApiError::RoleNameInUse,
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(count: usize, total: u64) -> Page<Role> {
        let role = |n: usize| Role { id: format!("{n:021}"), name: format!("role {n}"), ..Role::management_api() };
        Page { items: (0..count).map(role).collect(), total }
    }

    fn ids(page: &Page<Role>) -> Vec<&str> {
        page.items.iter().map(|role| role.id.as_str()).collect()
    }

    #[test]
    fn the_built_in_role_is_the_last_item_of_the_whole_list() {
        let everything = RoleFilter::default();
        let first = with_built_in(stored(2, 3), &everything, Pagination::new(1, 2).unwrap());
        assert_eq!((first.items.len(), first.total), (2, 4));
        let second = with_built_in(stored(1, 3), &everything, Pagination::new(2, 2).unwrap());
        assert_eq!(ids(&second)[1], "management-api-access");
        assert_eq!(second.total, 4);
        let none_stored = with_built_in(stored(0, 0), &everything, Pagination::default());
        assert_eq!(ids(&none_stored), ["management-api-access"]);
        let beyond = with_built_in(stored(0, 0), &everything, Pagination::new(2, 20).unwrap());
        assert!(beyond.items.is_empty());
    }

    #[test]
    fn the_built_in_role_follows_the_type_and_name_filters() {
        let listed = |filter: RoleFilter| with_built_in(stored(0, 0), &filter, Pagination::default()).total == 1;
        assert!(listed(RoleFilter { role_type: Some(RoleType::MachineToMachine), name: None }));
        assert!(!listed(RoleFilter { role_type: Some(RoleType::User), name: None }));
        assert!(listed(RoleFilter { role_type: None, name: Some("%management%".into()) }));
        assert!(!listed(RoleFilter { role_type: None, name: Some("management".into()) }));
    }

    #[test]
    fn like_patterns_match_as_in_the_store() {
        assert!(like_matches("%API%", "Management API access"));
        assert!(like_matches("management_api%", "Management API access"));
        assert!(like_matches("%", ""));
        assert!(!like_matches("_", ""));
        assert!(like_matches(r"50\%", "50%"));
        assert!(!like_matches(r"50\%", "500"));
        assert!(!like_matches("%admin", "admins"));
    }

    #[test]
    fn missing_role_ids_are_the_new_ones_once_each_in_order() {
        let held: BTreeSet<String> = ["a".to_owned()].into();
        let requested = ["b", "a", "c", "b"].map(str::to_owned);
        assert_eq!(missing(&requested, &held), ["b", "c"]);
    }
}
