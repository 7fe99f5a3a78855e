//! [`SeaAccountCenterRepository`]: the domain's `AccountCenterRepository` on sea-orm, one row in `account_center`.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::account_center::{AccountCenterRepository, AccountCenterSettings, VersionedSettings};
use latchkey_domain::ports::RepoError;
use latchkey_domain::user::Version;
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::settings_row::{CachedRow, SETTINGS_TTL, SettingsRow};

/// Cheap to clone; clones share one copy of the row, trusted for [`crate::SETTINGS_TTL`].
#[derive(Debug, Clone)]
pub struct SeaAccountCenterRepository {
    db: DatabaseConnection,
    row: Arc<CachedRow<AccountCenterSettings>>,
}

impl SeaAccountCenterRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, row: Arc::new(CachedRow::new(SettingsRow { table: "account_center" }, SETTINGS_TTL)) }
    }
}

#[async_trait]
impl AccountCenterRepository for SeaAccountCenterRepository {
    async fn get(&self) -> Result<VersionedSettings, RepoError> {
        let (settings, version) = self.row.load(&self.db).await?;
        Ok(VersionedSettings { settings, version })
    }

    async fn save(
        &self,
        settings: &AccountCenterSettings,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, RepoError> {
        self.row.save(&self.db, settings, expected, now).await
    }
}
