//! The redirect-free sign-in API for first-party applications, and sign-out (docs/sign-in.md):
//!
//! - `POST /api/sign-in` `{clientId, identifier: {type, value}, password, scope?}` → an OAuth-shaped token
//!   response, or 403 `session.mfa.require_mfa_verification` with `data: {mfaToken, availableFactors, expiresAt}`;
//! - `POST /api/sign-in/mfa` `{mfaToken, type, code}` → the token response;
//! - `POST /api/sign-in/verification-code` `{clientId, identifier}` → `{verificationId, expiresAt}` (a code sent
//!   through the message connector), then `POST /api/sign-in` with `{verificationId, code}` instead of a
//!   password: the email/phone code sign-in;
//! - `POST /api/sign-out` with the user's bearer token → 204, the token's session revoked.
//!
//! The decisions (client, sentinel, password, suspension, MFA) are the domain's [`SignInService`]; this module
//! reads the wire, starts the session through the token crate and writes the answer. Passwords, codes and tokens
//! are never logged: the request bodies' `Debug` leaves them out.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_auth::{IssuedTokens, Principal, SessionTokens};
use latchkey_domain::audit::RequestOrigin;
use latchkey_domain::password::PlainPassword;
use latchkey_domain::ports::RepoError;
use latchkey_domain::service::{CodeSignIn, MfaAnswer, PasswordSignIn, SignInOutcome, SignInService, SignedIn};
use latchkey_domain::session::{RevokeReason, SessionRepository};
use latchkey_domain::sign_in::{IdentifierKind, SignInIdentifier};
use latchkey_domain::token::{Audience, Subject, grant_user_scopes};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::policy::CallerDenial;

/// What the sign-in handlers need; the server registers it once as `web::Data<SignInApi>`.
pub struct SignInApi {
    pub service: SignInService,
    /// Starts the session and mints its tokens.
    pub tokens: Arc<SessionTokens>,
    /// Sign-out revokes through it.
    pub sessions: Arc<dyn SessionRepository>,
}

impl std::fmt::Debug for SignInApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInApi { .. }")
    }
}

/// Registers the sign-in and sign-out routes (each a resource, so other methods get 405).
pub fn configure(config: &mut ServiceConfig) {
    config.service(web::resource("/api/sign-in").route(web::post().to(sign_in)));
    config.service(web::resource("/api/sign-in/mfa").route(web::post().to(verify_mfa)));
    config.service(web::resource("/api/sign-in/verification-code").route(web::post().to(send_verification_code)));
    config.service(web::resource("/api/sign-out").route(web::post().to(sign_out)));
}

/// `identifier` of a sign-in body, as Logto's experience API names it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IdentifierBody {
    #[serde(rename = "type")]
    pub kind: IdentifierKindBody,
    pub value: String,
}

#[derive(Debug, Deserialize, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum IdentifierKindBody {
    Username,
    Email,
    Phone,
}

impl From<IdentifierKindBody> for IdentifierKind {
    fn from(kind: IdentifierKindBody) -> Self {
        match kind {
            IdentifierKindBody::Username => IdentifierKind::Username,
            IdentifierKindBody::Email => IdentifierKind::Email,
            IdentifierKindBody::Phone => IdentifierKind::Phone,
        }
    }
}

/// `POST /api/sign-in`. Exactly one of `password` and `verificationId` + `code`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInBody {
    pub client_id: String,
    pub identifier: IdentifierBody,
    pub password: Option<String>,
    pub verification_id: Option<String>,
    pub code: Option<String>,
    /// Space-separated; unknown scopes are dropped, none asked means `openid offline_access profile`.
    pub scope: Option<String>,
}

/// `POST /api/sign-in/mfa`. `code` is required for `Totp` and `BackupCode`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaBody {
    pub mfa_token: String,
    #[serde(rename = "type")]
    pub kind: MfaKindBody,
    pub code: Option<String>,
}

/// Logto's `MfaFactor` names for the factors a sign-in can be finished with.
#[derive(Debug, Deserialize, Clone, Copy, utoipa::ToSchema)]
pub enum MfaKindBody {
    Totp,
    BackupCode,
    WebAuthn,
}

/// `POST /api/sign-in/verification-code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationCodeBody {
    pub client_id: String,
    pub identifier: IdentifierBody,
}

// The secrets (password, code, MFA token) stay out of `Debug`.
impl std::fmt::Debug for SignInBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInBody")
            .field("client_id", &self.client_id)
            .field("identifier", &self.identifier)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MfaBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaBody").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// The token response, shaped as `POST /oidc/token`'s.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SignInTokenResponse)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// The answer to `POST /api/sign-in/verification-code`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CodeSentResponse {
    /// Names the code; give it with the code to `POST /api/sign-in`.
    verification_id: String,
    /// When the code stops working, in milliseconds since the epoch.
    expires_at: i64,
}

