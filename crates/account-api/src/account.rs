//! The Account API's changing routes and verification records (logto-reference §1–§2): `PATCH /api/my-account`,
//! `PATCH /api/my-account/profile`, `POST /api/my-account/password`, `POST`/`DELETE /api/my-account/primary-email`
//! and `…/primary-phone`, and `POST /api/verifications/password`, `…/verification-code` and `…/verify`.
//!
//! Every handler first gathers the facts (account-center settings, first-party client, whether the request's
//! `logto-verification-id` proves the caller's identity) and asks [`decide_route`]; only then does it act. Every
//! change is written with its audit entry in one transaction by the domain's use cases.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::Clock;
use latchkey_domain::account_center::AccountCenterRepository;
use latchkey_domain::application::ApplicationRepository;
use latchkey_domain::audit::{Actor, AuditContext, AuditLogRepository};
use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::password::PlainPassword;
use latchkey_domain::service::{
    AccountError, UserAdminService, UserPatch, UserSessionService, UserWrite, VerificationService,
};
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::user::{CustomData, Profile, User, Version, limits};
use latchkey_domain::verification_code::CodeRecipient;
use latchkey_domain::verification_record::RecordHolder;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::my_account::account_view;
use crate::policy::{AccountCaller, AccountRoute, RequestFacts, authorize_caller, decide_route};

/// The header naming the verification record of a sensitive request (Logto's).
pub const VERIFICATION_HEADER: &str = "logto-verification-id";

/// What the changing routes need; register it once as `web::Data<AccountDeps>`.
#[derive(Clone)]
pub struct AccountDeps {
    pub users: UserAdminService,
    pub verifications: VerificationService,
    pub account_center: Arc<dyn AccountCenterRepository>,
    pub applications: Arc<dyn ApplicationRepository>,
    /// The password policy of `POST /password`.
    pub sign_in_experience: Arc<dyn SignInExperienceRepository>,
    /// The user's own entries, for the export and the activity log.
    pub audit_log: Arc<dyn AuditLogRepository>,
    /// The caller's sessions and grants.
    pub sessions: UserSessionService,
    /// The public base URL, without a trailing slash (pagination links).
    pub endpoint: String,
    /// Passkey registration (WebAuthn verification records).
    pub passkeys: latchkey_domain::service::PasskeyService,
    /// Social verification records and identity links, through the configured social connectors.
    pub social: latchkey_domain::service::SocialService,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AccountDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountDeps").finish_non_exhaustive()
    }
}

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(
            web::resource("/api/my-account")
                .route(web::get().to(crate::my_account::get_my_account))
                .route(web::patch().to(update_account))
                .route(web::delete().to(crate::account_data::delete_account)),
        )
        .service(web::resource("/api/my-account/export").route(web::get().to(crate::account_data::export_account)))
        .service(web::resource("/api/my-account/profile").route(web::patch().to(update_profile)))
        .service(web::resource("/api/my-account/password").route(web::post().to(set_password)))
        .service(
            web::resource("/api/my-account/primary-email")
                .route(web::post().to(set_primary_email))
                .route(web::delete().to(remove_primary_email)),
        )
        .service(
            web::resource("/api/my-account/primary-phone")
                .route(web::post().to(set_primary_phone))
                .route(web::delete().to(remove_primary_phone)),
        )
        .configure(crate::mfa::routes)
        .configure(crate::passkeys::routes)
        .configure(crate::sessions::routes)
        .configure(crate::identities::routes)
        .service(web::resource("/api/verifications/password").route(web::post().to(verify_password)))
        .service(web::resource("/api/verifications/verification-code").route(web::post().to(send_code)))
        .service(web::resource("/api/verifications/verification-code/verify").route(web::post().to(verify_code)));
}

type Deps = web::Data<AccountDeps>;
type Json<T> = Result<web::Json<T>, actix_web::Error>;

/// A request that passed [`decide_route`]: the caller, the user as read, and the audit context of its change.
pub(crate) struct Allowed {
    pub(crate) caller: AccountCaller,
    pub(crate) user: User,
    pub(crate) context: AuditContext,
}

