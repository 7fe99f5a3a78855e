//! Settings, layered: built-in defaults, then an optional TOML file (`--config PATH`), then `LATCHKEY_*`
//! environment variables. Every key has the same name in all three: `bind` in TOML is `LATCHKEY_BIND`.
//!
//! Errors name the offending key and where its value came from, on one line, so that a bad deployment fails
//! with a message an operator can act on.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;
use thiserror::Error;
use tracing_subscriber::EnvFilter;
use url::Url;

use latchkey_domain::hook::delivery::RetryPolicy;
use latchkey_domain::hook::target::AddressRange;

use crate::cors::ANY_ORIGIN;
use crate::data_dir::DATABASE_FILE;

/// The prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "LATCHKEY_";

/// The server's settings after layering and validation.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP listener binds to; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Public base URL of this server, as clients reach it (resource indicators and links are built from it).
    pub endpoint: Url,
    /// Directory for the embedded SQLite database and the generated keys.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); when absent, a SQLite file in the data directory.
    pub database_url: Option<String>,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter in `tracing_subscriber::EnvFilter` syntax, e.g. `info,sqlx=warn`.
    pub log: String,
    /// How many password hashes may run at once (the hashing threads).
    pub password_hash_concurrency: NonZeroUsize,
    /// The nice value of the hashing threads (0 to 19; Linux): above 0, a flood of password sign-ins gets the CPU
    /// the other requests leave over instead of taking turns with them.
    pub password_hash_niceness: u8,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Client id of the bootstrap `MachineToMachine` app, for scripted set-ups (with the secret).
    pub bootstrap_client_id: Option<String>,
    /// Client secret of the bootstrap app (with the id).
    pub bootstrap_client_secret: Option<BootstrapSecret>,
    /// Origins (`https://app.example.com`) whose browser front ends may call the API cross-origin; empty allows
    /// none. A list in TOML, comma-separated in the environment.
    pub cors_allowed_origins: Vec<String>,
    /// Origins whose browser front ends may call the Account API (`/api/my-account…`, `/api/verifications…`)
    /// cross-origin, instead of `cors_allowed_origins`; `*` (the default, as in Logto) allows any, since the user's
    /// own bearer token is the credential there. A list in TOML, comma-separated in the environment.
    pub account_api_cors_allowed_origins: Vec<String>,
    /// Where verification codes go: `log` (development: written to the log, the default), `smtp` or `http`.
    pub connector: ConnectorKind,
    /// SMTP server host (required with `connector = "smtp"`).
    pub smtp_host: Option<String>,
    /// SMTP port; when absent, 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub smtp_port: Option<u16>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretSetting>,
    /// The sender, e.g. `Latchkey <no-reply@example.com>` (required with `connector = "smtp"`).
    pub smtp_from: Option<String>,
    pub smtp_tls: SmtpTls,
    /// The webhook the `http` connector POSTs messages to (required with `connector = "http"`).
    pub http_connector_url: Option<Url>,
    /// Sent as the webhook request's `Authorization` header, e.g. `Bearer …`.
    pub http_connector_authorization: Option<SecretSetting>,
    /// How long a webhook call may take.
    pub http_connector_timeout_secs: u64,
    /// How many days a deleted user can be restored (`POST /api/users/:id/restore`); after that it is purged.
    pub deleted_user_retention_days: u64,
    /// Whether `POST /api/subject-tokens` (impersonation) requires a non-empty `context.reason`, which the audit
    /// log records.
    pub impersonation_requires_reason: bool,
    /// Social connectors by connector id (the `connectorId` of `POST /api/verifications/social`): each a generic
    /// OpenID Connect provider. A TOML table `[social_connectors.<id>]`, or in the environment
    /// `LATCHKEY_SOCIAL_CONNECTORS__<ID>__<KEY>` (the id lower-cased).
    pub social_connectors: BTreeMap<String, SocialConnectorSettings>,
    /// Whether this instance delivers webhooks. Every instance may (they never send a delivery twice while its
    /// lease runs); turn it off to keep deliveries to some instances.
    pub hook_dispatch: bool,
    /// Internal address ranges (CIDR, e.g. `10.0.0.0/8`, `::1/128`) webhooks may be delivered to. Loopback,
    /// private, link-local and other internal addresses are refused unless listed. A list in TOML,
    /// comma-separated in the environment.
    pub hook_allowed_internal_targets: Vec<String>,
    /// Reverse proxies (address ranges as for `hook_allowed_internal_targets`) whose `X-Forwarded-For` names the
    /// client. Empty by default: the TCP peer is the client and the header is ignored, since a client can write it.
    pub trusted_proxies: Vec<String>,
    /// How long one webhook request may take.
    pub hook_request_timeout_secs: u64,
    /// Attempts per delivery before it is marked failed.
    pub hook_max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one, up to `hook_retry_max_secs`.
    pub hook_retry_base_ms: u64,
    pub hook_retry_max_secs: u64,
    /// How long a claimed delivery is reserved for its instance; another instance takes it over after that (when
    /// the first one died mid-delivery). Must exceed `hook_request_timeout_secs`.
    pub hook_lease_secs: u64,
    /// How often an idle dispatcher looks for due deliveries.
    pub hook_poll_interval_ms: u64,
    /// How many days delivered and failed deliveries are kept for `recent-logs` and re-sending.
    pub hook_delivery_retention_days: u64,
    /// Whether to serve the self-service account page at `/account` and keep its built-in first-party SPA app
    /// (`account-page`) in existence. Off, neither is made; an app already created stays until deleted.
    pub account_page: bool,
    /// Whether to keep Prometheus metrics and serve them at `GET /metrics` (docs/operations.md).
    pub metrics: bool,
    /// A separate address for `GET /metrics` (e.g. `127.0.0.1:9100`, reachable by the scraper only); when set,
    /// the main listener does not serve it. Unset, `/metrics` is on the main listener.
    pub metrics_bind: Option<SocketAddr>,
}

