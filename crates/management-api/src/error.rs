//! The Management API's one error type and its one mapping to HTTP: status and Logto code per variant. Causes
//! (repository failures) are logged here and never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use latchkey_auth::AuthError;
use latchkey_auth::error_body::error_response;
use latchkey_domain::hook::InvalidHook;
use latchkey_domain::ports::{Conflict, RepoError};
use latchkey_domain::service::{AccountError, HookError, SocialError};
use latchkey_domain::sign_in_experience::SignInExperienceError;
use serde_json::{Value, json};

use crate::policy::Denial;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable bearer token: the token crate's own 401 (or 503 when revocation state is unreachable).
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    #[error(transparent)]
    Denied(#[from] Denial),
    /// The body is not valid JSON or does not have the expected shape. Carries the parser's description.
    #[error("the request body is invalid: {0}")]
    InvalidBody(String),
    /// The body is well-formed but a value is not acceptable (Logto's `request.invalid_input`).
    #[error("the request input is invalid: {0}")]
    InvalidInput(&'static str),
    #[error("the pagination parameters are invalid")]
    InvalidPagination,
    /// One key of the body has a value Logto's guard refuses (an email that is not one, say); names the key.
    #[error("the body key `{0}` is invalid")]
    InvalidField(&'static str),
    /// A query parameter Logto's search parser refuses (`request.invalid_input`).
    #[error("the query is invalid: {0}")]
    InvalidQuery(&'static str),
    #[error("a plain password and a password digest cannot both be given")]
    PasswordAndDigest,
    #[error("a password digest needs its algorithm")]
    PasswordAlgorithmRequired,
    /// `If-Match` names no version this server could have sent.
    #[error("the If-Match header is not an ETag of this API")]
    UnusableIfMatch,
    /// A user use case refused or failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Linking a social identity through a connector was refused (the domain's table gives Logto's answer).
    #[error(transparent)]
    Social(#[from] SocialError),
    /// A sign-in experience that Logto's guard or route would refuse.
    #[error(transparent)]
    InvalidSignInExperience(#[from] SignInExperienceError),
    #[error("no application has this id")]
    ApplicationNotFound,
    #[error("no role has this id")]
    RoleNotFound,
    #[error("another role has this name")]
    RoleNameInUse,
    /// A `MachineToMachine` role (the built-in Management API role included) cannot be given to a user.
    #[error("only User roles can be given to users")]
    InvalidUserRoleType,
    /// The built-in Management API role cannot be changed or deleted.
    #[error("the built-in role cannot be changed")]
    InternalRole,
    /// The application exists but has no secret, or no role, of that name.
    #[error("the application has no such entry")]
    EntryNotFound,
    #[error("roles belong to MachineToMachine applications only")]
    NotMachineToMachine,
    #[error("only Traditional applications can be third-party")]
    InvalidThirdPartyType,
    #[error("the application already has a secret of this name")]
    SecretNameInUse,
    #[error("the user already has a personal access token of this name")]
    PersonalAccessTokenNameInUse,
    /// The user has no live session of this id.
    #[error("no such session")]
    SessionNotFound,
    /// A suspended user cannot be impersonated (Logto issues the subject token; its exchange would fail anyway).
    #[error("the user is suspended")]
    UserSuspended,
    #[error("no hook has this id")]
    HookNotFound,
    /// The hook exists but has no delivery of this id.
    #[error("the hook has no delivery of this id")]
    HookDeliveryNotFound,
    /// A hook needs `events` or the deprecated `event`.
    #[error("a hook needs at least one event")]
    MissingHookEvents,
    /// A test payload was answered with a non-2xx status; the answer is sent back to the administrator.
    #[error("the hook's endpoint answered {status}")]
    HookEndpointResponded { status: u16, body: String },
    /// A test payload got no answer; the reason is the message, as in Logto.
    #[error("the test payload could not be sent: {0}")]
    HookTestNotSent(String),
    #[error(transparent)]
    Repository(#[from] RepoError),
    #[error("the Management API is not configured on this server")]
    NotConfigured,
}

impl ApiError {
    /// Status, Logto code and message of each error: the one place they are decided.
    fn wire(&self) -> (StatusCode, &'static str, &'static str) {
        const UNAVAILABLE: &str = "The service is temporarily unavailable. Please try again later.";
        match self {
            Self::Unauthenticated(error) => error.wire(),
            Self::Denied(Denial::WrongAudience) => {
                (StatusCode::UNAUTHORIZED, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
            }
            Self::Denied(Denial::MissingScope) => (StatusCode::FORBIDDEN, "auth.forbidden", "Forbidden."),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "guard.invalid_input", "The request body is invalid."),
            Self::InvalidInput(_) => (StatusCode::BAD_REQUEST, "request.invalid_input", "Input is invalid."),
            Self::InvalidSignInExperience(error) => match error {
                SignInExperienceError::PasswordPolicy(_)
                | SignInExperienceError::UsernameLengthOutOfRange
                | SignInExperienceError::UsernameMinAboveMax
                | SignInExperienceError::UsernameCannotStart => {
                    (StatusCode::BAD_REQUEST, "guard.invalid_input", "The request body is invalid.")
                }
                SignInExperienceError::DuplicatedMfaFactors => {
                    (StatusCode::BAD_REQUEST, "sign_in_experiences.duplicated_mfa_factors", "Duplicated MFA factors.")
                }
                SignInExperienceError::BackupCodeAlone => (
                    StatusCode::BAD_REQUEST,
                    "sign_in_experiences.backup_code_cannot_be_enabled_alone",
                    "Backup code can not be enabled alone.",
                ),
                SignInExperienceError::NonSkippablePolicy => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy",
                    "Without adaptive MFA, the MFA policy must let users skip the set-up prompt.",
                ),
            },
            Self::InvalidField(_) => (StatusCode::BAD_REQUEST, "guard.invalid_input", "The request body is invalid."),
            Self::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "request.invalid_input", "Input is invalid."),
            Self::PasswordAndDigest => (
                StatusCode::BAD_REQUEST,
                "user.password_and_digest",
                "You cannot set both plain text password and password digest.",
            ),
            Self::PasswordAlgorithmRequired => (
                StatusCode::BAD_REQUEST,
                "user.password_algorithm_required",
                "Password algorithm is required when password digest is set.",
            ),
            Self::UnusableIfMatch => PRECONDITION_FAILED,
            Self::Account(error) => account_wire(error),
            Self::Social(error) => social_wire(error),
            Self::InvalidPagination => {
                (StatusCode::BAD_REQUEST, "guard.invalid_pagination", "The request pagination value is invalid.")
            }
            Self::ApplicationNotFound => {
                (StatusCode::NOT_FOUND, "entity.not_exists_with_id", "The application with this ID does not exist.")
            }
            Self::RoleNotFound => {
                (StatusCode::NOT_FOUND, "entity.not_exists_with_id", "The role with this ID does not exist.")
            }
            Self::RoleNameInUse => {
                (StatusCode::UNPROCESSABLE_ENTITY, "role.name_in_use", "This role name is already in use.")
            }
            Self::InvalidUserRoleType => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "user.invalid_role_type",
                "Invalid role type, can not assign machine-to-machine role to user.",
            ),
            Self::InternalRole => {
                (StatusCode::FORBIDDEN, "role.internal_role_violation", "Built-in roles cannot be changed or deleted.")
            }
            Self::HookNotFound => {
                (StatusCode::NOT_FOUND, "entity.not_exists_with_id", "The hook with this ID does not exist.")
            }
            Self::HookDeliveryNotFound => {
                (StatusCode::NOT_FOUND, "entity.not_exists_with_id", "The log with this ID does not exist.")
            }
            Self::MissingHookEvents => {
                (StatusCode::BAD_REQUEST, "hook.missing_events", "You must provide at least one event.")
            }
            Self::HookEndpointResponded { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "hook.endpoint_responded_with_error",
                "The endpoint responded with an error.",
            ),
            Self::HookTestNotSent(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "hook.send_test_payload_failed", "Failed to send the test payload.")
            }
            Self::PersonalAccessTokenNameInUse => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "user.personal_access_token_name_exists",
                "Personal access token name already exists.",
            ),
            Self::SessionNotFound => (StatusCode::NOT_FOUND, "oidc.session_not_found", "Session not found."),
            Self::UserSuspended => (StatusCode::FORBIDDEN, "user.suspended", "This account is suspended."),
            Self::EntryNotFound | Self::Repository(RepoError::NotFound) => {
                (StatusCode::NOT_FOUND, "entity.not_found", "The resource does not exist.")
            }
            Self::NotMachineToMachine => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "application.invalid_type",
                "Only machine to machine applications can have associated roles.",
            ),
            Self::InvalidThirdPartyType => (
                StatusCode::BAD_REQUEST,
                "application.invalid_third_party_application_type",
                "Only traditional web application can be marked as a third-party app.",
            ),
            Self::SecretNameInUse
            | Self::Repository(RepoError::Conflict(
                Conflict::Id | Conflict::Name | Conflict::Username | Conflict::Email | Conflict::Phone,
            )) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "entity.unique_integrity_violation",
                "The entity already exists. Please check the input and try again.",
            ),
            // Other requests kept changing the record while this one re-applied its change on fresh reads.
            Self::Repository(RepoError::Conflict(Conflict::Version)) => (
                StatusCode::CONFLICT,
                "entity.concurrent_update",
                "The entity was changed by another request at the same time. Please try again.",
            ),
            Self::Repository(RepoError::Unavailable(_)) | Self::NotConfigured => {
                (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", UNAVAILABLE)
            }
        }
    }

    pub fn code(&self) -> &'static str {
        self.wire().1
    }

    fn data(&self) -> Option<Value> {
        match self {
            Self::Unauthenticated(AuthError::UnsupportedScheme) => Some(json!({ "supportedTypes": ["Bearer"] })),
            Self::InvalidBody(details) => Some(json!({ "details": details })),
            Self::InvalidInput(details) | Self::InvalidQuery(details) => Some(json!({ "details": details })),
            Self::InvalidField(key) => Some(json!({
                "issues": [{ "code": "invalid_string", "message": "Invalid", "path": [key] }],
                "details": format!("Error in key path \"{key}\": (invalid_string) Invalid"),
            })),
            Self::Account(AccountError::PasswordRejected(issues)) => Some(json!({ "result": false, "issues": issues })),
            Self::InvalidSignInExperience(error) => Some(json!({ "details": error.to_string() })),
            Self::HookEndpointResponded { status, body } => {
                Some(json!({ "responseStatus": status, "responseBody": body }))
            }
            _ => None,
        }
    }
}

