//! The bootstrap app, in process on every backend under test: the generated one appears once per database, and
//! the operator's configured one appears (or gains the configured secret) with Management API access. What the
//! binary prints is tested in `binary`.

use async_trait::async_trait;
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::ports::{Page, Pagination, RepoError};
use latchkey_domain::secrets::OpaqueSecret;
use latchkey_domain::{Clock, SystemClock, Timestamp};
use latchkey_server::Settings;
use latchkey_server::bootstrap::{self, BOOTSTRAP_APP_ID, BOOTSTRAP_APP_NAME};
use latchkey_server::settings::BootstrapSecret;
use latchkey_store::{SeaApplicationRepository, Store};
use tempfile::TempDir;

use crate::helpers::{TestDatabase, postgres_server_url, test_settings};

/// A data directory and database that outlive any one server start.
struct Backend {
    name: &'static str,
    data_dir: TempDir,
    database: Option<TestDatabase>,
}

impl Backend {
    /// SQLite, plus PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set.
    async fn all() -> Vec<Backend> {
        let mut backends = vec![Backend { name: "sqlite", data_dir: TempDir::new().unwrap(), database: None }];
        if let Some(server_url) = postgres_server_url() {
            let database = TestDatabase::create(&server_url).await;
            backends.push(Backend { name: "postgres", data_dir: TempDir::new().unwrap(), database: Some(database) });
        }
        backends
    }

    /// Without the account page, whose built-in app would add to the applications these tests count
    /// (`account_page.rs` tests that one).
    fn settings(&self) -> Settings {
        let database_url = self.database.as_ref().map(|database| database.url.clone());
        Settings { account_page: false, ..test_settings(self.data_dir.path(), database_url) }
    }

    /// Starts a server on this backend with the given bootstrap credentials, as `serve` would.
    async fn start_with(&self, client_id: &str, secret: &str) {
        let settings = Settings {
            bootstrap_client_id: Some(client_id.to_owned()),
            bootstrap_client_secret: Some(bootstrap_secret(secret)),
            ..self.settings()
        };
        let application = latchkey_server::Application::build(&settings).await.expect("building the application");
        tokio::spawn(application.run_until_stopped());
    }

    /// A store on this backend's database (after a first start, or migrated here).
    async fn store(&self) -> Store {
        std::fs::create_dir_all(self.data_dir.path()).unwrap();
        let store = Store::connect(&self.settings().database_url()).await.expect("connecting to the test database");
        store.migrate().await.expect("migrating");
        store
    }
}

fn bootstrap_secret(secret: &str) -> BootstrapSecret {
    serde_json::from_value(serde_json::Value::String(secret.to_owned())).expect("a bootstrap secret")
}

fn now() -> Timestamp {
    SystemClock.now()
}

async fn all_applications(store: &Store) -> Vec<Application> {
    let pagination = Pagination { page: 1, page_size: Pagination::MAX_PAGE_SIZE };
    store.applications().list(pagination).await.expect("listing applications").items
}

#[tokio::test]
async fn an_empty_database_gets_one_bootstrap_app_whose_secret_verifies_and_a_second_start_creates_none() {
    for backend in Backend::all().await {
        let store = backend.store().await;

        let created = bootstrap::ensure_management_app(&store.applications(), None, now()).await.unwrap();
        let again = bootstrap::ensure_management_app(&store.applications(), None, now()).await.unwrap();

        let credentials = created.unwrap_or_else(|| panic!("{}: no bootstrap app on an empty database", backend.name));
        assert!(again.is_none(), "{}: a second start created another app", backend.name);
        assert_eq!(credentials.client_id, BOOTSTRAP_APP_ID);
        let applications = all_applications(&store).await;
        assert_eq!(applications.len(), 1, "{}", backend.name);
        let app = &applications[0];
        assert_eq!(app.name, BOOTSTRAP_APP_NAME);
        assert_eq!(app.app_type, ApplicationType::MachineToMachine);
        assert!(app.has_management_api_access(), "{}", backend.name);
        assert!(app.verify_secret(credentials.client_secret.expose(), now()), "{}", backend.name);
    }
}

#[tokio::test]
async fn an_instance_that_checked_before_another_created_the_app_creates_no_second_one() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let first = bootstrap::ensure_management_app(&store.applications(), None, now()).await.unwrap();
        // The second instance still sees the empty table it read before the first one inserted.
        let second_view = StaleListing(store.applications());

        let second = bootstrap::ensure_management_app(&second_view, None, now()).await.unwrap();

        assert!(first.is_some(), "{}", backend.name);
        assert!(second.is_none(), "{}: the second instance printed credentials too", backend.name);
        assert_eq!(all_applications(&store).await.len(), 1, "{}", backend.name);
    }
}

#[tokio::test]
async fn two_instances_bootstrapping_at_once_create_one_app() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let (first_store, second_store) = (store.clone(), store.clone());

        let (first, second) = tokio::join!(
            async move { bootstrap::ensure_management_app(&first_store.applications(), None, now()).await },
            async move { bootstrap::ensure_management_app(&second_store.applications(), None, now()).await },
        );

        let created = [first.unwrap(), second.unwrap()].into_iter().flatten().count();
        assert_eq!(created, 1, "{}: both or neither printed credentials", backend.name);
        assert_eq!(all_applications(&store).await.len(), 1, "{}", backend.name);
    }
}

