//! [`SeaSessionRepository`]: the domain's `SessionRepository` (sessions and refresh tokens) on sea-orm.

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::session::{RefreshToken, RevokeReason, Rotation, Session, SessionRepository};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::audit_log::append_in;
use crate::credential_entity::refresh_tokens;
use crate::credential_entity::sessions::{self, Column, Entity};
use crate::db_errors::{corrupt, unavailable, write_error, write_transaction};

/// Sessions in `sessions`, refresh tokens in `refresh_tokens`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaSessionRepository {
    db: DatabaseConnection,
}

impl SeaSessionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Inserts a new session and its first refresh token through `db`; the caller's transaction makes the two one
/// write (a sign-in adds its user update to it).
pub(crate) async fn insert_session_in(
    db: &impl ConnectionTrait,
    session: &Session,
    first_refresh_token: Option<&RefreshToken>,
) -> Result<(), RepoError> {
    Entity::insert(active_model(session)).exec_without_returning(db).await.map_err(write_error)?;
    let Some(token) = first_refresh_token else { return Ok(()) };
    debug_assert_eq!(token.session_id, session.id, "the first refresh token belongs to the new session");
    let row = refresh_tokens::ActiveModel {
        token_hash: Set(token.token_hash.as_str().to_owned()),
        session_id: Set(token.session_id.clone()),
        created_at: Set(token.created_at.as_millis()),
        expires_at: Set(token.expires_at.as_millis()),
        used_at: Set(token.used_at.map(Timestamp::as_millis)),
    };
    refresh_tokens::Entity::insert(row).exec_without_returning(db).await.map_err(write_error)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for SeaSessionRepository {
    async fn create(&self, session: &Session, first_refresh_token: Option<RefreshToken>) -> Result<(), RepoError> {
        let Some(token) = first_refresh_token else {
            return insert_session_in(&self.db, session, None).await;
        };
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        insert_session_in(&transaction, session, Some(&token)).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn find(&self, id: &str) -> Result<Option<Session>, RepoError> {
        find_session(&self.db, id).await
    }

    async fn list_active_for_user(&self, user_id: &UserId, now: Timestamp) -> Result<Vec<Session>, RepoError> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(now.as_millis()))
            .order_by_desc(Column::LastActiveAt)
            .order_by_desc(Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(from_row).collect()
    }

    async fn revoke(&self, id: &str, reason: RevokeReason, now: Timestamp) -> Result<(), RepoError> {
        let revoked = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now.as_millis()))
            .col_expr(Column::RevokeReason, Expr::value(reason.as_str()))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if revoked.rows_affected == 0 && Entity::find_by_id(id).count(&self.db).await.map_err(unavailable)? == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn revoke_logged(
        &self,
        ids: &[String],
        reason: RevokeReason,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), RepoError> {
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now.as_millis()))
            .col_expr(Column::RevokeReason, Expr::value(reason.as_str()))
            .filter(Column::Id.is_in(ids))
            .filter(Column::RevokedAt.is_null())
            .exec(&transaction)
            .await
            .map_err(unavailable)?;
        append_in(&transaction, entry).await?;
        transaction.commit().await.map_err(unavailable)
    }

    async fn revoke_all_for_user(
        &self,
        user_id: &UserId,
        reason: RevokeReason,
        now: Timestamp,
    ) -> Result<u64, RepoError> {
        let revoked = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now.as_millis()))
            .col_expr(Column::RevokeReason, Expr::value(reason.as_str()))
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(revoked.rows_affected)
    }

    async fn touch(&self, id: &str, now: Timestamp) -> Result<(), RepoError> {
        let touched = Entity::update_many()
            .col_expr(Column::LastActiveAt, Expr::value(now.as_millis()))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if touched.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn find_refresh_token(&self, token_hash: &SecretHash) -> Result<Option<RefreshToken>, RepoError> {
        let row = refresh_tokens::Entity::find_by_id(token_hash.as_str()).one(&self.db).await.map_err(unavailable)?;
        Ok(row.map(refresh_token_from_row))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &SecretHash,
        new_hash: &SecretHash,
        new_expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<Rotation, RepoError> {
        use refresh_tokens::Column as Token;

        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        // The conditional update is the arbiter: on PostgreSQL a concurrent rotation waits for this row's lock and
        // then finds `used_at` set; on SQLite the transactions are serialised by the write lock taken at BEGIN.
        let marked = refresh_tokens::Entity::update_many()
            .col_expr(Token::UsedAt, Expr::value(now.as_millis()))
            .filter(Token::TokenHash.eq(old_hash.as_str()))
            .filter(Token::UsedAt.is_null())
            .filter(Token::ExpiresAt.gt(now.as_millis()))
            .exec(&transaction)
            .await
            .map_err(unavailable)?;
        let Some(old) =
            refresh_tokens::Entity::find_by_id(old_hash.as_str()).one(&transaction).await.map_err(unavailable)?
        else {
            return Ok(Rotation::Unknown);
        };
        if marked.rows_affected == 0 {
            // Dropping the transaction rolls back; nothing was written anyway.
            return Ok(if old.used_at.is_some() {
                Rotation::Reused { session_id: old.session_id }
            } else {
                Rotation::Expired
            });
        }
        let session = match find_session(&transaction, &old.session_id).await? {
            Some(session) if session.is_active(now) => session,
            _ => return Ok(Rotation::SessionEnded),
        };
        let successor = refresh_tokens::ActiveModel {
            token_hash: Set(new_hash.as_str().to_owned()),
            session_id: Set(old.session_id),
            created_at: Set(now.as_millis()),
            expires_at: Set(new_expires_at.as_millis()),
            used_at: Set(None),
        };
        refresh_tokens::Entity::insert(successor).exec_without_returning(&transaction).await.map_err(write_error)?;
        transaction.commit().await.map_err(unavailable)?;
        Ok(Rotation::Rotated(session))
    }
}

async fn find_session(db: &impl ConnectionTrait, id: &str) -> Result<Option<Session>, RepoError> {
    let row = Entity::find_by_id(id).one(db).await.map_err(unavailable)?;
    row.map(from_row).transpose()
}

fn active_model(session: &Session) -> sessions::ActiveModel {
    sessions::ActiveModel {
        id: Set(session.id.clone()),
        user_id: Set(session.user_id.as_str().to_owned()),
        client_id: Set(session.client_id.clone()),
        created_at: Set(session.created_at.as_millis()),
        last_active_at: Set(session.last_active_at.as_millis()),
        expires_at: Set(session.expires_at.as_millis()),
        revoked_at: Set(session.revoked_at.map(Timestamp::as_millis)),
        revoke_reason: Set(session.revoke_reason.map(|reason| reason.as_str().to_owned())),
        user_agent: Set(session.user_agent.clone()),
        ip: Set(session.ip.clone()),
        scopes: Set(session.scopes.join(" ")),
    }
}

fn from_row(row: sessions::Model) -> Result<Session, RepoError> {
    let user_id = UserId::parse(&row.user_id).map_err(|error| corrupt("sessions", &row.id, error))?;
    let revoke_reason = row
        .revoke_reason
        .as_deref()
        .map(|name| RevokeReason::parse(name).ok_or_else(|| corrupt("sessions", &row.id, "unknown revoke reason")))
        .transpose()?;
    Ok(Session {
        user_id,
        client_id: row.client_id,
        created_at: Timestamp::from_millis(row.created_at),
        last_active_at: Timestamp::from_millis(row.last_active_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        revoked_at: row.revoked_at.map(Timestamp::from_millis),
        revoke_reason,
        user_agent: row.user_agent,
        ip: row.ip,
        scopes: row.scopes.split(' ').filter(|scope| !scope.is_empty()).map(str::to_owned).collect(),
        id: row.id,
    })
}

fn refresh_token_from_row(row: refresh_tokens::Model) -> RefreshToken {
    RefreshToken {
        token_hash: SecretHash::from_stored(row.token_hash),
        session_id: row.session_id,
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        used_at: row.used_at.map(Timestamp::from_millis),
    }
}
