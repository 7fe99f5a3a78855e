//! # latchkey-store
//!
//! Latchkey's storage on sea-orm: the connection to SQLite (the embedded default) or PostgreSQL (production), the
//! crate-private sea-orm entities, the conversions between rows and domain types, and the implementations of the
//! domain's ports: [`SeaUserRepository`] (`UserRepository`), and for the credentials of the tokens layer the
//! account-center settings, the applications, sessions and refresh tokens, personal access tokens, subject tokens and the token-state query
//! that revocation checks run on every request, and on PostgreSQL a reachability probe outside the pool. Credential
//! secrets are stored only as SHA-256 hashes.
//!
//! **Architecture invariants:**
//! - `sea_orm::DbErr` never leaves this crate: callers see the domain's `RepoError` (`NotFound`, `Conflict`,
//!   `Unavailable` with a message for logs) or, when connecting, [`StoreError`].
//! - Entities stay `pub(crate)`; the public surface speaks domain types only.
//! - Every value a caller supplies reaches SQL as a bound parameter, never as spliced text.
//! - The schema belongs to `latchkey-migrations`; this crate changes it only by running those migrations
//!   ([`Store::migrate`]), never with DDL of its own.
//! - It knows nothing of HTTP, tokens or the API crates, reads no configuration or environment, and never logs a
//!   row (rows hold password digests and sealed MFA secrets).

mod account_center;
mod applications;
mod audit_log;
mod bulk;
mod convert;
mod credential_entity;
mod db_errors;
mod entity;
mod hooks;
mod personal_access_tokens;
mod probe;
mod roles;
mod search;
mod sessions;
mod settings_row;
mod sign_in;
mod sign_in_experience;
mod subject_tokens;
mod token_state;
mod users;
mod verification_codes;
mod verification_records;

use std::time::Duration;

use latchkey_domain::ports::RepoError;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};
use thiserror::Error;

pub use account_center::SeaAccountCenterRepository;
pub use applications::SeaApplicationRepository;
pub use audit_log::SeaAuditLogRepository;
pub use hooks::{SeaDeliveryOutbox, SeaHookRepository};
pub use personal_access_tokens::SeaPersonalAccessTokenRepository;
use probe::ProbeTarget;
pub use probe::{DatabaseProbe, Reachability};
pub use roles::SeaRoleRepository;
pub use sessions::SeaSessionRepository;
pub use settings_row::SETTINGS_TTL;
pub use sign_in::{SeaPendingMfaRepository, SeaSentinelRepository};
pub use sign_in_experience::SeaSignInExperienceRepository;
pub use subject_tokens::SeaSubjectTokenRepository;
pub use token_state::SeaTokenStateRepository;
pub use users::SeaUserRepository;
pub use verification_codes::SeaVerificationCodeRepository;
pub use verification_records::SeaVerificationRecordRepository;

/// How long a SQLite connection waits for another writer's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite in WAL mode serves many readers beside its one writer; more connections than this buy nothing on the
/// small machines the embedded default targets.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection pool to Latchkey's database and the repositories built on it. Cheap to clone; clones share the
/// copies of the settings rows (`account_center`, `sign_in_experience`), so a save through one is seen by all.
#[derive(Debug, Clone)]
pub struct Store {
    connection: DatabaseConnection,
    /// Where [`Store::database_probe`] connects: the pool's PostgreSQL server; `None` for SQLite and for a
    /// connection opened elsewhere.
    probe_target: Option<ProbeTarget>,
    account_center: SeaAccountCenterRepository,
    sign_in_experience: SeaSignInExperienceRepository,
}

/// Why [`Store::connect`] failed. Messages never contain the password of the URL.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL `{url}`: expected sqlite:… or postgres://…")]
    UnsupportedUrl { url: String },
    #[error("cannot connect to the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot migrate the database schema: {reason}")]
    Migrate { reason: String },
}

