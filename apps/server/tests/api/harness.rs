//! A running server plus a `Store` on the same database, for tests that create applications, users, sessions and
//! credentials directly and then talk HTTP to the server. Runs on every backend under test.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use biscuit_auth::KeyPair;
use latchkey_auth::{IssuedTokens, KeyRing, NewSession, SessionTokens, TokenLifetimes};
use latchkey_domain::account_center::{AccountCenterRepository, AccountCenterSettings};
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType, MANAGEMENT_API_ROLE};
use latchkey_domain::audit::{Actor, AuditContext, AuditEntry, keys};
use latchkey_domain::personal_access_token::{PersonalAccessToken, PersonalAccessTokenRepository};
use latchkey_domain::ports::{UserChange, UserRepository};
use latchkey_domain::session::RevokeReason;
use latchkey_domain::subject_token::{SubjectToken, SubjectTokenRepository};
use latchkey_domain::user::Version;
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, User, UserId};
use latchkey_server::Settings;
use latchkey_server::bootstrap;
use latchkey_server::data_dir::DataDir;
use latchkey_store::Store;
use reqwest::Response;
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{MANAGEMENT_API, TestDatabase, postgres_server_url, test_settings};

/// A running server plus a store on its database.
pub struct TokenApp {
    pub backend: &'static str,
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    data_dir: TempDir,
    _database: Option<TestDatabase>,
}

/// An application as a test uses it: its id, and its secret when it is confidential.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

impl Client {
    /// The client's authentication as form fields: `client_id`, and `client_secret` when it has one.
    pub fn form_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![("client_id", self.id.clone())];
        fields.extend(self.secret.iter().map(|secret| ("client_secret", secret.clone())));
        fields
    }
}

impl TokenApp {
    /// One per backend: SQLite, plus PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set.
    pub async fn all() -> Vec<TokenApp> {
        Self::all_with(|_| {}).await
    }

    /// As [`TokenApp::all`], with settings changed by `configure` (e.g. the message connector).
    pub async fn all_with(configure: impl Fn(&mut Settings)) -> Vec<TokenApp> {
        let mut apps = vec![Self::start(None, &configure).await];
        if let Some(server_url) = postgres_server_url() {
            apps.push(Self::start(Some(TestDatabase::create(&server_url).await), &configure).await);
        }
        apps
    }

    async fn start(database: Option<TestDatabase>, configure: &impl Fn(&mut Settings)) -> TokenApp {
        let data_dir = TempDir::new().unwrap();
        let mut settings = test_settings(data_dir.path(), database.as_ref().map(|database| database.url.clone()));
        configure(&mut settings);
        let application = latchkey_server::Application::build(&settings).await.expect("building the application");
        let address = format!("http://127.0.0.1:{}", application.port());
        // The server's own store, so that settings the tests save apply at once.
        let store = application.store().clone();
        tokio::spawn(application.run_until_stopped());
        // The Account API answers only while the account center is on, and Logto's default is off.
        let enabled = AccountCenterSettings { enabled: true, ..AccountCenterSettings::default() };
        store
            .account_center()
            .save(&enabled, Version::INITIAL, SystemClock.now())
            .await
            .expect("enabling the account center");
        TokenApp {
            backend: if database.is_some() { "postgres" } else { "sqlite" },
            address,
            client: reqwest::Client::new(),
            store,
            data_dir,
            _database: database,
        }
    }

