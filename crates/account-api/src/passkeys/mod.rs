//! Passkeys in the Account API (logto-reference §1–§2, §5): `POST /api/verifications/web-authn/registration` and
//! `…/verify` (a WebAuthn verification record: options, then the authenticator's answer), the WebAuthn binding of
//! `POST /api/my-account/mfa-verifications` ([`bind`], called from [`crate::mfa`]) and
//! `PATCH /api/my-account/mfa-verifications/{verificationId}/name`.
//!
//! The relying party is the configured endpoint: its host is the RP ID and its origin, with the account center's
//! `webauthnRelatedOrigins`, the origins an answer may come from. Logto takes the request's hostname instead;
//! behind a proxy that hostname is whatever the proxy sends, so the configured endpoint is the one we trust.
//! webauthn-rs stays in [`ceremony`], behind the domain's `PasskeyCeremony` port.

pub mod ceremony;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::mfa::MfaFactorType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

pub use ceremony::WebauthnCeremony;

use crate::account::{AccountDeps, Allowed, allow};
use crate::error::ApiError;
use crate::policy::AccountRoute;

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("/api/verifications/web-authn/registration").route(web::post().to(start_registration)))
        .service(
            web::resource("/api/verifications/web-authn/registration/verify")
                .route(web::post().to(verify_registration)),
        )
        .service(
            web::resource("/api/my-account/mfa-verifications/{verificationId}/name")
                .route(web::patch().to(rename_passkey)),
        );
}

type Deps = web::Data<AccountDeps>;
type Json<T> = Result<web::Json<T>, actix_web::Error>;

/// `POST /api/verifications/web-authn/registration`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationBody {
    pub verification_record_id: String,
    /// `PublicKeyCredentialCreationOptions` as JSON (`navigator.credentials.create({publicKey})`).
    #[schema(value_type = Object)]
    pub registration_options: Value,
    /// ISO 8601, as Logto.
    pub expires_at: String,
}

#[utoipa::path(
    post,
    path = "/api/verifications/web-authn/registration",
    tag = "Account",
    summary = "Start registering a passkey",
    description = "Makes a WebAuthn verification record of the caller's session and answers the registration \
        options: the RP ID is the endpoint's host, user verification and a discoverable credential are required, \
        attestation `none`, and the caller's passkeys are excluded. First-party clients only.",
    responses(
        (status = 200, description = "The record and the options.", body = RegistrationBody),
        (status = 400, description = "`account_center.not_enabled`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 500, description = "`unexpected_error`: the endpoint cannot be a relying party (an IP address).",
            body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn start_registration(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
) -> Result<HttpResponse, ApiError> {
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeVerificationRecord).await?;
    let started = deps.passkeys.start_registration(allowed.holder()?).await?;
    // The options carry the challenge of this one ceremony.
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(RegistrationBody {
        verification_record_id: started.record_id,
        registration_options: started.options,
        expires_at: started.expires_at.to_iso8601(),
    }))
}

/// `POST /api/verifications/web-authn/registration/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRegistrationBody {
    pub verification_record_id: String,
    /// The authenticator's answer as `RegistrationResponseJSON` (`{id, rawId, response: {clientDataJSON,
    /// attestationObject, transports?}, type, clientExtensionResults}`).
    #[schema(value_type = Object)]
    pub payload: Value,
}

#[utoipa::path(
    post,
    path = "/api/verifications/web-authn/registration/verify",
    tag = "Account",
    summary = "Verify a passkey registration",
    description = "Checks the authenticator's answer against the record's challenge, the RP ID, and the origins \
        (the endpoint's and the account center's `webauthnRelatedOrigins`); the record then holds the new \
        credential, with the request's `User-Agent` as its agent, for `POST /api/my-account/mfa-verifications`. \
        The record must be the caller's, of this session; it verifies once.",
    request_body = VerifyRegistrationBody,
    responses(
        (status = 200, description = "`{verificationRecordId}`.", body = Object),
        (status = 400, description = "`guard.invalid_input`, `verification_record.not_found`, \
            `session.mfa.pending_info_not_found` or `session.mfa.webauthn_verification_failed`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn verify_registration(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    body: Json<VerifyRegistrationBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::MakeVerificationRecord).await?;
    let related = deps.account_center.get().await?.settings.webauthn_related_origins;
    let agent = request.headers().get(header::USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let made = deps
        .passkeys
        .verify_registration(allowed.holder()?, &body.verification_record_id, &body.payload, &related, agent)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "verificationRecordId": made.id })))
}

/// The WebAuthn arm of `POST /api/my-account/mfa-verifications`: binds the credential of the caller's verified
/// WebAuthn record `record_id` under `name`. Logto's order: the factor enabled, then the record.
pub(crate) async fn bind(
    deps: &AccountDeps,
    allowed: &Allowed,
    record_id: &str,
    name: Option<String>,
    enabled: &[MfaFactorType],
) -> Result<(), ApiError> {
    if !enabled.contains(&MfaFactorType::WebAuthn) {
        return Err(ApiError::Account(latchkey_domain::mfa::MfaError::FactorNotEnabled.into()));
    }
    let credential = deps.passkeys.registered_credential(allowed.holder()?, record_id).await?;
    deps.users.accounts().bind_webauthn(allowed.caller.user_id(), credential, name, enabled, allowed.write()).await?;
    Ok(())
}

/// `PATCH /api/my-account/mfa-verifications/{verificationId}/name`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameBody {
    pub name: String,
}

#[utoipa::path(
    patch,
    path = "/api/my-account/mfa-verifications/{verificationId}/name",
    tag = "Account",
    summary = "Rename one of the caller's passkeys",
    description = "Only WebAuthn factors have names. Answers 200 with no body, as Logto. Needs the `identities` \
        scope, `passkey` (falling back to `mfa`) editable and a verification record (`logto-verification-id`).",
    params(("verificationId" = String, Path, description = "The factor's id.")),
    request_body = RenameBody,
    responses(
        (status = 200, description = "Renamed."),
        (status = 400, description = "`guard.invalid_input`, `account_center.field_not_editable` or \
            `verification_record.not_found` (no passkey of that id).", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized` or `verification_record.permission_denied`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn rename_passkey(
    principal: Principal,
    request: HttpRequest,
    deps: Deps,
    path: web::Path<String>,
    body: Json<RenameBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|error| ApiError::InvalidBody(error.to_string()))?.into_inner();
    let allowed = allow(&principal, &request, &deps, AccountRoute::ChangePasskey).await?;
    deps.users.accounts().rename_webauthn(allowed.caller.user_id(), &path, &body.name, allowed.write()).await?;
    Ok(HttpResponse::Ok().finish())
}
