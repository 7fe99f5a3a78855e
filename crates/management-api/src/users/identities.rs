//! `/api/users/:userId/identities/:target`: an administrator links, reads and unlinks a user's social identities,
//! as Logto's routes do, and `POST /api/users/:userId/identities` links the identity a configured social connector
//! vouches for from `connectorData`. Latchkey keeps no third-party token sets, so `includeTokenSecret` finds none.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::service::AccountError;
use latchkey_domain::user::Identity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Deps, UserBody, WriteRequest, user_id};
use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;

pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(web::resource("/{userId}/identities").route(web::post().to(link_by_connector))).service(
        web::resource("/{userId}/identities/{target}")
            .route(web::get().to(get))
            .route(web::put().to(link))
            .route(web::delete().to(unlink)),
    );
}

/// `POST /api/users/:userId/identities`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorIdentityBody {
    pub connector_id: String,
    /// What the provider sent to the redirect URI (`code`), with that `redirectUri`.
    #[schema(value_type = Object)]
    pub connector_data: serde_json::Map<String, Value>,
}

/// Logto's identity: the user's id at the provider and what the provider said about them.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBody {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// `GET …/identities/:target`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    pub identity: IdentityBody,
}

/// Longest provider user id accepted (Logto's column is free text; this bounds what one request can store).
const IDENTITY_USER_ID_MAX_CHARS: usize = 256;

/// `PUT /api/users/:userId/identities/:target`: 201 with the user's identities when the target is new, else 200.
#[utoipa::path(
    put,
    path = "/api/users/{userId}/identities/{target}",
    tag = "Users",
    summary = "Link or replace a user's social identity",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("target" = String, Path, description = "The social connector's target, e.g. `github`."),
    ),
    request_body = IdentityBody,
    responses(
        (status = 200, description = "Replaced; the user's identities by target.", body = Object),
        (status = 201, description = "Linked; the user's identities by target.", body = Object),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 422, description = "`user.identity_already_in_use`: another user has it.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn link(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: Result<web::Json<IdentityBody>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let (id, target) = path.into_inner();
    let id = user_id(&id)?;
    let body = body?.into_inner();
    if body.user_id.is_empty() || body.user_id.chars().count() > IDENTITY_USER_ID_MAX_CHARS {
        return Err(ApiError::InvalidField("userId").into());
    }
    if !latchkey_domain::user::identity_target(&target) {
        return Err(ApiError::Account(AccountError::UserNotFound).into());
    }
    let writer = WriteRequest::new(&caller, &request)?;
    let identity = Identity { user_id: body.user_id, details: body.details };
    let (user, created) =
        deps.admin.link_identity(&id, &target, identity, writer.write()).await.map_err(ApiError::from)?;
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(UserBody::new(&user).identities))
}

/// `POST /api/users/:userId/identities`: 200 with the user's identities, as Logto (which answers 200, not 201).
#[utoipa::path(
    post,
    path = "/api/users/{userId}/identities",
    tag = "Users",
    summary = "Link a social identity through a connector",
    description = "The connector `connectorId` exchanges `connectorData` (the provider's `code` and the \
        `redirectUri` it was sent to) for the identity the provider vouches for, which is linked to the user under \
        the connector's target, replacing one there.",
    params(("userId" = String, Path, description = "The user's id.")),
    request_body = ConnectorIdentityBody,
    responses(
        (status = 200, description = "The user's identities by target.", body = Object),
        (status = 400, description = "`guard.invalid_input`, `connector.insufficient_request_parameters`, \
            `connector.invalid_response` or `connector.general`.", body = ErrorBody),
        (status = 401, description = "`connector.social_auth_code_invalid` or `connector.social_id_token_invalid`.",
            body = ErrorBody),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
        (status = 422, description = "`session.invalid_connector_id`, or `user.identity_already_in_use`: another \
            user has it.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn link_by_connector(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<String>,
    body: Result<web::Json<ConnectorIdentityBody>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let id = user_id(&path)?;
    let body = body?.into_inner();
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps
        .social
        .link_by_connector(&id, &body.connector_id, &body.connector_data, writer.write())
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(UserBody::new(&user).identities))
}

/// `GET /api/users/:userId/identities/:target`.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/identities/{target}",
    tag = "Users",
    summary = "Get a user's social identity",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("target" = String, Path, description = "The social connector's target."),
    ),
    responses(
        (status = 200, description = "`{identity}`.", body = IdentityResponse),
        (status = 404, description = "`entity.not_found` or `user.identity_not_exist`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let (id, target) = path.into_inner();
    let user = deps.admin.get(&user_id(&id)?).await.map_err(ApiError::from)?;
    let identity = user.identities.get(&target).ok_or(ApiError::Account(AccountError::IdentityNotFound))?;
    let identity = IdentityBody { user_id: identity.user_id.clone(), details: identity.details.clone() };
    Ok(HttpResponse::Ok().json(IdentityResponse { identity }))
}

/// `DELETE /api/users/:userId/identities/:target`: 200 with the user, as Logto.
#[utoipa::path(
    delete,
    path = "/api/users/{userId}/identities/{target}",
    tag = "Users",
    summary = "Unlink a user's social identity",
    params(
        ("userId" = String, Path, description = "The user's id."),
        ("target" = String, Path, description = "The social connector's target."),
    ),
    responses(
        (status = 200, description = "The user.", body = UserBody),
        (status = 404, description = "`entity.not_found` or `user.identity_not_exist`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn unlink(
    caller: ManagementCaller,
    deps: Deps,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::WriteUsers)?;
    let (id, target) = path.into_inner();
    let writer = WriteRequest::new(&caller, &request)?;
    let user = deps.admin.unlink_identity(&user_id(&id)?, &target, writer.write()).await.map_err(ApiError::from)?;
    Ok(super::with_etag(&user).json(UserBody::new(&user)))
}
