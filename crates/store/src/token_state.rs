//! [`SeaTokenStateRepository`]: the revocation state that the token verifier reads on every request, one indexed
//! query per token (primary key of the session or PAT, joined to its user by primary key).

use async_trait::async_trait;
use latchkey_domain::credentials_ports::{PatState, SessionState, TokenStateRepository};
use latchkey_domain::ports::RepoError;
use latchkey_domain::{Timestamp, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, IntoTableRef, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};

use crate::credential_entity::{personal_access_tokens, sessions};
use crate::db_errors::{corrupt, unavailable};
use crate::entity::users;

/// Reads `sessions` and `personal_access_tokens` joined to `users`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaTokenStateRepository {
    db: DatabaseConnection,
}

impl SeaTokenStateRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The columns that both look-ups select, under these names.
const OWNER_ID: &str = "owner_id";
const REVOKED_AT: &str = "revoked_at";
const EXPIRES_AT: &str = "expires_at";
const FOUND_USER_ID: &str = "found_user_id";
const USER_SUSPENDED: &str = "user_suspended";

#[async_trait]
impl TokenStateRepository for SeaTokenStateRepository {
    async fn session_state(&self, session_id: &str, now: Timestamp) -> Result<Option<SessionState>, RepoError> {
        use sessions::{Column, Entity};
        let query = state_query(
            Entity,
            (Entity, Column::UserId),
            (Entity, Column::RevokedAt),
            (Entity, Column::ExpiresAt),
            Expr::col((Entity, Column::Id)).eq(session_id),
        );
        let Some(row) = self.db.query_one(&query).await.map_err(unavailable)? else { return Ok(None) };
        let state = read_state(&row, "sessions", session_id, now)?;
        Ok(Some(SessionState {
            user_id: state.user_id,
            revoked: state.revoked,
            expired: state.expired,
            user_exists: state.user_exists,
            user_suspended: state.user_suspended,
        }))
    }

    async fn pat_state(&self, pat_id: &str, now: Timestamp) -> Result<Option<PatState>, RepoError> {
        use personal_access_tokens::{Column, Entity};
        let query = state_query(
            Entity,
            (Entity, Column::UserId),
            (Entity, Column::RevokedAt),
            (Entity, Column::ExpiresAt),
            Expr::col((Entity, Column::Id)).eq(pat_id),
        );
        let Some(row) = self.db.query_one(&query).await.map_err(unavailable)? else { return Ok(None) };
        let state = read_state(&row, "personal_access_tokens", pat_id, now)?;
        Ok(Some(PatState {
            user_id: state.user_id,
            revoked: state.revoked,
            expired: state.expired,
            user_exists: state.user_exists,
            user_suspended: state.user_suspended,
        }))
    }
}

/// `SELECT owner.user_id, owner.revoked_at, owner.expires_at, users.id, users.is_suspended FROM owner LEFT JOIN users
/// ON users.id = owner.user_id WHERE <key>`: a left join, so that a missing user reads as such instead of as a
/// missing session.
fn state_query<T, C>(table: T, user_id: C, revoked_at: C, expires_at: C, key: Expr) -> SelectStatement
where
    T: IntoTableRef,
    C: IntoColumnRef + Clone,
{
    Query::select()
        .expr_as(Expr::col(user_id.clone()), OWNER_ID)
        .expr_as(Expr::col(revoked_at), REVOKED_AT)
        .expr_as(Expr::col(expires_at), EXPIRES_AT)
        .expr_as(Expr::col((users::Entity, users::Column::Id)), FOUND_USER_ID)
        .expr_as(Expr::col((users::Entity, users::Column::IsSuspended)), USER_SUSPENDED)
        .from(table)
        .left_join(users::Entity, Expr::col((users::Entity, users::Column::Id)).equals(user_id))
        .and_where(key)
        .to_owned()
}

struct OwnerState {
    user_id: UserId,
    revoked: bool,
    expired: bool,
    user_exists: bool,
    user_suspended: bool,
}

fn read_state(row: &QueryResult, table: &str, key: &str, now: Timestamp) -> Result<OwnerState, RepoError> {
    let read_error = |error: sea_orm::DbErr| corrupt(table, key, error);
    let owner_id: String = row.try_get("", OWNER_ID).map_err(read_error)?;
    let revoked_at: Option<i64> = row.try_get("", REVOKED_AT).map_err(read_error)?;
    let expires_at: Option<i64> = row.try_get("", EXPIRES_AT).map_err(read_error)?;
    let found_user_id: Option<String> = row.try_get("", FOUND_USER_ID).map_err(read_error)?;
    let user_suspended: Option<bool> = row.try_get("", USER_SUSPENDED).map_err(read_error)?;
    Ok(OwnerState {
        user_id: UserId::parse(&owner_id).map_err(|error| corrupt(table, key, error))?,
        revoked: revoked_at.is_some(),
        expired: expires_at.is_some_and(|expires_at| expires_at <= now.as_millis()),
        user_exists: found_user_id.is_some(),
        user_suspended: user_suspended.unwrap_or(false),
    })
}
