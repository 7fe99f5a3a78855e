//! # latchkey-migrations
//!
//! Latchkey's database schema, as an ordered list of sea-orm migrations. The server runs them at start (and
//! `latchkey migrate` runs them alone); the store's tests build their schema by running them too, so the tests
//! exercise the schema that production gets.
//!
//! **Invariants:** the same migrations run unchanged on SQLite and PostgreSQL (schema builders, no
//! backend-specific SQL unless a migration branches on the backend explicitly); a published migration is never
//! edited, a change is a new migration; this crate depends on no other Latchkey crate.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261126_000001_create_credentials;
mod m20261126_000002_session_scopes;
mod m20261126_000003_create_account_center;
mod m20261126_000004_create_sign_in;
mod m20261126_000005_create_verification_codes;
mod m20261201_000001_user_search_indexes;
mod m20261201_000005_audit_log_and_tombstones;
mod m20261201_000009_create_sign_in_experience;
mod m20261201_000020_create_roles;
mod m20261202_000001_create_verification_records;
mod m20261202_000002_verification_record_state;
mod m20261203_000001_create_hooks;

/// Every migration of Latchkey, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261126_000001_create_credentials::Migration),
            Box::new(m20261126_000002_session_scopes::Migration),
            Box::new(m20261126_000003_create_account_center::Migration),
            Box::new(m20261126_000004_create_sign_in::Migration),
            Box::new(m20261126_000005_create_verification_codes::Migration),
            Box::new(m20261201_000005_audit_log_and_tombstones::Migration),
            Box::new(m20261201_000001_user_search_indexes::Migration),
            Box::new(m20261201_000009_create_sign_in_experience::Migration),
            Box::new(m20261201_000020_create_roles::Migration),
            Box::new(m20261202_000001_create_verification_records::Migration),
            Box::new(m20261202_000002_verification_record_state::Migration),
            Box::new(m20261203_000001_create_hooks::Migration),
        ]
    }
}
