//! Bulk insertion of users ([`Store::insert_users`]): imports, seeding and benchmarks, where one `INSERT` per user
//! would cost a round trip (and on SQLite a commit) each. Not a domain port: a use case that needs it can get one
//! later; the rows and the conflict mapping are the same as `SeaUserRepository::insert`'s.

use latchkey_domain::User;
use latchkey_domain::ports::RepoError;
use sea_orm::{EntityTrait, TransactionTrait};

use crate::Store;
use crate::db_errors::{unavailable, write_transaction};
use crate::entity::users::{self, Entity};
use crate::users::write_error;

/// Rows per `INSERT` statement. Each row binds one parameter per column (22 today), so a statement binds 22,000:
/// under PostgreSQL's 65,535 and SQLite's 32,766. Larger statements gain little: past a few hundred rows the time
/// goes to writing rows and index entries, not to round trips.
const ROWS_PER_STATEMENT: usize = 1_000;

impl Store {
    /// Inserts every user of `users` in one transaction, with multi-row `INSERT`s of [`ROWS_PER_STATEMENT`] rows:
    /// either all of them are stored or none is. An identifier taken by a stored user or by another user of the
    /// same batch fails the whole batch with `RepoError::Conflict` naming the identifier, as
    /// `UserRepository::insert` does for one user. Callers bound the batch size (and so the transaction size); the
    /// benchmark uses 10,000.
    pub async fn insert_users(&self, users: &[User]) -> Result<(), RepoError> {
        if users.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk.iter().map(users::ActiveModel::try_from).collect::<Result<Vec<_>, _>>()?;
            Entity::insert_many(rows).exec_without_returning(&transaction).await.map_err(write_error)?;
        }
        // Dropping the transaction on an early return above rolls it back.
        transaction.commit().await.map_err(unavailable)
    }
}