impl Allowed {
    /// A change made by this request, without a version check.
    pub(crate) fn write(&self) -> UserWrite<'_> {
        UserWrite::new(&self.context)
    }

    /// The caller as the holder of verification records; a token without a session can hold none.
    pub(crate) fn holder(&self) -> Result<RecordHolder<'_>, ApiError> {
        let session_id =
            self.caller.session_id().ok_or(ApiError::Denied(crate::policy::Denial::VerificationRequired))?;
        Ok(RecordHolder { user_id: self.caller.user_id(), session_id })
    }
}

/// Gathers the facts of a request to `route` and asks the policy; every Account API handler that acts starts here.
pub(crate) async fn allow(
    principal: &Principal,
    request: &HttpRequest,
    deps: &AccountDeps,
    route: AccountRoute,
) -> Result<Allowed, ApiError> {
    let caller = authorize_caller(&principal.claims)?;
    let settings = deps.account_center.get().await?.settings;
    let user = deps.users.get(caller.user_id()).await?;
    let record_id = request.headers().get(VERIFICATION_HEADER).and_then(|value| value.to_str().ok());
    let identity_verified = match (record_id, caller.session_id()) {
        (Some(record_id), Some(session_id)) => {
            let holder = RecordHolder { user_id: caller.user_id(), session_id };
            match deps.verifications.require_identity(holder, Some(record_id)).await {
                Ok(_) => true,
                Err(latchkey_domain::service::VerificationError::PermissionDenied) => false,
                Err(other) => return Err(other.into()),
            }
        }
        _ => false,
    };
    let first_party =
        deps.applications.find_by_id(caller.client_id()).await?.is_some_and(|application| !application.is_third_party);
    let has_security_method = user.has_password() || user.primary_email.is_some() || user.primary_phone.is_some();
    let facts = RequestFacts { settings: &settings, first_party, identity_verified, has_security_method };
    decide_route(&caller, route, facts)?;
    let context = audit_context(&caller, request);
    Ok(Allowed { caller, user, context })
}

/// The caller acts on their own account, through their client, from the TCP peer.
fn audit_context(caller: &AccountCaller, request: &HttpRequest) -> AuditContext {
    AuditContext::new(Actor::User { id: caller.user_id().as_str().to_owned() })
        .with_application(caller.client_id())
        .from_request(&crate::sign_in::request_origin(request))
}

/// The version named by `If-Match` (Latchkey's optimistic concurrency; absent or `*` accepts any).
pub(crate) fn expected_version(request: &HttpRequest) -> Result<Option<Version>, ApiError> {
    match request.headers().get(header::IF_MATCH) {
        None => Ok(None),
        Some(value) => Version::from_entity_tag(value.to_str().unwrap_or_default())
            .ok_or(ApiError::Account(AccountError::PreconditionFailed)),
    }
}

/// `Some(value)` whenever the key is present, `null` included, so that absent and `null` differ.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /api/my-account`: each key present is set (`null` clears); `customData` is replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccountBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<Value>,
}