/// The applications as a racing instance saw them: listing finds none, writes reach the real table.
struct StaleListing(SeaApplicationRepository);

#[async_trait]
impl ApplicationRepository for StaleListing {
    async fn insert(&self, application: &Application) -> Result<(), RepoError> {
        self.0.insert(application).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Application>, RepoError> {
        self.0.find_by_id(id).await
    }

    async fn list(&self, _pagination: Pagination) -> Result<Page<Application>, RepoError> {
        Ok(Page { items: Vec::new(), total: 0 })
    }

    async fn update(&self, application: &Application) -> Result<Application, RepoError> {
        self.0.update(application).await
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        self.0.delete(id).await
    }
}

#[tokio::test]
async fn no_bootstrap_app_is_generated_when_an_app_already_has_management_api_access() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let existing = bootstrap::create_management_app(&store.applications(), "Deployer", now()).await.unwrap();

        let created = bootstrap::ensure_management_app(&store.applications(), None, now()).await.unwrap();

        assert!(created.is_none(), "{}", backend.name);
        let applications = all_applications(&store).await;
        assert_eq!(applications.len(), 1, "{}", backend.name);
        assert_eq!(applications[0].id, existing.client_id);
    }
}

#[tokio::test]
async fn an_app_without_management_api_access_does_not_prevent_the_bootstrap_app() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let other =
            Application::new("plain-m2m".to_owned(), "Plain".to_owned(), ApplicationType::MachineToMachine, now());
        store.applications().insert(&other).await.unwrap();

        let created = bootstrap::ensure_management_app(&store.applications(), None, now()).await.unwrap();

        assert!(created.is_some(), "{}", backend.name);
    }
}

#[tokio::test]
async fn configured_credentials_create_that_app_with_management_api_access_and_the_secret_verifies() {
    for backend in Backend::all().await {
        backend.start_with("ci-bootstrap", "configured-secret-1234567890").await;

        let store = backend.store().await;
        let app = store.applications().find_by_id("ci-bootstrap").await.unwrap();
        let app = app.unwrap_or_else(|| panic!("{}: the configured app is missing", backend.name));
        assert_eq!(app.app_type, ApplicationType::MachineToMachine);
        assert!(app.has_management_api_access(), "{}", backend.name);
        assert!(app.verify_secret("configured-secret-1234567890", now()), "{}", backend.name);
        assert!(!app.verify_secret("configured-secret", now()), "{}", backend.name);
        let applications = all_applications(&store).await;
        assert_eq!(applications.len(), 1, "{}: a bootstrap app was generated as well", backend.name);
    }
}

#[tokio::test]
async fn configured_credentials_are_idempotent_and_a_new_secret_is_added_to_the_existing_app() {
    for backend in Backend::all().await {
        backend.start_with("ci-bootstrap", "first-secret-1234567890").await;
        backend.start_with("ci-bootstrap", "first-secret-1234567890").await;
        let store = backend.store().await;
        let after_restart = store.applications().find_by_id("ci-bootstrap").await.unwrap().unwrap();
        assert_eq!(after_restart.secrets.len(), 1, "{}: a restart added the same secret again", backend.name);

        backend.start_with("ci-bootstrap", "second-secret-1234567890").await;

        let app = store.applications().find_by_id("ci-bootstrap").await.unwrap().unwrap();
        assert!(app.verify_secret("first-secret-1234567890", now()), "{}", backend.name);
        assert!(app.verify_secret("second-secret-1234567890", now()), "{}", backend.name);
        assert_eq!(all_applications(&store).await.len(), 1, "{}", backend.name);
    }
}

#[tokio::test]
async fn configured_credentials_give_an_existing_m2m_app_management_api_access() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let mut existing = Application::new(
            "ci-bootstrap".to_owned(),
            "Existing".to_owned(),
            ApplicationType::MachineToMachine,
            now(),
        );
        existing.add_secret("old".to_owned(), &OpaqueSecret::new("old-secret"), now(), None);
        store.applications().insert(&existing).await.unwrap();

        backend.start_with("ci-bootstrap", "configured-secret-1234567890").await;

        let app = store.applications().find_by_id("ci-bootstrap").await.unwrap().unwrap();
        assert!(app.has_management_api_access(), "{}", backend.name);
        assert!(app.verify_secret("configured-secret-1234567890", now()), "{}", backend.name);
        assert!(app.verify_secret("old-secret", now()), "{}: the old secret was dropped", backend.name);
        assert_eq!(app.name, "Existing", "{}", backend.name);
    }
}

#[tokio::test]
async fn configured_credentials_naming_a_non_m2m_app_stop_the_start() {
    for backend in Backend::all().await {
        let store = backend.store().await;
        let existing = Application::new("web".to_owned(), "Web".to_owned(), ApplicationType::Traditional, now());
        store.applications().insert(&existing).await.unwrap();
        let settings = Settings {
            bootstrap_client_id: Some("web".to_owned()),
            bootstrap_client_secret: Some(bootstrap_secret("configured-secret-1234567890")),
            ..backend.settings()
        };

        let error = latchkey_server::Application::build(&settings).await.unwrap_err();

        assert!(error.to_string().contains("not a MachineToMachine app"), "{}: {error}", backend.name);
        let app = store.applications().find_by_id("web").await.unwrap().unwrap();
        assert!(!app.has_role(latchkey_domain::application::MANAGEMENT_API_ROLE), "{}", backend.name);
    }
}