/// One social connector: an OpenID Connect provider found by discovery from its issuer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialConnectorSettings {
    /// The identity target users are linked under (`google`, `github`, …): `[A-Za-z0-9_-]{1,64}`.
    pub target: String,
    /// The issuer URL exactly as the provider publishes it (discovery compares it byte for byte).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretSetting,
    /// Space-separated scopes asked for, unless a request names its own.
    #[serde(default = "default_social_scope")]
    pub scope: String,
}

fn default_social_scope() -> String {
    "openid profile email".to_owned()
}

/// The message connector that delivers verification codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Development: the message is written to the log, not sent.
    Log,
    Smtp,
    Http,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on the same host, or tests.
    None,
}

/// A secret setting (a password, an authorization header). Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretSetting(String);

impl SecretSetting {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSetting(..)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable single lines, coloured on a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The bootstrap app's client secret. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct BootstrapSecret(String);

impl BootstrapSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BootstrapSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BootstrapSecret(..)")
    }
}

/// Logto keeps nothing of a deleted user; we keep a restorable tombstone this long unless configured otherwise.
pub const DEFAULT_DELETED_USER_RETENTION_DAYS: u64 = 30;

/// Why the settings could not be loaded. The message is one line and names the key.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// The hashing threads' default nice value, the lowest: under a sign-in flood it kept the other requests' p99
/// within 2× of idle where 10 and 0 did not, while sign-ins still ran at 60 % of their idle rate on the CPU left
/// over (docs/benchmarks.md). A server whose CPU is saturated by other work will make sign-ins wait.
pub const DEFAULT_PASSWORD_HASH_NICENESS: u8 = 19;
/// The lowest priority Linux has.
const MAX_NICENESS: u8 = 19;

/// Keys whose environment values are numbers, parsed by figment.
const NUMERIC_KEYS: &[&str] = &[
    "password_hash_concurrency",
    "password_hash_niceness",
    "shutdown_timeout_secs",
    "smtp_port",
    "http_connector_timeout_secs",
    "deleted_user_retention_days",
    "hook_request_timeout_secs",
    "hook_max_attempts",
    "hook_retry_base_ms",
    "hook_retry_max_secs",
    "hook_lease_secs",
    "hook_poll_interval_ms",
    "hook_delivery_retention_days",
    // Booleans: figment parses `true`/`false` as it parses numbers.
    "impersonation_requires_reason",
    "hook_dispatch",
    "account_page",
    "metrics",
];

/// Keys whose environment values are taken verbatim: figment would read `0123` as the number 123 and `true` as a
/// boolean, which would corrupt a client secret or a path.
const TEXT_KEYS: &[&str] = &[
    "bind",
    "endpoint",
    "data_dir",
    "database_url",
    "log_format",
    "log",
    "bootstrap_client_id",
    "bootstrap_client_secret",
    "connector",
    "smtp_host",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_tls",
    "http_connector_url",
    "http_connector_authorization",
    "metrics_bind",
];

/// The environment prefix of the social connectors' settings: `LATCHKEY_SOCIAL_CONNECTORS__<ID>__<KEY>`.
const SOCIAL_CONNECTORS_ENV_PREFIX: &str = "LATCHKEY_SOCIAL_CONNECTORS__";

/// Keys whose environment values are comma-separated lists of strings.
const LIST_KEYS: &[&str] =
    &["cors_allowed_origins", "account_api_cors_allowed_origins", "hook_allowed_internal_targets", "trusted_proxies"];

