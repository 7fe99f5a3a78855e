//! # latchkey-management-api
//!
//! The Management API (`/api/users…`, `/api/account-center`, `/api/subject-tokens`, roles, `/api/applications`):
//! admin-only operations on the whole user lifecycle and on the applications that reach it. Every handler asks
//! [`policy`] first (through [`guard::ManagementCaller`]); the policy is a pure function over plain data.
//!
//! **Architecture invariant:** this crate depends on `latchkey-domain` (and the token crate), never on
//! `latchkey-store`, the migrations or the Account API crate.

pub mod applications;
pub mod error;
pub mod guard;
pub mod openapi;
pub mod pagination;
pub mod policy;

use actix_web::web::{self, JsonConfig, ServiceConfig};

pub use applications::{ApplicationsDeps, MANAGEMENT_API_ROLE_ID};
pub use error::ApiError;
pub use guard::{ManagementCaller, ManagementConfig};
pub use openapi::openapi;

/// Largest JSON body the Management API reads.
const JSON_LIMIT_BYTES: usize = 256 * 1024;

/// Registers the Management API routes. The server registers `web::Data<ManagementConfig>` and
/// `web::Data<ApplicationsDeps>`.
pub fn configure(config: &mut ServiceConfig) {
    config.service(web::scope("/api/applications").app_data(json_config()).configure(applications::routes));
}

/// Malformed or mistyped JSON bodies answer Logto's 400 `guard.invalid_input`, in JSON like every other error.
pub fn json_config() -> JsonConfig {
    JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .error_handler(|error, _| ApiError::InvalidBody(error.to_string()).into())
}
