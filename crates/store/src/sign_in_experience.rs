//! [`SeaSignInExperienceRepository`]: the domain's `SignInExperienceRepository` on sea-orm, one row in
//! `sign_in_experience`, saved with a version check as the account-center row is.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::ports::{Conflict, RepoError};
use latchkey_domain::sign_in_experience::{SignInExperience, SignInExperienceRepository, VersionedSignInExperience};
use latchkey_domain::user::Version;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::db_errors::{corrupt, unavailable, write_error};

/// The key of the deployment's one row (Logto's `default`).
const ROW_ID: &str = "default";
const TABLE: &str = "sign_in_experience";

mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sign_in_experience")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub settings: Json,
        pub version: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaSignInExperienceRepository {
    db: DatabaseConnection,
}

impl SeaSignInExperienceRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SignInExperienceRepository for SeaSignInExperienceRepository {
    async fn get(&self) -> Result<VersionedSignInExperience, RepoError> {
        let Some(row) = Entity::find_by_id(ROW_ID).one(&self.db).await.map_err(unavailable)? else {
            return Ok(VersionedSignInExperience { settings: SignInExperience::default(), version: Version::INITIAL });
        };
        let settings = serde_json::from_value(row.settings).map_err(|error| corrupt(TABLE, ROW_ID, error))?;
        Ok(VersionedSignInExperience { settings, version: Version(row.version) })
    }

    async fn save(&self, settings: &SignInExperience, expected: Version, now: Timestamp) -> Result<Version, RepoError> {
        let json = serde_json::to_value(settings).map_err(|error| corrupt(TABLE, ROW_ID, error))?;
        let next = expected.next();
        let updated_at = now.as_millis();
        // A conditional update decides between concurrent writers; only the never-saved defaults are inserted.
        let updated = Entity::update_many()
            .col_expr(Column::Settings, Expr::value(json.clone()))
            .col_expr(Column::Version, Expr::value(next.0))
            .col_expr(Column::UpdatedAt, Expr::value(updated_at))
            .filter(Column::Id.eq(ROW_ID))
            .filter(Column::Version.eq(expected.0))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if updated.rows_affected == 1 {
            return Ok(next);
        }
        if expected != Version::INITIAL {
            return Err(RepoError::Conflict(Conflict::Version));
        }
        let row = ActiveModel {
            id: Set(ROW_ID.to_owned()),
            settings: Set(json),
            version: Set(next.0),
            updated_at: Set(updated_at),
        };
        match Entity::insert(row).exec_without_returning(&self.db).await {
            Ok(_) => Ok(next),
            // Another writer saved first, from the defaults or not.
            Err(error) => match write_error(error) {
                RepoError::Conflict(_) => Err(RepoError::Conflict(Conflict::Version)),
                other => Err(other),
            },
        }
    }
}