/// 412: the `If-Match` version is not the stored one (Latchkey's optimistic concurrency; Logto has no such check).
const PRECONDITION_FAILED: (StatusCode, &str, &str) = (
    StatusCode::PRECONDITION_FAILED,
    "request.precondition_failed",
    "The resource was changed after the version named in If-Match was read. Read it again and retry.",
);

/// Logto's status and code for each refusal of a user use case (the domain's table).
fn account_wire(error: &AccountError) -> (StatusCode, &'static str, &'static str) {
    let (status, code, message) = error.logto_error();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), code, message)
}

fn social_wire(error: &SocialError) -> (StatusCode, &'static str, &'static str) {
    let message = match error {
        SocialError::Account(error) => return account_wire(error),
        SocialError::InvalidConnectorId(_) => "Invalid connector ID.",
        SocialError::Connector(_) => "The social connector could not vouch for a user with this connector data.",
        _ => "The social identity cannot be linked.",
    };
    let (status, code, _) = error.logto_error();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), code, message)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.wire().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message) = self.wire();
        if status.is_server_error() {
            tracing::error!(error = %self, "management request failed");
        }
        if let Self::Unauthenticated(error) = self {
            return error.error_response();
        }
        let message = match self {
            Self::HookTestNotSent(reason) => reason.as_str(),
            _ => message,
        };
        error_response(status, code, message, self.data())
    }
}

