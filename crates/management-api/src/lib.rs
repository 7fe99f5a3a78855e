//! # latchkey-management-api
//!
//! The Management API (`/api/users…`, `/api/account-center`, `/api/subject-tokens`, roles, `/api/applications`,
//! `/api/hooks`):
//! admin-only operations on the whole user lifecycle and on the applications that reach it. Every handler asks
//! [`policy`] first (through [`guard::ManagementCaller`]); the policy is a pure function over plain data.
//!
//! **Architecture invariant:** this crate depends on `latchkey-domain` (and the token crate), never on
//! `latchkey-store`, the migrations or the Account API crate.

pub mod account_center;
pub mod applications;
pub mod error;
pub mod guard;
pub mod hooks;
pub mod logs;
pub mod openapi;
pub mod pagination;
pub mod personal_access_tokens;
pub mod policy;
pub mod roles;
pub mod sessions;
pub mod sign_in_experience;
pub mod subject_tokens;
pub mod users;

use actix_web::web::{self, JsonConfig, ServiceConfig};

pub use account_center::AccountCenterDeps;
pub use applications::{ApplicationsDeps, MANAGEMENT_API_ROLE_ID};
pub use error::ApiError;
pub use guard::{ManagementCaller, ManagementConfig};
pub use hooks::HooksDeps;
pub use logs::LogsDeps;
pub use openapi::openapi;
pub use personal_access_tokens::PersonalAccessTokensDeps;
pub use roles::RolesDeps;
pub use sessions::UserSessionsDeps;
pub use sign_in_experience::SignInExperienceDeps;
pub use subject_tokens::SubjectTokensDeps;

/// Logto's tenant id in OSS deployments, which its response shapes carry (`tenantId`, and the id of the one
/// account-center and sign-in-experience row).
pub(crate) const TENANT_ID: &str = "default";

/// Largest JSON body the Management API reads.
const JSON_LIMIT_BYTES: usize = 256 * 1024;

/// Registers the Management API routes. The server registers `web::Data<ManagementConfig>` and
/// `web::Data<ApplicationsDeps>`.
pub fn configure(config: &mut ServiceConfig) {
    config.service(web::scope("/api/applications").app_data(json_config()).configure(applications::routes));
    // `web::Data<LogsDeps>`.
    config.service(web::scope("/api/logs").configure(logs::routes));
    // Every route under `/api/users` is registered in this one scope (a second scope with the same prefix would
    // never be reached). Modules with user sub-resources add a `.configure(…::user_routes)` here.
    config.service(
        web::scope("/api/users")
            .app_data(json_config())
            .configure(users::routes)
            .configure(logs::user_routes)
            .configure(personal_access_tokens::user_routes)
            .configure(sessions::user_routes)
            .configure(roles::user_routes),
    );
    // `web::Data<RolesDeps>`.
    config.service(web::scope("/api/roles").app_data(json_config()).configure(roles::routes));
    // `web::Data<HooksDeps>`.
    config.service(web::scope("/api/hooks").app_data(json_config()).configure(hooks::routes));
    // `web::Data<AccountCenterDeps>`; `GET /api/.well-known/account-center` answers without a token.
    account_center::routes(config);
    // `web::Data<SignInExperienceDeps>`.
    sign_in_experience::routes(config);
    // `web::Data<SubjectTokensDeps>`.
    subject_tokens::routes(config);
}

/// Malformed or mistyped JSON bodies answer Logto's 400 `guard.invalid_input`, in JSON like every other error.
pub fn json_config() -> JsonConfig {
    JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .error_handler(|error, _| ApiError::InvalidBody(error.to_string()).into())
}