impl Settings {
    /// Layers defaults, the TOML file at `config_file` (which must exist when given) and the environment, then
    /// validates the result.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        let figment = Self::figment(config_file)?;
        let settings: Settings = figment.extract().map_err(|error| describe_figment_error(&figment, error))?;
        settings
            .validate()
            .map_err(|(key, reason)| SettingsError::Invalid { key: describe_key(&figment, key), reason })?;
        Ok(settings)
    }

    fn figment(config_file: Option<&Path>) -> Result<Figment, SettingsError> {
        let mut figment = Figment::new();
        if let Some(path) = config_file {
            // Figment treats a missing file as empty; a path the operator typed must exist.
            std::fs::metadata(path)
                .map_err(|error| SettingsError::ConfigFile { path: path.to_owned(), reason: error.to_string() })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only our keys: other LATCHKEY_* variables (test helpers, settings of other tools) are not errors.
        Ok(figment
            .merge(Env::prefixed(ENV_PREFIX).only(NUMERIC_KEYS))
            .merge(VerbatimEnv { keys: TEXT_KEYS })
            .merge(ListEnv { keys: LIST_KEYS })
            .merge(SocialConnectorsEnv))
    }

    /// The database URL to connect to: the configured one, or the SQLite file `latchkey.db` in the data dir.
    /// `mode=rwc` lets SQLite create the file where the data directory has not already.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join(DATABASE_FILE).display()),
        }
    }

    /// The database URL with any password replaced, for messages and logs.
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url())
    }

    /// Checks what types alone cannot; returns the bad key and why.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.endpoint.scheme(), "http" | "https") || !self.endpoint.has_host() {
            return Err(("endpoint", format!("`{}` is not an http(s) URL", self.endpoint)));
        }
        if let Some(url) = &self.database_url {
            let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                return Err(("database_url", "must start with sqlite:, postgres: or postgresql:".to_owned()));
            }
        }
        if self.password_hash_niceness > MAX_NICENESS {
            return Err(("password_hash_niceness", format!("must be 0 to {MAX_NICENESS}")));
        }
        if let Err(error) = EnvFilter::try_new(&self.log) {
            return Err(("log", format!("`{}` is not a valid log filter: {error}", self.log)));
        }
        if let Some(origin) = self.cors_allowed_origins.iter().find(|origin| !is_serialized_origin(origin)) {
            return Err((
                "cors_allowed_origins",
                format!(
                    "`{origin}` is not an origin; write scheme, host and port only, like `https://app.example.com`"
                ),
            ));
        }
        if self.account_api_cors_allowed_origins != [ANY_ORIGIN]
            && let Some(origin) =
                self.account_api_cors_allowed_origins.iter().find(|origin| !is_serialized_origin(origin))
        {
            let reason = if origin == ANY_ORIGIN {
                "`*` allows every origin, so it must be the only entry".to_owned()
            } else {
                format!(
                    "`{origin}` is not an origin; write scheme, host and port only, like `https://app.example.com`, \
                     or `*` alone for any origin"
                )
            };
            return Err(("account_api_cors_allowed_origins", reason));
        }
        match self.connector {
            ConnectorKind::Smtp if self.smtp_host.is_none() => {
                return Err(("smtp_host", "is required when connector is smtp".to_owned()));
            }
            ConnectorKind::Smtp if self.smtp_from.is_none() => {
                return Err(("smtp_from", "is required when connector is smtp".to_owned()));
            }
            ConnectorKind::Http if self.http_connector_url.is_none() => {
                return Err(("http_connector_url", "is required when connector is http".to_owned()));
            }
            _ => {}
        }
        if let Some(url) = &self.http_connector_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(("http_connector_url", format!("`{url}` is not an http(s) URL")));
        }
        for connector in self.social_connectors.values() {
            if !latchkey_domain::user::identity_target(&connector.target) {
                return Err((
                    "social_connectors",
                    format!("target `{}` is not [A-Za-z0-9_-]{{1,64}}", connector.target),
                ));
            }
            let issuer = Url::parse(&connector.issuer).ok().filter(|url| matches!(url.scheme(), "http" | "https"));
            if issuer.is_none() {
                return Err(("social_connectors", format!("issuer `{}` is not an http(s) URL", connector.issuer)));
            }
        }
        if let Some(range) =
            self.hook_allowed_internal_targets.iter().find(|range| AddressRange::parse(range).is_none())
        {
            return Err((
                "hook_allowed_internal_targets",
                format!("`{range}` is not an address range like `10.0.0.0/8`"),
            ));
        }
        if let Some(range) = self.trusted_proxies.iter().find(|range| AddressRange::parse(range).is_none()) {
            return Err(("trusted_proxies", format!("`{range}` is not an address range like `10.0.0.0/8`")));
        }
        if self.hook_max_attempts == 0 {
            return Err(("hook_max_attempts", "must be at least 1".to_owned()));
        }
        if self.hook_lease_secs <= self.hook_request_timeout_secs {
            return Err(("hook_lease_secs", "must exceed hook_request_timeout_secs".to_owned()));
        }
        match (&self.bootstrap_client_id, &self.bootstrap_client_secret) {
            (Some(_), None) => {
                Err(("bootstrap_client_secret", "is required when bootstrap_client_id is set".to_owned()))
            }
            (None, Some(_)) => {
                Err(("bootstrap_client_id", "is required when bootstrap_client_secret is set".to_owned()))
            }
            _ => Ok(()),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3001)),
            endpoint: Url::parse("http://127.0.0.1:3001").expect("the default endpoint is a valid URL"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log_format: LogFormat::Pretty,
            log: "info".to_owned(),
            password_hash_concurrency: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            password_hash_niceness: DEFAULT_PASSWORD_HASH_NICENESS,
            shutdown_timeout_secs: 30,
            bootstrap_client_id: None,
            bootstrap_client_secret: None,
            cors_allowed_origins: Vec::new(),
            account_api_cors_allowed_origins: vec![ANY_ORIGIN.to_owned()],
            connector: ConnectorKind::Log,
            smtp_host: None,
            smtp_port: None,
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            smtp_tls: SmtpTls::Starttls,
            http_connector_url: None,
            http_connector_authorization: None,
            http_connector_timeout_secs: 10,
            deleted_user_retention_days: DEFAULT_DELETED_USER_RETENTION_DAYS,
            impersonation_requires_reason: true,
            social_connectors: BTreeMap::new(),
            hook_dispatch: true,
            hook_allowed_internal_targets: Vec::new(),
            trusted_proxies: Vec::new(),
            hook_request_timeout_secs: 10,
            hook_max_attempts: RetryPolicy::default().max_attempts,
            hook_retry_base_ms: 5_000,
            hook_retry_max_secs: 3_600,
            hook_lease_secs: 60,
            hook_poll_interval_ms: 500,
            hook_delivery_retention_days: 7,
            account_page: true,
            metrics: true,
            metrics_bind: None,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("endpoint", &self.endpoint.as_str())
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.redacted_database_url())
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("password_hash_concurrency", &self.password_hash_concurrency)
            .field("password_hash_niceness", &self.password_hash_niceness)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("bootstrap_client_id", &self.bootstrap_client_id)
            .field("bootstrap_client_secret", &self.bootstrap_client_secret)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("account_api_cors_allowed_origins", &self.account_api_cors_allowed_origins)
            .field("connector", &self.connector)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &self.smtp_password)
            .field("smtp_from", &self.smtp_from)
            .field("smtp_tls", &self.smtp_tls)
            .field(
                "http_connector_url",
                &self.http_connector_url.as_ref().map(|url| url.origin().ascii_serialization()),
            )
            .field("http_connector_authorization", &self.http_connector_authorization)
            .field("http_connector_timeout_secs", &self.http_connector_timeout_secs)
            .field("deleted_user_retention_days", &self.deleted_user_retention_days)
            .field("impersonation_requires_reason", &self.impersonation_requires_reason)
            .field("social_connectors", &self.social_connectors)
            .field("hook_dispatch", &self.hook_dispatch)
            .field("hook_allowed_internal_targets", &self.hook_allowed_internal_targets)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("hook_request_timeout_secs", &self.hook_request_timeout_secs)
            .field("hook_max_attempts", &self.hook_max_attempts)
            .field("hook_retry_base_ms", &self.hook_retry_base_ms)
            .field("hook_retry_max_secs", &self.hook_retry_max_secs)
            .field("hook_lease_secs", &self.hook_lease_secs)
            .field("hook_poll_interval_ms", &self.hook_poll_interval_ms)
            .field("hook_delivery_retention_days", &self.hook_delivery_retention_days)
            .field("account_page", &self.account_page)
            .field("metrics", &self.metrics)
            .field("metrics_bind", &self.metrics_bind)
            .finish()
    }
}

