//! The Account API's one error type and its one mapping to HTTP: status and Logto code per variant.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use latchkey_auth::error_body::error_response;

use latchkey_domain::ports::RepoError;

use crate::policy::{CallerDenial, Denial, ScopeAnswer};
use latchkey_auth::IssueError;
use latchkey_domain::mfa::MfaError;
use latchkey_domain::service::{AccountError, MfaChallenge, SignInError, SocialError, VerificationError};
use latchkey_domain::sign_in::IdentifierKind;
use latchkey_domain::verification_code::{CodeCheckError, CodeSendError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Denied(#[from] Denial),
    #[error(transparent)]
    Caller(#[from] CallerDenial),
    /// The token's user was deleted after the token was verified.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed; the cause is logged, never sent.
    #[error("storage failed: {0}")]
    Store(RepoError),
    /// A sign-in step was refused (`crate::sign_in`).
    #[error(transparent)]
    SignIn(#[from] SignInError),
    /// The password was right and a second factor is needed: the answer carries the challenge.
    #[error("MFA verification is required to sign in.")]
    MfaRequired(MfaChallenge),
    #[error("invalid sign-in request: {0}")]
    InvalidSignInRequest(&'static str),
    /// Starting the session or minting its tokens failed.
    #[error("issuing tokens failed: {0}")]
    Tokens(#[from] IssueError),
    /// A verification-record step was refused.
    #[error(transparent)]
    Verification(#[from] VerificationError),
    /// An account change was refused (the domain's table gives Logto's answer).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// 400 `guard.invalid_input`.
    #[error("the request body is invalid: {0}")]
    InvalidBody(String),
    /// 422 `user.same_password`: the new password is the current one.
    #[error("the new password is the same as the current one")]
    SamePassword,
    /// 400 `user.last_sign_in_method_required`: the change would leave the user no way to sign in.
    #[error("the last sign-in method of the account cannot be removed")]
    LastSignInMethod,
    /// A social verification or identity change was refused (the domain's table gives Logto's answer).
    #[error(transparent)]
    Social(#[from] SocialError),
    /// 404 `secrets.third_party_token_set.token_not_found`: Latchkey keeps no provider token sets.
    #[error("no access token of the provider is stored for this identity")]
    ThirdPartyTokenNotFound,
    /// 404 `verification_record.not_found`: the user has no backup codes to reveal.
    #[error("the user has no backup codes")]
    NoBackupCodes,
    /// 404 `oidc.session_not_found`: no live session of the caller's has that id (another user's included).
    #[error("the session was not found")]
    SessionNotFound,
    /// 404 `entity.not_found`: the caller has no live session with that application.
    #[error("the grant was not found")]
    GrantNotFound,
    /// 400 `guard.invalid_pagination`.
    #[error("the page or page size is invalid")]
    InvalidPagination,
}

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::NotFound => ApiError::UserGone,
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    /// Logto's error code for this error.
    pub fn code(&self) -> &'static str {
        self.wire().1
    }

    /// Logto's status and code for this error: the crate's one table.
    fn wire(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Denied(Denial::AccountCenterDisabled) => (S::BAD_REQUEST, "account_center.not_enabled"),
            ApiError::Denied(Denial::FieldNotEnabled(_)) => (S::BAD_REQUEST, "account_center.field_not_enabled"),
            ApiError::Denied(Denial::FieldNotEditable(_)) => (S::BAD_REQUEST, "account_center.field_not_editable"),
            ApiError::Denied(Denial::MissingScope { answer, .. }) => match answer {
                ScopeAnswer::BadRequest => (S::BAD_REQUEST, "auth.unauthorized"),
                ScopeAnswer::Unauthorized => (S::UNAUTHORIZED, "auth.unauthorized"),
                ScopeAnswer::Forbidden => (S::FORBIDDEN, "auth.forbidden"),
            },
            ApiError::Denied(Denial::ThirdPartyApplication) | ApiError::SignIn(SignInError::ThirdPartyClient) => {
                (S::FORBIDDEN, "auth.third_party_application_forbidden")
            }
            ApiError::Denied(Denial::VerificationRequired)
            | ApiError::Verification(VerificationError::PermissionDenied) => {
                (S::UNAUTHORIZED, "verification_record.permission_denied")
            }
            ApiError::Caller(CallerDenial::NotAnAccountToken)
            | ApiError::UserGone
            | ApiError::Verification(VerificationError::UserGone)
            // The Account API acts on the caller's own account: a missing user is a dead token.
            | ApiError::Account(AccountError::UserNotFound) => (S::UNAUTHORIZED, "auth.unauthorized"),
            ApiError::Caller(CallerDenial::MissingOpenidScope) => (S::FORBIDDEN, "auth.forbidden"),
            ApiError::Store(_)
            | ApiError::SignIn(SignInError::Storage(_))
            | ApiError::Verification(
                VerificationError::Storage(_)
                | VerificationError::Send(CodeSendError::Storage(_))
                | VerificationError::Code { error: CodeCheckError::Storage(_), .. },
            ) => (S::SERVICE_UNAVAILABLE, "service_unavailable"),
            ApiError::SignIn(SignInError::UnknownClient) => (S::UNAUTHORIZED, "oidc.invalid_client"),
            ApiError::SignIn(SignInError::ClientCannotSignIn) => (S::BAD_REQUEST, "oidc.unauthorized_client"),
            // A user deleted between the password check and the session: as if unknown.
            ApiError::SignIn(SignInError::InvalidCredentials)
            | ApiError::Tokens(IssueError::UnknownUser)
            | ApiError::Verification(VerificationError::InvalidCredentials) => {
                (S::UNPROCESSABLE_ENTITY, "session.invalid_credentials")
            }
            ApiError::SignIn(SignInError::Blocked { .. }) | ApiError::Verification(VerificationError::Blocked { .. }) => {
                (S::BAD_REQUEST, "session.verification_blocked_too_many_attempts")
            }
            ApiError::SignIn(SignInError::Suspended) | ApiError::Verification(VerificationError::Suspended) => {
                (S::UNAUTHORIZED, "user.suspended")
            }
            ApiError::SignIn(SignInError::MfaChallengeNotFound) => (S::BAD_REQUEST, "session.mfa.pending_info_not_found"),
            ApiError::SignIn(SignInError::InvalidTotpCode) => (S::BAD_REQUEST, "session.mfa.invalid_totp_code"),
            ApiError::SignIn(SignInError::InvalidBackupCode) => (S::BAD_REQUEST, "session.mfa.invalid_backup_code"),
            ApiError::SignIn(SignInError::FactorNotEnabled) => (S::BAD_REQUEST, "session.mfa.mfa_factor_not_enabled"),
            ApiError::SignIn(SignInError::NotARecipient) | ApiError::InvalidSignInRequest(_) | ApiError::InvalidBody(_) => {
                (S::BAD_REQUEST, "guard.invalid_input")
            }
            ApiError::SignIn(SignInError::ConnectorNotFound)
            | ApiError::Verification(VerificationError::ConnectorNotFound) => (S::NOT_IMPLEMENTED, "connector.not_found"),
            ApiError::SignIn(SignInError::ConnectorFailed(_))
            | ApiError::Verification(VerificationError::Send(CodeSendError::Connector(_))) => {
                (S::INTERNAL_SERVER_ERROR, "connector.general")
            }
            ApiError::SignIn(SignInError::MessageRateLimited)
            | ApiError::Verification(VerificationError::Send(CodeSendError::RateLimited)) => {
                (S::TOO_MANY_REQUESTS, "request.message_rate_limited")
            }
            ApiError::SignIn(SignInError::CodeNotFound)
            | ApiError::Verification(VerificationError::Code { error: CodeCheckError::NotFound, .. }) => {
                (S::BAD_REQUEST, "verification_code.not_found")
            }
            ApiError::SignIn(SignInError::CodeIdentifierMismatch { kind: IdentifierKind::Phone })
            | ApiError::Verification(VerificationError::Code {
                error: CodeCheckError::IdentifierMismatch,
                recipient_is_email: false,
            }) => (S::BAD_REQUEST, "verification_code.phone_mismatch"),
            ApiError::SignIn(SignInError::CodeIdentifierMismatch { .. })
            | ApiError::Verification(VerificationError::Code { error: CodeCheckError::IdentifierMismatch, .. }) => {
                (S::BAD_REQUEST, "verification_code.email_mismatch")
            }
            ApiError::SignIn(SignInError::CodeExpired)
            | ApiError::Verification(VerificationError::Code { error: CodeCheckError::Expired, .. }) => {
                (S::BAD_REQUEST, "verification_code.expired")
            }
            ApiError::SignIn(SignInError::CodeAttemptsExceeded)
            | ApiError::Verification(VerificationError::Code { error: CodeCheckError::AttemptsExceeded, .. }) => {
                (S::BAD_REQUEST, "verification_code.exceed_max_try")
            }
            ApiError::SignIn(SignInError::CodeMismatch)
            | ApiError::Verification(VerificationError::Code { error: CodeCheckError::Mismatch, .. }) => {
                (S::BAD_REQUEST, "verification_code.code_mismatch")
            }
            ApiError::Verification(VerificationError::RecordNotFound) => (S::BAD_REQUEST, "verification_record.not_found"),
            ApiError::Verification(VerificationError::WebAuthnVerificationFailed) => {
                (S::BAD_REQUEST, "session.mfa.webauthn_verification_failed")
            }
            ApiError::Verification(VerificationError::PendingInfoNotFound) => {
                (S::BAD_REQUEST, "session.mfa.pending_info_not_found")
            }
            ApiError::Verification(VerificationError::PasskeyUnavailable(_)) => {
                (S::INTERNAL_SERVER_ERROR, "unexpected_error")
            }
            ApiError::SignIn(SignInError::UserNotFound) => (S::NOT_FOUND, "user.user_not_exist"),
            ApiError::MfaRequired(_) => (S::FORBIDDEN, "session.mfa.require_mfa_verification"),
            ApiError::Tokens(_) => (S::INTERNAL_SERVER_ERROR, "unexpected_error"),
            // The Account API answers an unknown factor id as Logto's `assertThat`: 400.
            ApiError::Account(AccountError::Mfa(MfaError::FactorNotFound)) => {
                (S::BAD_REQUEST, "verification_record.not_found")
            }
            ApiError::NoBackupCodes => (S::NOT_FOUND, "verification_record.not_found"),
            ApiError::Account(error) => {
                let (status, code, _) = error.logto_error();
                (S::from_u16(status).unwrap_or(S::INTERNAL_SERVER_ERROR), code)
            }
            ApiError::Social(error) => {
                let (status, code, _) = error.logto_error();
                (S::from_u16(status).unwrap_or(S::INTERNAL_SERVER_ERROR), code)
            }
            ApiError::ThirdPartyTokenNotFound => (S::NOT_FOUND, "secrets.third_party_token_set.token_not_found"),
            ApiError::LastSignInMethod => (S::BAD_REQUEST, "user.last_sign_in_method_required"),
            ApiError::SamePassword => (S::UNPROCESSABLE_ENTITY, "user.same_password"),
            ApiError::SessionNotFound => (S::NOT_FOUND, "oidc.session_not_found"),
            ApiError::GrantNotFound => (S::NOT_FOUND, "entity.not_found"),
            ApiError::InvalidPagination => (S::BAD_REQUEST, "guard.invalid_pagination"),
        }
    }
}

impl ApiError {
    /// Logto's `data` of the error body, where it has one.
    fn data(&self) -> Option<serde_json::Value> {
        match self {
            ApiError::MfaRequired(challenge) => Some(serde_json::json!({
                "availableFactors": challenge.available_factors,
                "mfaToken": challenge.token.expose(),
                "expiresAt": challenge.expires_at.as_millis(),
            })),
            ApiError::Account(AccountError::PasswordRejected(issues)) => Some(serde_json::json!({ "issues": issues })),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.wire().0
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Store(cause) => {
                tracing::error!(%cause, "account API storage failed");
                "The service is temporarily unavailable. Please try again later.".to_owned()
            }
            ApiError::Tokens(IssueError::UnknownUser) => SignInError::InvalidCredentials.to_string(),
            ApiError::SignIn(SignInError::Storage(_) | SignInError::ConnectorFailed(_))
            | ApiError::Tokens(_)
            | ApiError::Verification(
                VerificationError::Storage(_)
                | VerificationError::PasskeyUnavailable(_)
                | VerificationError::Send(CodeSendError::Storage(_) | CodeSendError::Connector(_))
                | VerificationError::Code { error: CodeCheckError::Storage(_), .. },
            ) => {
                tracing::error!(error = %self, "account API request failed");
                "An unexpected error occurred. Please try again later.".to_owned()
            }
            ApiError::Social(error) => {
                if self.wire().0.is_server_error() {
                    tracing::error!(%error, "social identity change failed");
                }
                error.logto_error().2
            }
            ApiError::Account(error) => {
                if self.wire().0.is_server_error() {
                    tracing::error!(%error, "account change failed");
                }
                error.logto_error().2.to_owned()
            }
            other => other.to_string(),
        };
        let mut response = error_response(self.status_code(), self.code(), &message, self.data());
        if let ApiError::MfaRequired(_) = self {
            // The body carries the challenge token.
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use latchkey_domain::account_center::AccountField;

    use super::*;

    #[actix_web::test]
    async fn a_denial_is_answered_in_logtos_shape() {
        let response = ApiError::from(Denial::FieldNotEditable(AccountField::Email)).error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "account_center.field_not_editable");
        assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()));
    }
}