/// A missing hook is Logto's `entity.not_exists_with_id`; an invalid one its `guard.invalid_input`, but for the
/// missing events, which Logto names.
impl From<HookError> for ApiError {
    fn from(error: HookError) -> Self {
        match error {
            HookError::NotFound => Self::HookNotFound,
            HookError::Invalid(InvalidHook::MissingEvents) => Self::MissingHookEvents,
            HookError::Invalid(invalid) => Self::InvalidBody(invalid.to_string()),
            HookError::EndpointResponded(response) => {
                Self::HookEndpointResponded { status: response.status, body: response.body }
            }
            HookError::SendFailed(error) => Self::HookTestNotSent(error.to_string()),
            HookError::Repo(error) => Self::Repository(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::service::{SendError, WebhookResponse};

    use super::*;

    #[test]
    fn every_error_maps_to_logtos_status_and_code() {
        let cases = [
            (ApiError::Unauthenticated(AuthError::MissingHeader), 401, "auth.authorization_header_missing"),
            (ApiError::Denied(Denial::WrongAudience), 401, "auth.unauthorized"),
            (ApiError::Denied(Denial::MissingScope), 403, "auth.forbidden"),
            (ApiError::InvalidBody("expected `,`".to_owned()), 400, "guard.invalid_input"),
            (ApiError::InvalidInput("in the past"), 400, "request.invalid_input"),
            (ApiError::InvalidPagination, 400, "guard.invalid_pagination"),
            (ApiError::InvalidSignInExperience(SignInExperienceError::UsernameMinAboveMax), 400, "guard.invalid_input"),
            (
                ApiError::InvalidSignInExperience(SignInExperienceError::DuplicatedMfaFactors),
                400,
                "sign_in_experiences.duplicated_mfa_factors",
            ),
            (
                ApiError::InvalidSignInExperience(SignInExperienceError::BackupCodeAlone),
                400,
                "sign_in_experiences.backup_code_cannot_be_enabled_alone",
            ),
            (
                ApiError::InvalidSignInExperience(SignInExperienceError::NonSkippablePolicy),
                422,
                "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy",
            ),
            (ApiError::ApplicationNotFound, 404, "entity.not_exists_with_id"),
            (ApiError::RoleNotFound, 404, "entity.not_exists_with_id"),
            (ApiError::RoleNameInUse, 422, "role.name_in_use"),
            (ApiError::InvalidUserRoleType, 422, "user.invalid_role_type"),
            (ApiError::InternalRole, 403, "role.internal_role_violation"),
            (ApiError::EntryNotFound, 404, "entity.not_found"),
            (ApiError::Repository(RepoError::NotFound), 404, "entity.not_found"),
            (ApiError::NotMachineToMachine, 422, "application.invalid_type"),
            (ApiError::InvalidThirdPartyType, 400, "application.invalid_third_party_application_type"),
            (ApiError::SecretNameInUse, 422, "entity.unique_integrity_violation"),
            (ApiError::HookNotFound, 404, "entity.not_exists_with_id"),
            (ApiError::HookDeliveryNotFound, 404, "entity.not_exists_with_id"),
            (ApiError::MissingHookEvents, 400, "hook.missing_events"),
            (
                ApiError::HookEndpointResponded { status: 500, body: String::new() },
                422,
                "hook.endpoint_responded_with_error",
            ),
            (ApiError::HookTestNotSent("timeout".to_owned()), 422, "hook.send_test_payload_failed"),
            (ApiError::PersonalAccessTokenNameInUse, 422, "user.personal_access_token_name_exists"),
            (ApiError::SessionNotFound, 404, "oidc.session_not_found"),
            (ApiError::UserSuspended, 403, "user.suspended"),
            (ApiError::Repository(RepoError::Conflict(Conflict::Id)), 422, "entity.unique_integrity_violation"),
            (ApiError::Repository(RepoError::Conflict(Conflict::Version)), 409, "entity.concurrent_update"),
            (ApiError::Repository(RepoError::Unavailable("down".to_owned())), 503, "service_unavailable"),
            (ApiError::NotConfigured, 503, "service_unavailable"),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status_code().as_u16(), error.code()), (status, code), "{error:?}");
            assert_eq!(error.error_response().status().as_u16(), status, "{error:?}");
        }
    }

    async fn body_of(error: ApiError) -> Value {
        let body = actix_web::body::to_bytes(error.error_response().into_body()).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[actix_web::test]
    async fn a_failed_hook_test_tells_the_administrator_what_the_endpoint_did() {
        let responded =
            ApiError::from(HookError::EndpointResponded(WebhookResponse { status: 401, body: "no".into() }));
        let body = body_of(responded).await;
        assert_eq!(body["code"], "hook.endpoint_responded_with_error");
        assert_eq!(body["data"], json!({ "responseStatus": 401, "responseBody": "no" }));
        let unsent = ApiError::from(HookError::SendFailed(SendError::Transport("connection refused".into())));
        let body = body_of(unsent).await;
        assert_eq!(body["code"], "hook.send_test_payload_failed");
        assert_eq!(body["message"], "connection refused");
    }

    #[test]
    fn hook_errors_map_to_logtos_codes() {
        let code = |error: HookError| ApiError::from(error).code();
        assert_eq!(code(HookError::NotFound), "entity.not_exists_with_id");
        assert_eq!(code(HookError::Invalid(InvalidHook::MissingEvents)), "hook.missing_events");
        assert_eq!(code(HookError::Invalid(InvalidHook::Url)), "guard.invalid_input");
        assert_eq!(code(HookError::Repo(RepoError::Unavailable("down".into()))), "service_unavailable");
    }

    #[actix_web::test]
    async fn a_server_error_body_says_nothing_internal() {
        let response = ApiError::Repository(RepoError::Unavailable("password=hunter2".to_owned())).error_response();
        let body = actix_web::body::to_bytes(response.into_body()).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("hunter2"), "{body}");
        assert!(body.contains("service_unavailable"), "{body}");
    }
}
