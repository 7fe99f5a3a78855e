//! [`SeaSignInExperienceRepository`]: the domain's `SignInExperienceRepository` on sea-orm, one row in
//! `sign_in_experience`, saved with a version check as the account-center row is.

use async_trait::async_trait;
use latchkey_domain::Timestamp;
use latchkey_domain::ports::RepoError;
use latchkey_domain::sign_in_experience::{SignInExperience, SignInExperienceRepository, VersionedSignInExperience};
use latchkey_domain::user::Version;
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::settings_row::{CachedRow, SETTINGS_TTL, SettingsRow};

/// Cheap to clone; clones share one copy of the row, trusted for [`crate::SETTINGS_TTL`].
#[derive(Debug, Clone)]
pub struct SeaSignInExperienceRepository {
    db: DatabaseConnection,
    row: Arc<CachedRow<SignInExperience>>,
}

impl SeaSignInExperienceRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, row: Arc::new(CachedRow::new(SettingsRow { table: "sign_in_experience" }, SETTINGS_TTL)) }
    }
}

#[async_trait]
impl SignInExperienceRepository for SeaSignInExperienceRepository {
    async fn get(&self) -> Result<VersionedSignInExperience, RepoError> {
        let (settings, version) = self.row.load(&self.db).await?;
        Ok(VersionedSignInExperience { settings, version })
    }

    async fn save(&self, settings: &SignInExperience, expected: Version, now: Timestamp) -> Result<Version, RepoError> {
        self.row.save(&self.db, settings, expected, now).await
    }
}