    /// The server's data directory (key files, SQLite database).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// `<endpoint>/api` for the test settings' default endpoint.
    pub fn management_api(&self) -> &'static str {
        MANAGEMENT_API
    }

    pub async fn management_app(&self) -> (String, String) {
        let credentials = bootstrap::create_management_app(&self.store.applications(), "tests", SystemClock.now())
            .await
            .expect("creating a management app");
        (credentials.client_id, credentials.client_secret.expose().to_owned())
    }

    /// A Management API token (`client_credentials`, scope `all`) of a fresh management app, from `/oidc/token`.
    pub async fn management_token(&self) -> String {
        let (client_id, client_secret) = self.management_app().await;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("resource", self.management_api()),
            ("scope", "all"),
        ];
        let response = self.post(None, &form).await;
        let body: Value = response.json().await.expect("a JSON body");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("a management token on {}: {body}", self.backend))
            .to_owned()
    }

    /// An app of `app_type`, with or without Management API access, and its secret.
    pub async fn app(&self, app_type: ApplicationType, management_access: bool) -> (String, String) {
        let now = SystemClock.now();
        let mut application = Application::new(RandomIds.entity_id(), "other".to_owned(), app_type, now);
        let secret = application.add_generated_secret("default".to_owned(), now, None);
        if management_access {
            application.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        }
        self.store.applications().insert(&application).await.expect("inserting an application");
        (application.id, secret.expose().to_owned())
    }

    /// A first-party app of `app_type`, allowed token exchange or not; confidential types get a secret.
    pub async fn user_app(&self, app_type: ApplicationType, allow_token_exchange: bool) -> Client {
        let now = SystemClock.now();
        let mut application = Application::new(RandomIds.entity_id(), "user app".to_owned(), app_type, now);
        let secret = app_type
            .is_confidential()
            .then(|| application.add_generated_secret("default".to_owned(), now, None).expose().to_owned());
        application.custom_client_metadata.allow_token_exchange = allow_token_exchange;
        self.store.applications().insert(&application).await.expect("inserting an application");
        Client { id: application.id, secret }
    }

    pub async fn user(&self) -> UserId {
        let user = User::new(RandomIds.user_id(), SystemClock.now());
        self.insert_user(&user).await;
        user.id
    }

    /// Stores `user` directly, logged as the test's doing.
    pub async fn insert_user(&self, user: &User) {
        let entry = harness_entry(&user.id, keys::USER_CREATED);
        self.store.users().insert(user, &entry).await.expect("inserting a user");
    }

    /// Suspends the user directly in the store, ending its sessions, as the Management API does.
    pub async fn suspend(&self, user_id: &UserId) {
        let users = self.store.users();
        let mut user = users.find_by_id(user_id).await.unwrap().expect("the user exists");
        user.is_suspended = true;
        let change = UserChange::logged(harness_entry(user_id, keys::USER_SUSPENSION_UPDATED))
            .ending_sessions(RevokeReason::UserSuspended);
        users.update(&user, &change).await.expect("suspending the user");
    }

    /// Sessions and tokens minted with the server's own keys on the server's database, as sign-in makes them.
    pub fn session_tokens(&self) -> SessionTokens {
        SessionTokens::new(
            Arc::new(self.store.sessions()),
            Arc::new(self.store.token_state()),
            Arc::new(self.key_ring()),
            Arc::new(SystemClock),
            Arc::new(RandomIds),
            TokenLifetimes::default(),
        )
    }

    /// A signed-in session of `user_id` through `client_id` with a refresh token, as the sign-in API starts one.
    pub async fn sign_in(&self, user_id: &UserId, client_id: &str, scopes: &[&str]) -> IssuedTokens {
        let scopes = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        let new = NewSession { with_refresh_token: true, ..NewSession::account(user_id.clone(), client_id, scopes) };
        self.session_tokens().start(new).await.expect("starting a session")
    }

    /// A fresh `sub_…` subject token for the user.
    pub async fn subject_token(&self, user_id: &UserId) -> String {
        let (value, token) =
            SubjectToken::issue(user_id.clone(), serde_json::json!({}), "tests".to_owned(), SystemClock.now());
        let entry = harness_entry(user_id, keys::USER_IMPERSONATION_STARTED);
        self.store.subject_tokens().insert(&token, &entry).await.expect("inserting a subject token");
        value.expose().to_owned()
    }

    /// A fresh `pat_…` personal access token for the user, and the stored token.
    pub async fn personal_access_token(&self, user_id: &UserId) -> (String, PersonalAccessToken) {
        let (value, token) = PersonalAccessToken::issue(
            RandomIds.entity_id(),
            user_id.clone(),
            format!("token {}", RandomIds.entity_id()),
            SystemClock.now(),
            None,
        );
        let entry = harness_entry(user_id, keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED);
        self.store.personal_access_tokens().create(&token, &entry).await.expect("inserting a personal access token");
        (value.expose().to_owned(), token)
    }

    /// `POST /oidc/token`, with HTTP Basic client authentication when `basic` is given.
    pub async fn post(&self, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> Response {
        self.post_form("/oidc/token", basic, form).await
    }

    pub async fn post_form(&self, path: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.address)).form(form);
        if let Some((id, secret)) = basic {
            request = request.header("Authorization", format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))));
        }
        request.send().await.expect("the server answers")
    }

    /// `GET /api/my-account` with `token`: 200 while the token lives, 401 once revoked.
    pub async fn my_account(&self, token: &str) -> Response {
        self.client
            .get(format!("{}/api/my-account", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("the server answers")
    }

    /// The server's token keys, from its data directory.
    pub fn key_ring(&self) -> KeyRing {
        let signing = DataDir::prepare(self.data_dir.path()).unwrap().load_or_create_keys().unwrap().signing;
        let active = signing.active().kid().to_owned();
        let pairs = signing.all().iter().map(|key| (key.kid().to_owned(), KeyPair::from(&key.key_pair().private())));
        KeyRing::new(pairs).unwrap().signing_with(&active).unwrap()
    }
}

/// Asserts status and OAuth error in Logto's shape, and returns the body.
pub async fn expect_oauth_error(response: Response, status: u16, error: &str, backend: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "on {backend}");
    assert_eq!(response.headers()["cache-control"], "no-store", "on {backend}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], error, "on {backend}: {body}");
    assert_eq!(body["code"], format!("oidc.{error}"), "on {backend}: {body}");
    assert_eq!(body["message"], format!("An OIDC error occurred: oidc.{error}."), "on {backend}: {body}");
    assert!(body["error_description"].is_string(), "on {backend}: {body}");
    body
}

/// Asserts a 200 token response and returns its body.
pub async fn expect_tokens(response: Response, backend: &str) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, 200, "on {backend}: {body}");
    assert_eq!(body["token_type"], "Bearer", "on {backend}: {body}");
    assert!(body["access_token"].is_string(), "on {backend}: {body}");
    body
}

/// Asserts that `GET /api/my-account` refuses the token with Logto's 401 `auth.unauthorized`.
pub async fn expect_unauthorized(app: &TokenApp, token: &str) {
    let response = app.my_account(token).await;
    assert_eq!(response.status().as_u16(), 401, "on {}", app.backend);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["code"], "auth.unauthorized", "on {}: {body}", app.backend);
}

/// Asserts that `GET /api/my-account` accepts the token.
pub async fn expect_accepted(app: &TokenApp, token: &str) {
    let response = app.my_account(token).await;
    let status = response.status().as_u16();
    assert_eq!(status, 200, "on {}: {}", app.backend, response.text().await.unwrap_or_default());
}

/// Who the harness's direct writes are logged as.
pub fn harness_context() -> AuditContext {
    AuditContext::new(Actor::Operator { name: "test harness".to_owned() })
}

pub fn harness_entry(user_id: &UserId, key: &str) -> AuditEntry {
    AuditEntry::about(
        RandomIds.entity_id(),
        key,
        user_id,
        &harness_context(),
        serde_json::Map::new(),
        SystemClock.now(),
    )
}
