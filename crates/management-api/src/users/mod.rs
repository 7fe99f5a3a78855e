//! `/api/users…`: Logto's user routes of the Management API (create, read, search, change, passwords, suspension,
//! deletion), plus ours: `POST /api/users/:id/restore` (bring back a deleted user) and `ETag`/`If-Match` on user
//! reads and writes. Every change goes through [`UserAdminService`], which logs it in the change's transaction.
//!
//! Password digests are never returned: Logto's `includePasswordHash` is ignored.

mod body;
mod context;
pub(crate) mod identities;
pub(crate) mod mfa_verifications;
mod query;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::UserId;
use latchkey_domain::password::PlainPassword;
use latchkey_domain::ports::UserRepository;
use latchkey_domain::service::{SocialService, UserAdminService};
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::user::LogtoConfig;
use std::sync::Arc;

pub use body::{
    CreateUserBody, CustomDataBody, HasPasswordBody, LogtoConfigBody, LogtoConfigPatch, PasswordBody, PatchUserBody,
    ProfileBody, SuspensionBody, UserBody,
};
pub(crate) use context::{WriteRequest, audit_context, with_etag};
/// Public for the fuzz target `search_query` (fuzz/), which feeds it arbitrary query strings.
pub use query::user_search;

use crate::error::ApiError;
use crate::guard::{ManagementCaller, ManagementConfig};
use crate::pagination::{paged_response, requested_page};
use crate::policy::ManagementAction;

/// What the user handlers need; register it once as `web::Data<UsersDeps>`.
#[derive(Clone)]
pub struct UsersDeps {
    pub admin: UserAdminService,
    /// Linking an identity straight from a social connector's `connectorData`.
    pub social: SocialService,
    /// Searches read the repository directly: a search changes nothing.
    pub users: Arc<dyn UserRepository>,
    /// Which MFA factors may be bound.
    pub sign_in_experience: Arc<dyn SignInExperienceRepository>,
    /// The issuer authenticator apps show for a TOTP factor an administrator binds: this server's host name.
    pub totp_issuer: String,
}

impl std::fmt::Debug for UsersDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsersDeps").finish_non_exhaustive()
    }
}

/// The routes under `/api/users` that this module serves (others under the same scope come from their own
/// modules: roles, personal access tokens, sessions).
pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/{userId}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/{userId}/custom-data")
                .route(web::get().to(get_custom_data))
                .route(web::patch().to(merge_custom_data)),
        )
        .service(web::resource("/{userId}/profile").route(web::patch().to(merge_profile)))
        .service(
            web::resource("/{userId}/logto-configs")
                .route(web::get().to(get_logto_configs))
                .route(web::patch().to(update_logto_configs)),
        )
        .service(web::resource("/{userId}/password").route(web::patch().to(set_password)))
        .service(web::resource("/{userId}/password/verify").route(web::post().to(verify_password)))
        .service(web::resource("/{userId}/has-password").route(web::get().to(has_password)))
        .service(web::resource("/{userId}/is-suspended").route(web::patch().to(set_suspended)))
        .service(web::resource("/{userId}/restore").route(web::post().to(restore)))
        .configure(identities::routes)
        .configure(mfa_verifications::routes);
}

type Deps = web::Data<UsersDeps>;
type Json<T> = Result<web::Json<T>, actix_web::Error>;

/// A path id that cannot be a user id names no user (Logto answers 404 all the same).
fn user_id(path: &str) -> Result<UserId, ApiError> {
    UserId::parse(path).map_err(|_| ApiError::Account(latchkey_domain::service::AccountError::UserNotFound))
}

