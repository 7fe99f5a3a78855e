//! [`SeaUserRepository`]: the domain's `UserRepository` on sea-orm.

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::ports::{Conflict, Page, RepoError, UserChange, UserRepository, UserSearch};
use latchkey_domain::role::RoleType;
use latchkey_domain::{Timestamp, User, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::audit_log::append_in;
use crate::credential_entity::sessions;
use crate::entity::users::{self, Column, Entity};
use crate::hooks::enqueue_in;
use crate::roles::{role_rows, users_roles};
use crate::search;
use crate::sessions::insert_session_in;

pub(crate) mod user_tombstones {
    use sea_orm::entity::prelude::*;

    /// A deleted user: the `users` row as JSON, restorable until `restorable_until`.
    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_tombstones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub data: Json,
        pub deleted_at: i64,
        pub restorable_until: i64,
    }

    // The data holds a password digest and sealed MFA secrets: never printed.
    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("user_tombstones::Model").field("user_id", &self.user_id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

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

    async fn find_by_identity(&self, target: &str, identity_user_id: &str) -> Result<Option<User>, RepoError> {
        if !latchkey_domain::user::identity_target(target) {
            return Ok(None);
        }
        let path = [target.to_owned(), "userId".to_owned()];
        let linked = search::json_text(Column::Identities, &path, self.db.get_database_backend())?;
        let row = Entity::find().filter(linked.eq(identity_user_id)).one(&self.db).await.map_err(unavailable)?;
        row.map(User::try_from).transpose()
    }

    async fn insert(&self, user: &User, entry: &AuditEntry) -> Result<(), RepoError> {
        let row = users::ActiveModel::try_from(user)?;
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        // The unique indexes decide races between concurrent inserts.
        Entity::insert(row).exec_without_returning(&transaction).await.map_err(write_error)?;
        assign_default_roles(&transaction, &user.id, user.created_at).await?;
        append_in(&transaction, entry).await?;
        enqueue_in(&transaction, entry, user).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn update(&self, user: &User, change: &UserChange) -> Result<User, RepoError> {
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
        if let Some(reason) = change.end_sessions {
            sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(change.entry.created_at.as_millis()))
                .col_expr(sessions::Column::RevokeReason, Expr::value(reason.as_str()))
                .filter(sessions::Column::UserId.eq(user.id.as_str()))
                .filter(sessions::Column::RevokedAt.is_null())
                .exec(&transaction)
                .await
                .map_err(unavailable)?;
        }
        if let Some(start) = &change.start_session {
            debug_assert_eq!(start.session.user_id, user.id, "a user change starts only the user's own session");
            insert_session_in(&transaction, &start.session, start.first_refresh_token.as_ref()).await?;
        }
        let mut stored = user.clone();
        stored.version = user.version.next();
        append_in(&transaction, &change.entry).await?;
        enqueue_in(&transaction, &change.entry, &stored).await?;
        transaction.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn delete(&self, user: &User, restorable_until: Timestamp, entry: &AuditEntry) -> Result<(), RepoError> {
        let now = entry.created_at;
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let row = Entity::find_by_id(user.id.as_str()).one(&transaction).await.map_err(unavailable)?;
        let row = row.ok_or(RepoError::NotFound)?;
        if row.version != user.version.0 {
            return Err(RepoError::Conflict(Conflict::Version));
        }
        purge_tombstones_in(&transaction, now).await?;
        let data = serde_json::to_value(&row).map_err(|error| {
            RepoError::Unavailable(format!("cannot serialize a tombstone: {:?} error", error.classify()))
        })?;
        let tombstone = user_tombstones::ActiveModel {
            user_id: Set(row.id.clone()),
            data: Set(data),
            deleted_at: Set(now.as_millis()),
            restorable_until: Set(restorable_until.as_millis()),
        };
        // A user deleted, restored and deleted again leaves one tombstone, the latest.
        user_tombstones::Entity::delete_by_id(row.id.as_str()).exec(&transaction).await.map_err(unavailable)?;
        user_tombstones::Entity::insert(tombstone).exec_without_returning(&transaction).await.map_err(unavailable)?;
        // Sessions (with their refresh tokens), personal access tokens and subject tokens cascade.
        Entity::delete_by_id(row.id.as_str()).exec(&transaction).await.map_err(unavailable)?;
        append_in(&transaction, entry).await?;
        enqueue_in(&transaction, entry, user).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn restore(&self, id: &UserId, now: Timestamp, entry: &AuditEntry) -> Result<User, RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let tombstone = user_tombstones::Entity::find_by_id(id.as_str())
            .filter(user_tombstones::Column::RestorableUntil.gt(now.as_millis()))
            .one(&transaction)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound)?;
        let mut row: users::Model = serde_json::from_value(tombstone.data).map_err(|error| {
            crate::db_errors::corrupt("user_tombstones", id.as_str(), format!("{:?} error", error.classify()))
        })?;
        row.version += 1;
        row.updated_at = now.as_millis();
        let user = User::try_from(row.clone())?;
        insert_restored(&transaction, row).await?;
        user_tombstones::Entity::delete_by_id(id.as_str()).exec(&transaction).await.map_err(unavailable)?;
        append_in(&transaction, entry).await?;
        enqueue_in(&transaction, entry, &user).await?;
        transaction.commit().await.map_err(unavailable)?;
        Ok(user)
    }

    async fn purge_tombstones(&self, now: Timestamp) -> Result<u64, RepoError> {
        purge_tombstones_in(&self.db, now).await
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

/// Inserts a restored row; an identifier another user took meanwhile is reported as its conflict.
/// Gives a new user every user role marked default (Logto's `isDefault`), in the user's own transaction so that
/// no one ever sees the user without them.
async fn assign_default_roles(
    transaction: &DatabaseTransaction,
    user_id: &UserId,
    now: Timestamp,
) -> Result<(), RepoError> {
    let default_role_ids: Vec<String> = role_rows::Entity::find()
        .select_only()
        .column(role_rows::Column::Id)
        .filter(role_rows::Column::IsDefault.eq(true))
        .filter(role_rows::Column::RoleType.eq(RoleType::User.wire_name()))
        .into_tuple()
        .all(transaction)
        .await
        .map_err(unavailable)?;
    if default_role_ids.is_empty() {
        return Ok(());
    }
    let rows = default_role_ids.into_iter().map(|role_id| users_roles::ActiveModel {
        user_id: Set(user_id.as_str().to_owned()),
        role_id: Set(role_id),
        created_at: Set(now.as_millis()),
    });
    users_roles::Entity::insert_many(rows).exec_without_returning(transaction).await.map_err(unavailable)?;
    Ok(())
}

async fn insert_restored(transaction: &DatabaseTransaction, row: users::Model) -> Result<(), RepoError> {
    // Every column is written: `reset_all` marks the loaded values as set.
    let active = sea_orm::ActiveModelTrait::reset_all(users::ActiveModel::from(row));
    Entity::insert(active).exec_without_returning(transaction).await.map_err(write_error)?;
    Ok(())
}

async fn purge_tombstones_in<C: ConnectionTrait>(connection: &C, now: Timestamp) -> Result<u64, RepoError> {
    let purged = user_tombstones::Entity::delete_many()
        .filter(user_tombstones::Column::RestorableUntil.lte(now.as_millis()))
        .exec(connection)
        .await
        .map_err(unavailable)?;
    Ok(purged.rows_affected)
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
pub(crate) fn write_error(error: DbErr) -> RepoError {
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
