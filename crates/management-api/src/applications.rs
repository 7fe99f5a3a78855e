//! `/api/applications`: Logto's application routes for `MachineToMachine` and first-party apps, their client
//! secrets and their roles.
//!
//! Secrets are generated here (about 190 bits), returned in clear exactly once (`secret` in the create response,
//! `value` when one is added) and stored only as hashes: listing them shows names and dates, never values, where
//! Logto lists them in plaintext.
//!
//! Roles: Latchkey has one built-in role, [`MANAGEMENT_API_ROLE`], under the fixed id [`MANAGEMENT_API_ROLE_ID`];
//! assigning it to a `MachineToMachine` app lets the app take Management API tokens. Any other role id is unknown.
//!
//! Every change is a read, a change and a version-checked write; when another writer got in between, the change
//! is re-applied on a fresh read, so nobody's write is silently lost.

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::application::{
    Application, ApplicationRepository, ApplicationType, ClientSecret, CustomClientMetadata, MANAGEMENT_API_ROLE,
    OidcClientMetadata,
};
use latchkey_domain::ports::{Conflict, Pagination, RepoError};
use latchkey_domain::secrets::OpaqueSecret;
use latchkey_domain::{Clock, IdGenerator, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::TENANT_ID;
use crate::error::ApiError;
use crate::guard::{ManagementCaller, ManagementConfig};
use crate::pagination::{paged_response, requested_page};
use crate::policy::{Authorized, ManagementAction};

pub use latchkey_domain::application::MANAGEMENT_API_ROLE_ID;
/// The name of the secret generated with a new application, as in Logto.
const DEFAULT_SECRET_NAME: &str = "Default secret";
/// Logto's limit on application and secret names (`varchar(256)`).
const MAX_NAME_LENGTH: usize = 256;
/// How often a change is re-applied on a fresh read when other writers keep getting in between.
pub(crate) const UPDATE_ATTEMPTS: usize = 5;

/// What the application handlers need; register it once as `web::Data<ApplicationsDeps>`.
#[derive(Clone)]
pub struct ApplicationsDeps {
    pub repository: Arc<dyn ApplicationRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for ApplicationsDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationsDeps").finish_non_exhaustive()
    }
}

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/{id}/secrets").route(web::get().to(list_secrets)).route(web::post().to(add_secret)))
        .service(web::resource("/{id}/secrets/{name}").route(web::delete().to(delete_secret)))
        .service(web::resource("/{id}/roles").route(web::get().to(list_roles)).route(web::post().to(assign_roles)))
        .service(web::resource("/{id}/roles/{roleId}").route(web::delete().to(remove_role)));
}

type Json<T> = Result<web::Json<T>, actix_web::Error>;
type Deps = web::Data<ApplicationsDeps>;

/// `GET /api/applications`: newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/applications",
    tag = "Applications",
    summary = "List applications",
    description = "Newest first, paginated as Logto does.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
    ),
    responses(
        (status = 200, description = "A page of applications.", body = [ApplicationBody],
            headers(
            ("Total-Number" = String, description = "How many items there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination`.", body = ErrorBody),
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
    let _authorized = caller.authorize(ManagementAction::ReadApplications)?;
    let pagination = requested_page(&request)?;
    let page = deps.repository.list(pagination).await.map_err(ApiError::from)?;
    let items: Vec<_> = page.items.iter().map(ApplicationBody::new).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, page.total, &items))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateApplication {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = crate::openapi::ApplicationTypeSchema)]
    app_type: ApplicationType,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    oidc_client_metadata: Option<OidcClientMetadata>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom_client_metadata: Option<CustomClientMetadata>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom_data: Option<Map<String, Value>>,
    #[serde(default)]
    is_third_party: Option<bool>,
}

