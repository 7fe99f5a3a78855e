//! The running server: connects the store, runs migrations, loads the keys, binds the listener and mounts the
//! API crates. [`Application::build`] does everything that can fail before the first request, so that a bad
//! deployment fails at start with a [`StartupError`], not later on some request.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer};
use biscuit_auth::KeyPair;
use latchkey_account_api::account::AccountDeps;
use latchkey_account_api::sign_in::SignInApi;
use latchkey_account_page::AccountPageConfig;
use latchkey_auth::oidc::{TokenEndpoint, TokenEndpointPorts};
use latchkey_auth::revocation::PortsRevocationCheck;
use latchkey_auth::{KeyRing, KeyRingError, SessionTokens, TokenLifetimes, TokenVerifier, TrustedProxies};
use latchkey_domain::UserRepository;
use latchkey_domain::account_center::AccountCenterRepository;
use latchkey_domain::hook::delivery::RetryPolicy;
use latchkey_domain::hook::target::{AddressRange, TargetPolicy};
use latchkey_domain::password::{HashingThreads, PasswordHasher};
use latchkey_domain::secret_box::{self, SecretBox};
use latchkey_domain::secrets::OpaqueSecret;
use latchkey_domain::service::{AccountService, CodeSignInPorts, Ports, SignInPorts, SignInService, UserAdminService};
use latchkey_domain::service::{HookPorts, HookService};
use latchkey_domain::service::{
    PasskeyPorts, PasskeyService, SocialPorts, SocialService, UserSessionService, VerificationPorts,
    VerificationService,
};
use latchkey_domain::sign_in::{Sentinel, SentinelPolicy, SentinelRepository};
use latchkey_domain::social::SocialConnectors;
use latchkey_domain::verification_code::CodeDelivery;
use latchkey_domain::verification_code::MessageConnector;
use latchkey_domain::{Clock, RandomIds, SystemClock};
use latchkey_management_api::HooksDeps;
use latchkey_management_api::LogsDeps;
use latchkey_management_api::RolesDeps;
use latchkey_management_api::users::UsersDeps;
use latchkey_management_api::{AccountCenterDeps, ApplicationsDeps, ManagementConfig, SignInExperienceDeps};
use latchkey_management_api::{PersonalAccessTokensDeps, SubjectTokensDeps, UserSessionsDeps};
use latchkey_store::{Store, StoreError};
use thiserror::Error;
use url::Url;

use crate::account_page::{self, AccountPageAppError};
use crate::bootstrap::{self, BootstrapError, Credentials};
use crate::connectors::{self, ConnectorSetupError};
use crate::data_dir::{DataDir, DataDirError, SigningKeys};
use crate::database_watch::{self, DatabaseWatch};
use crate::hooks::dispatcher::{Dispatcher, DispatcherSettings};
use crate::hooks::sender::ReqwestWebhookSender;
use crate::metrics::{Metrics, ObservedRevocationCheck, ObservedSentinel};
use crate::settings::{Settings, SettingsError};
use crate::telemetry::{self, TelemetryError};
use crate::{cors, fallback, metrics, openapi, readiness};

/// A server that is bound and ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    store: Store,
    /// The `metrics_bind` listener, when set: its address and its server (run and stopped with the main one).
    metrics_address: Option<SocketAddr>,
    metrics_server: Option<Server>,
}

/// What the request handlers share: the concrete implementations behind the domain's ports, and the keys.
/// Registered as `web::Data<AppState>`; the API crates get their dependencies from it once they have routes.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub password_hasher: Arc<dyn PasswordHasher>,
    pub secret_box: Arc<dyn SecretBox>,
    /// The token root keys: every key verifies, the newest signs; published at `/oidc/jwks`.
    pub key_ring: Arc<KeyRing>,
    /// The public base URL (resource indicators and links are built from it).
    pub endpoint: Url,
    /// The Prometheus registry, unless `metrics = false`; the ports built from this state report to it.
    pub metrics: Option<Arc<Metrics>>,
}

