//! [`SeaSubjectTokenRepository`]: the domain's `SubjectTokenRepository` on sea-orm.

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::subject_token::{Consumption, SubjectToken, SubjectTokenRepository};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

use crate::audit_log::append_in;
use crate::credential_entity::subject_tokens::{self, Column, Entity};
use crate::db_errors::{corrupt, unavailable, write_error, write_transaction};

/// Subject tokens in `subject_tokens`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaSubjectTokenRepository {
    db: DatabaseConnection,
}

impl SeaSubjectTokenRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SubjectTokenRepository for SeaSubjectTokenRepository {
    async fn insert(&self, token: &SubjectToken, audit: &AuditEntry) -> Result<(), RepoError> {
        let row = subject_tokens::ActiveModel {
            token_hash: Set(token.token_hash.as_str().to_owned()),
            user_id: Set(token.user_id.as_str().to_owned()),
            context: Set(token.context.clone()),
            creator_id: Set(token.creator_id.clone()),
            created_at: Set(token.created_at.as_millis()),
            expires_at: Set(token.expires_at.as_millis()),
            consumed_at: Set(token.consumed_at.map(Timestamp::as_millis)),
        };
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        Entity::insert(row).exec_without_returning(&transaction).await.map_err(write_error)?;
        append_in(&transaction, audit).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn consume(&self, token_hash: &SecretHash, now: Timestamp) -> Result<Consumption, RepoError> {
        // One conditional statement decides: of concurrent consumers, only one sees a row affected.
        let consumed = Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::value(now.as_millis()))
            .filter(Column::TokenHash.eq(token_hash.as_str()))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(now.as_millis()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        let Some(row) = Entity::find_by_id(token_hash.as_str()).one(&self.db).await.map_err(unavailable)? else {
            return Ok(Consumption::Unknown);
        };
        if consumed.rows_affected == 1 {
            return from_row(row).map(Consumption::Consumed);
        }
        Ok(if row.consumed_at.is_some() { Consumption::AlreadyConsumed } else { Consumption::Expired })
    }
}

fn from_row(row: subject_tokens::Model) -> Result<SubjectToken, RepoError> {
    // The key of a subject token is its hash; the user id names the row in messages instead.
    let user_id = UserId::parse(&row.user_id).map_err(|error| corrupt("subject_tokens", "(user id)", error))?;
    Ok(SubjectToken {
        token_hash: SecretHash::from_stored(row.token_hash),
        user_id,
        context: row.context,
        creator_id: row.creator_id,
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        consumed_at: row.consumed_at.map(Timestamp::from_millis),
    })
}
