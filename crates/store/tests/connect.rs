//! Connecting: what `Store::connect` sets up on SQLite, and what it refuses; the reachability probe against a real
//! PostgreSQL server (the refused and silent cases are unit tests in `src/probe.rs`).

#[expect(unused_macros, reason = "no suite here: only the test databases")]
mod support;

use std::time::Duration;

use latchkey_store::{Reachability, Store, StoreError};
use sea_orm::{ConnectionTrait, Statement};
use support::TestDatabase;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

async fn pragma(store: &Store, name: &str) -> String {
    let connection = store.connection();
    let row = connection
        .query_one_raw(Statement::from_string(connection.get_database_backend(), format!("PRAGMA {name}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|number| number.to_string()))
        .unwrap()
}

#[tokio::test]
async fn connecting_creates_a_missing_sqlite_file_in_wal_mode() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("fresh.db");
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();

    assert!(path.exists());
    assert_eq!(pragma(&store, "journal_mode").await, "wal");
    assert_eq!(pragma(&store, "foreign_keys").await, "1");
    assert_eq!(pragma(&store, "busy_timeout").await, "5000");
    // NORMAL is 1.
    assert_eq!(pragma(&store, "synchronous").await, "1");
}

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_schema_across_queries() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    for _ in 0..3 {
        // Would fail with "no such table" if the pool handed out a second, empty in-memory database.
        let rows = store.connection().execute_unprepared("SELECT count(*) FROM users").await;
        assert!(rows.is_ok(), "{rows:?}");
    }
}

#[tokio::test]
async fn an_explicit_read_only_mode_is_not_overridden() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("absent.db");
    let outcome = Store::connect(&format!("sqlite://{}?mode=ro", path.display())).await;
    assert!(matches!(outcome, Err(StoreError::Connect { .. })), "{outcome:?}");
    assert!(!path.exists());
}

#[tokio::test]
async fn sqlite_has_no_probe() {
    let database = TestDatabase::sqlite().await;
    assert!(database.store.database_probe().is_none());
    database.finish().await;
}

#[tokio::test]
async fn the_probe_reaches_postgres_and_keeps_calling_it_reachable_while_the_server_answers() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let mut probe = database.store.database_probe().expect("PostgreSQL has a probe");
    assert_eq!(probe.check(PROBE_TIMEOUT).await, Reachability::Reachable);
    assert_eq!(probe.check(PROBE_TIMEOUT).await, Reachability::Reachable, "again, on the kept connection");

    // Dropping the database ends the probe's connection (WITH FORCE). The server still answers, with an error of
    // its own ("database does not exist"), which the pool's statements also get at once: nothing to wait out.
    database.finish().await;
    assert_eq!(probe.check(PROBE_TIMEOUT).await, Reachability::Reachable);
}