impl Store {
    /// Opens a pool to `url`: `sqlite://path/to/file.db` (created if missing unless the URL sets `mode=`),
    /// `sqlite::memory:`, or `postgres://user:password@host/database`. SQLite connections use WAL journaling,
    /// `synchronous=NORMAL`, foreign keys and a busy timeout.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let redacted = Redacted::new(url);
        let mut options = ConnectOptions::new(url);
        options.connect_timeout(CONNECT_TIMEOUT).acquire_timeout(ACQUIRE_TIMEOUT).sqlx_logging(false);
        if url.starts_with("sqlite:") {
            configure_sqlite(&mut options, url);
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            options.max_connections(POSTGRES_MAX_CONNECTIONS).min_connections(1).set_application_name("latchkey");
        } else {
            return Err(StoreError::UnsupportedUrl { url: redacted.url });
        }
        let cannot_connect = |error: &dyn std::fmt::Display| StoreError::Connect {
            reason: redacted.scrub(&error.to_string()),
            url: redacted.url.clone(),
        };
        let connection = Database::connect(options).await.map_err(|error| cannot_connect(&error))?;
        let mut store = Self::from_connection(connection);
        if store.connection.get_database_backend() == DatabaseBackend::Postgres {
            store.probe_target = Some(ProbeTarget::parse(url).map_err(|error| cannot_connect(&error))?);
        }
        Ok(store)
    }

    /// Wraps a connection opened elsewhere (an embedding program with its own pool settings).
    pub fn from_connection(connection: DatabaseConnection) -> Store {
        Store {
            probe_target: None,
            account_center: SeaAccountCenterRepository::new(connection.clone()),
            sign_in_experience: SeaSignInExperienceRepository::new(connection.clone()),
            connection,
        }
    }

    /// Brings the schema up to date by applying every pending migration of `latchkey-migrations`. Safe to run
    /// at every start and from several instances: applied migrations are recorded and skipped.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        use latchkey_migrations::MigratorTrait;
        latchkey_migrations::Migrator::up(&self.connection, None)
            .await
            .map_err(|error| StoreError::Migrate { reason: error.to_string() })
    }

    /// Whether the database answers: one `SELECT 1` on a pooled connection, for readiness checks. It waits as long
    /// as the pool's acquire timeout; a caller that must answer sooner bounds it with its own timeout.
    pub async fn ping(&self) -> Result<(), RepoError> {
        self.connection.execute_unprepared("SELECT 1").await.map(|_| ()).map_err(db_errors::unavailable)
    }

    /// A reachability check on a connection of its own, for a server that refuses requests at once while the
    /// database cannot be reached (the pool would make each wait its acquire timeout). `None` for SQLite, whose
    /// embedded file has no server to lose, and for a store made with [`Store::from_connection`].
    pub fn database_probe(&self) -> Option<DatabaseProbe> {
        self.probe_target.as_ref().map(DatabaseProbe::new)
    }

    /// The underlying pool, for running migrations (`Migrator::up(store.connection(), None)`).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// The domain's `UserRepository` on this pool (wrap it in an `Arc<dyn UserRepository>` to share it).
    pub fn users(&self) -> SeaUserRepository {
        SeaUserRepository::new(self.connection.clone())
    }

    pub fn audit_log(&self) -> SeaAuditLogRepository {
        SeaAuditLogRepository::new(self.connection.clone())
    }

    /// The domain's `AccountCenterRepository` (the account-center settings) on this pool.
    pub fn account_center(&self) -> SeaAccountCenterRepository {
        self.account_center.clone()
    }

    /// The domain's `SignInExperienceRepository` (password, username and MFA policies) on this pool.
    pub fn sign_in_experience(&self) -> SeaSignInExperienceRepository {
        self.sign_in_experience.clone()
    }

    /// The domain's `ApplicationRepository` on this pool.
    pub fn applications(&self) -> SeaApplicationRepository {
        SeaApplicationRepository::new(self.connection.clone())
    }

    /// The domain's `RoleRepository` (roles and users' roles) on this pool.
    pub fn roles(&self) -> SeaRoleRepository {
        SeaRoleRepository::new(self.connection.clone())
    }

    /// The domain's `SessionRepository` (sessions and refresh tokens) on this pool.
    pub fn sessions(&self) -> SeaSessionRepository {
        SeaSessionRepository::new(self.connection.clone())
    }

    /// The domain's `PersonalAccessTokenRepository` on this pool.
    pub fn personal_access_tokens(&self) -> SeaPersonalAccessTokenRepository {
        SeaPersonalAccessTokenRepository::new(self.connection.clone())
    }

    /// The domain's `SubjectTokenRepository` on this pool.
    pub fn subject_tokens(&self) -> SeaSubjectTokenRepository {
        SeaSubjectTokenRepository::new(self.connection.clone())
    }

    /// The domain's `TokenStateRepository` (revocation state for the token verifier) on this pool.
    pub fn token_state(&self) -> SeaTokenStateRepository {
        SeaTokenStateRepository::new(self.connection.clone())
    }

    /// The domain's `SentinelRepository` (failed sign-in checks per identifier) on this pool.
    pub fn sentinel(&self) -> SeaSentinelRepository {
        SeaSentinelRepository::new(self.connection.clone())
    }

    /// The domain's `PendingMfaRepository` (sign-ins waiting for a second factor) on this pool.
    pub fn pending_mfa(&self) -> SeaPendingMfaRepository {
        SeaPendingMfaRepository::new(self.connection.clone())
    }

    /// The domain's `VerificationCodeRepository` (email/phone codes and the per-recipient send log) on this pool.
    pub fn verification_codes(&self) -> SeaVerificationCodeRepository {
        SeaVerificationCodeRepository::new(self.connection.clone())
    }

    /// The domain's `VerificationRecordRepository` (the Account API's verification records) on this pool.
    pub fn verification_records(&self) -> SeaVerificationRecordRepository {
        SeaVerificationRecordRepository::new(self.connection.clone())
    }

    pub fn hooks(&self) -> SeaHookRepository {
        SeaHookRepository::new(self.connection.clone())
    }

    /// The webhook deliveries; they are added by the user writes that cause them, in the same transaction.
    pub fn hook_outbox(&self) -> SeaDeliveryOutbox {
        SeaDeliveryOutbox::new(self.connection.clone())
    }
}

