//! Social identities in the Account API (logto-reference §1–§2): `POST /api/verifications/social` and
//! `…/social/verify` (a social verification record: the provider's authorization URI, then its callback),
//! `POST /api/my-account/identities` (link the record's identity), `DELETE /api/my-account/identities/:target` and
//! `GET /api/my-account/identities/:target/access-token`.
//!
//! The protocol lives behind the domain's `SocialConnector` port; these handlers only ask the policy and call the
//! domain's [`SocialService`](latchkey_domain::service::SocialService). Latchkey keeps no provider token sets, so
//! the access-token route answers Logto's "not found" once the caller may ask.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::service::ExistingLink;
use latchkey_domain::social::AuthorizationRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::account::{AccountDeps, allow};
use crate::error::ApiError;
use crate::policy::AccountRoute;

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("/api/verifications/social").route(web::post().to(start_social_verification)))
        .service(web::resource("/api/verifications/social/verify").route(web::post().to(verify_social_verification)))
        .service(
            web::resource("/api/my-account/identities")
                .route(web::post().to(link_identity))
                .route(web::put().to(replace_identity)),
        )
        .service(web::resource("/api/my-account/identities/{target}").route(web::delete().to(unlink_identity)))
        .service(
            web::resource("/api/my-account/identities/{target}/access-token")
                .route(web::get().to(get_identity_access_token)),
        );
}

type Deps = web::Data<AccountDeps>;
type Json<T> = Result<web::Json<T>, actix_web::Error>;

/// `POST /api/verifications/social`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartSocialBody {
    pub connector_id: String,
    /// The client's anti-forgery value; the provider sends it back to `redirectUri`, and the verify step must
    /// carry it in `connectorData.state`.
    pub state: String,
    pub redirect_uri: String,
    /// Scopes replacing the connector's configured ones.
    #[serde(default)]
    pub scope: Option<String>,
}

/// `POST /api/verifications/social`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SocialRecordBody {
    pub verification_record_id: String,
    /// Send the user here.
    pub authorization_uri: String,
    /// ISO 8601, as Logto.
    pub expires_at: String,
}

/// `POST /api/verifications/social/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifySocialBody {
    pub verification_record_id: String,
    /// What the provider sent to `redirectUri`: `code` and `state` at least.
    #[schema(value_type = Object)]
    pub connector_data: Map<String, Value>,
}

/// `POST /api/my-account/identities`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkIdentityBody {
    /// A verified social verification record of the caller's session.
    pub new_identifier_verification_record_id: String,
}