/// `GET /api/users`: newest first, paginated, with Logto's search parameters and ours.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "Users",
    summary = "List and search users",
    description = "Newest first. `search` matches every field, `search.<field>` one of `id`, `primaryEmail`, \
        `primaryPhone`, `username`, `name`; `mode`/`mode.<field>` is `like` (default), `exact`, `similar_to` or \
        `posix`; `joint` (or `jointMode`) is `or` (default) or `and`; `isCaseSensitive` defaults to false. \
        Extensions: `search.customData.<path>` and `isSuspended=true|false`.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
        ("search" = Option<String>, Query, description = "A value matched against every searchable field."),
        ("isSuspended" = Option<bool>, Query, description = "Only suspended (true) or active (false) users.",
            extensions(("x-latchkey-extension" = json!(true)))),
    ),
    responses(
        (status = 200, description = "A page of users.", body = [UserBody], headers(
            ("Total-Number" = String, description = "How many users match in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination` or `request.invalid_input`.", body = ErrorBody),
        (status = 401, description = "No valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let pagination = requested_page(&request)?;
    let pairs: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(|query| query.into_inner())
        .map_err(|_| ApiError::InvalidQuery("The query string cannot be decoded."))?;
    let search = query::user_search(&pairs, pagination)?;
    let page = deps.users.search(&search).await.map_err(ApiError::from)?;
    let items: Vec<_> = page.items.iter().map(UserBody::new).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, page.total, &items))
}

/// `POST /api/users`: 200 with the user, as Logto (not 201). No password policy applies, as in Logto.
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "Users",
    summary = "Create a user",
    request_body = CreateUserBody,
    responses(
        (status = 200, description = "The new user.", body = UserBody),
        (status = 400, description = "`guard.invalid_input`, `user.password_and_digest`, \
            `user.password_algorithm_required`.", body = ErrorBody),
        (status = 422, description = "`user.username_already_in_use`, `user.email_already_in_use`, \
            `user.phone_already_in_use`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    body: Json<CreateUserBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let new_user = body?.into_inner().into_new_user()?;
    let user = deps.admin.create(new_user, &audit_context(&caller, &request)).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}

/// `GET /api/users/:userId`, with its `ETag`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}",
    tag = "Users",
    summary = "Get a user",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserBody,
            headers(("ETag" = String, description = "The user's version; send it as `If-Match` on changes."))),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps, path: web::Path<String>) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let user = deps.admin.get(&user_id(&path)?).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}

/// `PATCH /api/users/:userId`: identifiers, name and avatar (`null` or `""` clears), `customData` and `profile`
/// replaced whole.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}",
    tag = "Users",
    summary = "Update a user",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("If-Match" = Option<String>, Header, description = "Only change the user if it is still at this ETag.",
            extensions(("x-latchkey-extension" = json!(true)))),
    ),
    request_body = PatchUserBody,
    responses(
        (status = 200, description = "The updated user.", body = UserBody,
            headers(("ETag" = String, description = "The user's new version."))),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 412, description = "`request.precondition_failed`: the user changed since the ETag was read.",
            body = ErrorBody),
        (status = 422, description = "An identifier is in use.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<PatchUserBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let patch = body?.into_inner().into_patch()?;
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.update(&id, patch, writer.write()).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}