#[utoipa::path(
    patch,
    path = "/api/my-account",
    tag = "Account",
    summary = "Update the caller's account",
    description = "`name`, `avatar` (a URL), `username` (needs a verification record in `logto-verification-id`) \
        and `customData` (replaced whole; needs the `custom_data` scope). `null` clears a field. Answers the \
        account as `GET` does. `If-Match` with the `ETag` of a `GET` refuses a change made meanwhile (412).",
    request_body = UpdateAccountBody,
    responses(
        (status = 200, description = "The account.", body = crate::openapi::AccountView),
        (status = 400, description = "`guard.invalid_input`, `auth.unauthorized` (scope), \
            `account_center.field_not_editable` or `user.last_sign_in_method_required`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 412, description = "`request.precondition_failed`.", body = ErrorBody),
        (status = 422, description = "`user.username_already_in_use`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update_account(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<UpdateAccountBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let route = AccountRoute::UpdateAccount {
        name: body.name.is_some(),
        avatar: body.avatar.is_some(),
        username: body.username.is_some(),
        custom_data: body.custom_data.is_some(),
    };
    let allowed = allow(&principal, &request, &deps, route).await?;
    let patch = UserPatch {
        name: bounded_field(body.name, "name", limits::NAME_MAX_CHARS)?,
        avatar: match bounded_field(body.avatar, "avatar", limits::AVATAR_MAX_CHARS)? {
            Some(Some(avatar)) if url_like(&avatar) => Some(Some(avatar)),
            Some(Some(_)) => return Err(ApiError::InvalidBody("avatar: not a URL".to_owned())),
            other => other,
        },
        username: match body.username {
            None => None,
            Some(None) => Some(None),
            Some(Some(username)) => Some(Some(
                Username::parse(&username).map_err(|_| ApiError::InvalidBody("username: invalid".to_owned()))?,
            )),
        },
        custom_data: body
            .custom_data
            .map(|value| CustomData::new(value).map_err(|error| ApiError::InvalidBody(format!("customData: {error}"))))
            .transpose()?,
        ..UserPatch::default()
    };
    if patch.removes_last_sign_in_method(&allowed.user) {
        return Err(ApiError::LastSignInMethod);
    }
    let write = UserWrite::new(&allowed.context).expecting(expected_version(&request)?);
    let user = deps.users.update(allowed.caller.user_id(), patch, write).await?;
    let settings = deps.account_center.get().await?.settings;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, format!("\"{}\"", user.version.0))).json(account_view(
        &user,
        &allowed.caller,
        &settings,
    )))
}

/// `null` clears; a value longer than `max_chars` is refused.
fn bounded_field(
    field: Option<Option<String>>,
    name: &str,
    max_chars: usize,
) -> Result<Option<Option<String>>, ApiError> {
    match field {
        Some(Some(value)) if value.chars().count() > max_chars => {
            Err(ApiError::InvalidBody(format!("{name}: longer than {max_chars} characters")))
        }
        other => Ok(other),
    }
}

/// Logto accepts an `avatar` that is an absolute http(s) URL.
fn url_like(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://")) && !value.contains(char::is_whitespace)
}

#[utoipa::path(
    patch,
    path = "/api/my-account/profile",
    tag = "Account",
    summary = "Update the caller's profile",
    description = "Merges the given OpenID Connect profile claims into the profile (`address` needs the `address` \
        scope) and answers the whole profile.",
    request_body(content = Object, description = "Profile claims, e.g. `{\"givenName\": \"Ada\"}`."),
    responses(
        (status = 200, description = "The profile.", body = Object),
        (status = 400, description = "`guard.invalid_input`, `auth.unauthorized` (scope) or \
            `account_center.field_not_editable`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update_profile(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let patch: Profile =
        serde_json::from_value(body).map_err(|error| ApiError::InvalidBody(format!("profile: {error}")))?;
    patch.validate().map_err(|error| ApiError::InvalidBody(format!("profile: {error}")))?;
    let route = AccountRoute::UpdateProfile { address: patch.address.is_some() };
    let allowed = allow(&principal, &request, &deps, route).await?;
    let write = UserWrite::new(&allowed.context).expecting(expected_version(&request)?);
    let user = deps.users.merge_profile(allowed.caller.user_id(), patch, write).await?;
    Ok(HttpResponse::Ok().json(&user.profile))
}

/// `POST /api/my-account/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    pub password: String,
}

#[utoipa::path(
    post,
    path = "/api/my-account/password",
    tag = "Account",
    summary = "Set the caller's password",
    description = "Needs a verification record unless the user has nothing to verify with (a social-only user \
        sets a first password). The sign-in experience's password policy applies. Every verification record made \
        before the change stops working.",
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Set."),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 422, description = "`password.rejected` (`data.issues`) or `user.same_password`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn set_password(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::SetPassword).await?;
    let password = PlainPassword::new(body.password);
    if allowed.user.has_password() && deps.users.verify_password(allowed.caller.user_id(), &password).await.is_ok() {
        return Err(ApiError::SamePassword);
    }
    let policy = deps.sign_in_experience.get().await?.settings.password_policy;
    let write = UserWrite::new(&allowed.context).expecting(expected_version(&request)?);
    deps.users.accounts().set_password(allowed.caller.user_id(), &password, Some(&policy), write).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/my-account/primary-email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryEmailBody {
    pub email: String,
    pub new_identifier_verification_record_id: String,
}