type Body<T> = Result<web::Json<T>, actix_web::Error>;

/// `POST /api/sign-in`.
#[utoipa::path(
    post,
    path = "/api/sign-in",
    tag = "Sign-in",
    summary = "Sign in with an identifier and a password",
    description = "Redirect-free sign-in for a first-party application: starts a session and returns its access \
        token (Account API) and refresh token. A user with MFA gets 403 `session.mfa.require_mfa_verification` \
        with `data: {mfaToken, availableFactors, expiresAt}`; finish with `POST /api/sign-in/mfa`. Wrong \
        credentials get one answer whether or not the user exists.",
    request_body = SignInBody,
    responses(
        (status = 200, description = "Signed in (`Cache-Control: no-store`).", body = TokenResponse),
        (status = 400, description = "`guard.invalid_input`, `oidc.unauthorized_client` or \
            `session.verification_blocked_too_many_attempts`.", body = ErrorBody),
        (status = 401, description = "`oidc.invalid_client` or `user.suspended`.", body = ErrorBody),
        (status = 403, description = "`session.mfa.require_mfa_verification` (see `MfaRequiredData`) or \
            `auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 400, description = "Code sign-in: `verification_code.not_found`, `verification_code.code_mismatch`, \
            `verification_code.expired`, `verification_code.exceed_max_try`, `verification_code.email_mismatch` or \
            `verification_code.phone_mismatch`.", body = ErrorBody),
        (status = 404, description = "`user.user_not_exist`: the right code, but no user has the identifier.",
            body = ErrorBody),
        (status = 422, description = "`session.invalid_credentials`.", body = ErrorBody),
        (status = 501, description = "`connector.not_found`: no message connector is configured.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(()),
    extensions(("x-latchkey-extension" = json!(true))),
)]
pub async fn sign_in(
    api: web::Data<SignInApi>,
    request: HttpRequest,
    body: Body<SignInBody>,
) -> Result<HttpResponse, ApiError> {
    let body =
        body.map_err(|_| ApiError::InvalidSignInRequest("the body is not a valid sign-in request"))?.into_inner();
    let identifier = parse_identifier(&body.identifier)?;
    let scopes = grant_user_scopes(body.scope.as_deref());
    let client_id = body.client_id;
    let outcome = match (body.password, body.verification_id, body.code) {
        (Some(password), None, None) => {
            let password = PlainPassword::new(password);
            let origin = request_origin(&request);
            api.service
                .sign_in_with_password(PasswordSignIn { client_id, identifier, password, scopes, origin })
                .await?
        }
        (None, Some(verification_id), Some(code)) if identifier.kind() != IdentifierKind::Username => {
            let origin = request_origin(&request);
            let code_sign_in = CodeSignIn { client_id, identifier, verification_id, code, scopes, origin };
            api.service.sign_in_with_code(code_sign_in).await?
        }
        _ => {
            return Err(ApiError::InvalidSignInRequest(
                "give a password, or (for an email or phone) a verificationId and code",
            ));
        }
    };
    match outcome {
        SignInOutcome::SignedIn(signed_in) => issue_tokens(&api, *signed_in),
        SignInOutcome::MfaRequired(challenge) => Err(ApiError::MfaRequired(challenge)),
    }
}

/// The client address (`latchkey_auth::client_ip`) and `User-Agent` of a request, for its audit entries, webhook
/// events and the session a sign-in starts.
pub(crate) fn request_origin(request: &HttpRequest) -> RequestOrigin {
    RequestOrigin {
        ip: latchkey_auth::client_ip(request).map(|address| address.to_string()),
        user_agent: request.headers().get(header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned),
    }
}

/// `POST /api/sign-in/mfa`.
#[utoipa::path(
    post,
    path = "/api/sign-in/mfa",
    tag = "Sign-in",
    summary = "Finish a sign-in with a second factor",
    description = "Answers the challenge of a 403 `session.mfa.require_mfa_verification` with a TOTP code, a \
        backup code or WebAuthn, and returns the tokens.",
    request_body = MfaBody,
    responses(
        (status = 200, description = "Signed in (`Cache-Control: no-store`).", body = TokenResponse),
        (status = 400, description = "`guard.invalid_input`, `session.mfa.pending_info_not_found`, \
            `session.mfa.invalid_totp_code`, `session.mfa.invalid_backup_code`, `session.mfa.mfa_factor_not_enabled` \
            or `session.verification_blocked_too_many_attempts`.", body = ErrorBody),
        (status = 401, description = "`user.suspended`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(()),
    extensions(("x-latchkey-extension" = json!(true))),
)]
pub async fn verify_mfa(
    api: web::Data<SignInApi>,
    request: HttpRequest,
    body: Body<MfaBody>,
) -> Result<HttpResponse, ApiError> {
    let body =
        body.map_err(|_| ApiError::InvalidSignInRequest("the body is not a valid MFA verification"))?.into_inner();
    let code = || body.code.clone().ok_or(ApiError::InvalidSignInRequest("`code` is required for this type"));
    let answer = match body.kind {
        MfaKindBody::Totp => MfaAnswer::Totp(code()?),
        MfaKindBody::BackupCode => MfaAnswer::BackupCode(code()?),
        MfaKindBody::WebAuthn => MfaAnswer::WebAuthn,
    };
    let signed_in = api.service.verify_mfa(&body.mfa_token, &answer, &request_origin(&request)).await?;
    issue_tokens(&api, signed_in)
}

/// `POST /api/sign-in/verification-code`: sends a sign-in code through the message connector, whether or not a
/// user has the identifier (so the answer says nothing about accounts).
#[utoipa::path(
    post,
    path = "/api/sign-in/verification-code",
    tag = "Sign-in",
    summary = "Send a sign-in code to an email or phone",
    description = "Sends a 6-digit code (10 minutes, 10 checks, single use) to the email or phone, whether or not \
        a user has it; sign in with `POST /api/sign-in` and `{verificationId, code}`. At most 10 sends per \
        recipient in 600 s.",
    request_body = VerificationCodeBody,
    responses(
        (status = 200, description = "Sent (`Cache-Control: no-store`).", body = CodeSentResponse),
        (status = 400, description = "`guard.invalid_input` or `oidc.unauthorized_client`.", body = ErrorBody),
        (status = 401, description = "`oidc.invalid_client`.", body = ErrorBody),
        (status = 403, description = "`auth.third_party_application_forbidden`.", body = ErrorBody),
        (status = 429, description = "`request.message_rate_limited`.", body = ErrorBody),
        (status = 500, description = "`connector.general`: the connector failed.", body = ErrorBody),
        (status = 501, description = "`connector.not_found`.", body = ErrorBody),
    ),
    security(()),
    extensions(("x-latchkey-extension" = json!(true))),
)]
pub async fn send_verification_code(
    api: web::Data<SignInApi>,
    body: Body<VerificationCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|_| ApiError::InvalidSignInRequest("the body is not a valid code request"))?.into_inner();
    if matches!(body.identifier.kind, IdentifierKindBody::Username) {
        return Err(ApiError::InvalidSignInRequest("codes are sent to an email or a phone"));
    }
    let identifier = parse_identifier(&body.identifier)?;
    let sent = api.service.send_sign_in_code(&body.client_id, &identifier).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CodeSentResponse { verification_id: sent.verification_id, expires_at: sent.expires_at.as_millis() }))
}

