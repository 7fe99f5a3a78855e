//! [`SeaRoleRepository`]: the domain's `RoleRepository` on the `roles` and `users_roles` tables (migration
//! `m20261201_000020_create_roles`). Every write to a user's roles stores its audit entry in the same transaction.

use std::collections::BTreeSet;

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::ports::{Conflict, Page, Pagination, RepoError};
use latchkey_domain::role::{Role, RoleFilter, RoleRepository, RoleType};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};

use crate::audit_log::append_in;
use crate::db_errors::{corrupt, unavailable, write_transaction};
use crate::hooks::enqueue_role_event;

pub(crate) mod role_rows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub description: String,
        /// Logto's type name (`User`, `MachineToMachine`).
        pub role_type: String,
        pub is_default: bool,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod users_roles {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The character that escapes `%`, `_` and itself in a name pattern (PostgreSQL's default, made explicit so that
/// SQLite agrees).
const LIKE_ESCAPE: char = '\\';

/// Roles and users' roles. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaRoleRepository {
    db: DatabaseConnection,
}

impl SeaRoleRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn page(&self, condition: Condition, pagination: Pagination) -> Result<Page<Role>, RepoError> {
        let query = role_rows::Entity::find().filter(condition);
        let total = query.clone().count(&self.db).await.map_err(unavailable)?;
        let rows = query
            .order_by_desc(role_rows::Column::CreatedAt)
            .order_by_desc(role_rows::Column::Id)
            .offset(pagination.offset())
            .limit(pagination.page_size)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let items = rows.into_iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }
}

