//! The sign-in API's state (migration `m20261126_000004_create_sign_in`): [`SeaSentinelRepository`] (the domain's
//! `SentinelRepository`, failed checks per identifier digest) and [`SeaPendingMfaRepository`] (the domain's
//! `PendingMfaRepository`, sign-ins waiting for a second factor, keyed by the digest of their token). The
//! conditional updates make the limits hold across instances: an attempt on a challenge is taken by one statement.

use async_trait::async_trait;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::sign_in::{PendingMfa, PendingMfaRepository, SentinelFailure, SentinelRepository};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::db_errors::{corrupt, unavailable, write_error, write_transaction};
use crate::hooks::enqueue_occurrence;

/// Failed checks in `sentinel_failures`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaSentinelRepository {
    db: DatabaseConnection,
}

impl SeaSentinelRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SentinelRepository for SeaSentinelRepository {
    async fn blocked_until(&self, target: &SecretHash, now: Timestamp) -> Result<Option<Timestamp>, RepoError> {
        use sentinel_failures::{Column, Entity};
        let latest = Entity::find()
            .filter(Column::TargetHash.eq(target.as_str()))
            .filter(Column::BlockedUntil.gt(now.as_millis()))
            .order_by_desc(Column::BlockedUntil)
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(latest.and_then(|row| row.blocked_until).map(Timestamp::from_millis))
    }

    async fn count_failures_since(&self, target: &SecretHash, since: Timestamp) -> Result<u64, RepoError> {
        use sentinel_failures::{Column, Entity};
        Entity::find()
            .filter(Column::TargetHash.eq(target.as_str()))
            .filter(Column::BlockedUntil.is_null())
            .filter(Column::CreatedAt.gt(since.as_millis()))
            .count(&self.db)
            .await
            .map_err(unavailable)
    }

    async fn record_failure(&self, failure: &SentinelFailure) -> Result<(), RepoError> {
        let row = sentinel_failures::ActiveModel {
            id: NotSet,
            target_hash: Set(failure.target.as_str().to_owned()),
            created_at: Set(failure.created_at.as_millis()),
            blocked_until: Set(failure.blocked_until.map(Timestamp::as_millis)),
        };
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        sentinel_failures::Entity::insert(row).exec_without_returning(&transaction).await.map_err(write_error)?;
        if let Some(event) = &failure.lockout_event {
            enqueue_occurrence(&transaction, event).await?;
        }
        transaction.commit().await.map_err(unavailable)
    }

    async fn forget_before(&self, before: Timestamp) -> Result<u64, RepoError> {
        use sentinel_failures::{Column, Entity};
        let ended =
            Condition::any().add(Column::BlockedUntil.is_null()).add(Column::BlockedUntil.lte(before.as_millis()));
        let deleted = Entity::delete_many()
            .filter(Column::CreatedAt.lt(before.as_millis()))
            .filter(ended)
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(deleted.rows_affected)
    }
}

/// Pending MFA challenges in `pending_mfa_challenges`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaPendingMfaRepository {
    db: DatabaseConnection,
}

impl SeaPendingMfaRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PendingMfaRepository for SeaPendingMfaRepository {
    async fn insert(&self, pending: &PendingMfa) -> Result<(), RepoError> {
        use pending_mfa_challenges::{Column, Entity};
        Entity::delete_many()
            .filter(Column::ExpiresAt.lte(pending.created_at.as_millis()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        let row = pending_mfa_challenges::ActiveModel {
            token_hash: Set(pending.token_hash.as_str().to_owned()),
            user_id: Set(pending.user_id.as_str().to_owned()),
            client_id: Set(pending.client_id.clone()),
            scopes: Set(pending.scopes.join(" ")),
            sentinel_target: Set(pending.sentinel_target.as_str().to_owned()),
            created_at: Set(pending.created_at.as_millis()),
            expires_at: Set(pending.expires_at.as_millis()),
            attempts: Set(i32::try_from(pending.attempts).unwrap_or(i32::MAX)),
        };
        Entity::insert(row).exec_without_returning(&self.db).await.map_err(write_error)?;
        Ok(())
    }

    async fn begin_attempt(
        &self,
        token_hash: &SecretHash,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<PendingMfa>, RepoError> {
        use pending_mfa_challenges::{Column, Entity};
        // One conditional statement takes the attempt: concurrent callers cannot take more than the limit.
        let taken = Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::TokenHash.eq(token_hash.as_str()))
            .filter(Column::ExpiresAt.gt(now.as_millis()))
            .filter(Column::Attempts.lt(i32::try_from(max_attempts).unwrap_or(i32::MAX)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if taken.rows_affected == 0 {
            return Ok(None);
        }
        let row = Entity::find_by_id(token_hash.as_str()).one(&self.db).await.map_err(unavailable)?;
        row.map(from_row).transpose()
    }

    async fn consume(&self, token_hash: &SecretHash) -> Result<bool, RepoError> {
        use pending_mfa_challenges::{Column, Entity};
        let deleted = Entity::delete_many()
            .filter(Column::TokenHash.eq(token_hash.as_str()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(deleted.rows_affected == 1)
    }
}

fn from_row(row: pending_mfa_challenges::Model) -> Result<PendingMfa, RepoError> {
    // The key is a token digest; the user id names the row in messages instead.
    let user_id = UserId::parse(&row.user_id).map_err(|error| corrupt("pending_mfa_challenges", "(user id)", error))?;
    Ok(PendingMfa {
        token_hash: SecretHash::from_stored(row.token_hash),
        user_id,
        client_id: row.client_id,
        scopes: row.scopes.split(' ').filter(|scope| !scope.is_empty()).map(str::to_owned).collect(),
        sentinel_target: SecretHash::from_stored(row.sentinel_target),
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
    })
}

mod sentinel_failures {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sentinel_failures")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// SHA-256 of the normalised identifier.
        pub target_hash: String,
        pub created_at: i64,
        pub blocked_until: Option<i64>,
    }

    // The digest is a look-up key for an identifier: keep it out of logs.
    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("sentinel_failures::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod pending_mfa_challenges {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_mfa_challenges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub user_id: String,
        pub client_id: String,
        pub scopes: String,
        pub sentinel_target: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub attempts: i32,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("pending_mfa_challenges::Model").field("user_id", &self.user_id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