/// Why the server (or `latchkey migrate`) could not start. Each message is one line for the operator.
#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("the at-rest encryption keys are unusable: {0}")]
    KeyRing(#[from] secret_box::KeyRingError),
    #[error(transparent)]
    Database(#[from] StoreError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error(transparent)]
    AccountPage(#[from] AccountPageAppError),
    #[error(transparent)]
    Connector(#[from] ConnectorSetupError),
    #[error(transparent)]
    SocialConnector(#[from] crate::social::SocialSetupError),
    #[error("cannot set up the webhook client: {0}")]
    Webhooks(reqwest::Error),
    #[error("the token signing keys are unusable: {0}")]
    TokenKeys(#[from] KeyRingError),
    #[error("cannot set up the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: io::Error },
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot start the password hashing threads: {0}")]
    HashingThreads(io::Error),
    #[error("the server stopped with an error: {0}")]
    Serve(io::Error),
}

impl Application {
    /// Prepares everything the server needs and binds the listener (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let data_dir = prepare_data_dir(settings)?;
        let keys = data_dir.load_or_create_keys()?;
        tracing::info!(
            data_dir = %data_dir.path().display(),
            signing_kid = keys.signing.active().kid(),
            sealing_kid = keys.secret_box.sealing_kid(),
            "keys loaded"
        );
        let store = connect_and_migrate(settings).await?;
        let mut state = AppState::new(settings, store, keys)?;
        if settings.metrics {
            state.metrics = Some(Arc::new(Metrics::new(state.store.clone())?));
        }

        let connector = connectors::from_settings(settings)?;
        let social = social_service(&state, settings, crate::social::from_settings(settings)?);

        let listener =
            TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind { address: settings.bind, source })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind { address: settings.bind, source })?;
        let metrics_listener = match (&state.metrics, settings.metrics_bind) {
            (Some(_), Some(metrics_bind)) => Some(bind_metrics_listener(metrics_bind)?),
            _ => None,
        };
        // After binding, so that a start that fails for its address has not printed a secret nobody will use.
        bootstrap_management_app(settings, &state.store).await?;
        let account_page_config = if settings.account_page {
            account_page::ensure_account_page_app(&state.store.applications(), SystemClock.now()).await?;
            Some(account_page::page_config(settings))
        } else {
            None
        };
        let verifier = web::Data::new(token_verifier(&state));
        let session_tokens = session_tokens(&state);
        let token_endpoint = web::Data::new(token_endpoint(&state, Arc::clone(&session_tokens)));
        let account = web::Data::new(account_deps(&state, settings, Arc::clone(&connector), social.clone()));
        let sign_in = web::Data::new(sign_in_api(&state, session_tokens, connector));
        let users: web::Data<Arc<dyn UserRepository>> = web::Data::new(Arc::new(state.store.users()));
        let account_center: web::Data<Arc<dyn AccountCenterRepository>> =
            web::Data::new(Arc::new(state.store.account_center()));
        let management_config = web::Data::new(ManagementConfig::new(state.endpoint.as_str()));
        let applications = web::Data::new(applications_deps(&state));
        let roles = web::Data::new(RolesDeps {
            roles: Arc::new(state.store.roles()),
            users: Arc::new(state.store.users()),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
        });
        let users_management = web::Data::new(users_deps(&state, settings, social));
        let logs = web::Data::new(LogsDeps { audit_log: Arc::new(state.store.audit_log()) });
        let (personal_access_tokens, subject_tokens, user_sessions) = credential_admin_deps(&state, settings);
        let account_center_settings = web::Data::new(AccountCenterDeps {
            repository: Arc::new(state.store.account_center()),
            clock: Arc::new(SystemClock),
        });
        let sign_in_experience = web::Data::new(SignInExperienceDeps {
            repository: Arc::new(state.store.sign_in_experience()),
            clock: Arc::new(SystemClock),
        });
        spawn_tombstone_purge(state.store.clone());
        let database_watch = state
            .store
            .database_probe()
            .map(|probe| web::Data::new(DatabaseWatch::spawn(probe, state.metrics.clone())));
        let hook_service = hook_service(&state, settings)?;
        if settings.hook_dispatch {
            Dispatcher::new(hook_service.clone(), dispatcher_settings(settings)).spawn();
        }
        let hooks = web::Data::new(HooksDeps { service: hook_service });
        let store = state.store.clone();
        let metrics_data = state.metrics.clone().map(web::Data::from);
        let own_metrics_data = metrics_data.clone();
        // With its own listener, `/metrics` is not on this one.
        let metrics_route_here = metrics_listener.is_none();
        let data = web::Data::new(state);
        let trusted_proxies = web::Data::new(trusted_proxies(settings));
        let cors_origins = settings.cors_allowed_origins.clone();
        let account_api_cors_origins = settings.account_api_cors_allowed_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                // Innermost first: requests that need an unreachable database are refused, CORS headers go on
                // every answer (that refusal included; a preflight is answered before it), error answers then get a
                // JSON body if they lack one (a refused preflight included), and the log sees the final status.
                .wrap(from_fn(database_watch::refuse_while_unreachable))
                .wrap(cors::middleware(&cors_origins, &account_api_cors_origins))
                .wrap(fallback::json_error_bodies())
                // Outside the error bodies, so that the final status is counted; inside the log, which sets the
                // request id every answer carries.
                .wrap(from_fn(metrics::record_request))
                .wrap(from_fn(telemetry::log_request))
                .app_data(data.clone())
                .app_data(trusted_proxies.clone())
                .app_data(verifier.clone())
                .app_data(token_endpoint.clone())
                .app_data(sign_in.clone())
                .app_data(account.clone())
                .app_data(users.clone())
                .app_data(account_center.clone())
                .app_data(management_config.clone())
                .app_data(applications.clone())
                .app_data(roles.clone())
                .app_data(users_management.clone())
                .app_data(logs.clone())
                .app_data(personal_access_tokens.clone())
                .app_data(subject_tokens.clone())
                .app_data(user_sessions.clone())
                .app_data(account_center_settings.clone())
                .app_data(sign_in_experience.clone())
                .app_data(hooks.clone())
                .configure(|config| {
                    if let Some(watch) = &database_watch {
                        config.app_data(watch.clone());
                    }
                })
                .configure(|config| routes(config, account_page_config.as_ref()))
                .configure(|config| {
                    if let Some(metrics_data) = &metrics_data {
                        config.app_data(metrics_data.clone());
                        if metrics_route_here {
                            metrics::configure(config);
                        }
                    }
                })
                .default_service(web::to(fallback::not_found))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { address, source })?
        // actix treats SIGINT as a forced stop; both signals should let in-flight requests finish (for this long).
        .shutdown_signal(termination_signal())
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .run();
        tracing::info!(%address, "listening on http://{address}");
        let (metrics_address, metrics_server) = match (metrics_listener, own_metrics_data) {
            (Some((metrics_listener, metrics_address)), Some(metrics_data)) => {
                (Some(metrics_address), Some(metrics_server(metrics_listener, metrics_address, metrics_data)?))
            }
            _ => (None, None),
        };
        Ok(Self { address, server, store, metrics_address, metrics_server })
    }

    /// Where `GET /metrics` is served when `metrics_bind` is set (the bound port, when it asked for port 0).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// The bound port (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server's own store: settings saved through it take effect at once (another pool on the same database
    /// waits out [`latchkey_store::SETTINGS_TTL`]).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        // The metrics listener has no signal handling of its own: it stops when the main server has.
        let metrics = self.metrics_server.map(|server| (server.handle(), tokio::spawn(server)));
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            if let Ok(Err(error)) = task.await {
                tracing::warn!(%error, "the metrics listener stopped with an error");
            }
        }
        served.map_err(StartupError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    }
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

/// The password hasher: `password_hash_concurrency` threads of its own at nice `password_hash_niceness`.
fn password_hasher(settings: &Settings) -> Result<HashingThreads, StartupError> {
    let niceness = i32::from(settings.password_hash_niceness);
    HashingThreads::new(settings.password_hash_concurrency.get(), move || {
        // On Linux the nice value belongs to the thread (setpriority(2), "BUGS"), so this lowers only the hashing
        // thread. Raising a nice value needs no privilege; where it fails the hashing still works, at the default.
        if niceness > 0
            && let Err(error) = rustix::process::setpriority_process(None, niceness)
        {
            tracing::warn!(%error, niceness, "could not lower the password hashing thread's priority");
        }
    })
    .map_err(StartupError::HashingThreads)
}

impl AppState {
    fn new(settings: &Settings, store: Store, keys: crate::data_dir::Keys) -> Result<Self, StartupError> {
        Ok(AppState {
            store,
            password_hasher: Arc::new(password_hasher(settings)?),
            secret_box: Arc::new(keys.secret_box.into_secret_box()?),
            key_ring: Arc::new(key_ring(&keys.signing)?),
            endpoint: settings.endpoint.clone(),
            metrics: None,
        })
    }

    /// What the operator's commands need: the same database (migrated) and keys as the server, without binding.
    pub async fn for_operator(settings: &Settings) -> Result<Self, StartupError> {
        let keys = prepare_data_dir(settings)?.load_or_create_keys()?;
        let store = connect_and_migrate(settings).await?;
        Self::new(settings, store, keys)
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("key_ring", &self.key_ring)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// `latchkey migrate`: brings the database schema up to date and returns.
pub async fn migrate(settings: &Settings) -> Result<(), StartupError> {
    prepare_data_dir(settings)?;
    connect_and_migrate(settings).await?;
    Ok(())
}

/// `latchkey app create-m2m`: creates a `MachineToMachine` app with Management API access and returns its
/// credentials, for the caller to show once.
pub async fn create_management_app(settings: &Settings, name: &str) -> Result<Credentials, StartupError> {
    prepare_data_dir(settings)?;
    let store = connect_and_migrate(settings).await?;
    let credentials = bootstrap::create_management_app(&store.applications(), name, SystemClock.now()).await?;
    tracing::info!(app_id = %credentials.client_id, "created a MachineToMachine app with Management API access");
    Ok(credentials)
}

/// Makes the configured bootstrap app exist, or generates one when no app can reach the Management API; a
/// generated secret goes to stderr, once, and never to the logs.
async fn bootstrap_management_app(settings: &Settings, store: &Store) -> Result<(), StartupError> {
    let configured_secret = settings.bootstrap_client_secret.as_ref().map(|secret| OpaqueSecret::new(secret.expose()));
    let configured = settings.bootstrap_client_id.as_deref().zip(configured_secret.as_ref());
    let created = bootstrap::ensure_management_app(&store.applications(), configured, SystemClock.now()).await?;
    if let Some(credentials) = created {
        tracing::info!(app_id = %credentials.client_id, "created the bootstrap app; its secret is on stderr");
        eprint!("{}", bootstrap::credentials_notice(&credentials, &settings.endpoint));
    }
    Ok(())
}

fn prepare_data_dir(settings: &Settings) -> Result<DataDir, StartupError> {
    let data_dir = DataDir::prepare(&settings.data_dir)?;
    if settings.database_url.is_none() {
        data_dir.create_private_database_file()?;
    }
    Ok(data_dir)
}

async fn connect_and_migrate(settings: &Settings) -> Result<Store, StartupError> {
    let url = settings.redacted_database_url();
    let store = Store::connect(&settings.database_url()).await?;
    store.migrate().await?;
    tracing::info!(database = %url, "database ready");
    Ok(store)
}

/// A future that resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed now, not on first poll, so
/// that a signal arriving as soon as the server answers already stops it gracefully.
#[cfg(unix)]
fn termination_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};

    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        let wait = |name: &'static str, signal: std::io::Result<tokio::signal::unix::Signal>| async move {
            match signal {
                Ok(mut signal) => {
                    signal.recv().await;
                    tracing::info!("{name} received; finishing in-flight requests");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for {name}");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            () = wait("SIGTERM", terminate) => {}
            () = wait("SIGINT", interrupt) => {}
        }
    }
}

#[cfg(not(unix))]
fn termination_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("Ctrl-C received; finishing in-flight requests"),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Liveness (Logto's `GET /api/status`).
pub const STATUS_PATH: &str = "/api/status";
/// The token root public keys.
pub const JWKS_PATH: &str = "/oidc/jwks";
/// The OpenAPI document.
pub const SWAGGER_PATH: &str = "/api/swagger.json";

/// The server's routes; the account page's only when it is on (`account_page_config` is then its configuration).
fn routes(config: &mut ServiceConfig, account_page_config: Option<&AccountPageConfig>) {
    // A resource with a method route (not `config.route`, which turns the method into a path guard): other
    // methods get 405 rather than 404.
    config.service(web::resource(STATUS_PATH).route(web::get().to(status)));
    readiness::configure(config);
    config.service(web::resource(JWKS_PATH).route(web::get().to(jwks)));
    config.service(web::resource("/oidc/token").route(web::post().to(latchkey_auth::oidc::token)));
    config.service(web::resource("/oidc/token/revocation").route(web::post().to(latchkey_auth::oidc::revoke)));
    config.service(web::resource(SWAGGER_PATH).route(web::get().to(openapi::swagger_json)));
    latchkey_account_api::configure(config);
    latchkey_management_api::configure(config);
    if let Some(page) = account_page_config {
        latchkey_account_page::configure(config, page.clone());
    }
}

/// The token root public keys as a JWK set, so other services verify Latchkey tokens offline. Cached briefly:
/// a newly added key must reach verifiers before it signs (see docs/tokens.md).
#[utoipa::path(
    get,
    path = "/oidc/jwks",
    tag = "OIDC",
    summary = "The token root public keys",
    responses((status = 200, description = "A JWK set of Ed25519 keys.", body = crate::openapi::JwkSet)),
    security(()),
)]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(state.key_ring.jwks())
}