#[utoipa::path(
    post,
    path = "/api/verifications/social",
    tag = "Account",
    summary = "Start a social verification",
    description = "Makes a social verification record of the caller's session at the configured connector \
        `connectorId` and answers the provider's authorization URI (with PKCE and a nonce for OpenID Connect \
        providers). The record lives ten minutes.",
    request_body = StartSocialBody,
    responses(
        (status = 201, description = "The record and the URI to send the user to.", body = SocialRecordBody),
        (status = 400, description = "`session.insufficient_info` (empty `state` or `redirectUri`), \
            `guard.invalid_input`, `account_center.not_enabled`, or `connector.general` when the provider cannot \
            be reached.", body = ErrorBody),
        (status = 422, description = "`session.invalid_connector_id`: no social connector has that id.",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn start_social_verification(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<StartSocialBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeSocialVerificationRecord).await?;
    let authorization = AuthorizationRequest { state: body.state, redirect_uri: body.redirect_uri, scope: body.scope };
    let (made, authorization_uri) = deps.social.start(allowed.holder()?, &body.connector_id, authorization).await?;
    Ok(HttpResponse::Created().json(SocialRecordBody {
        verification_record_id: made.id,
        authorization_uri,
        expires_at: made.expires_at.to_iso8601(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/verifications/social/verify",
    tag = "Account",
    summary = "Verify a social verification",
    description = "`connectorData` is what the provider sent to `redirectUri`. Its `state` must be the one the \
        record was started with; the connector then exchanges the code and keeps the identity the provider vouches \
        for in the record, for `POST /api/my-account/identities`.",
    request_body = VerifySocialBody,
    responses(
        (status = 200, description = "`{verificationRecordId}`.", body = Object),
        (status = 400, description = "`verification_record.not_found` (unknown, expired, already verified, or of \
            another session), `session.csrf_token_mismatch`, `connector.insufficient_request_parameters`, \
            `connector.invalid_response` or `connector.general`.", body = ErrorBody),
        (status = 401, description = "`connector.social_auth_code_invalid` or `connector.social_id_token_invalid`.",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn verify_social_verification(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<VerifySocialBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeSocialVerificationRecord).await?;
    let made = deps.social.verify(allowed.holder()?, &body.verification_record_id, &body.connector_data).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "verificationRecordId": made.id })))
}

#[utoipa::path(
    post,
    path = "/api/my-account/identities",
    tag = "Account",
    summary = "Link a social identity to the caller",
    description = "Needs the `identities` scope, the `social` field editable, a first-party client and, when the \
        caller has a password, email or phone, a verification record proving their identity \
        (`logto-verification-id`). The body names the verified social record.",
    request_body = LinkIdentityBody,
    responses(
        (status = 204, description = "Linked."),
        (status = 400, description = "`verification_record.not_found`, `user.identity_already_in_use` (the caller \
            already has an identity at that target) or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 422, description = "`user.identity_already_in_use`: another user has this identity.",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn link_identity(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<LinkIdentityBody>,
) -> Result<HttpResponse, ApiError> {
    link(principal, request, deps, body, ExistingLink::Refuse).await
}

#[utoipa::path(
    put,
    path = "/api/my-account/identities",
    tag = "Account",
    summary = "Link a social identity to the caller, replacing the one at its target",
    description = "As `POST /api/my-account/identities`, but an identity the caller already has at the \
        connector's target is replaced by the new one.",
    request_body = LinkIdentityBody,
    responses(
        (status = 204, description = "Linked."),
        (status = 400, description = "`verification_record.not_found` or `account_center.field_not_editable`.",
            body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied` or `auth.unauthorized`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 422, description = "`user.identity_already_in_use`: another user has this identity.",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn replace_identity(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<LinkIdentityBody>,
) -> Result<HttpResponse, ApiError> {
    link(principal, request, deps, body, ExistingLink::Replace).await
}

/// `POST` and `PUT /api/my-account/identities`: the same gate and record, differing only in what happens to an
/// identity the caller already has at the target.
async fn link(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<LinkIdentityBody>,
    existing: ExistingLink,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::LinkIdentity).await?;
    let record_id = &body.new_identifier_verification_record_id;
    deps.social.link_own(allowed.holder()?, record_id, existing, allowed.write()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/api/my-account/identities/{target}",
    tag = "Account",
    summary = "Unlink one of the caller's social identities",
    description = "Needs the `identities` scope (else 400, as Logto), the `social` field editable, a first-party \
        client and, when the caller has a password, email or phone, a verification record. Refused when the \
        identity is the caller's last way to sign in.",
    params(("target" = String, Path, description = "The connector's target, e.g. `github`.")),
    responses(
        (status = 204, description = "Unlinked."),
        (status = 400, description = "`user.last_sign_in_method_required`, `auth.unauthorized` without the scope, \
            or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 404, description = "`user.identity_not_exist`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn unlink_identity(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    target: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::UnlinkIdentity).await?;
    deps.social.unlink_own(allowed.caller.user_id(), &target, allowed.write()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/my-account/identities/{target}/access-token",
    tag = "Account",
    summary = "Read the provider's access token of a social identity",
    description = "Needs the `identities` scope (else 403, as Logto). Latchkey keeps no provider token sets, so \
        the answer is always Logto's \"not found\".",
    params(("target" = String, Path, description = "The connector's target.")),
    responses(
        (status = 403, description = "`auth.forbidden`: the token lacks the `identities` scope.", body = ErrorBody),
        (status = 404, description = "`secrets.third_party_token_set.token_not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_identity_access_token(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    _target: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    allow(&principal, &request, &deps, AccountRoute::ReadIdentityAccessToken).await?;
    Err(ApiError::ThirdPartyTokenNotFound)
}