#[async_trait]
impl RoleRepository for SeaRoleRepository {
    async fn insert(&self, role: &Role, entry: &AuditEntry) -> Result<(), RepoError> {
        let row = role_rows::ActiveModel {
            id: Set(role.id.clone()),
            name: Set(role.name.clone()),
            description: Set(role.description.clone()),
            role_type: Set(role.role_type.wire_name().to_owned()),
            is_default: Set(role.is_default),
            created_at: Set(role.created_at.as_millis()),
        };
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        role_rows::Entity::insert(row).exec_without_returning(&transaction).await.map_err(role_write_error)?;
        append_in(&transaction, entry).await?;
        enqueue_role_event(&transaction, entry, role).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn find(&self, id: &str) -> Result<Option<Role>, RepoError> {
        role_rows::Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?.map(from_row).transpose()
    }

    async fn update(&self, role: &Role, entry: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let updated = role_rows::Entity::update_many()
            .col_expr(role_rows::Column::Name, Expr::value(role.name.clone()))
            .col_expr(role_rows::Column::Description, Expr::value(role.description.clone()))
            .col_expr(role_rows::Column::IsDefault, Expr::value(role.is_default))
            .filter(role_rows::Column::Id.eq(role.id.as_str()))
            .exec(&transaction)
            .await
            .map_err(role_write_error)?;
        if updated.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        append_in(&transaction, entry).await?;
        enqueue_role_event(&transaction, entry, role).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn delete(&self, id: &str, entry: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let row = role_rows::Entity::find_by_id(id).one(&transaction).await.map_err(unavailable)?;
        let role = row.map(from_row).transpose()?.ok_or(RepoError::NotFound)?;
        // Assignments go with the role (`ON DELETE CASCADE`).
        role_rows::Entity::delete_by_id(id).exec(&transaction).await.map_err(unavailable)?;
        append_in(&transaction, entry).await?;
        enqueue_role_event(&transaction, entry, &role).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn list(&self, filter: &RoleFilter, pagination: Pagination) -> Result<Page<Role>, RepoError> {
        self.page(condition(filter), pagination).await
    }

    async fn list_for_user(
        &self,
        user_id: &UserId,
        filter: &RoleFilter,
        pagination: Pagination,
    ) -> Result<Page<Role>, RepoError> {
        let held = Query::select()
            .column(users_roles::Column::RoleId)
            .from(users_roles::Entity)
            .and_where(Expr::col(users_roles::Column::UserId).eq(user_id.as_str()))
            .to_owned();
        self.page(condition(filter).add(role_rows::Column::Id.in_subquery(held)), pagination).await
    }

    async fn role_ids_of_user(&self, user_id: &UserId) -> Result<Vec<String>, RepoError> {
        held_role_ids(&self.db, user_id).await.map(|ids| ids.into_iter().collect())
    }

    async fn assign(&self, user_id: &UserId, role_ids: &[String], entry: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let held = held_role_ids(&transaction, user_id).await?;
        insert_missing(&transaction, user_id, role_ids, &held, entry.created_at).await?;
        append_in(&transaction, entry).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn replace(&self, user_id: &UserId, role_ids: &[String], entry: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let held = held_role_ids(&transaction, user_id).await?;
        let wanted: BTreeSet<&str> = role_ids.iter().map(String::as_str).collect();
        let unwanted: Vec<&String> = held.iter().filter(|id| !wanted.contains(id.as_str())).collect();
        if !unwanted.is_empty() {
            users_roles::Entity::delete_many()
                .filter(users_roles::Column::UserId.eq(user_id.as_str()))
                .filter(users_roles::Column::RoleId.is_in(unwanted))
                .exec(&transaction)
                .await
                .map_err(unavailable)?;
        }
        insert_missing(&transaction, user_id, role_ids, &held, entry.created_at).await?;
        append_in(&transaction, entry).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn remove(&self, user_id: &UserId, role_id: &str, entry: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let deleted = users_roles::Entity::delete_many()
            .filter(users_roles::Column::UserId.eq(user_id.as_str()))
            .filter(users_roles::Column::RoleId.eq(role_id))
            .exec(&transaction)
            .await
            .map_err(unavailable)?;
        if deleted.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        append_in(&transaction, entry).await?;
        transaction.commit().await.map_err(unavailable)
    }
}

async fn held_role_ids<C: ConnectionTrait>(connection: &C, user_id: &UserId) -> Result<BTreeSet<String>, RepoError> {
    let ids: Vec<String> = users_roles::Entity::find()
        .select_only()
        .column(users_roles::Column::RoleId)
        .filter(users_roles::Column::UserId.eq(user_id.as_str()))
        .into_tuple()
        .all(connection)
        .await
        .map_err(unavailable)?;
    Ok(ids.into_iter().collect())
}

/// Inserts the assignments of `role_ids` not in `held`; a missing user or role is `NotFound`.
async fn insert_missing<C: ConnectionTrait>(
    connection: &C,
    user_id: &UserId,
    role_ids: &[String],
    held: &BTreeSet<String>,
    now: Timestamp,
) -> Result<(), RepoError> {
    let missing: BTreeSet<&String> = role_ids.iter().filter(|id| !held.contains(*id)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let rows = missing.into_iter().map(|role_id| users_roles::ActiveModel {
        user_id: Set(user_id.as_str().to_owned()),
        role_id: Set(role_id.clone()),
        created_at: Set(now.as_millis()),
    });
    users_roles::Entity::insert_many(rows).exec_without_returning(connection).await.map_err(assignment_error)?;
    Ok(())
}

/// `WHERE` of a role list: the name pattern and the type, when given.
fn condition(filter: &RoleFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(pattern) = &filter.name {
        let name: Expr = Func::lower(Expr::col(role_rows::Column::Name)).into();
        condition = condition.add(name.like(LikeExpr::new(like_pattern(&pattern.to_lowercase())).escape(LIKE_ESCAPE)));
    }
    if let Some(role_type) = filter.role_type {
        condition = condition.add(role_rows::Column::RoleType.eq(role_type.wire_name()));
    }
    condition
}

/// `pattern` as a LIKE pattern that both backends accept: a trailing lone escape character, which PostgreSQL
/// rejects, is read as a literal one.
fn like_pattern(pattern: &str) -> String {
    let mut result = String::with_capacity(pattern.len() + 1);
    let mut chars = pattern.chars();
    while let Some(character) = chars.next() {
        result.push(character);
        if character == LIKE_ESCAPE {
            result.push(chars.next().unwrap_or(LIKE_ESCAPE));
        }
    }
    result
}

fn from_row(row: role_rows::Model) -> Result<Role, RepoError> {
    let role_type = RoleType::from_wire_name(&row.role_type)
        .ok_or_else(|| corrupt("roles", &row.id, format!("unknown type `{}`", row.role_type)))?;
    Ok(Role {
        id: row.id,
        name: row.name,
        description: row.description,
        role_type,
        is_default: row.is_default,
        created_at: Timestamp::from_millis(row.created_at),
    })
}

/// A failed role write: a taken name is `Conflict(Name)`, a taken id `Conflict(Id)`. PostgreSQL names the index
/// (`roles_name_unique`), SQLite the column (`roles.name`).
fn role_write_error(error: DbErr) -> RepoError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) if message.contains("name") => {
            RepoError::Conflict(Conflict::Name)
        }
        Some(SqlErr::UniqueConstraintViolation(_)) => RepoError::Conflict(Conflict::Id),
        _ => unavailable(error),
    }
}

/// A failed assignment: the user or a role is gone (foreign key), or a concurrent writer assigned the same role.
fn assignment_error(error: DbErr) -> RepoError {
    match error.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => RepoError::NotFound,
        Some(SqlErr::UniqueConstraintViolation(_)) => RepoError::Conflict(Conflict::Version),
        _ => unavailable(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_escape_character_becomes_a_literal_one() {
        assert_eq!(like_pattern("%admin%"), "%admin%");
        assert_eq!(like_pattern(r"50\%"), r"50\%");
        assert_eq!(like_pattern(r"a\"), r"a\\");
        assert_eq!(like_pattern(r"a\\"), r"a\\");
    }
}
