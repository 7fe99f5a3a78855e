//! `spawn_app()` and friends: each test gets its own server, data directory and database.

use std::path::Path;

use latchkey_server::{Application, Settings};
use reqwest::Response;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tempfile::TempDir;
use url::Url;

/// The variable naming a PostgreSQL server (any database on it) on which tests create throwaway databases.
pub const TEST_DATABASE_URL_VARIABLE: &str = "LATCHKEY_TEST_DATABASE_URL";

/// `<endpoint>/api`, the Management API's resource indicator, for the default endpoint.
pub const MANAGEMENT_API: &str = "http://127.0.0.1:3001/api";
/// The built-in first-party SPA app every server makes exist at start.
pub const ACCOUNT_PAGE_APP_ID: &str = "account-page";

/// Asserts an API error in Logto's shape: `status`, `code` and a non-empty `message`; returns the body. `context`
/// (the backend, or what was asked) goes into the failure message.
pub async fn expect_api_error(response: Response, status: u16, code: &str, context: &str) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("on {context}: not JSON: {actual} {text}"));
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "on {context}: {body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "on {context}: {body}");
    body
}

/// A server running in the test's runtime.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    /// Which database this app runs on, for assertion messages.
    pub backend: &'static str,
    // Dropped with the app: the data directory, and the PostgreSQL database if any.
    data_dir: TempDir,
    _database: Option<TestDatabase>,
}

impl TestApp {
    /// The server's data directory (SQLite file, key files).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }
}

/// One app per database backend under test: SQLite, plus PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set.
pub async fn spawn_apps() -> Vec<TestApp> {
    let mut apps = vec![spawn_app().await];
    if let Some(server_url) = postgres_server_url() {
        let database = TestDatabase::create(&server_url).await;
        apps.push(spawn_app_with(Some(database)).await);
    }
    apps
}

/// A server on the embedded default: a SQLite file in a fresh data directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(None).await
}

async fn spawn_app_with(database: Option<TestDatabase>) -> TestApp {
    let data_dir = tempfile::tempdir().expect("creating a temporary data directory");
    let settings = test_settings(data_dir.path(), database.as_ref().map(|database| database.url.clone()));
    let application = Application::build(&settings).await.expect("building the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        backend: if database.is_some() { "postgres" } else { "sqlite" },
        data_dir,
        _database: database,
    }
}

/// Settings for a test server: a free port, the given data directory and database, quiet password hashing.
pub fn test_settings(data_dir: &Path, database_url: Option<String>) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().expect("a valid address"),
        data_dir: data_dir.to_owned(),
        database_url,
        shutdown_timeout_secs: 1,
        ..Settings::default()
    }
}

pub fn postgres_server_url() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_VARIABLE).ok().filter(|url| !url.is_empty())
}

/// A uniquely named PostgreSQL database, dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    name: String,
    server_url: String,
}

impl TestDatabase {
    pub async fn create(server_url: &str) -> Self {
        let name = format!("latchkey_test_{}", uuid_like());
        let admin = Database::connect(server_url).await.expect("connecting to LATCHKEY_TEST_DATABASE_URL");
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("creating a test database");
        admin.close().await.expect("closing the admin connection");
        let mut url = Url::parse(server_url).expect("LATCHKEY_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Self { url: url.to_string(), name, server_url: server_url.to_owned() }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop cannot await, and may run inside a runtime: a thread with its own runtime does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let admin = Database::connect(&server_url).await.expect("connecting to drop the test database");
                // FORCE: the server under test may still hold pooled connections.
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .expect("dropping the test database");
                admin.close().await.expect("closing the admin connection");
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("dropping test database {} failed", self.name);
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16).map(|_| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.random_range(0..36)])).collect()
}
