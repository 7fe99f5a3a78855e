//! # latchkey-account-api
//!
//! The Account API (`/api/my-account…`, `/api/verifications…`): an end user, holding their own access token,
//! manages their account. Every handler asks [`policy`] before it acts; the policy is a pure function over plain
//! data, so the permission model is unit-tested without HTTP or a database.
//!
//! **Architecture invariant:** this crate depends on `latchkey-domain` (and the token crate), never on
//! `latchkey-store`, the migrations or the Management API crate.

pub mod account;
pub mod account_data;
pub mod error;
pub mod identities;
pub mod mfa;
pub mod my_account;
pub mod openapi;
pub mod passkeys;
pub mod policy;
pub mod sessions;
pub mod sign_in;

use actix_web::web::ServiceConfig;

pub use openapi::openapi;

/// Registers the Account API routes. Handlers need `web::Data<Arc<dyn UserRepository>>` and
/// `web::Data<Arc<dyn AccountCenterRepository>>` (see [`my_account::Users`]) and a `TokenVerifier`.
pub fn configure(config: &mut ServiceConfig) {
    // The changing routes and verification records need `web::Data<account::AccountDeps>`.
    account::routes(config);
    // The sign-in API needs `web::Data<sign_in::SignInApi>`.
    sign_in::configure(config);
}
