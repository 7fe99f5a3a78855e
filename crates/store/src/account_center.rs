//! [`SeaAccountCenterRepository`]: the domain's `AccountCenterRepository` on sea-orm, one row in `account_center`.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::account_center::{AccountCenterRepository, AccountCenterSettings, VersionedSettings};
use latchkey_domain::ports::RepoError;
use latchkey_domain::user::Version;
use sea_orm::DatabaseConnection;

use crate::settings_row::SettingsRow;

const ROW: SettingsRow = SettingsRow { table: "account_center" };

/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaAccountCenterRepository {
    db: DatabaseConnection,
}

impl SeaAccountCenterRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AccountCenterRepository for SeaAccountCenterRepository {
    async fn get(&self) -> Result<VersionedSettings, RepoError> {
        let (settings, version) = ROW.load::<AccountCenterSettings>(&self.db).await?;
        Ok(VersionedSettings { settings, version })
    }

    async fn save(
        &self,
        settings: &AccountCenterSettings,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, RepoError> {
        ROW.save(&self.db, settings, expected, now).await
    }
}