/// The token key ring from the key files: every key verifies, the newest signs.
fn key_ring(signing_keys: &SigningKeys) -> Result<KeyRing, KeyRingError> {
    // A KeyPair is not Clone; each is rebuilt from its private half.
    let active = signing_keys.active().kid();
    let pairs = signing_keys.all().iter().map(|key| (key.kid().to_owned(), KeyPair::from(&key.key_pair().private())));
    KeyRing::new(pairs)?.signing_with(active)
}

/// The revocation state read from the database on every request (no cache, so no staleness).
fn revocation_check(state: &AppState) -> Arc<PortsRevocationCheck> {
    Arc::new(PortsRevocationCheck {
        token_state: Arc::new(state.store.token_state()),
        users: Arc::new(state.store.users()),
        applications: Arc::new(state.store.applications()),
        clock: Arc::new(SystemClock),
    })
}

/// Verifies bearer tokens for the API crates' `Principal` extractor; with metrics on, its revocation check counts
/// the tokens that pass.
fn token_verifier(state: &AppState) -> TokenVerifier {
    let revocation: Arc<dyn latchkey_auth::RevocationCheck> = match &state.metrics {
        Some(metrics) => {
            Arc::new(ObservedRevocationCheck { inner: revocation_check(state), metrics: Arc::clone(metrics) })
        }
        None => revocation_check(state),
    };
    TokenVerifier::new(Arc::clone(&state.key_ring), Arc::new(SystemClock), revocation)
}

