//! [`SeaAuditLogRepository`]: the audit log in `audit_logs` (migration `m20261201_000005_audit_log_and_tombstones`),
//! and [`append_in`], which the user repository calls inside the transaction of the change an entry describes.

use async_trait::async_trait;
use latchkey_domain::audit::{AuditContext, AuditEntry, AuditFilter, AuditLogRepository, AuditResult};
use latchkey_domain::ports::{Page, Pagination, RepoError};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::db_errors::{corrupt, unavailable};

pub(crate) mod audit_logs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub key: String,
        pub user_id: Option<String>,
        pub application_id: Option<String>,
        #[sea_orm(column_type = "JsonBinary")]
        pub payload: Json,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use audit_logs::{Column, Entity};

/// The audit log. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaAuditLogRepository {
    db: DatabaseConnection,
}

impl SeaAuditLogRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// What `payload` holds besides the indexed columns.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    result: AuditResult,
    #[serde(flatten)]
    context: AuditContext,
    #[serde(default)]
    details: Map<String, Value>,
}

/// Writes `entry` on `connection`: a transaction when called by a repository write.
pub(crate) async fn append_in<C: ConnectionTrait>(connection: &C, entry: &AuditEntry) -> Result<(), RepoError> {
    let payload = Payload { result: entry.result, context: entry.context.clone(), details: entry.details.clone() };
    let payload = serde_json::to_value(payload).map_err(|error| {
        RepoError::Unavailable(format!("cannot serialize an audit entry: {:?} error", error.classify()))
    })?;
    let row = audit_logs::ActiveModel {
        id: Set(entry.id.clone()),
        key: Set(entry.key.clone()),
        user_id: Set(entry.user_id.as_ref().map(|id| id.as_str().to_owned())),
        application_id: Set(entry.context.application_id.clone()),
        payload: Set(payload),
        created_at: Set(entry.created_at.as_millis()),
    };
    Entity::insert(row).exec_without_returning(connection).await.map_err(unavailable)?;
    Ok(())
}

fn read(row: audit_logs::Model) -> Result<AuditEntry, RepoError> {
    let payload: Payload = serde_json::from_value(row.payload)
        .map_err(|error| corrupt("audit_logs", &row.id, format!("payload: {:?} error", error.classify())))?;
    let user_id =
        row.user_id.as_deref().map(UserId::parse).transpose().map_err(|error| corrupt("audit_logs", &row.id, error))?;
    Ok(AuditEntry {
        id: row.id,
        key: row.key,
        user_id,
        context: payload.context,
        result: payload.result,
        details: payload.details,
        created_at: Timestamp::from_millis(row.created_at),
    })
}

#[async_trait]
impl AuditLogRepository for SeaAuditLogRepository {
    async fn append(&self, entry: &AuditEntry) -> Result<(), RepoError> {
        append_in(&self.db, entry).await
    }

    async fn find(&self, id: &str) -> Result<Option<AuditEntry>, RepoError> {
        Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?.map(read).transpose()
    }

    async fn list(&self, filter: &AuditFilter, pagination: Pagination) -> Result<Page<AuditEntry>, RepoError> {
        let mut query = Entity::find();
        if let Some(user_id) = &filter.user_id {
            query = query.filter(Column::UserId.eq(user_id.as_str()));
        }
        if let Some(application_id) = &filter.application_id {
            query = query.filter(Column::ApplicationId.eq(application_id.as_str()));
        }
        if let Some(key) = &filter.key {
            query = query.filter(Column::Key.eq(key.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(Column::CreatedAt.gte(since.as_millis()));
        }
        if let Some(until) = filter.until {
            query = query.filter(Column::CreatedAt.lt(until.as_millis()));
        }
        let total = query.clone().count(&self.db).await.map_err(unavailable)?;
        let rows = query
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(pagination.offset())
            .limit(pagination.page_size)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let items = rows.into_iter().map(read).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }
}
