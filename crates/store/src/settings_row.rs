//! The deployment's one-row settings tables (`account_center`, `sign_in_experience`: `id`, JSON `settings`,
//! `version`, `updated_at`), read and saved the same way: no row means the defaults at the initial version, and a
//! save names the version it read, so that of two concurrent saves exactly one wins.
//!
//! Nearly every Account API request and every sign-in reads one of these rows, and they change a few times a year:
//! a [`CachedRow`] keeps the last read for [`SETTINGS_TTL`]. A save through the same [`crate::Store`] replaces the
//! copy at once; another instance (or process) on the database sees the change within the TTL.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use latchkey_domain::Timestamp;
use latchkey_domain::ports::{Conflict, RepoError};
use latchkey_domain::user::Version;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::db_errors::{corrupt, unavailable, write_error};

/// The key of the one row (Logto's `default`).
const ROW_ID: &str = "default";

/// One settings table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettingsRow {
    pub(crate) table: &'static str,
}

impl SettingsRow {
    /// The stored settings and their version, or the defaults at [`Version::INITIAL`] when never saved.
    pub(crate) async fn load<T: DeserializeOwned + Default>(
        self,
        db: &DatabaseConnection,
    ) -> Result<(T, Version), RepoError> {
        let query = Query::select()
            .columns([Alias::new("settings"), Alias::new("version")])
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("id")).eq(ROW_ID))
            .to_owned();
        let Some(row) = db.query_one(&query).await.map_err(unavailable)? else {
            return Ok((T::default(), Version::INITIAL));
        };
        let read_error = |error: sea_orm::DbErr| corrupt(self.table, ROW_ID, error);
        let settings: Value = row.try_get("", "settings").map_err(read_error)?;
        let version: i64 = row.try_get("", "version").map_err(read_error)?;
        let settings = serde_json::from_value(settings).map_err(|error| corrupt(self.table, ROW_ID, error))?;
        Ok((settings, Version(version)))
    }

    /// Saves `settings` if the stored version is still `expected`; answers the new version, or
    /// `Conflict(Version)` when another writer saved first.
    pub(crate) async fn save<T: Serialize>(
        self,
        db: &DatabaseConnection,
        settings: &T,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, RepoError> {
        let json = serde_json::to_value(settings).map_err(|error| corrupt(self.table, ROW_ID, error))?;
        let next = expected.next();
        // A conditional update decides between concurrent writers; only the never-saved defaults are inserted.
        let update = Query::update()
            .table(Alias::new(self.table))
            .value(Alias::new("settings"), json.clone())
            .value(Alias::new("version"), next.0)
            .value(Alias::new("updated_at"), now.as_millis())
            .and_where(Expr::col(Alias::new("id")).eq(ROW_ID))
            .and_where(Expr::col(Alias::new("version")).eq(expected.0))
            .to_owned();
        if db.execute(&update).await.map_err(unavailable)?.rows_affected() == 1 {
            return Ok(next);
        }
        if expected != Version::INITIAL {
            return Err(RepoError::Conflict(Conflict::Version));
        }
        let insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns([Alias::new("id"), Alias::new("settings"), Alias::new("version"), Alias::new("updated_at")])
            .values_panic([ROW_ID.into(), json.into(), next.0.into(), now.as_millis().into()])
            .to_owned();
        match db.execute(&insert).await {
            Ok(_) => Ok(next),
            // Another writer saved first, from the defaults or not.
            Err(error) => match write_error(error) {
                RepoError::Conflict(_) => Err(RepoError::Conflict(Conflict::Version)),
                other => Err(other),
            },
        }
    }
}

/// How long a [`CachedRow`] trusts its copy: the longest another instance acts on settings saved elsewhere.
pub const SETTINGS_TTL: Duration = Duration::from_millis(500);

/// One settings row with the store's copy of its last read. Shared by every repository a [`crate::Store`] hands out.
#[derive(Debug)]
pub(crate) struct CachedRow<T> {
    row: SettingsRow,
    ttl: Duration,
    slot: Mutex<Slot<T>>,
}

#[derive(Debug)]
struct Slot<T> {
    /// Bumped by every save, so that a read that started before a save cannot put back what the save replaced.
    generation: u64,
    copy: Option<(Instant, T, Version)>,
}

impl<T: Clone + Serialize + DeserializeOwned + Default> CachedRow<T> {
    pub(crate) fn new(row: SettingsRow, ttl: Duration) -> Self {
        Self { row, ttl, slot: Mutex::new(Slot { generation: 0, copy: None }) }
    }

    /// [`SettingsRow::load`], answered from the copy while it is younger than the TTL.
    pub(crate) async fn load(&self, db: &DatabaseConnection) -> Result<(T, Version), RepoError> {
        let generation = {
            let slot = self.slot();
            if let Some((read_at, settings, version)) = &slot.copy
                && read_at.elapsed() < self.ttl
            {
                return Ok((settings.clone(), *version));
            }
            slot.generation
        };
        let (settings, version) = self.row.load::<T>(db).await?;
        let mut slot = self.slot();
        if slot.generation == generation {
            slot.copy = Some((monotonic_now(), settings.clone(), version));
        }
        Ok((settings, version))
    }

    /// [`SettingsRow::save`]; the copy becomes what was saved, or is dropped when the save failed.
    pub(crate) async fn save(
        &self,
        db: &DatabaseConnection,
        settings: &T,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, RepoError> {
        let saved = self.row.save(db, settings, expected, now).await;
        let mut slot = self.slot();
        slot.generation += 1;
        slot.copy = saved.as_ref().ok().map(|version| (monotonic_now(), settings.clone(), *version));
        saved
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        // The slot holds a copy only; one left by a panicking thread is still a valid copy.
        self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The age of a copy is measured on the monotonic clock: a wall-clock step back must not keep a copy forever.
#[expect(clippy::disallowed_methods, reason = "a cache's age, not a time the domain reasons about")]
fn monotonic_now() -> Instant {
    Instant::now()
}