/// The sentinel's failure log in the store, shared by sign-in and verification records; with metrics on, it
/// counts lockouts.
fn sentinel_repository(state: &AppState) -> Arc<dyn SentinelRepository> {
    let store: Arc<dyn SentinelRepository> = Arc::new(state.store.sentinel());
    match &state.metrics {
        Some(metrics) => Arc::new(ObservedSentinel { inner: store, metrics: Arc::clone(metrics) }),
        None => store,
    }
}

/// User sessions and their tokens, shared by the sign-in API and the token endpoint.
fn session_tokens(state: &AppState) -> Arc<SessionTokens> {
    Arc::new(SessionTokens::new(
        Arc::new(state.store.sessions()),
        Arc::new(state.store.token_state()),
        Arc::clone(&state.key_ring),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        TokenLifetimes::default(),
    ))
}

/// The token and revocation endpoints: Management API tokens by client credentials, user tokens by refresh and
/// token exchange (sessions in the store), all signed by the key ring.
fn token_endpoint(state: &AppState, session_tokens: Arc<SessionTokens>) -> TokenEndpoint {
    let ports = TokenEndpointPorts {
        applications: Arc::new(state.store.applications()),
        users: Arc::new(state.store.users()),
        sessions: Arc::new(state.store.sessions()),
        subject_tokens: Arc::new(state.store.subject_tokens()),
        personal_access_tokens: Arc::new(state.store.personal_access_tokens()),
        // Actor tokens are checked as bearer tokens are: a revoked actor cannot impersonate.
        revocation: revocation_check(state),
        session_tokens,
        keys: Arc::clone(&state.key_ring),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    };
    TokenEndpoint::new(ports, state.endpoint.as_str())
}

