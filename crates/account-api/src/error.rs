//! The Account API's one error type and its one mapping to HTTP: status and Logto code per variant.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use latchkey_auth::error_body::error_response;

use latchkey_domain::ports::RepoError;

use crate::policy::{CallerDenial, Denial};
use latchkey_auth::IssueError;
use latchkey_domain::service::{MfaChallenge, SignInError};
use latchkey_domain::sign_in::IdentifierKind;

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
        match self {
            ApiError::Denied(Denial::AccountCenterDisabled) => "account_center.not_enabled",
            ApiError::Denied(Denial::FieldNotEnabled(_)) => "account_center.field_not_enabled",
            ApiError::Denied(Denial::FieldNotEditable(_)) => "account_center.field_not_editable",
            ApiError::Caller(CallerDenial::NotAnAccountToken) | ApiError::UserGone => "auth.unauthorized",
            ApiError::Caller(CallerDenial::MissingOpenidScope) => "auth.forbidden",
            ApiError::Store(_) => "service_unavailable",
            ApiError::SignIn(SignInError::UnknownClient) => "oidc.invalid_client",
            ApiError::SignIn(SignInError::ThirdPartyClient) => "auth.third_party_application_forbidden",
            ApiError::SignIn(SignInError::ClientCannotSignIn) => "oidc.unauthorized_client",
            // A user deleted between the password check and the session: as if unknown.
            ApiError::SignIn(SignInError::InvalidCredentials) | ApiError::Tokens(IssueError::UnknownUser) => {
                "session.invalid_credentials"
            }
            ApiError::SignIn(SignInError::Blocked { .. }) => "session.verification_blocked_too_many_attempts",
            ApiError::SignIn(SignInError::Suspended) => "user.suspended",
            ApiError::SignIn(SignInError::MfaChallengeNotFound) => "session.mfa.pending_info_not_found",
            ApiError::SignIn(SignInError::InvalidTotpCode) => "session.mfa.invalid_totp_code",
            ApiError::SignIn(SignInError::InvalidBackupCode) => "session.mfa.invalid_backup_code",
            ApiError::SignIn(SignInError::FactorNotEnabled) => "session.mfa.mfa_factor_not_enabled",
            ApiError::SignIn(SignInError::Storage(_)) => "service_unavailable",
            ApiError::SignIn(SignInError::NotARecipient) => "guard.invalid_input",
            ApiError::SignIn(SignInError::ConnectorNotFound) => "connector.not_found",
            ApiError::SignIn(SignInError::ConnectorFailed(_)) => "connector.general",
            ApiError::SignIn(SignInError::MessageRateLimited) => "request.message_rate_limited",
            ApiError::SignIn(SignInError::CodeNotFound) => "verification_code.not_found",
            ApiError::SignIn(SignInError::CodeIdentifierMismatch { kind: IdentifierKind::Phone }) => {
                "verification_code.phone_mismatch"
            }
            ApiError::SignIn(SignInError::CodeIdentifierMismatch { .. }) => "verification_code.email_mismatch",
            ApiError::SignIn(SignInError::CodeExpired) => "verification_code.expired",
            ApiError::SignIn(SignInError::CodeAttemptsExceeded) => "verification_code.exceed_max_try",
            ApiError::SignIn(SignInError::CodeMismatch) => "verification_code.code_mismatch",
            ApiError::SignIn(SignInError::UserNotFound) => "user.user_not_exist",
            ApiError::MfaRequired(_) => "session.mfa.require_mfa_verification",
            ApiError::InvalidSignInRequest(_) => "guard.invalid_input",
            ApiError::Tokens(_) => "unexpected_error",
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
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            // Logto answers these account-center gates with 400.
            ApiError::Denied(_) => StatusCode::BAD_REQUEST,
            ApiError::Caller(CallerDenial::NotAnAccountToken) | ApiError::UserGone => StatusCode::UNAUTHORIZED,
            ApiError::Caller(CallerDenial::MissingOpenidScope) => StatusCode::FORBIDDEN,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SignIn(SignInError::UnknownClient | SignInError::Suspended) => StatusCode::UNAUTHORIZED,
            ApiError::SignIn(SignInError::ThirdPartyClient) | ApiError::MfaRequired(_) => StatusCode::FORBIDDEN,
            ApiError::SignIn(SignInError::InvalidCredentials) | ApiError::Tokens(IssueError::UnknownUser) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::SignIn(
                SignInError::ClientCannotSignIn
                | SignInError::Blocked { .. }
                | SignInError::MfaChallengeNotFound
                | SignInError::InvalidTotpCode
                | SignInError::InvalidBackupCode
                | SignInError::FactorNotEnabled
                | SignInError::NotARecipient
                | SignInError::CodeNotFound
                | SignInError::CodeIdentifierMismatch { .. }
                | SignInError::CodeExpired
                | SignInError::CodeAttemptsExceeded
                | SignInError::CodeMismatch,
            )
            | ApiError::InvalidSignInRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::SignIn(SignInError::Storage(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SignIn(SignInError::ConnectorNotFound) => StatusCode::NOT_IMPLEMENTED,
            ApiError::SignIn(SignInError::ConnectorFailed(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::SignIn(SignInError::MessageRateLimited) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SignIn(SignInError::UserNotFound) => StatusCode::NOT_FOUND,
            ApiError::Tokens(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Store(cause) => {
                tracing::error!(%cause, "account API storage failed");
                "The service is temporarily unavailable. Please try again later.".to_owned()
            }
            ApiError::Tokens(IssueError::UnknownUser) => SignInError::InvalidCredentials.to_string(),
            ApiError::SignIn(SignInError::Storage(_) | SignInError::ConnectorFailed(_)) | ApiError::Tokens(_) => {
                tracing::error!(error = %self, "sign-in failed");
                "An unexpected error occurred. Please try again later.".to_owned()
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
