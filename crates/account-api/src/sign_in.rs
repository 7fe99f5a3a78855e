//! The redirect-free sign-in API for first-party applications, and sign-out (docs/sign-in.md):
//!
//! - `POST /api/sign-in` `{clientId, identifier: {type, value}, password, scope?}` → an OAuth-shaped token
//!   response, or 403 `session.mfa.require_mfa_verification` with `data: {mfaToken, availableFactors, expiresAt}`;
//! - `POST /api/sign-in/mfa` `{mfaToken, type, code}` → the token response;
//! - `POST /api/sign-in/verification-code` and `POST /api/sign-in` with `{verificationId, code}` instead of a
//!   password: the email/phone code sign-in, answered 501 `connector.not_found` until message connectors arrive;
//! - `POST /api/sign-out` with the user's bearer token → 204, the token's session revoked.
//!
//! The decisions (client, sentinel, password, suspension, MFA) are the domain's [`SignInService`]; this module
//! reads the wire, starts the session through the token crate and writes the answer. Passwords, codes and tokens
//! are never logged: the request bodies' `Debug` leaves them out.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::{IssuedTokens, NewSession, Principal, SessionTokens};
use latchkey_domain::password::PlainPassword;
use latchkey_domain::ports::RepoError;
use latchkey_domain::service::{MfaAnswer, PasswordSignIn, SignInOutcome, SignInService, SignedIn};
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
#[derive(Debug, Deserialize)]
pub struct IdentifierBody {
    #[serde(rename = "type")]
    pub kind: IdentifierKindBody,
    pub value: String,
}

#[derive(Debug, Deserialize, Clone, Copy)]
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
#[derive(Deserialize)]
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

/// `POST /api/sign-in/mfa`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaBody {
    pub mfa_token: String,
    #[serde(rename = "type")]
    pub kind: MfaKindBody,
    pub code: Option<String>,
}

/// Logto's `MfaFactor` names for the factors a sign-in can be finished with.
#[derive(Debug, Deserialize, Clone, Copy)]
pub enum MfaKindBody {
    Totp,
    BackupCode,
    WebAuthn,
}

/// `POST /api/sign-in/verification-code`.
#[derive(Debug, Deserialize)]
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
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

type Body<T> = Result<web::Json<T>, actix_web::Error>;

/// `POST /api/sign-in`.
pub async fn sign_in(
    api: web::Data<SignInApi>,
    request: HttpRequest,
    body: Body<SignInBody>,
) -> Result<HttpResponse, ApiError> {
    let body =
        body.map_err(|_| ApiError::InvalidSignInRequest("the body is not a valid sign-in request"))?.into_inner();
    let identifier = parse_identifier(&body.identifier)?;
    let password = match (body.password, body.verification_id.is_some() || body.code.is_some()) {
        (Some(password), false) => PlainPassword::new(password),
        (None, true) if identifier.kind() != IdentifierKind::Username => return Err(ApiError::CodeSignInUnavailable),
        _ => {
            return Err(ApiError::InvalidSignInRequest(
                "give a password, or (for an email or phone) a verificationId and code",
            ));
        }
    };
    let outcome = api
        .service
        .sign_in_with_password(PasswordSignIn {
            client_id: body.client_id,
            identifier,
            password,
            scopes: grant_user_scopes(body.scope.as_deref()),
        })
        .await?;
    match outcome {
        SignInOutcome::SignedIn(signed_in) => issue_tokens(&api, &request, *signed_in).await,
        SignInOutcome::MfaRequired(challenge) => Err(ApiError::MfaRequired(challenge)),
    }
}

/// `POST /api/sign-in/mfa`.
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
    let signed_in = api.service.verify_mfa(&body.mfa_token, &answer).await?;
    issue_tokens(&api, &request, signed_in).await
}

/// `POST /api/sign-in/verification-code`: sending a sign-in code needs an email or SMS connector, which arrives
/// with the Account API issue. The body is checked first so that clients can be written against it now.
pub async fn send_verification_code(body: Body<VerificationCodeBody>) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|_| ApiError::InvalidSignInRequest("the body is not a valid code request"))?.into_inner();
    if matches!(body.identifier.kind, IdentifierKindBody::Username) {
        return Err(ApiError::InvalidSignInRequest("codes are sent to an email or a phone"));
    }
    parse_identifier(&body.identifier)?;
    Err(ApiError::CodeSignInUnavailable)
}

/// `POST /api/sign-out`: revokes the session of the presented token, which ends its access and refresh tokens.
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

async fn issue_tokens(api: &SignInApi, request: &HttpRequest, signed_in: SignedIn) -> Result<HttpResponse, ApiError> {
    let user_agent = request.headers().get(header::USER_AGENT).and_then(|value| value.to_str().ok());
    // The peer address, not a forwarded header: it cannot be forged by the client (behind a proxy it is the
    // proxy's; the field is informative only).
    let ip = request.peer_addr().map(|address| address.ip().to_string());
    let issued = api
        .tokens
        .start(NewSession {
            user_id: signed_in.user.id,
            client_id: signed_in.client_id,
            audience: Audience::Account,
            scopes: signed_in.scopes,
            actor: None,
            personal_access_token: None,
            with_refresh_token: true,
            user_agent: user_agent.map(str::to_owned),
            ip,
        })
        .await?;
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