/// The sign-in API: the domain's sign-in use cases on the store (sentinel and pending MFA challenges in the
/// database, so every instance shares them), and sessions started by the token crate.
fn sign_in_api(
    state: &AppState,
    session_tokens: Arc<SessionTokens>,
    connector: Arc<dyn MessageConnector>,
) -> SignInApi {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let accounts = account_service(state);
    let ports = SignInPorts {
        accounts,
        applications: Arc::new(state.store.applications()),
        sentinel: sentinel_repository(state),
        pending_mfa: Arc::new(state.store.pending_mfa()),
        sign_in_experience: Arc::new(state.store.sign_in_experience()),
        clock,
        session_lifetimes: session_tokens.lifetimes().sessions,
    };
    SignInApi {
        // Email/phone codes: kept in the database, delivered by the configured connector.
        service: SignInService::new(ports, SentinelPolicy::default()).with_codes(CodeSignInPorts {
            codes: Arc::new(state.store.verification_codes()),
            connector,
            users: Arc::new(state.store.users()),
        }),
        tokens: session_tokens,
        sessions: Arc::new(state.store.sessions()),
    }
}

/// The Management API's routes for a user's personal access tokens, sessions and grants, and for subject tokens
/// (impersonation): the store's repositories, the system clock, random ids.
fn credential_admin_deps(
    state: &AppState,
    settings: &Settings,
) -> (web::Data<PersonalAccessTokensDeps>, web::Data<SubjectTokensDeps>, web::Data<UserSessionsDeps>) {
    let personal_access_tokens = PersonalAccessTokensDeps {
        tokens: Arc::new(state.store.personal_access_tokens()),
        users: Arc::new(state.store.users()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    };
    let subject_tokens = SubjectTokensDeps {
        tokens: Arc::new(state.store.subject_tokens()),
        users: Arc::new(state.store.users()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        require_impersonation_reason: settings.impersonation_requires_reason,
    };
    let user_sessions =
        UserSessionsDeps { sessions: user_session_service(state), users: Arc::new(state.store.users()) };
    (web::Data::new(personal_access_tokens), web::Data::new(subject_tokens), web::Data::new(user_sessions))
}

/// The Management API's application routes: the store's repository, the system clock, random ids.
/// How often deleted users past their retention are purged. Restores check the retention themselves, so a purge
/// running late only keeps data longer, never makes an expired tombstone restorable.
const TOMBSTONE_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Purges expired tombstones now and then every [`TOMBSTONE_PURGE_INTERVAL`], for as long as the runtime lives.
fn spawn_tombstone_purge(store: Store) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TOMBSTONE_PURGE_INTERVAL);
        loop {
            interval.tick().await;
            match store.users().purge_tombstones(SystemClock.now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged deleted users past their retention"),
                Err(error) => tracing::warn!(%error, "purging deleted users failed; will retry"),
            }
        }
    });
}

