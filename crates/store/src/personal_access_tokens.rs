//! [`SeaPersonalAccessTokenRepository`]: the domain's `PersonalAccessTokenRepository` on sea-orm. Creating, renaming
//! and deleting a token store its audit entry in the same transaction.

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::personal_access_token::{PersonalAccessToken, PersonalAccessTokenRepository};
use latchkey_domain::ports::{Conflict, RepoError};
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use crate::applications::{from_json, to_json};
use crate::audit_log::append_in;
use crate::credential_entity::personal_access_tokens::{self, Column, Entity};
use crate::db_errors::{corrupt, unavailable, write_error, write_transaction};

/// Personal access tokens in `personal_access_tokens`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaPersonalAccessTokenRepository {
    db: DatabaseConnection,
}

impl SeaPersonalAccessTokenRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PersonalAccessTokenRepository for SeaPersonalAccessTokenRepository {
    async fn create(&self, token: &PersonalAccessToken, audit: &AuditEntry) -> Result<(), RepoError> {
        let row = personal_access_tokens::ActiveModel {
            id: Set(token.id.clone()),
            user_id: Set(token.user_id.as_str().to_owned()),
            name: Set(token.name.clone()),
            value_hash: Set(token.value_hash.as_str().to_owned()),
            scopes: Set(to_json("scopes", &token.scopes)?),
            created_at: Set(token.created_at.as_millis()),
            expires_at: Set(token.expires_at.map(Timestamp::as_millis)),
            last_used_at: Set(token.last_used_at.map(Timestamp::as_millis)),
            revoked_at: Set(token.revoked_at.map(Timestamp::as_millis)),
        };
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        Entity::insert(row).exec_without_returning(&transaction).await.map_err(name_taken_or_write_error)?;
        append_in(&transaction, audit).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn list_for_user(&self, user_id: &UserId) -> Result<Vec<PersonalAccessToken>, RepoError> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user_id.as_str()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Name)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(from_row).collect()
    }

    async fn find_by_value_hash(&self, value_hash: &SecretHash) -> Result<Option<PersonalAccessToken>, RepoError> {
        let row = Entity::find()
            .filter(Column::ValueHash.eq(value_hash.as_str()))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        row.map(from_row).transpose()
    }

    async fn rename(
        &self,
        user_id: &UserId,
        current_name: &str,
        new_name: &str,
        audit: &AuditEntry,
    ) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let renamed = Entity::update_many()
            .col_expr(Column::Name, Expr::value(new_name))
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::Name.eq(current_name))
            .exec(&transaction)
            .await
            .map_err(name_taken_or_write_error)?;
        if renamed.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        append_in(&transaction, audit).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn delete(&self, user_id: &UserId, name: &str, audit: &AuditEntry) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let deleted = Entity::delete_many()
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::Name.eq(name))
            .exec(&transaction)
            .await
            .map_err(unavailable)?;
        if deleted.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        append_in(&transaction, audit).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn mark_used(&self, id: &str, now: Timestamp) -> Result<(), RepoError> {
        let marked = Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now.as_millis()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if marked.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn revoke_all_for_user(&self, user_id: &UserId, now: Timestamp) -> Result<u64, RepoError> {
        let revoked = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now.as_millis()))
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(revoked.rows_affected)
    }
}

fn from_row(row: personal_access_tokens::Model) -> Result<PersonalAccessToken, RepoError> {
    let user_id = UserId::parse(&row.user_id).map_err(|error| corrupt("personal_access_tokens", &row.id, error))?;
    let scopes = from_json("scopes", &row.scopes).map_err(|error| corrupt("personal_access_tokens", &row.id, error))?;
    Ok(PersonalAccessToken {
        user_id,
        name: row.name,
        value_hash: SecretHash::from_stored(row.value_hash),
        scopes,
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: row.expires_at.map(Timestamp::from_millis),
        last_used_at: row.last_used_at.map(Timestamp::from_millis),
        revoked_at: row.revoked_at.map(Timestamp::from_millis),
        id: row.id,
    })
}

/// The table's unique keys are the generated id and value hash (collisions are as likely as guessing a secret)
/// and the user's token name, so a unique violation means the name is taken.
fn name_taken_or_write_error(error: sea_orm::DbErr) -> RepoError {
    match write_error(error) {
        RepoError::Conflict(_) => RepoError::Conflict(Conflict::Name),
        other => other,
    }
}
