//! [`SeaUserRepository`]: the domain's `UserRepository` on sea-orm.

use async_trait::async_trait;
use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::ports::{Conflict, Page, RepoError, UserRepository, UserSearch};
use latchkey_domain::{User, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::entity::users::{self, Column, Entity};
use crate::search;

/// Users stored in the `users` table. Cheap to clone (it shares the connection pool).
#[derive(Debug, Clone)]
pub struct SeaUserRepository {
    db: DatabaseConnection,
}

impl SeaUserRepository {
    /// A repository on `db`, whose schema the migrations have built.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn find_one(&self, column: Column, value: String) -> Result<Option<User>, RepoError> {
        let row = Entity::find().filter(column.eq(value)).one(&self.db).await.map_err(unavailable)?;
        row.map(User::try_from).transpose()
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, RepoError> {
        self.find_one(Column::Id, id.as_str().to_owned()).await
    }

    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepoError> {
        self.find_one(Column::Username, username.as_str().to_owned()).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        self.find_one(Column::PrimaryEmailKey, email.normalized()).await
    }

    async fn find_by_phone(&self, phone: &Phone) -> Result<Option<User>, RepoError> {
        self.find_one(Column::PrimaryPhone, phone.as_str().to_owned()).await
    }

    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        let row = users::ActiveModel::try_from(user)?;
        // One statement, so one transaction; the unique indexes decide races between concurrent inserts.
        Entity::insert(row).exec_without_returning(&self.db).await.map_err(write_error)?;
        Ok(())
    }

    async fn update(&self, user: &User) -> Result<User, RepoError> {
        let mut row = users::ActiveModel::try_from(user)?;
        // The id selects the row and the version is bumped by the database, from the value it holds.
        row.id = sea_orm::ActiveValue::NotSet;
        row.version = sea_orm::ActiveValue::NotSet;

        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let updated = Entity::update_many()
            .set(row)
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::Id.eq(user.id.as_str()))
            .filter(Column::Version.eq(user.version.0))
            .exec(&transaction)
            .await
            .map_err(write_error)?;
        if updated.rows_affected == 0 {
            let still_there = Entity::find()
                .filter(Column::Id.eq(user.id.as_str()))
                .count(&transaction)
                .await
                .map_err(unavailable)?;
            return Err(if still_there == 0 { RepoError::NotFound } else { RepoError::Conflict(Conflict::Version) });
        }
        transaction.commit().await.map_err(unavailable)?;

        let mut stored = user.clone();
        stored.version = user.version.next();
        Ok(stored)
    }

    async fn delete(&self, id: &UserId) -> Result<(), RepoError> {
        let deleted = Entity::delete_by_id(id.as_str()).exec(&self.db).await.map_err(unavailable)?;
        if deleted.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn search(&self, query: &UserSearch) -> Result<Page<User>, RepoError> {
        let condition = search::condition(query, self.db.get_database_backend())?;
        let total = Entity::find().filter(condition.clone()).count(&self.db).await.map_err(unavailable)?;
        let rows = Entity::find()
            .filter(condition)
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(query.pagination.offset())
            .limit(query.pagination.page_size)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let items = rows.into_iter().map(User::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }
}

/// A write transaction. On SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`): a deferred transaction that
/// reads first and then writes fails at once with `SQLITE_BUSY` when another writer got in between, whereas
/// waiting for the lock at `BEGIN` honours `busy_timeout`. PostgreSQL ignores the SQLite mode.
fn write_transaction() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

fn unavailable(error: DbErr) -> RepoError {
    RepoError::Unavailable(error.to_string())
}

/// A failed write: a unique violation becomes the conflict of the identifier it names, anything else is
/// `Unavailable`.
fn write_error(error: DbErr) -> RepoError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => match violated_identifier(&message) {
            Some(conflict) => RepoError::Conflict(conflict),
            None => unavailable(error),
        },
        _ => unavailable(error),
    }
}

/// Which identifier a unique-violation message is about. PostgreSQL names the index
/// (`… unique constraint "users_primary_email_key_unique"`), SQLite the column (`… failed: users.primary_email_key`);
/// the migration's index names contain the column names, so one search covers both.
fn violated_identifier(message: &str) -> Option<Conflict> {
    // The email key first: its name contains no other column's name, but `users_pkey` must not be mistaken for it.
    if message.contains("primary_email_key") {
        Some(Conflict::Email)
    } else if message.contains("primary_phone") {
        Some(Conflict::Phone)
    } else if message.contains("username") {
        Some(Conflict::Username)
    } else if message.contains("users_pkey") || message.contains("users.id") {
        Some(Conflict::Id)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_their_identifier_on_both_backends() {
        let cases = [
            (r#"duplicate key value violates unique constraint "users_primary_email_key_unique""#, Conflict::Email),
            ("UNIQUE constraint failed: users.primary_email_key", Conflict::Email),
            (r#"duplicate key value violates unique constraint "users_primary_phone_unique""#, Conflict::Phone),
            ("UNIQUE constraint failed: users.primary_phone", Conflict::Phone),
            (r#"duplicate key value violates unique constraint "users_username_unique""#, Conflict::Username),
            ("UNIQUE constraint failed: users.username", Conflict::Username),
            (r#"duplicate key value violates unique constraint "users_pkey""#, Conflict::Id),
            ("UNIQUE constraint failed: users.id", Conflict::Id),
        ];
        for (message, conflict) in cases {
            assert_eq!(violated_identifier(message), Some(conflict), "{message}");
        }
        assert_eq!(violated_identifier("UNIQUE constraint failed: sessions.token"), None);
    }
}
