//! Email/phone verification codes and the per-recipient send log (migration
//! `m20261126_000005_create_verification_codes`): [`SeaVerificationCodeRepository`], the domain's
//! `VerificationCodeRepository`. The limits hold across instances: a check on a code is taken by one conditional
//! `UPDATE`, and a send is recorded before it is counted, so that concurrent senders see each other.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::verification_code::{CodePurpose, VerificationCode, VerificationCodeRepository};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db_errors::{corrupt, unavailable, write_error};

/// Codes in `verification_codes`, sends in `message_sends`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaVerificationCodeRepository {
    db: DatabaseConnection,
}

impl SeaVerificationCodeRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl VerificationCodeRepository for SeaVerificationCodeRepository {
    async fn record_send(
        &self,
        target: &SecretHash,
        now: Timestamp,
        window_start: Timestamp,
        limit: u64,
    ) -> Result<bool, RepoError> {
        use message_sends::{ActiveModel, Column, Entity};
        // Sends older than the window decide nothing any more, whoever they went to.
        Entity::delete_many()
            .filter(Column::CreatedAt.lte(window_start.as_millis()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        // Record first, then count: the n-th committed send sees at least n rows, so concurrent senders cannot
        // pass the limit between them (at worst both of two racing senders are refused).
        let row =
            ActiveModel { id: NotSet, target_hash: Set(target.as_str().to_owned()), created_at: Set(now.as_millis()) };
        let inserted = Entity::insert(row).exec(&self.db).await.map_err(write_error)?;
        let sends = Entity::find()
            .filter(Column::TargetHash.eq(target.as_str()))
            .filter(Column::CreatedAt.gt(window_start.as_millis()))
            .count(&self.db)
            .await
            .map_err(unavailable)?;
        if sends <= limit {
            return Ok(true);
        }
        // A refused send is not a send: it must not keep the recipient blocked longer.
        Entity::delete_by_id(inserted.last_insert_id).exec(&self.db).await.map_err(unavailable)?;
        Ok(false)
    }

    async fn insert(&self, code: &VerificationCode) -> Result<(), RepoError> {
        use code_rows::{Column, Entity};
        let replaced = Condition::all()
            .add(Column::TargetHash.eq(code.target.as_str()))
            .add(Column::Purpose.eq(code.purpose.as_str()));
        let stale = Condition::any().add(replaced).add(Column::ExpiresAt.lte(code.created_at.as_millis()));
        Entity::delete_many().filter(stale).exec(&self.db).await.map_err(unavailable)?;
        let row = code_rows::ActiveModel {
            id: Set(code.id.clone()),
            purpose: Set(code.purpose.as_str().to_owned()),
            target_hash: Set(code.target.as_str().to_owned()),
            code_hash: Set(code.code_hash.as_str().to_owned()),
            created_at: Set(code.created_at.as_millis()),
            expires_at: Set(code.expires_at.as_millis()),
            attempts: Set(i32::try_from(code.attempts).unwrap_or(i32::MAX)),
        };
        Entity::insert(row).exec_without_returning(&self.db).await.map_err(write_error)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<VerificationCode>, RepoError> {
        let row = code_rows::Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?;
        row.map(from_row).transpose()
    }

    async fn begin_attempt(&self, id: &str, now: Timestamp, max_attempts: u32) -> Result<bool, RepoError> {
        use code_rows::{Column, Entity};
        let taken = Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::Id.eq(id))
            .filter(Column::ExpiresAt.gt(now.as_millis()))
            .filter(Column::Attempts.lt(i32::try_from(max_attempts).unwrap_or(i32::MAX)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(taken.rows_affected == 1)
    }

    async fn consume(&self, id: &str) -> Result<bool, RepoError> {
        use code_rows::{Column, Entity};
        let deleted = Entity::delete_many().filter(Column::Id.eq(id)).exec(&self.db).await.map_err(unavailable)?;
        Ok(deleted.rows_affected == 1)
    }
}

fn from_row(row: code_rows::Model) -> Result<VerificationCode, RepoError> {
    let purpose = CodePurpose::parse(&row.purpose)
        .ok_or_else(|| corrupt("verification_codes", &row.id, format!("unknown purpose `{}`", row.purpose)))?;
    Ok(VerificationCode {
        id: row.id,
        purpose,
        target: SecretHash::from_stored(row.target_hash),
        code_hash: SecretHash::from_stored(row.code_hash),
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
    })
}

mod code_rows {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "verification_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub purpose: String,
        pub target_hash: String,
        pub code_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub attempts: i32,
    }

    // The digests stay out of logs: a 6-digit code's digest is quickly reversed.
    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("code_rows::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod message_sends {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "message_sends")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub target_hash: String,
        pub created_at: i64,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("message_sends::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