/// `LATCHKEY_*` variables as strings, unparsed.
struct VerbatimEnv {
    keys: &'static [&'static str],
}

impl Provider for VerbatimEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("`{ENV_PREFIX}` environment variable(s)"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = Env::prefixed(ENV_PREFIX)
            .only(self.keys)
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), Value::from(value)))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// `LATCHKEY_*` variables as lists: `https://a.example, https://b.example` becomes two strings; blanks are dropped.
struct ListEnv {
    keys: &'static [&'static str],
}

impl Provider for ListEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("`{ENV_PREFIX}` environment variable(s)"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = Env::prefixed(ENV_PREFIX)
            .only(self.keys)
            .iter()
            .map(|(key, value)| {
                let items: Vec<String> =
                    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect();
                (key.as_str().to_owned(), Value::from(items))
            })
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// `LATCHKEY_SOCIAL_CONNECTORS__<ID>__<KEY>` variables as the `social_connectors` table, values verbatim (a
/// client secret of digits stays a string).
struct SocialConnectorsEnv;

impl Provider for SocialConnectorsEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("`{SOCIAL_CONNECTORS_ENV_PREFIX}*` environment variable(s)"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut connectors: Dict = Dict::new();
        for (key, value) in Env::prefixed(SOCIAL_CONNECTORS_ENV_PREFIX).iter() {
            let Some((connector_id, setting)) = key.as_str().split_once("__") else {
                continue;
            };
            let entry = connectors.entry(connector_id.to_owned()).or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, settings) = entry {
                settings.insert(setting.to_owned(), Value::from(value));
            }
        }
        let mut dict = Dict::new();
        if !connectors.is_empty() {
            dict.insert("social_connectors".to_owned(), Value::from(connectors));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Whether `origin` is written exactly as browsers send the `Origin` header (scheme, host, port if not the
/// default; no path, not even `/`): the CORS allow-list compares byte for byte, so anything else never matches.
fn is_serialized_origin(origin: &str) -> bool {
    match Url::parse(origin) {
        Ok(url) => matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == origin,
        Err(_) => false,
    }
}

/// Replaces the password of a URL, if it has one, so that the URL can be printed.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, and this one has one.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// Names a key as the operator wrote it: `LATCHKEY_BIND` for the environment, `` `bind` in FILE `` for TOML.
fn describe_key(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(metadata) => describe_source(&metadata.name, metadata.source.as_ref().map(ToString::to_string), &[key]),
        None => format!("`{key}` (default value)"),
    }
}

fn describe_source(name: &str, source: Option<String>, path: &[&str]) -> String {
    let dotted = path.join(".");
    if name.contains("environment") {
        format!("{ENV_PREFIX}{}", path.join("_").to_ascii_uppercase())
    } else if let Some(source) = source {
        format!("`{dotted}` in {source}")
    } else {
        format!("`{dotted}` in {name}")
    }
}

fn describe_figment_error(figment: &Figment, error: figment::Error) -> SettingsError {
    let reason = match &error.kind {
        // figment's own wording nests backticks; list the keys plainly.
        figment::error::Kind::UnknownField(_, expected) => {
            format!("unknown key; the keys are {}", expected.join(", "))
        }
        kind => kind.to_string(),
    };
    let key = match (&error.metadata, error.path.is_empty()) {
        (Some(metadata), false) => {
            let path: Vec<&str> = error.path.iter().map(String::as_str).collect();
            describe_source(&metadata.name, metadata.source.as_ref().map(ToString::to_string), &path)
        }
        (Some(metadata), true) => match &metadata.source {
            Some(source) => source.to_string(),
            None => metadata.name.to_string(),
        },
        (None, false) => describe_key(figment, &error.path.join(".")),
        (None, true) => "(settings)".to_owned(),
    };
    SettingsError::Invalid { key, reason: reason.replace('\n', " ") }
}

#[cfg(test)]
#[expect(clippy::result_large_err, reason = "figment's Jail closures must return figment's (large) error type")]
mod tests {
    use figment::Jail;

    use super::*;

    fn load_in(jail: &Jail, config: Option<&str>) -> Result<Settings, SettingsError> {
        let path = jail.directory().join("latchkey.toml");
        if let Some(contents) = config {
            std::fs::write(&path, contents).expect("writing the config file");
        }
        Settings::load(config.map(|_| path.as_path()))
    }

    fn invalid_key(result: Result<Settings, SettingsError>) -> String {
        match result {
            Err(SettingsError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_configured() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, None).expect("defaults are valid");
            assert_eq!(settings.bind, "127.0.0.1:3001".parse().unwrap());
            assert_eq!(settings.endpoint.as_str(), "http://127.0.0.1:3001/");
            assert_eq!(settings.data_dir, PathBuf::from("./data"));
            assert_eq!(settings.database_url(), "sqlite://./data/latchkey.db?mode=rwc");
            assert_eq!(settings.log_format, LogFormat::Pretty);
            assert_eq!(settings.log, "info");
            assert_eq!(settings.shutdown_timeout_secs, 30);
            assert!(settings.bootstrap_client_id.is_none());
            assert!(settings.cors_allowed_origins.is_empty());
            assert_eq!(settings.account_api_cors_allowed_origins, ["*"]);
            Ok(())
        });
    }

    #[test]
    fn the_account_page_is_on_by_default_and_turned_off_by_the_environment_or_the_config_file() {
        Jail::expect_with(|jail| {
            assert!(load_in(jail, None).expect("valid settings").account_page);
            assert!(!load_in(jail, Some("account_page = false\n")).expect("valid settings").account_page);
            jail.set_env("LATCHKEY_ACCOUNT_PAGE", "false");
            assert!(!load_in(jail, None).expect("valid settings").account_page);
            jail.set_env("LATCHKEY_ACCOUNT_PAGE", "maybe");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_ACCOUNT_PAGE");
            Ok(())
        });
    }

    #[test]
    fn metrics_are_on_by_default_on_the_main_listener() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, None).expect("valid settings");
            assert!(settings.metrics);
            assert!(settings.metrics_bind.is_none());
            Ok(())
        });
    }

    #[test]
    fn metrics_settings_come_from_the_environment_or_the_config_file() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, Some("metrics = false\nmetrics_bind = \"127.0.0.1:9100\"\n")).expect("valid");
            assert!(!settings.metrics);
            assert_eq!(settings.metrics_bind, Some("127.0.0.1:9100".parse().unwrap()));
            jail.set_env("LATCHKEY_METRICS", "true");
            jail.set_env("LATCHKEY_METRICS_BIND", "0.0.0.0:9200");
            let settings = load_in(jail, None).expect("valid settings");
            assert!(settings.metrics);
            assert_eq!(settings.metrics_bind, Some("0.0.0.0:9200".parse().unwrap()));
            Ok(())
        });
    }

    #[test]
    fn bad_metrics_settings_name_the_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_METRICS_BIND", "9100");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_METRICS_BIND");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_METRICS", "sometimes");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_METRICS");
            Ok(())
        });
    }

    #[test]
    fn the_config_file_overrides_defaults_and_the_environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_BIND", "0.0.0.0:8080");
            jail.set_env("LATCHKEY_LOG", "debug,sqlx=warn");
            let settings = load_in(
                jail,
                Some("bind = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/latchkey\"\nlog_format = \"json\"\n"),
            )
            .expect("valid settings");
            assert_eq!(settings.bind, "0.0.0.0:8080".parse().unwrap());
            assert_eq!(settings.data_dir, PathBuf::from("/var/lib/latchkey"));
            assert_eq!(settings.log_format, LogFormat::Json);
            assert_eq!(settings.log, "debug,sqlx=warn");
            assert_eq!(settings.database_url(), "sqlite:///var/lib/latchkey/latchkey.db?mode=rwc");
            Ok(())
        });
    }

    #[test]
    fn every_setting_can_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_ENDPOINT", "https://id.example.com");
            jail.set_env("LATCHKEY_DATA_DIR", "/srv/data");
            jail.set_env("LATCHKEY_DATABASE_URL", "postgres://latchkey:hunter2@db:5432/latchkey");
            jail.set_env("LATCHKEY_LOG_FORMAT", "json");
            jail.set_env("LATCHKEY_PASSWORD_HASH_CONCURRENCY", "3");
            jail.set_env("LATCHKEY_SHUTDOWN_TIMEOUT_SECS", "5");
            jail.set_env("LATCHKEY_BOOTSTRAP_CLIENT_ID", "true");
            jail.set_env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", "0123");
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.endpoint.as_str(), "https://id.example.com/");
            assert_eq!(settings.data_dir, PathBuf::from("/srv/data"));
            assert_eq!(settings.database_url(), "postgres://latchkey:hunter2@db:5432/latchkey");
            assert_eq!(settings.log_format, LogFormat::Json);
            assert_eq!(settings.password_hash_concurrency.get(), 3);
            assert_eq!(settings.shutdown_timeout_secs, 5);
            // Taken verbatim, not as a boolean and a number.
            assert_eq!(settings.bootstrap_client_id.as_deref(), Some("true"));
            assert_eq!(settings.bootstrap_client_secret.as_ref().map(BootstrapSecret::expose), Some("0123"));
            Ok(())
        });
    }

    #[test]
    fn cors_origins_come_comma_separated_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:5173,");
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.cors_allowed_origins, ["https://app.example.com", "http://localhost:5173"]);
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_come_comma_separated_from_the_environment_and_must_be_address_ranges() {
        Jail::expect_with(|jail| {
            assert!(load_in(jail, None).expect("valid settings").trusted_proxies.is_empty());
            jail.set_env("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8, ::1");
            assert_eq!(load_in(jail, None).expect("valid settings").trusted_proxies, ["10.0.0.0/8", "::1"]);
            jail.set_env("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal");
            let error = load_in(jail, None).expect_err("a host name is not an address range").to_string();
            assert!(error.contains("TRUSTED_PROXIES") && error.contains("proxy.internal"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn cors_origins_come_as_a_list_from_the_config_file() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, Some("cors_allowed_origins = [\"https://app.example.com:8443\"]\n"))
                .expect("valid settings");
            assert_eq!(settings.cors_allowed_origins, ["https://app.example.com:8443"]);
            Ok(())
        });
    }

    #[test]
    fn a_cors_origin_with_a_path_or_a_wildcard_is_refused() {
        for origin in ["https://app.example.com/", "https://app.example.com/app", "*", "app.example.com"] {
            Jail::expect_with(|jail| {
                jail.set_env("LATCHKEY_CORS_ALLOWED_ORIGINS", origin);
                assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_CORS_ALLOWED_ORIGINS", "{origin}");
                Ok(())
            });
        }
    }

    #[test]
    fn account_api_cors_origins_come_comma_separated_from_the_environment_and_replace_the_wildcard() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "LATCHKEY_ACCOUNT_API_CORS_ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:5173,",
            );
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.account_api_cors_allowed_origins, ["https://app.example.com", "http://localhost:5173"]);
            // The general list is a separate setting.
            assert!(settings.cors_allowed_origins.is_empty());
            Ok(())
        });
    }

    #[test]
    fn account_api_cors_origins_come_as_a_list_from_the_config_file() {
        Jail::expect_with(|jail| {
            let settings =
                load_in(jail, Some("account_api_cors_allowed_origins = [\"https://app.example.com:8443\"]\n"))
                    .expect("valid settings");
            assert_eq!(settings.account_api_cors_allowed_origins, ["https://app.example.com:8443"]);
            Ok(())
        });
    }

    #[test]
    fn account_api_cors_origins_accept_the_wildcard_alone_or_an_empty_list() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_ACCOUNT_API_CORS_ALLOWED_ORIGINS", "*");
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.account_api_cors_allowed_origins, ["*"]);
            Ok(())
        });
        Jail::expect_with(|jail| {
            let settings = load_in(jail, Some("account_api_cors_allowed_origins = []\n")).expect("valid settings");
            assert!(settings.account_api_cors_allowed_origins.is_empty());
            Ok(())
        });
    }

    #[test]
    fn an_account_api_cors_origin_with_a_path_or_a_wildcard_among_origins_is_refused() {
        for origins in ["https://app.example.com/", "app.example.com", "*,https://app.example.com", "*.example.com"] {
            Jail::expect_with(|jail| {
                jail.set_env("LATCHKEY_ACCOUNT_API_CORS_ALLOWED_ORIGINS", origins);
                assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_ACCOUNT_API_CORS_ALLOWED_ORIGINS", "{origins}");
                Ok(())
            });
        }
    }

    #[test]
    fn the_message_connector_defaults_to_the_development_log() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.connector, ConnectorKind::Log);
            Ok(())
        });
    }

    #[test]
    fn smtp_connector_settings_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_CONNECTOR", "smtp");
            jail.set_env("LATCHKEY_SMTP_HOST", "mail.example.com");
            jail.set_env("LATCHKEY_SMTP_PORT", "2525");
            jail.set_env("LATCHKEY_SMTP_USERNAME", "latchkey");
            jail.set_env("LATCHKEY_SMTP_PASSWORD", "0123");
            jail.set_env("LATCHKEY_SMTP_FROM", "Latchkey <no-reply@example.com>");
            jail.set_env("LATCHKEY_SMTP_TLS", "tls");
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.connector, ConnectorKind::Smtp);
            assert_eq!(settings.smtp_host.as_deref(), Some("mail.example.com"));
            assert_eq!(settings.smtp_port, Some(2525));
            assert_eq!(settings.smtp_password.as_ref().map(SecretSetting::expose), Some("0123"));
            assert_eq!(settings.smtp_tls, SmtpTls::Tls);
            Ok(())
        });
    }

    #[test]
    fn http_connector_settings_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_CONNECTOR", "http");
            jail.set_env("LATCHKEY_HTTP_CONNECTOR_URL", "https://hooks.example.com/sms?token=abc");
            jail.set_env("LATCHKEY_HTTP_CONNECTOR_AUTHORIZATION", "Bearer s3cret");
            jail.set_env("LATCHKEY_HTTP_CONNECTOR_TIMEOUT_SECS", "3");
            let settings = load_in(jail, None).expect("valid settings");
            assert_eq!(settings.connector, ConnectorKind::Http);
            assert_eq!(settings.http_connector_timeout_secs, 3);
            let debug = format!("{settings:?}");
            assert!(!debug.contains("s3cret") && !debug.contains("token=abc"), "{debug}");
            Ok(())
        });
    }

    #[test]
    fn a_connector_without_its_required_settings_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_CONNECTOR", "http");
            assert!(invalid_key(load_in(jail, None)).contains("http_connector_url"));
            jail.set_env("LATCHKEY_CONNECTOR", "smtp");
            assert!(invalid_key(load_in(jail, None)).contains("smtp_host"));
            jail.set_env("LATCHKEY_CONNECTOR", "pigeon");
            assert!(load_in(jail, None).is_err());
            Ok(())
        });
    }

    #[test]
    fn unrelated_latchkey_variables_are_not_errors() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1/postgres");
            load_in(jail, None).expect("unrelated variables are ignored");
            Ok(())
        });
    }

    #[test]
    fn a_bad_bind_address_from_the_environment_names_the_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_BIND", "not-an-address");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_BIND");
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_in_the_config_file_names_the_key_and_the_file() {
        Jail::expect_with(|jail| {
            let key = invalid_key(load_in(jail, Some("shutdown_timeout_secs = \"soon\"\n")));
            assert!(key.starts_with("`shutdown_timeout_secs` in "), "{key}");
            assert!(key.ends_with("latchkey.toml"), "{key}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_an_error() {
        Jail::expect_with(|jail| {
            let error = load_in(jail, Some("bnid = \"127.0.0.1:1\"\n")).expect_err("unknown keys are refused");
            assert!(error.to_string().starts_with("invalid setting `bnid` in "), "{error}");
            assert!(error.to_string().contains("unknown key; the keys are bind, endpoint"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        Jail::expect_with(|_| {
            let error = Settings::load(Some(Path::new("absent.toml"))).expect_err("missing file is refused");
            assert!(matches!(error, SettingsError::ConfigFile { .. }), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_endpoint_that_is_not_http_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_ENDPOINT", "ftp://example.com");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_ENDPOINT");
            Ok(())
        });
    }

    #[test]
    fn an_endpoint_that_is_not_a_url_is_refused() {
        Jail::expect_with(|jail| {
            let key = invalid_key(load_in(jail, Some("endpoint = \"example.com\"\n")));
            assert!(key.starts_with("`endpoint` in "), "{key}");
            Ok(())
        });
    }

    #[test]
    fn an_unsupported_database_url_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_DATABASE_URL", "mysql://db/latchkey");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_DATABASE_URL");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_log_format_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_LOG_FORMAT", "xml");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_LOG_FORMAT");
            Ok(())
        });
    }

    #[test]
    fn an_invalid_log_filter_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_LOG", "info,[[[");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_LOG");
            Ok(())
        });
    }

    #[test]
    fn a_password_hash_niceness_above_19_is_refused() {
        Jail::expect_with(|jail| {
            assert_eq!(load_in(jail, None).unwrap().password_hash_niceness, DEFAULT_PASSWORD_HASH_NICENESS);
            jail.set_env("LATCHKEY_PASSWORD_HASH_NICENESS", "19");
            assert_eq!(load_in(jail, None).unwrap().password_hash_niceness, 19);
            jail.set_env("LATCHKEY_PASSWORD_HASH_NICENESS", "20");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_PASSWORD_HASH_NICENESS");
            Ok(())
        });
    }

    #[test]
    fn zero_password_hash_concurrency_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_PASSWORD_HASH_CONCURRENCY", "0");
            assert_eq!(invalid_key(load_in(jail, None)), "LATCHKEY_PASSWORD_HASH_CONCURRENCY");
            Ok(())
        });
    }

    #[test]
    fn a_bootstrap_client_id_without_a_secret_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_BOOTSTRAP_CLIENT_ID", "bootstrap");
            assert_eq!(invalid_key(load_in(jail, None)), "`bootstrap_client_secret` (default value)");
            Ok(())
        });
    }

    #[test]
    fn error_messages_are_one_line() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_BIND", "nope");
            jail.set_env("LATCHKEY_SHUTDOWN_TIMEOUT_SECS", "never");
            let error = load_in(jail, None).expect_err("two bad values");
            assert!(!error.to_string().contains('\n'), "{error}");
            Ok(())
        });
    }

    #[test]
    fn debug_output_hides_the_database_password_and_the_bootstrap_secret() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_DATABASE_URL", "postgres://latchkey:hunter2@db:5432/latchkey");
            jail.set_env("LATCHKEY_BOOTSTRAP_CLIENT_ID", "bootstrap");
            jail.set_env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", "s3cret-value");
            let printed = format!("{:?}", load_in(jail, None).expect("valid settings"));
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(!printed.contains("s3cret-value"), "{printed}");
            assert!(printed.contains("db:5432"), "{printed}");
            Ok(())
        });
    }
    #[test]
    fn social_connectors_come_from_the_environment_with_values_verbatim_and_the_default_scope() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__ACME__TARGET", "acme");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__ACME__ISSUER", "https://op.example.com");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__ACME__CLIENT_ID", "0123");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__ACME__CLIENT_SECRET", "true");
            let settings = load_in(jail, None).expect("valid settings");
            let connector = &settings.social_connectors["acme"];
            assert_eq!(connector.issuer, "https://op.example.com");
            assert_eq!(connector.client_id, "0123");
            assert_eq!(connector.client_secret.expose(), "true");
            assert_eq!(connector.scope, "openid profile email");
            Ok(())
        });
    }

    #[test]
    fn social_connectors_come_from_the_config_file_and_their_secret_is_never_printed() {
        Jail::expect_with(|jail| {
            let config = "[social_connectors.google]\ntarget = \"google\"\nissuer = \"https://accounts.google.com\"\n\
                client_id = \"id\"\nclient_secret = \"s3cret-value\"\nscope = \"openid email\"\n";
            let settings = load_in(jail, Some(config)).expect("valid settings");
            assert_eq!(settings.social_connectors["google"].scope, "openid email");
            let printed = format!("{settings:?}");
            assert!(printed.contains("accounts.google.com"), "{printed}");
            assert!(!printed.contains("s3cret-value"), "{printed}");
            Ok(())
        });
    }

    #[test]
    fn a_social_connector_with_a_bad_target_or_issuer_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__TARGET", "not a target");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__ISSUER", "https://op.example.com");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__CLIENT_ID", "id");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__CLIENT_SECRET", "secret");
            assert!(invalid_key(load_in(jail, None)).contains("SOCIAL_CONNECTORS"));
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__TARGET", "x");
            jail.set_env("LATCHKEY_SOCIAL_CONNECTORS__X__ISSUER", "ftp://op.example.com");
            assert!(invalid_key(load_in(jail, None)).contains("SOCIAL_CONNECTORS"));
            Ok(())
        });
    }
}