fn configure_sqlite(options: &mut ConnectOptions, url: &str) {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let create_if_missing = !url.contains("mode=");
    if in_memory {
        // Every connection to `:memory:` is a database of its own, which vanishes with its connection: keep
        // exactly one, forever.
        options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
    } else {
        options.max_connections(SQLITE_MAX_CONNECTIONS).min_connections(1);
    }
    // The pool would ping each connection it hands out, a round trip to the connection's worker thread before every
    // statement or transaction. An embedded file has no server or network that could drop a connection, and a
    // broken one fails its statement anyway.
    options.test_before_acquire(false);
    options.map_sqlx_sqlite_opts(move |sqlite| {
        let sqlite = sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // `REGEXP`, for the `posix` and `similar_to` user searches (Rust's `regex`, linear time).
            .with_regexp();
        if create_if_missing { sqlite.create_if_missing(true) } else { sqlite }
    });
}

/// A database URL with its password masked, and the means to mask it in driver messages too.
struct Redacted {
    original: String,
    url: String,
    passwords: Vec<String>,
}

impl Redacted {
    const MASK: &'static str = "***";

    fn new(url: &str) -> Self {
        let mut passwords = Vec::new();
        let (before_query, query) = match url.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (url, None),
        };
        let mut redacted = before_query.to_owned();
        if let Some((scheme, rest)) = before_query.split_once("://") {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            if let Some((user_info, host)) = authority.rsplit_once('@')
                && let Some((user, password)) = user_info.split_once(':')
            {
                passwords.push(password.to_owned());
                redacted = format!("{scheme}://{user}:{}@{host}{path}", Self::MASK);
            }
        }
        if let Some(query) = query {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, value)) if key.eq_ignore_ascii_case("password") => {
                        passwords.push(value.to_owned());
                        format!("{key}={}", Self::MASK)
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            redacted = format!("{redacted}?{}", pairs.join("&"));
        }
        passwords.retain(|password| !password.is_empty());
        Self { original: url.to_owned(), url: redacted, passwords }
    }

    /// `message` with the URL replaced by its redacted form and any remaining password occurrence masked.
    fn scrub(&self, message: &str) -> String {
        let mut scrubbed = message.replace(&self.original, &self.url);
        for password in &self.passwords {
            scrubbed = scrubbed.replace(password.as_str(), Self::MASK);
        }
        scrubbed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_the_user_info_are_masked() {
        let redacted = Redacted::new("postgres://latchkey:s3cret@db.internal:5432/latchkey?sslmode=require");
        assert_eq!(redacted.url, "postgres://latchkey:***@db.internal:5432/latchkey?sslmode=require");
        assert_eq!(redacted.scrub("password authentication failed (s3cret)"), "password authentication failed (***)");
    }

    #[test]
    fn passwords_in_the_query_are_masked() {
        let redacted = Redacted::new("postgres://db/latchkey?user=a&password=hunter2");
        assert_eq!(redacted.url, "postgres://db/latchkey?user=a&password=***");
        let message = "The connection string 'postgres://db/latchkey?user=a&password=hunter2' cannot be parsed.";
        assert!(!redacted.scrub(message).contains("hunter2"));
    }

    #[test]
    fn urls_without_passwords_are_kept() {
        assert_eq!(Redacted::new("sqlite://data/latchkey.db?mode=rwc").url, "sqlite://data/latchkey.db?mode=rwc");
        assert_eq!(
            Redacted::new("postgres://postgres@127.0.0.1/postgres").url,
            "postgres://postgres@127.0.0.1/postgres"
        );
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_without_echoing_the_password() {
        let error = Store::connect("mysql://root:topsecret@localhost/db").await.unwrap_err();
        assert!(matches!(error, StoreError::UnsupportedUrl { .. }));
        assert!(!error.to_string().contains("topsecret"), "{error}");
    }

    #[tokio::test]
    async fn an_unparsable_url_is_reported_without_its_password() {
        // sea-orm quotes an unparsable URL whole in its error.
        let error = Store::connect("postgres://latchkey:topsecret@127.0.0.1:notaport/latchkey").await.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, StoreError::Connect { .. }), "{message}");
        assert!(message.contains("127.0.0.1:notaport"), "{message}");
        assert!(!message.contains("topsecret"), "{message}");
    }
}
