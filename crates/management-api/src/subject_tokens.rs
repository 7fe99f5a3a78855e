//! `POST /api/subject-tokens`: Logto's impersonation tokens. A `sub_…` value for a user that an app allowed to
//! exchange tokens trades, once and within 600 seconds, at `/oidc/token` for an access token acting as the user.
//!
//! Stricter than Logto: by default (`impersonation_requires_reason`) the caller must say why, as a non-empty
//! `context.reason`; suspended users are refused; and the impersonation is logged (reason, the token's id, the
//! caller as actor) in the same transaction as the token.

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::audit::{AuditEntry, details, keys};
use latchkey_domain::ports::{RepoError, UserRepository};
use latchkey_domain::subject_token::{SUBJECT_TOKEN_TTL_SECS, SubjectToken, SubjectTokenRepository};
use latchkey_domain::token::Subject;
use latchkey_domain::{Clock, IdGenerator, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::ManagementAction;
use crate::users::audit_context;

/// What the subject token handler needs; register it once as `web::Data<SubjectTokensDeps>`.
#[derive(Clone)]
pub struct SubjectTokensDeps {
    pub tokens: Arc<dyn SubjectTokenRepository>,
    pub users: Arc<dyn UserRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Whether `context.reason` (a non-empty string) is required. The server's default is `true`.
    pub require_impersonation_reason: bool,
}

impl std::fmt::Debug for SubjectTokensDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectTokensDeps")
            .field("require_impersonation_reason", &self.require_impersonation_reason)
            .finish_non_exhaustive()
    }
}

/// Registers `/api/subject-tokens` (its own scope, with the crate's JSON error handling).
pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(
        web::scope("/api/subject-tokens")
            .app_data(crate::json_config())
            .service(web::resource("").route(web::post().to(create))),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubjectToken {
    /// The user to impersonate.
    user_id: String,
    /// A JSON object kept with the token. `reason` (a non-empty string) is required unless the server is set with
    /// `impersonation_requires_reason = false`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    context: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectTokenBody {
    /// `sub_…`: single use.
    subject_token: String,
    /// Seconds the token stays exchangeable (600).
    expires_in: i64,
}

/// `POST /api/subject-tokens`: 201 `{subjectToken, expiresIn}`.
#[utoipa::path(
    post,
    path = "/api/subject-tokens",
    tag = "Subject tokens",
    summary = "Create a subject token (impersonation)",
    description = "A single-use `sub_…` token for the user, exchangeable for 600 seconds at `POST /oidc/token` \
        (token exchange). Unless the server sets `impersonation_requires_reason = false`, `context.reason` must be \
        a non-empty string. The impersonation is written to the audit log with the reason.",
    request_body = CreateSubjectToken,
    responses(
        (status = 201, description = "The token.", body = SubjectTokenBody),
        (status = 400, description = "`guard.invalid_input` (malformed body) or `request.invalid_input` (no \
            `context.reason`).", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden` (the token lacks the `all` scope) or `user.suspended`.",
            body = ErrorBody),
        (status = 404, description = "`entity.not_found`: no such user.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(
    caller: ManagementCaller,
    deps: web::Data<SubjectTokensDeps>,
    request: HttpRequest,
    body: Result<web::Json<CreateSubjectToken>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteUsers)?;
    let body = body?.into_inner();
    let context = body.context.unwrap_or_default();
    let reason = reason(&context, deps.require_impersonation_reason)?;
    let user_id = UserId::parse(&body.user_id).map_err(|_| ApiError::Repository(RepoError::NotFound))?;
    let user = deps.users.find_by_id(&user_id).await.map_err(ApiError::from)?;
    let user = user.ok_or(ApiError::Repository(RepoError::NotFound))?;
    if user.is_suspended {
        return Err(ApiError::UserSuspended.into());
    }
    let now = deps.clock.now();
    let claims = &caller.principal().claims;
    let creator = match &claims.subject {
        Subject::Application(id) => id.clone(),
        Subject::User(id) => id.as_str().to_owned(),
    };
    let (value, token) = SubjectToken::issue(user_id, Value::Object(context.clone()), creator, now);
    let entry = AuditEntry::about(
        deps.ids.entity_id(),
        keys::USER_IMPERSONATION_STARTED,
        &token.user_id,
        &audit_context(&caller, &request),
        // The token's stored key is the hash of its value: it names the token without revealing it.
        details([
            ("reason", reason.map_or(Value::Null, |reason| Value::String(reason.to_owned()))),
            ("subjectTokenId", Value::String(token.token_hash.as_str().to_owned())),
        ]),
        now,
    );
    deps.tokens.insert(&token, &entry).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Created()
        .json(SubjectTokenBody { subject_token: value.expose().to_owned(), expires_in: SUBJECT_TOKEN_TTL_SECS }))
}

/// `context.reason` when it is a non-empty string; an error when one is required and missing.
fn reason(context: &Map<String, Value>, required: bool) -> Result<Option<&str>, ApiError> {
    let reason = context.get("reason").and_then(Value::as_str).map(str::trim).filter(|reason| !reason.is_empty());
    if required && reason.is_none() {
        return Err(ApiError::InvalidInput("impersonation requires `context.reason`, a non-empty string"));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_reason_is_a_non_empty_string_and_required_only_when_configured() {
        assert_eq!(reason(&context(json!({"reason": "ticket 42"})), true).unwrap(), Some("ticket 42"));
        for missing in [json!({}), json!({"reason": ""}), json!({"reason": "  "}), json!({"reason": 42})] {
            assert!(reason(&context(missing.clone()), true).is_err(), "{missing}");
            assert_eq!(reason(&context(missing), false).unwrap(), None);
        }
    }
}