/// `DELETE /api/users/:userId`: 204. The user is kept as a tombstone for the retention period.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}",
    tag = "Users",
    summary = "Delete a user",
    description = "Every session and token of the user stops working at once. The user can be restored with \
        `POST /api/users/{userId}/restore` during the retention period (30 days unless configured otherwise).",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("If-Match" = Option<String>, Header, description = "Only delete the user if it is still at this ETag.",
            extensions(("x-latchkey-extension" = json!(true)))),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 412, description = "`request.precondition_failed`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let writer = WriteRequest::new(&caller, &request)?;
    deps.admin.delete(&user_id(&path)?, writer.write()).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/users/:userId/restore` (ours): brings back a deleted user with its identifiers.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/restore",
    tag = "Users",
    summary = "Restore a deleted user",
    description = "Brings back a user deleted within the retention period, with its identifiers, data and MFA \
        factors. Sessions and tokens that the deletion ended stay ended.",
    params(("userId" = String, Path, description = "The deleted user's id.")),
    responses(
        (status = 200, description = "The restored user.", body = UserBody),
        (status = 404, description = "`entity.not_found`: no deleted user with this id is kept.", body = ErrorBody),
        (status = 422, description = "Another user took one of the identifiers meanwhile \
            (`user.username_already_in_use`, `user.email_already_in_use`, `user.phone_already_in_use`).",
            body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
async fn restore(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let user = deps.admin.restore(&user_id(&path)?, &audit_context(&caller, &request)).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}

/// `GET /api/users/:userId/custom-data`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/custom-data",
    tag = "Users",
    summary = "Get a user's custom data",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The custom data object.", body = Object),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get_custom_data(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let user = deps.admin.get(&user_id(&path)?).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(user.custom_data.into_value()))
}

/// `PATCH /api/users/:userId/custom-data`: top-level keys merged; answers the merged object.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/custom-data",
    tag = "Users",
    summary = "Merge into a user's custom data",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = CustomDataBody,
    responses(
        (status = 200, description = "The merged custom data.", body = Object),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn merge_custom_data(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<CustomDataBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let serde_json::Value::Object(patch) = body?.into_inner().custom_data else {
        return Err(ApiError::InvalidField("customData").into());
    };
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.merge_custom_data(&id, patch, writer.write()).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(user.custom_data.into_value()))
}

/// `PATCH /api/users/:userId/profile`: the given claims merged; answers the profile.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/profile",
    tag = "Users",
    summary = "Merge into a user's profile",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The merged profile.", body = Object),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn merge_profile(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<ProfileBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let patch = body::profile(body?.into_inner().profile)?;
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.merge_profile(&id, patch, writer.write()).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(&user.profile))
}

/// `GET /api/users/:userId/logto-configs`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/logto-configs",
    tag = "Users",
    summary = "Get a user's MFA and passkey switches",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "`{mfa: {enabled?, skipped, skipMfaOnSignIn}, passkeySignIn: {skipped}}`.",
            body = LogtoConfigBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get_logto_configs(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let user = deps.admin.get(&user_id(&path)?).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(LogtoConfigBody::new(&user.logto_config)))
}

/// `PATCH /api/users/:userId/logto-configs`: each given switch replaces the stored one.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/logto-configs",
    tag = "Users",
    summary = "Change a user's MFA and passkey switches",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = LogtoConfigPatch,
    responses(
        (status = 200, description = "The switches after the change.", body = LogtoConfigBody),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update_logto_configs(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<LogtoConfigPatch>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let change = body?.into_inner().change();
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps
        .admin
        .update_logto_config(&id, writer.write(), |config: &mut LogtoConfig| {
            config.apply(change);
        })
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(LogtoConfigBody::new(&user.logto_config)))
}

/// `PATCH /api/users/:userId/password`: sets the password (no policy, as Logto) and ends the user's sessions.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/password",
    tag = "Users",
    summary = "Set a user's password",
    description = "No password policy applies, as in Logto. Unlike Logto, every session of the user ends.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "The user.", body = UserBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn set_password(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<PasswordBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let password = PlainPassword::new(body?.into_inner().password);
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.set_password(&id, &password, writer.write()).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}

/// `POST /api/users/:userId/password/verify`: 204 on a match, 422 `session.invalid_credentials` otherwise.
#[utoipa::path(
    post,
    path = "/api/users/{userId}/password/verify",
    tag = "Users",
    summary = "Check a user's password",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "The password is the user's."),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 422, description = "`session.invalid_credentials`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn verify_password(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
    body: Json<PasswordBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let id = user_id(&path)?;
    let password = PlainPassword::new(body?.into_inner().password);
    deps.admin.verify_password(&id, &password).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/users/:userId/has-password`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/has-password",
    tag = "Users",
    summary = "Whether a user has a password",
    params(("userId" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "`{hasPassword}`.", body = HasPasswordBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn has_password(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let user = deps.admin.get(&user_id(&path)?).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(HasPasswordBody { has_password: user.has_password() }))
}

/// `PATCH /api/users/:userId/is-suspended`: suspension ends every session and token of the user at once.
#[utoipa::path(
    patch,
    path = "/api/users/{userId}/is-suspended",
    tag = "Users",
    summary = "Suspend or reinstate a user",
    description = "Suspending ends every session, refresh token and access token of the user at once; \
        reinstating revives none of them.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = SuspensionBody,
    responses(
        (status = 200, description = "The user.", body = UserBody),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn set_suspended(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<SuspensionBody>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let suspended = body?.into_inner().is_suspended;
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.set_suspended(&id, suspended, writer.write()).await.map_err(ApiError::from)?;
    Ok(with_etag(&user).json(UserBody::new(&user)))
}
