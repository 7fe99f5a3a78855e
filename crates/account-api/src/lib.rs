//! # latchkey-account-api
//!
//! The Account API (`/api/my-account…`, `/api/verifications…`): an end user, holding their own access token,
//! manages their account. Every handler asks [`policy`] before it acts; the policy is a pure function over plain
//! data, so the permission model is unit-tested without HTTP or a database.
//!
//! **Architecture invariant:** this crate depends on `latchkey-domain` (and the token crate), never on
//! `latchkey-store`, the migrations or the Management API crate.

pub mod error;
pub mod policy;

use actix_web::web::ServiceConfig;

/// Registers the Account API routes. Routes arrive with the Account API issue; the policy they will call is here.
pub fn configure(_config: &mut ServiceConfig) {}
