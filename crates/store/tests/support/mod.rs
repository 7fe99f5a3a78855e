//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database on the server named by
//! `LATCHKEY_TEST_DATABASE_URL`, each with the schema built by the real migrations.

/// Instantiates every suite test once per backend.
macro_rules! store_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let database = crate::support::TestDatabase::sqlite().await;
                    crate::suite::$test(&database.store).await;
                    database.finish().await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(database) = crate::support::TestDatabase::postgres().await else { return };
                    crate::suite::$test(&database.store).await;
                    database.finish().await;
                }
            )*
        }
    };
}

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_store::Store;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tempfile::TempDir;

/// The server to create PostgreSQL test databases on, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VARIABLE: &str = "LATCHKEY_TEST_DATABASE_URL";
const DATABASE_PREFIX: &str = "latchkey_test_";
/// Databases that a crashed run left behind are dropped by a later run once they are this old.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// A migrated database that lives as long as the test. Call [`TestDatabase::finish`] at the end; if the test
/// panics first, `Drop` still removes a PostgreSQL database.
pub struct TestDatabase {
    pub store: Store,
    place: Place,
}

enum Place {
    Sqlite(#[allow(dead_code, reason = "held so that the directory outlives the store")] TempDir),
    Postgres { admin_url: String, name: String },
    Gone,
}

impl TestDatabase {
    pub async fn sqlite() -> TestDatabase {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/latchkey.db", directory.path().display());
        let store = Store::connect(&url).await.expect("SQLite opens");
        store.migrate().await.expect("migrations run on SQLite");
        TestDatabase { store, place: Place::Sqlite(directory) }
    }

    /// `None` (after a note on stderr) when no PostgreSQL server is configured, so that `cargo test` passes
    /// without services.
    pub async fn postgres() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VARIABLE) else {
            eprintln!("{POSTGRES_URL_VARIABLE} is not set: skipping the PostgreSQL variant of this test");
            return None;
        };
        let admin =
            Database::connect(admin_url.as_str()).await.expect("the PostgreSQL test server accepts connections");
        drop_stale_databases_once(&admin).await;
        let name = unique_database_name();
        execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await;
        admin.close().await.expect("the admin connection closes");

        let store = Store::connect(&with_database(&admin_url, &name)).await.expect("the test database opens");
        let database = TestDatabase { store, place: Place::Postgres { admin_url, name } };
        database.store.migrate().await.expect("migrations run on PostgreSQL");
        Some(database)
    }

    /// Closes the pool and removes the database.
    pub async fn finish(mut self) {
        self.store.connection().close_by_ref().await.expect("the pool closes");
        if let Place::Postgres { admin_url, name } = std::mem::replace(&mut self.place, Place::Gone) {
            drop_database(&admin_url, &name).await;
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Place::Postgres { admin_url, name } = std::mem::replace(&mut self.place, Place::Gone) else { return };
        // Reached only when the test panicked before `finish`. Drop cannot await, and the test's runtime may be
        // unwinding, so a thread of its own runs the cleanup on a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(drop_database(&admin_url, &name));
        });
        let _ = cleanup.join();
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    let admin = Database::connect(admin_url).await.expect("the PostgreSQL test server accepts connections");
    // FORCE ends connections that a failed test left open.
    execute(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
    let _ = admin.close().await;
}

/// Removes `latchkey_test_<seconds>_…` databases older than [`STALE_AFTER`] (left by killed runs), once per process.
async fn drop_stale_databases_once(admin: &DatabaseConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{DATABASE_PREFIX}%'"),
        ))
        .await
        .expect("pg_database is readable");
    let now = seconds_since_epoch();
    for row in rows {
        let name: String = row.try_get("", "datname").expect("datname is text");
        let created = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|seconds| seconds.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            execute(admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// `latchkey_test_<seconds since epoch>_<process id>_<counter>`: unique across parallel tests and runs, and
/// datable by the stale sweep.
fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{DATABASE_PREFIX}{}_{}_{counter}", seconds_since_epoch(), std::process::id())
}

// Test scaffolding, not logic: the clock only names and ages scratch databases.
#[allow(clippy::disallowed_methods)]
fn seconds_since_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// `url` pointing at database `name` instead of the one it names.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

async fn execute(connection: &DatabaseConnection, sql: &str) {
    connection.execute_unprepared(sql).await.unwrap_or_else(|error| panic!("`{sql}` failed: {error}"));
}

/// Audit entries for the writes the suites make: the repository stores one with every change to a user.
#[allow(dead_code, reason = "each test binary uses the helpers it needs")]
pub mod audit {
    use latchkey_domain::audit::{AuditContext, AuditEntry, keys};
    use latchkey_domain::ports::{RepoError, UserChange};
    use latchkey_domain::{IdGenerator, RandomIds, Timestamp, User, UserId, UserRepository};
    use latchkey_store::Store;
    use serde_json::Map;

    pub fn entry(user_id: &UserId, key: &str) -> AuditEntry {
        AuditEntry::about(
            RandomIds.entity_id(),
            key,
            user_id,
            &AuditContext::system(),
            Map::new(),
            Timestamp::from_millis(1),
        )
    }

    pub fn created(user: &User) -> AuditEntry {
        entry(&user.id, keys::USER_CREATED)
    }

    pub fn changed(user: &User) -> UserChange {
        UserChange::logged(entry(&user.id, keys::USER_DATA_UPDATED))
    }

    /// Deletes the user as it is stored now, restorable for as long as a test could need.
    pub async fn delete_user(store: &Store, id: &UserId) -> Result<(), RepoError> {
        let user = store.users().find_by_id(id).await?.ok_or(RepoError::NotFound)?;
        store.users().delete(&user, Timestamp::from_millis(i64::MAX), &entry(id, keys::USER_DELETED)).await
    }
}