/// `POST /api/applications`: 200 with the application and, for a confidential type, its first secret in clear.
#[utoipa::path(
    post,
    path = "/api/applications",
    tag = "Applications",
    summary = "Create an application",
    description = "A confidential type (`MachineToMachine`, `Traditional`) gets a first secret, returned once as `secret`.",
    request_body = CreateApplication,
    responses(
        (status = 200, description = "The new application, with `secret` for a confidential type.", body = ApplicationBody),
        (status = 400, description = "`guard.invalid_input` (malformed body) or `request.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    deps: Deps,
    body: Json<CreateApplication>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let body = body?.into_inner();
    check_name(&body.name)?;
    let is_third_party = body.is_third_party.unwrap_or(false);
    if is_third_party && body.app_type != ApplicationType::Traditional {
        return Err(ApiError::InvalidThirdPartyType.into());
    }
    let now = deps.clock.now();
    let mut application = Application::new(deps.ids.entity_id(), body.name, body.app_type, now);
    application.description = body.description;
    application.oidc_client_metadata = body.oidc_client_metadata.unwrap_or_default();
    application.custom_client_metadata = body.custom_client_metadata.unwrap_or_default();
    application.custom_data = body.custom_data.unwrap_or_default();
    application.is_third_party = is_third_party;
    let secret = application
        .app_type
        .is_confidential()
        .then(|| application.add_generated_secret(DEFAULT_SECRET_NAME.to_owned(), now, None));
    insert(&authorized, &deps, &application).await?;
    let mut body = ApplicationBody::new(&application);
    body.secret = secret.as_ref().map(OpaqueSecret::expose);
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/applications/{id}`, with Logto's `isAdmin` (whether the app has Management API access).
#[utoipa::path(
    get,
    path = "/api/applications/{id}",
    tag = "Applications",
    summary = "Get an application",
    description = "With `isAdmin`: whether the app has Management API access.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    responses(
        (status = 200, description = "The application.", body = ApplicationBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps, id: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadApplications)?;
    let application = find(&deps, &id).await?;
    let mut body = ApplicationBody::new(&application);
    body.is_admin = Some(application.has_role(MANAGEMENT_API_ROLE));
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateApplication {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// Merged into the stored object key by key, as Logto's jsonb merge does; so are the next two.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    oidc_client_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom_client_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    custom_data: Option<Map<String, Value>>,
    /// Logto's toggle for an M2M app's Management API access.
    #[serde(default)]
    is_admin: Option<bool>,
}

/// `PATCH /api/applications/{id}`.
#[utoipa::path(
    patch,
    path = "/api/applications/{id}",
    tag = "Applications",
    summary = "Update an application",
    description = "The metadata objects and `customData` are merged key by key, as in Logto. `isAdmin` toggles a `MachineToMachine` app's Management API access.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    request_body = UpdateApplication,
    responses(
        (status = 200, description = "The updated application.", body = ApplicationBody),
        (status = 400, description = "`guard.invalid_input` (malformed body) or `request.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 422, description = "`application.invalid_type`: `isAdmin` on an app that is not `MachineToMachine`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    body: Json<UpdateApplication>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let body = body?.into_inner();
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let application = modify(&authorized, &deps, &id, |application| {
        if let Some(name) = &body.name {
            application.name.clone_from(name);
        }
        if let Some(description) = &body.description {
            application.description.clone_from(description);
        }
        if let Some(patch) = &body.oidc_client_metadata {
            application.oidc_client_metadata = merged(&application.oidc_client_metadata, patch)?;
        }
        if let Some(patch) = &body.custom_client_metadata {
            application.custom_client_metadata = merged(&application.custom_client_metadata, patch)?;
        }
        if let Some(patch) = &body.custom_data {
            application.custom_data.extend(patch.clone());
        }
        match body.is_admin {
            Some(true) if application.app_type != ApplicationType::MachineToMachine => {
                return Err(ApiError::NotMachineToMachine);
            }
            Some(true) => {
                application.roles.insert(MANAGEMENT_API_ROLE.to_owned());
            }
            Some(false) => {
                application.roles.remove(MANAGEMENT_API_ROLE);
            }
            None => {}
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(ApplicationBody::new(&application)))
}

/// `DELETE /api/applications/{id}`: 204. Tokens of the app stop working on their next request.
#[utoipa::path(
    delete,
    path = "/api/applications/{id}",
    tag = "Applications",
    summary = "Delete an application",
    description = "Tokens of the app stop working on their next request.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete(caller: ManagementCaller, deps: Deps, id: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteApplications)?;
    deps.repository.delete(&id).await.map_err(application_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/applications/{id}/secrets`: names and dates only; values are never shown again.
#[utoipa::path(
    get,
    path = "/api/applications/{id}/secrets",
    tag = "Applications",
    summary = "List an application's secrets",
    description = "Names and dates only: unlike Logto, values are shown once, at creation, and never listed.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    responses(
        (status = 200, description = "The secrets, without values.", body = [SecretBody]),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list_secrets(caller: ManagementCaller, deps: Deps, id: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadApplications)?;
    let application = find(&deps, &id).await?;
    let secrets: Vec<_> =
        application.secrets.iter().map(|secret| SecretBody::new(&application.id, secret, None)).collect();
    Ok(HttpResponse::Ok().json(secrets))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AddSecret {
    name: String,
    #[serde(default)]
    expires_at: Option<i64>,
}

/// `POST /api/applications/{id}/secrets`: 201 with the new secret's `value`, the only time it is shown.
#[utoipa::path(
    post,
    path = "/api/applications/{id}/secrets",
    tag = "Applications",
    summary = "Add a secret",
    description = "The response carries the new secret's `value`, the only time it is shown.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    request_body = AddSecret,
    responses(
        (status = 201, description = "The new secret, with its `value`.", body = SecretBody),
        (status = 400, description = "`guard.invalid_input`, `request.invalid_input` (expiry in the past, public app) or `application.secret_name_exists`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn add_secret(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    body: Json<AddSecret>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let body = body?.into_inner();
    check_name(&body.name)?;
    let now = deps.clock.now();
    let expires_at = body.expires_at.map(Timestamp::from_millis);
    if expires_at.is_some_and(|expires_at| expires_at <= now) {
        return Err(ApiError::InvalidInput("The value of `expiresAt` must be in the future.").into());
    }
    let mut created = None;
    let application = modify(&authorized, &deps, &id, |application| {
        if !application.app_type.is_confidential() {
            return Err(ApiError::InvalidInput("SPA and native applications cannot keep a secret."));
        }
        if application.secrets.iter().any(|secret| secret.name == body.name) {
            return Err(ApiError::SecretNameInUse);
        }
        created = Some(application.add_generated_secret(body.name.clone(), now, expires_at));
        Ok(())
    })
    .await?;
    let stored = application.secrets.iter().find(|secret| secret.name == body.name);
    let (Some(stored), Some(created)) = (stored, created) else {
        return Err(ApiError::Repository(RepoError::Unavailable("the added secret was not stored".to_owned())).into());
    };
    Ok(HttpResponse::Created().json(SecretBody::new(&application.id, stored, Some(created.expose()))))
}

/// `DELETE /api/applications/{id}/secrets/{name}`: 204; the secret stops authenticating at once.
#[utoipa::path(
    delete,
    path = "/api/applications/{id}/secrets/{name}",
    tag = "Applications",
    summary = "Delete a secret",
    description = "The secret stops authenticating at once.",
    params(
        ("id" = String, Path, description = "The application's id."),
        ("name" = String, Path, description = "The secret's name."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id` (application) or `entity.not_found` (secret).", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_secret(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let (id, name) = path.into_inner();
    modify(&authorized, &deps, &id, |application| {
        let before = application.secrets.len();
        application.secrets.retain(|secret| secret.name != name);
        if application.secrets.len() == before { Err(ApiError::EntryNotFound) } else { Ok(()) }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/applications/{id}/roles`: the app's roles, paginated as Logto does.
#[utoipa::path(
    get,
    path = "/api/applications/{id}/roles",
    tag = "Applications",
    summary = "List an application's roles",
    description = "Paginated as Logto does. The one role is `management-api-access`.",
    params(
        ("id" = String, Path, description = "The application's id."),
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
    ),
    responses(
        (status = 200, description = "A page of roles.", body = [RoleBody],
            headers(
            ("Total-Number" = String, description = "How many items there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no application has this id.", body = ErrorBody),
        (status = 422, description = "`application.invalid_type`: not a `MachineToMachine` app.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list_roles(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    id: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadApplications)?;
    let pagination = requested_page(&request)?;
    let application = find(&deps, &id).await?;
    if application.app_type != ApplicationType::MachineToMachine {
        return Err(ApiError::NotMachineToMachine.into());
    }
    let roles: Vec<_> = application.roles.iter().filter_map(|name| RoleBody::for_name(name)).collect();
    let page: Vec<_> = roles.iter().skip(offset(pagination)).take(limit(pagination)).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, roles.len() as u64, &page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AssignRoles {
    role_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AssignedRoles {
    role_ids: Vec<String>,
    added_role_ids: Vec<String>,
}

/// `POST /api/applications/{id}/roles`: 201 with the requested and the newly added role ids.
#[utoipa::path(
    post,
    path = "/api/applications/{id}/roles",
    tag = "Applications",
    summary = "Assign roles",
    description = "Assigning `management-api-access` lets a `MachineToMachine` app take Management API tokens.",
    params(
        ("id" = String, Path, description = "The application's id."),
    ),
    request_body = AssignRoles,
    responses(
        (status = 201, description = "The requested and the newly added role ids.", body = AssignedRoles),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: unknown application or role.", body = ErrorBody),
        (status = 422, description = "`application.invalid_type`: not a `MachineToMachine` app.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn assign_roles(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    body: Json<AssignRoles>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let body = body?.into_inner();
    if body.role_ids.iter().any(String::is_empty) {
        return Err(ApiError::InvalidBody("roleIds: a role id is empty".to_owned()).into());
    }
    let mut added = Vec::new();
    modify(&authorized, &deps, &id, |application| {
        if application.app_type != ApplicationType::MachineToMachine {
            return Err(ApiError::NotMachineToMachine);
        }
        added.clear();
        for role_id in &body.role_ids {
            let name = role_name(role_id).ok_or(ApiError::RoleNotFound)?;
            if application.roles.insert(name.to_owned()) {
                added.push(role_id.clone());
            }
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(AssignedRoles { role_ids: body.role_ids, added_role_ids: added }))
}

/// `DELETE /api/applications/{id}/roles/{roleId}`: 204. The app can no longer take Management API tokens.
#[utoipa::path(
    delete,
    path = "/api/applications/{id}/roles/{roleId}",
    tag = "Applications",
    summary = "Remove a role",
    description = "Without `management-api-access` the app can no longer take Management API tokens.",
    params(
        ("id" = String, Path, description = "The application's id."),
        ("roleId" = String, Path, description = "The role's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id` (application or role) or `entity.not_found` (role not assigned).", body = ErrorBody),
        (status = 422, description = "`application.invalid_type`: not a `MachineToMachine` app.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn remove_role(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::WriteApplications)?;
    let (id, role_id) = path.into_inner();
    modify(&authorized, &deps, &id, |application| {
        if application.app_type != ApplicationType::MachineToMachine {
            return Err(ApiError::NotMachineToMachine);
        }
        let name = role_name(&role_id).ok_or(ApiError::RoleNotFound)?;
        if application.roles.remove(name) { Ok(()) } else { Err(ApiError::EntryNotFound) }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An application in Logto's wire shape (keys in Logto's order).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ApplicationBody<'a> {
    tenant_id: &'static str,
    id: &'a str,
    name: &'a str,
    /// Only in the create response: the first secret, in clear, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    #[schema(value_type = crate::openapi::ApplicationTypeSchema)]
    app_type: ApplicationType,
    #[schema(value_type = Object)]
    oidc_client_metadata: &'a OidcClientMetadata,
    #[schema(value_type = Object)]
    custom_client_metadata: &'a CustomClientMetadata,
    /// Protected apps are a Logto Cloud feature: always `null` here.
    #[schema(value_type = Option<Object>)]
    protected_app_metadata: Option<()>,
    #[schema(value_type = Object)]
    custom_data: &'a Map<String, Value>,
    is_third_party: bool,
    app_level_access_control_enabled: bool,
    created_at: i64,
    /// Only on `GET /api/applications/{id}`, as in Logto.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_admin: Option<bool>,
}

impl<'a> ApplicationBody<'a> {
    fn new(application: &'a Application) -> Self {
        Self {
            tenant_id: TENANT_ID,
            id: &application.id,
            name: &application.name,
            secret: None,
            description: application.description.as_deref(),
            app_type: application.app_type,
            oidc_client_metadata: &application.oidc_client_metadata,
            custom_client_metadata: &application.custom_client_metadata,
            protected_app_metadata: None,
            custom_data: &application.custom_data,
            is_third_party: application.is_third_party,
            app_level_access_control_enabled: false,
            created_at: application.created_at.as_millis(),
            is_admin: None,
        }
    }
}

/// A client secret in Logto's shape; `value` only when the secret has just been created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SecretBody<'a> {
    tenant_id: &'static str,
    application_id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    created_at: i64,
    expires_at: Option<i64>,
}

impl<'a> SecretBody<'a> {
    fn new(application_id: &'a str, secret: &'a ClientSecret, value: Option<&'a str>) -> Self {
        Self {
            tenant_id: TENANT_ID,
            application_id,
            name: &secret.name,
            value,
            created_at: secret.created_at.as_millis(),
            expires_at: secret.expires_at.map(Timestamp::as_millis),
        }
    }
}

/// A role in Logto's shape.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    tenant_id: &'static str,
    id: &'static str,
    name: &'static str,
    description: &'static str,
    #[serde(rename = "type")]
    role_type: &'static str,
    is_default: bool,
}

impl RoleBody {
    fn for_name(name: &str) -> Option<Self> {
        (name == MANAGEMENT_API_ROLE).then_some(Self {
            tenant_id: TENANT_ID,
            id: MANAGEMENT_API_ROLE_ID,
            name: MANAGEMENT_API_ROLE,
            description: "Calls the Management API (scope `all`) with client-credentials tokens.",
            role_type: "MachineToMachine",
            is_default: false,
        })
    }
}

/// The stored role name of a wire role id; `None` for an id Latchkey does not know.
fn role_name(role_id: &str) -> Option<&'static str> {
    (role_id == MANAGEMENT_API_ROLE_ID).then_some(MANAGEMENT_API_ROLE)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_LENGTH {
        return Err(ApiError::InvalidBody(format!("name: must be 1 to {MAX_NAME_LENGTH} characters")));
    }
    Ok(())
}

async fn find(deps: &ApplicationsDeps, id: &str) -> Result<Application, ApiError> {
    deps.repository.find_by_id(id).await?.ok_or(ApiError::ApplicationNotFound)
}

async fn insert(_: &Authorized, deps: &ApplicationsDeps, application: &Application) -> Result<(), ApiError> {
    deps.repository.insert(application).await.map_err(ApiError::from)
}

/// Reads the application, applies `change` and writes it if nobody else wrote in between; otherwise re-reads and
/// re-applies, a few times, then gives up with a conflict rather than overwrite.
async fn modify(
    _: &Authorized,
    deps: &ApplicationsDeps,
    id: &str,
    mut change: impl FnMut(&mut Application) -> Result<(), ApiError>,
) -> Result<Application, ApiError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let mut application = find(deps, id).await?;
        change(&mut application)?;
        match deps.repository.update(&application).await {
            Err(RepoError::Conflict(Conflict::Version)) => {}
            result => return result.map_err(application_not_found),
        }
    }
    Err(RepoError::Conflict(Conflict::Version).into())
}

/// A `NotFound` from the repository means the application (deleted in between, or never there).
fn application_not_found(error: RepoError) -> ApiError {
    match error {
        RepoError::NotFound => ApiError::ApplicationNotFound,
        other => other.into(),
    }
}

/// `current` with the top-level keys of `patch` replaced, as Logto's jsonb merge; the result must still have the
/// expected shape.
fn merged<T: Serialize + DeserializeOwned>(current: &T, patch: &Map<String, Value>) -> Result<T, ApiError> {
    let mut value = match serde_json::to_value(current) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    value.extend(patch.clone());
    serde_json::from_value(Value::Object(value)).map_err(|error| ApiError::InvalidBody(error.to_string()))
}

fn offset(pagination: Pagination) -> usize {
    usize::try_from(pagination.offset()).unwrap_or(usize::MAX)
}

fn limit(pagination: Pagination) -> usize {
    usize::try_from(pagination.page_size).unwrap_or(usize::MAX)
}

/// `Some(value)` whenever the field is present, `null` included, so that `"description": null` clears it.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use latchkey_domain::application::MockApplicationRepository;
    use latchkey_domain::clock::FixedClock;
    use latchkey_domain::ids::RandomIds;
    use latchkey_domain::user::Version;

    use super::*;
    use crate::policy::{Caller, decide};

    fn authorized() -> Authorized {
        let caller = Caller { management_audience: true, scopes: vec!["all".to_owned()] };
        decide(&caller, ManagementAction::WriteApplications).unwrap()
    }

    fn deps(repository: MockApplicationRepository) -> ApplicationsDeps {
        ApplicationsDeps {
            repository: Arc::new(repository),
            clock: Arc::new(FixedClock(Timestamp::from_secs(1_800_000_000))),
            ids: Arc::new(RandomIds),
        }
    }

    /// A repository whose stored app gains a secret from another writer between each read and write, `conflicts`
    /// times, before a write goes through.
    fn contended(conflicts: usize) -> MockApplicationRepository {
        let stored = Mutex::new(Application::new(
            "app".to_owned(),
            "App".to_owned(),
            ApplicationType::MachineToMachine,
            Timestamp::from_secs(1),
        ));
        let stored = Arc::new(stored);
        let mut repository = MockApplicationRepository::new();
        let read = Arc::clone(&stored);
        repository.expect_find_by_id().returning(move |_| Ok(Some(read.lock().unwrap().clone())));
        let mut remaining = conflicts;
        repository.expect_update().returning(move |application| {
            let mut current = stored.lock().unwrap();
            if remaining > 0 || application.version != current.version {
                remaining = remaining.saturating_sub(1);
                let name = format!("other-{}", current.secrets.len());
                current.add_generated_secret(name, Timestamp::from_secs(2), None);
                current.version = current.version.next();
                return Err(RepoError::Conflict(Conflict::Version));
            }
            *current = application.clone();
            current.version = application.version.next();
            Ok(current.clone())
        });
        repository
    }

    #[actix_web::test]
    async fn a_change_that_lost_a_race_is_reapplied_on_a_fresh_read_and_keeps_the_other_writes() {
        let deps = deps(contended(2));

        let stored = modify(&authorized(), &deps, "app", |application| {
            application.add_generated_secret("mine".to_owned(), Timestamp::from_secs(3), None);
            Ok(())
        })
        .await
        .unwrap();

        let names: Vec<_> = stored.secrets.iter().map(|secret| secret.name.as_str()).collect();
        assert_eq!(names, ["other-0", "other-1", "mine"]);
        assert_eq!(stored.version, Version::INITIAL.next().next().next());
    }

    #[actix_web::test]
    async fn endless_contention_ends_in_a_conflict_rather_than_an_overwrite() {
        let deps = deps(contended(usize::MAX));

        let error = modify(&authorized(), &deps, "app", |_| Ok(())).await.unwrap_err();

        assert_eq!(error.code(), "entity.concurrent_update");
    }

    #[actix_web::test]
    async fn an_application_deleted_in_between_is_not_found() {
        let mut repository = MockApplicationRepository::new();
        repository.expect_find_by_id().returning(|_| {
            Ok(Some(Application::new("app".into(), "App".into(), ApplicationType::Spa, Timestamp::from_secs(1))))
        });
        repository.expect_update().returning(|_| Err(RepoError::NotFound));

        let error = modify(&authorized(), &deps(repository), "app", |_| Ok(())).await.unwrap_err();

        assert!(matches!(error, ApiError::ApplicationNotFound), "{error:?}");
    }

    #[test]
    fn a_metadata_patch_replaces_top_level_keys_and_keeps_the_others() {
        let current = OidcClientMetadata {
            redirect_uris: vec!["https://a.example/cb".to_owned()],
            post_logout_redirect_uris: vec!["https://a.example/bye".to_owned()],
            other: Map::new(),
        };
        let patch = serde_json::json!({"redirectUris": [], "logoUri": "https://a.example/logo.png"});
        let merged = merged(&current, patch.as_object().unwrap()).unwrap();
        assert!(merged.redirect_uris.is_empty());
        assert_eq!(merged.post_logout_redirect_uris, current.post_logout_redirect_uris);
        assert_eq!(merged.other["logoUri"], "https://a.example/logo.png");

        let wrong = serde_json::json!({"redirectUris": "not a list"});
        assert!(matches!(merged_error(&current, &wrong), Some(ApiError::InvalidBody(_))));
    }

    fn merged_error(current: &OidcClientMetadata, patch: &Value) -> Option<ApiError> {
        merged(current, patch.as_object().unwrap()).err()
    }

    #[test]
    fn only_the_management_api_role_id_is_known() {
        assert_eq!(role_name(MANAGEMENT_API_ROLE_ID), Some(MANAGEMENT_API_ROLE));
        assert_eq!(role_name("admin"), None);
        assert_eq!(RoleBody::for_name(MANAGEMENT_API_ROLE).map(|role| role.id), Some(MANAGEMENT_API_ROLE_ID));
        assert!(RoleBody::for_name("something else").is_none());
    }
}
