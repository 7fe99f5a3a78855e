//! # latchkey-management-api
//!
//! The Management API (`/api/users…`, `/api/account-center`, `/api/subject-tokens`, roles): admin-only operations
//! on the whole user lifecycle. Every handler asks [`policy`] first; the policy is a pure function over plain data.
//!
//! **Architecture invariant:** this crate depends on `latchkey-domain` (and the token crate), never on
//! `latchkey-store`, the migrations or the Account API crate.

pub mod error;
pub mod policy;

use actix_web::web::ServiceConfig;

/// Registers the Management API routes. Routes arrive with the Management API issue; their policy is here.
pub fn configure(_config: &mut ServiceConfig) {}