/// `POST /api/sign-out`: revokes the session of the presented token, which ends its access and refresh tokens.
#[utoipa::path(
    post,
    path = "/api/sign-out",
    tag = "Sign-in",
    summary = "Sign out",
    description = "Revokes the session of the presented user token: its access and refresh tokens stop working.",
    responses(
        (status = 204, description = "Signed out."),
        (status = 401, description = "`auth.unauthorized`: no valid user token with a session.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
    extensions(("x-latchkey-extension" = json!(true))),
)]
pub async fn sign_out(api: web::Data<SignInApi>, principal: Principal) -> Result<HttpResponse, ApiError> {
    let claims = &principal.claims;
    let (Subject::User(_), Some(session_id)) = (&claims.subject, claims.session_id.as_deref()) else {
        return Err(CallerDenial::NotAnAccountToken.into());
    };
    let now = api.tokens.clock().now();
    match api.sessions.revoke(session_id, RevokeReason::SignOut, now).await {
        // Already gone (the user was deleted since the token was checked): signed out all the same.
        Ok(()) | Err(RepoError::NotFound) => Ok(HttpResponse::NoContent().finish()),
        Err(error) => Err(ApiError::Store(error)),
    }
}

fn parse_identifier(body: &IdentifierBody) -> Result<SignInIdentifier, ApiError> {
    SignInIdentifier::parse(body.kind.into(), &body.value)
        .map_err(|_| ApiError::InvalidSignInRequest("the identifier is not a valid value of its type"))
}

fn issue_tokens(api: &SignInApi, signed_in: SignedIn) -> Result<HttpResponse, ApiError> {
    // The sign-in service stored the session, with the request's origin, together with the sign-in record.
    let issued = api.tokens.tokens_for(&signed_in.session, Audience::Account, Some(signed_in.refresh_token))?;
    Ok(token_response(issued))
}

fn token_response(issued: IssuedTokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: issued.scope,
            refresh_token: issued.refresh_token.map(|token| token.expose().to_owned()),
        })
}