/// The proxies whose `X-Forwarded-For` names the client (`latchkey_auth::client_ip`); validated with the settings.
fn trusted_proxies(settings: &Settings) -> TrustedProxies {
    TrustedProxies::new(settings.trusted_proxies.iter().filter_map(|range| AddressRange::parse(range)).collect())
}

/// Webhooks: hooks and their outbox in the store, delivered over HTTP to the addresses the settings allow.
fn hook_service(state: &AppState, settings: &Settings) -> Result<HookService, StartupError> {
    let allowed_internal = settings.hook_allowed_internal_targets.iter().filter_map(|range| AddressRange::parse(range));
    let policy = TargetPolicy { allowed_internal: allowed_internal.collect() };
    let sender = ReqwestWebhookSender::new(policy, Duration::from_secs(settings.hook_request_timeout_secs))
        .map_err(StartupError::Webhooks)?;
    let ports = HookPorts {
        hooks: Arc::new(state.store.hooks()),
        outbox: Arc::new(state.store.hook_outbox()),
        sender: Arc::new(sender),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    };
    let retry = RetryPolicy {
        max_attempts: settings.hook_max_attempts,
        base_delay_ms: i64::try_from(settings.hook_retry_base_ms).unwrap_or(i64::MAX),
        max_delay_ms: i64::try_from(settings.hook_retry_max_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    };
    Ok(HookService::new(ports, retry))
}

fn dispatcher_settings(settings: &Settings) -> DispatcherSettings {
    DispatcherSettings {
        lease: Duration::from_secs(settings.hook_lease_secs),
        poll_interval: Duration::from_millis(settings.hook_poll_interval_ms),
        retention: Duration::from_secs(settings.hook_delivery_retention_days.saturating_mul(24 * 3600)),
    }
}

/// The account use cases on the store.
pub(crate) fn account_service(state: &AppState) -> AccountService {
    AccountService::new(Ports {
        users: Arc::new(state.store.users()),
        hasher: Arc::clone(&state.password_hasher),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        secrets: Arc::clone(&state.secret_box),
    })
}

/// The Management API's user routes: the administrator's use cases and the repository searches read.
fn users_deps(state: &AppState, settings: &Settings, social: SocialService) -> UsersDeps {
    UsersDeps {
        admin: user_admin_service(state, settings),
        social,
        users: Arc::new(state.store.users()),
        sign_in_experience: Arc::new(state.store.sign_in_experience()),
        totp_issuer: settings.endpoint.host_str().unwrap_or("latchkey").to_owned(),
    }
}

/// The administrator's use cases, with deleted users kept as tombstones for the configured retention.
fn user_admin_service(state: &AppState, settings: &Settings) -> UserAdminService {
    let retention = Duration::from_secs(settings.deleted_user_retention_days.saturating_mul(24 * 60 * 60));
    UserAdminService::new(account_service(state), retention)
}

/// Social verification records and identity links through the configured social connectors.
fn social_service(state: &AppState, settings: &Settings, connectors: SocialConnectors) -> SocialService {
    SocialService::new(SocialPorts {
        users: user_admin_service(state, settings),
        records: Arc::new(state.store.verification_records()),
        connectors,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    })
}

/// A user's sessions and grants, for both APIs.
fn user_session_service(state: &AppState) -> UserSessionService {
    UserSessionService::new(
        Arc::new(state.store.sessions()),
        Arc::new(state.store.applications()),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    )
}

/// The Account API's routes: the user use cases, verification records (codes delivered by the configured connector
/// and counted by the same sentinel as sign-in, passkey and social ceremonies), sessions and the audit log.
fn account_deps(
    state: &AppState,
    settings: &Settings,
    connector: Arc<dyn MessageConnector>,
    social: SocialService,
) -> AccountDeps {
    let verifications = VerificationService::new(VerificationPorts {
        accounts: account_service(state),
        records: Arc::new(state.store.verification_records()),
        codes: Some(CodeDelivery { codes: Arc::new(state.store.verification_codes()), connector }),
        sentinel: Sentinel::new(sentinel_repository(state), SentinelPolicy::default()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    });
    AccountDeps {
        users: user_admin_service(state, settings),
        verifications,
        account_center: Arc::new(state.store.account_center()),
        applications: Arc::new(state.store.applications()),
        sign_in_experience: Arc::new(state.store.sign_in_experience()),
        audit_log: Arc::new(state.store.audit_log()),
        sessions: user_session_service(state),
        endpoint: state.endpoint.as_str().trim_end_matches('/').to_owned(),
        passkeys: passkey_service(state),
        social,
        clock: Arc::new(SystemClock),
    }
}

/// Passkey registration: the configured endpoint is the WebAuthn relying party.
fn passkey_service(state: &AppState) -> PasskeyService {
    PasskeyService::new(PasskeyPorts {
        accounts: account_service(state),
        records: Arc::new(state.store.verification_records()),
        ceremony: Arc::new(latchkey_account_api::passkeys::WebauthnCeremony::new(&state.endpoint)),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    })
}

fn applications_deps(state: &AppState) -> ApplicationsDeps {
    ApplicationsDeps {
        repository: Arc::new(state.store.applications()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    }
}

/// Binds `metrics_bind`; returns the listener and its address (the chosen port, for port 0).
fn bind_metrics_listener(metrics_bind: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind { address: metrics_bind, source };
    let listener = TcpListener::bind(metrics_bind).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    Ok((listener, address))
}

/// The `metrics_bind` listener's server: `GET /metrics` and nothing else, on one worker.
fn metrics_server(
    listener: TcpListener,
    address: SocketAddr,
    metrics_data: web::Data<Metrics>,
) -> Result<Server, StartupError> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics_data.clone())
            .configure(metrics::configure)
            .default_service(web::to(fallback::not_found))
    })
    .workers(1)
    // Stopped by `run_until_stopped` once the main server has drained.
    .disable_signals()
    .listen(listener)
    .map_err(|source| StartupError::Bind { address, source })?
    .run();
    tracing::info!(%address, "serving metrics at http://{address}/metrics");
    Ok(server)
}

/// Liveness for load balancers and for tests waiting on start-up: 204, no body.
#[utoipa::path(
    get,
    path = "/api/status",
    tag = "Server",
    summary = "Liveness",
    responses((status = 204, description = "The server is up.")),
    security(()),
)]
async fn status() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