/// `POST /api/my-account/primary-phone`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryPhoneBody {
    pub phone: String,
    pub new_identifier_verification_record_id: String,
}

#[utoipa::path(
    post,
    path = "/api/my-account/primary-email",
    tag = "Account",
    summary = "Set the caller's primary email",
    description = "Needs a verification record of the caller's identity (`logto-verification-id`) and a verified \
        code record for the new address (`newIdentifierVerificationRecordId`), both made in this session.",
    request_body = PrimaryEmailBody,
    responses(
        (status = 204, description = "Set."),
        (status = 400, description = "`verification_record.not_found`, `guard.invalid_input`, \
            `auth.unauthorized` (no `email` scope) or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 422, description = "`user.email_already_in_use`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn set_primary_email(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<PrimaryEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let email = Email::parse(&body.email).map_err(|_| ApiError::InvalidBody("email: invalid".to_owned()))?;
    let patch = UserPatch { primary_email: Some(Some(email.clone())), ..UserPatch::default() };
    let proof = (CodeRecipient::Email(email), body.new_identifier_verification_record_id);
    change_identifier(principal, request, deps, AccountRoute::ChangePrimaryEmail, patch, Some(proof)).await
}

#[utoipa::path(
    post,
    path = "/api/my-account/primary-phone",
    tag = "Account",
    summary = "Set the caller's primary phone",
    description = "As the primary email: an identity record and a verified code record for the new number.",
    request_body = PrimaryPhoneBody,
    responses(
        (status = 204, description = "Set."),
        (status = 400, description = "`verification_record.not_found`, `guard.invalid_input`, \
            `auth.unauthorized` (no `phone` scope) or `account_center.field_not_editable`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
        (status = 422, description = "`user.phone_already_in_use`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn set_primary_phone(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<PrimaryPhoneBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let phone = Phone::parse(&body.phone).map_err(|_| ApiError::InvalidBody("phone: invalid".to_owned()))?;
    let patch = UserPatch { primary_phone: Some(Some(phone.clone())), ..UserPatch::default() };
    let proof = (CodeRecipient::Phone(phone), body.new_identifier_verification_record_id);
    change_identifier(principal, request, deps, AccountRoute::ChangePrimaryPhone, patch, Some(proof)).await
}

#[utoipa::path(
    delete,
    path = "/api/my-account/primary-email",
    tag = "Account",
    summary = "Remove the caller's primary email",
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`user.last_sign_in_method_required`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn remove_primary_email(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let patch = UserPatch { primary_email: Some(None), ..UserPatch::default() };
    change_identifier(principal, request, deps, AccountRoute::ChangePrimaryEmail, patch, None).await
}

#[utoipa::path(
    delete,
    path = "/api/my-account/primary-phone",
    tag = "Account",
    summary = "Remove the caller's primary phone",
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`user.last_sign_in_method_required`.", body = ErrorBody),
        (status = 401, description = "`verification_record.permission_denied`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn remove_primary_phone(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let patch = UserPatch { primary_phone: Some(None), ..UserPatch::default() };
    change_identifier(principal, request, deps, AccountRoute::ChangePrimaryPhone, patch, None).await
}

/// Sets (with the proof that the caller holds the new address) or removes (keeping a way to sign in) a primary
/// email or phone.
async fn change_identifier(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    route: AccountRoute,
    patch: UserPatch,
    new: Option<(CodeRecipient, String)>,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, route).await?;
    if let Some((recipient, record_id)) = &new {
        deps.verifications.require_new_identifier(allowed.holder()?, record_id, recipient).await?;
    }
    if patch.removes_last_sign_in_method(&allowed.user) {
        return Err(ApiError::LastSignInMethod);
    }
    let write = UserWrite::new(&allowed.context).expecting(expected_version(&request)?);
    deps.users.update(allowed.caller.user_id(), patch, write).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A verification record was made.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordBody {
    pub verification_record_id: String,
    /// ISO 8601, as Logto.
    pub expires_at: String,
}

#[utoipa::path(
    post,
    path = "/api/verifications/password",
    tag = "Account",
    summary = "Verify the caller's password",
    description = "A verification record for ten minutes, usable only with tokens of this session.",
    request_body = PasswordBody,
    responses(
        (status = 201, description = "The record.", body = RecordBody),
        (status = 400, description = "`session.verification_blocked_too_many_attempts`.", body = ErrorBody),
        (status = 422, description = "`session.invalid_credentials`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn verify_password(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeVerificationRecord).await?;
    let made = deps.verifications.verify_password(allowed.holder()?, &PlainPassword::new(body.password)).await?;
    Ok(HttpResponse::Created()
        .json(RecordBody { verification_record_id: made.id, expires_at: made.expires_at.to_iso8601() }))
}

/// An email or phone, as Logto's verification routes name it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IdentifierBody {
    /// `email` or `phone`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl IdentifierBody {
    fn recipient(&self) -> Result<CodeRecipient, ApiError> {
        let invalid = || ApiError::InvalidBody("identifier: invalid".to_owned());
        match self.kind.as_str() {
            "email" => Email::parse(&self.value).map(CodeRecipient::Email).map_err(|_| invalid()),
            "phone" => Phone::parse(&self.value).map(CodeRecipient::Phone).map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

/// `POST /api/verifications/verification-code`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendCodeBody {
    pub identifier: IdentifierBody,
    /// `BindMfa` or `UserPermissionValidation` (the default) for the user's own address; ignored otherwise.
    #[serde(default)]
    pub template_type: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/verifications/verification-code",
    tag = "Account",
    summary = "Send a verification code",
    description = "To the caller's own email or phone (a record proving identity once verified), or to a new \
        address (a record proving the caller holds it). 10 sends per recipient per 600 s.",
    request_body = SendCodeBody,
    responses(
        (status = 201, description = "The (unverified) record.", body = RecordBody),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 429, description = "`request.message_rate_limited`.", body = ErrorBody),
        (status = 501, description = "`connector.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn send_code(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<SendCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let recipient = body.identifier.recipient()?;
    let bind_mfa = match body.template_type.as_deref() {
        None | Some("UserPermissionValidation") => false,
        Some("BindMfa") => true,
        Some(_) => return Err(ApiError::InvalidBody("templateType: invalid".to_owned())),
    };
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeVerificationRecord).await?;
    let made = deps.verifications.send_code(allowed.holder()?, recipient, bind_mfa).await?;
    Ok(HttpResponse::Created()
        .json(RecordBody { verification_record_id: made.id, expires_at: made.expires_at.to_iso8601() }))
}

/// `POST /api/verifications/verification-code/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyCodeBody {
    pub identifier: IdentifierBody,
    pub verification_id: String,
    pub code: String,
}

#[utoipa::path(
    post,
    path = "/api/verifications/verification-code/verify",
    tag = "Account",
    summary = "Verify a code",
    description = "Each check spends one of the code's 10; a right code is used up and its record verified.",
    request_body = VerifyCodeBody,
    responses(
        (status = 200, description = "`{verificationRecordId}`.", body = Object),
        (status = 400, description = "`verification_code.{not_found,expired,exceed_max_try,code_mismatch,\
            email_mismatch,phone_mismatch}`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn verify_code(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<VerifyCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let recipient = body.identifier.recipient()?;
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeVerificationRecord).await?;
    let made = deps.verifications.verify_code(allowed.holder()?, &body.verification_id, &recipient, &body.code).await?;
    Ok(HttpResponse::Ok().json(json!({ "verificationRecordId": made.id })))
}
