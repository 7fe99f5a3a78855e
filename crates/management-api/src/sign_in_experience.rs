//! `/api/sign-in-exp`: the part of Logto's sign-in experience that Latchkey keeps, `passwordPolicy`,
//! `usernamePolicy` and `mfa {factors, policy}`, with Logto's field names, defaults and checks. Other keys of
//! Logto's sign-in experience (sign-up and sign-in methods, branding, …) are not kept: a `PATCH` ignores them and
//! a `GET` does not return them.
//!
//! The change is re-applied on a fresh read when another writer saved in between.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::Clock;
use latchkey_domain::password::PasswordPolicy;
use latchkey_domain::ports::{Conflict, RepoError};
use latchkey_domain::sign_in::MfaSettings;
use latchkey_domain::sign_in_experience::{SignInExperience, SignInExperienceRepository, UsernamePolicy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TENANT_ID;
use crate::applications::UPDATE_ATTEMPTS;
use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::{Authorized, ManagementAction};

/// What the sign-in experience handlers need; register it once as `web::Data<SignInExperienceDeps>`.
#[derive(Clone)]
pub struct SignInExperienceDeps {
    pub repository: Arc<dyn SignInExperienceRepository>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SignInExperienceDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInExperienceDeps").finish_non_exhaustive()
    }
}

pub(crate) fn routes(config: &mut ServiceConfig) {
    config.service(
        web::resource("/api/sign-in-exp")
            .app_data(crate::json_config())
            .route(web::get().to(get))
            .route(web::patch().to(update)),
    );
}

type Deps = web::Data<SignInExperienceDeps>;

/// `GET /api/sign-in-exp`.
#[utoipa::path(
    get,
    path = "/api/sign-in-exp",
    tag = "Sign-in experience",
    summary = "Get the sign-in experience",
    description = "The password policy, the username policy and the MFA settings, with Logto's defaults until \
        changed. Logto's other sign-in experience keys are not served.",
    responses(
        (status = 200, description = "The sign-in experience.", body = SignInExperienceBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ManageSignInExperience)?;
    let settings = deps.repository.get().await.map_err(ApiError::from)?.settings;
    Ok(HttpResponse::Ok().json(SignInExperienceBody::new(&settings)))
}

/// The `PATCH` body: each key replaces the stored value whole. Within `passwordPolicy` a missing key takes Logto's
/// default; `usernamePolicy` and `mfa` need all their keys, as Logto's guards do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateSignInExperience {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    password_policy: Option<PasswordPolicy>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    username_policy: Option<UsernamePolicy>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    mfa: Option<MfaSettings>,
}

impl UpdateSignInExperience {
    /// Applies the change to `settings` and checks the result as Logto does.
    fn apply(&self, settings: &mut SignInExperience) -> Result<(), ApiError> {
        if let Some(policy) = &self.password_policy {
            settings.password_policy = policy.clone();
        }
        if let Some(policy) = &self.username_policy {
            settings.username_policy = policy.clone();
        }
        if let Some(mfa) = &self.mfa {
            settings.mfa = mfa.clone();
        }
        Ok(settings.validate()?)
    }
}

