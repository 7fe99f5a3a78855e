//! [`SeaApplicationRepository`]: the domain's `ApplicationRepository` on sea-orm.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::ports::{Conflict, Page, Pagination, RepoError};
use latchkey_domain::user::Version;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::credential_entity::applications::{self, Column, Entity};
use crate::db_errors::{corrupt, unavailable, write_error, write_transaction};

/// Applications stored in the `applications` table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaApplicationRepository {
    db: DatabaseConnection,
}

impl SeaApplicationRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ApplicationRepository for SeaApplicationRepository {
    async fn insert(&self, application: &Application) -> Result<(), RepoError> {
        let row = active_model(application)?;
        Entity::insert(row).exec_without_returning(&self.db).await.map_err(write_error)?;
        Ok(())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Application>, RepoError> {
        let row = Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?;
        row.map(from_row).transpose()
    }

    async fn list(&self, pagination: Pagination) -> Result<Page<Application>, RepoError> {
        let total = Entity::find().count(&self.db).await.map_err(unavailable)?;
        let rows = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(pagination.offset())
            .limit(pagination.page_size)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let items = rows.into_iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total })
    }

    async fn update(&self, application: &Application) -> Result<Application, RepoError> {
        let mut row = active_model(application)?;
        row.id = NotSet;
        row.version = NotSet;
        let transaction = self.db.begin_with_options(write_transaction()).await.map_err(unavailable)?;
        let updated = Entity::update_many()
            .set(row)
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::Id.eq(application.id.as_str()))
            .filter(Column::Version.eq(application.version.0))
            .exec(&transaction)
            .await
            .map_err(write_error)?;
        if updated.rows_affected == 0 {
            let still_there =
                Entity::find_by_id(application.id.as_str()).count(&transaction).await.map_err(unavailable)?;
            return Err(if still_there == 0 { RepoError::NotFound } else { RepoError::Conflict(Conflict::Version) });
        }
        transaction.commit().await.map_err(unavailable)?;
        let mut stored = application.clone();
        stored.version = application.version.next();
        Ok(stored)
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        let deleted = Entity::delete_by_id(id).exec(&self.db).await.map_err(unavailable)?;
        if deleted.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }
}

fn active_model(application: &Application) -> Result<applications::ActiveModel, RepoError> {
    Ok(applications::ActiveModel {
        id: Set(application.id.clone()),
        name: Set(application.name.clone()),
        description: Set(application.description.clone()),
        app_type: Set(application.app_type.wire_name().to_owned()),
        secrets: Set(to_json("secrets", &application.secrets)?),
        oidc_client_metadata: Set(to_json("oidc_client_metadata", &application.oidc_client_metadata)?),
        custom_client_metadata: Set(to_json("custom_client_metadata", &application.custom_client_metadata)?),
        custom_data: Set(Value::Object(application.custom_data.clone())),
        is_third_party: Set(application.is_third_party),
        roles: Set(to_json("roles", &application.roles)?),
        created_at: Set(application.created_at.as_millis()),
        version: Set(application.version.0),
    })
}

fn from_row(row: applications::Model) -> Result<Application, RepoError> {
    let corrupt = |reason: String| corrupt("applications", &row.id, reason);
    Ok(Application {
        app_type: ApplicationType::from_wire_name(&row.app_type)
            .ok_or_else(|| corrupt(format!("unknown type `{}`", row.app_type)))?,
        secrets: from_json("secrets", &row.secrets).map_err(corrupt)?,
        oidc_client_metadata: from_json("oidc_client_metadata", &row.oidc_client_metadata).map_err(corrupt)?,
        custom_client_metadata: from_json("custom_client_metadata", &row.custom_client_metadata).map_err(corrupt)?,
        custom_data: from_json("custom_data", &row.custom_data).map_err(corrupt)?,
        roles: from_json("roles", &row.roles).map_err(corrupt)?,
        is_third_party: row.is_third_party,
        created_at: Timestamp::from_millis(row.created_at),
        version: Version(row.version),
        description: row.description,
        name: row.name,
        id: row.id,
    })
}

/// Parses a JSON column; serde's messages can quote the value, so only the column and error class are kept.
pub(crate) fn from_json<T: DeserializeOwned>(column: &str, value: &Value) -> Result<T, String> {
    T::deserialize(value)
        .map_err(|error| format!("column `{column}` does not hold the expected JSON ({:?} error)", error.classify()))
}

pub(crate) fn to_json<T: Serialize>(column: &str, value: &T) -> Result<Value, RepoError> {
    serde_json::to_value(value)
        .map_err(|error| RepoError::Unavailable(format!("cannot serialize `{column}`: {:?} error", error.classify())))
}
