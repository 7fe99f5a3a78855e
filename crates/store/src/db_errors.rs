//! Error mapping shared by the credential repositories: `DbErr` becomes the domain's `RepoError` here and goes no
//! further.

use latchkey_domain::ports::{Conflict, RepoError};
use sea_orm::{DbErr, SqlErr, SqliteTransactionMode, TransactionOptions};

pub(crate) fn unavailable(error: DbErr) -> RepoError {
    RepoError::Unavailable(error.to_string())
}

/// A failed insert or update: a unique violation is `Conflict(Id)` (each credential table has one key a caller can
/// collide with), a foreign-key violation means the parent row (user, session) is gone, anything else is
/// `Unavailable`.
pub(crate) fn write_error(error: DbErr) -> RepoError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => RepoError::Conflict(Conflict::Id),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => RepoError::NotFound,
        _ => unavailable(error),
    }
}

/// A write transaction that takes SQLite's write lock at `BEGIN` (see `users::write_transaction`).
pub(crate) fn write_transaction() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

/// A stored row that no longer makes a valid domain value, reported by table and key, never by content.
pub(crate) fn corrupt(table: &str, key: &str, reason: impl std::fmt::Display) -> RepoError {
    RepoError::Unavailable(format!("stored {table} row `{key}` is unreadable: {reason}"))
}