/// `PATCH /api/sign-in-exp`.
#[utoipa::path(
    patch,
    path = "/api/sign-in-exp",
    tag = "Sign-in experience",
    summary = "Update the sign-in experience",
    description = "Replaces `passwordPolicy`, `usernamePolicy` and `mfa` when given; other keys are ignored. \
        Checked as Logto does: policy bounds (`guard.invalid_input`), MFA factors listed once and backup codes \
        never alone. The non-skippable prompt policies need adaptive MFA, which Latchkey does not have (422).",
    request_body = UpdateSignInExperience,
    responses(
        (status = 200, description = "The updated sign-in experience.", body = SignInExperienceBody),
        (status = 400, description = "`guard.invalid_input`, `sign_in_experiences.duplicated_mfa_factors` or \
            `sign_in_experiences.backup_code_cannot_be_enabled_alone`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 409, description = "`entity.concurrent_update`: other writers kept saving in between.", body = ErrorBody),
        (status = 422, description = "`sign_in_experiences.non_adaptive_mfa_requires_skippable_policy`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    deps: Deps,
    body: Result<web::Json<UpdateSignInExperience>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::ManageSignInExperience)?;
    let body = body?.into_inner();
    let settings = modify(&authorized, &deps, |settings| body.apply(settings)).await?;
    Ok(HttpResponse::Ok().json(SignInExperienceBody::new(&settings)))
}

/// Reads the settings, applies `change` and saves them if nobody else saved in between; otherwise re-reads and
/// re-applies, a few times, then gives up with a conflict rather than overwrite.
async fn modify(
    _: &Authorized,
    deps: &SignInExperienceDeps,
    change: impl Fn(&mut SignInExperience) -> Result<(), ApiError>,
) -> Result<SignInExperience, ApiError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = deps.repository.get().await?;
        let mut settings = current.settings;
        change(&mut settings)?;
        match deps.repository.save(&settings, current.version, deps.clock.now()).await {
            Ok(_) => return Ok(settings),
            Err(RepoError::Conflict(Conflict::Version)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(RepoError::Conflict(Conflict::Version).into())
}

/// The kept part of Logto's sign-in experience row.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignInExperienceBody<'a> {
    tenant_id: &'static str,
    id: &'static str,
    /// `{length: {min, max}, characterTypes: {min}, rejects: {pwned, repetitionAndSequence, userInfo, words}}`.
    #[schema(value_type = Object)]
    password_policy: &'a PasswordPolicy,
    /// `{caseSensitive, minLength, maxLength, allowedChars: {lowercase, uppercase, numbers, underscore}}`.
    #[schema(value_type = Object)]
    username_policy: &'a UsernamePolicy,
    /// `{factors: ["Totp", "WebAuthn", "BackupCode", …], policy: "UserControlled" | "Mandatory" | …}`.
    #[schema(value_type = Object)]
    mfa: &'a MfaSettings,
}

impl<'a> SignInExperienceBody<'a> {
    fn new(settings: &'a SignInExperience) -> Self {
        Self {
            tenant_id: TENANT_ID,
            id: TENANT_ID,
            password_policy: &settings.password_policy,
            username_policy: &settings.username_policy,
            mfa: &settings.mfa,
        }
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::mfa::MfaFactorType;
    use latchkey_domain::sign_in::MfaPolicy;
    use serde_json::{Value, json};

    use super::*;

    fn applied(current: &SignInExperience, body: Value) -> Result<SignInExperience, ApiError> {
        let body: UpdateSignInExperience =
            serde_json::from_value(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
        let mut settings = current.clone();
        body.apply(&mut settings)?;
        Ok(settings)
    }

    #[test]
    fn each_given_key_is_replaced_and_the_others_kept() {
        let current = applied(
            &SignInExperience::default(),
            json!({"mfa": {"factors": ["Totp", "BackupCode"], "policy": "Mandatory"}}),
        )
        .unwrap();
        let next =
            applied(&current, json!({"passwordPolicy": {"length": {"min": 12, "max": 64}}, "signUp": {}})).unwrap();
        assert_eq!(next.mfa.factors, [MfaFactorType::Totp, MfaFactorType::BackupCode]);
        assert_eq!(next.mfa.policy, MfaPolicy::Mandatory);
        assert_eq!((next.password_policy.length.min, next.password_policy.length.max), (12, 64));
        assert_eq!(next.password_policy.character_types.min, 1, "a missing key takes Logto's default");
    }

    #[test]
    fn refusals_carry_logtos_codes() {
        let cases = [
            (json!({"passwordPolicy": {"characterTypes": {"min": 0}}}), 400, "guard.invalid_input"),
            (json!({"passwordPolicy": {"length": {"min": -1}}}), 400, "guard.invalid_input"),
            (json!({"usernamePolicy": {"caseSensitive": true}}), 400, "guard.invalid_input"),
            (
                json!({"usernamePolicy": {"caseSensitive": true, "minLength": 5, "maxLength": 4,
                    "allowedChars": {"lowercase": true, "uppercase": true, "numbers": true, "underscore": true}}}),
                400,
                "guard.invalid_input",
            ),
            (json!({"mfa": {"factors": ["Totp"], "policy": "Sometimes"}}), 400, "guard.invalid_input"),
            (json!({"mfa": {"factors": ["Totp"]}}), 400, "guard.invalid_input"),
            (
                json!({"mfa": {"factors": ["Totp", "Totp"], "policy": "UserControlled"}}),
                400,
                "sign_in_experiences.duplicated_mfa_factors",
            ),
            (
                json!({"mfa": {"factors": ["BackupCode"], "policy": "UserControlled"}}),
                400,
                "sign_in_experiences.backup_code_cannot_be_enabled_alone",
            ),
            (
                json!({"mfa": {"factors": ["Totp"], "policy": "PromptOnlyAtSignInMandatory"}}),
                422,
                "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy",
            ),
        ];
        for (body, status, code) in cases {
            let error = applied(&SignInExperience::default(), body.clone()).unwrap_err();
            assert_eq!(
                (actix_web::ResponseError::status_code(&error).as_u16(), error.code()),
                (status, code),
                "{body}"
            );
        }
    }

    #[test]
    fn the_body_has_logtos_field_names() {
        let body = serde_json::to_value(SignInExperienceBody::new(&SignInExperience::default())).unwrap();
        assert_eq!(body["tenantId"], "default");
        assert_eq!(body["mfa"], json!({"factors": [], "policy": "UserControlled"}));
        assert_eq!(body["usernamePolicy"]["maxLength"], 128);
        assert_eq!(body["passwordPolicy"]["rejects"]["repetitionAndSequence"], true);
    }
}
