//! Prometheus metrics, served as text at `GET /metrics` (on the main listener, or only on `metrics_bind`); the
//! series are listed in docs/operations.md.
//!
//! The `prometheus` crate (0.14, without its protobuf feature) gives the registry and the text format. We do not
//! use `actix-web-prom`: the sign-in, token and pool series need a registry of our own anyway, and its one feature
//! beyond that, per-route request series, is [`record_request`] below.
//!
//! Outcomes are read where the server already sees them, so that the API crates know nothing of metrics:
//! - requests, and sign-in outcomes, from the response in [`record_request`]: the matched route pattern (never the
//!   raw path, whose ids would make a series per user), and for the sign-in routes the typed error the handler
//!   answered with ([`HttpResponse::error`](actix_web::HttpResponse::error)), never the body;
//! - token verifications: the bearer-token verifier's revocation port is wrapped ([`ObservedRevocationCheck`]),
//!   which sees every token that passed the signature and checks; refusals come from the `AuthError` a response
//!   carries;
//! - lockouts: the sentinel's port is wrapped ([`ObservedSentinel`]), which sees the failure that starts a block;
//! - the database pool is sampled when scraped; the database watch reports whether PostgreSQL can be reached.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use async_trait::async_trait;
use latchkey_account_api::error::ApiError as AccountApiError;
use latchkey_auth::revocation::{RevocationCheck, RevocationError};
use latchkey_auth::{AuthError, Principal, TokenError};
use latchkey_domain::Timestamp;
use latchkey_domain::ports::RepoError;
use latchkey_domain::secrets::SecretHash;
use latchkey_domain::service::SignInError;
use latchkey_domain::sign_in::{SentinelFailure, SentinelRepository};
use latchkey_management_api::ApiError as ManagementApiError;
use latchkey_store::Store;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use sea_orm::DatabaseBackend;

/// The route label of a request no route matched (404s of the default service); a label per unknown path would
/// let any client create series without end.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The path the metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// The routes whose answers are sign-in outcomes, and the step each is.
const SIGN_IN_ROUTES: [(&str, &str); 2] = [("/api/sign-in", "first_factor"), ("/api/sign-in/mfa", "mfa")];

/// The registry and its series. One per server, shared by the middleware, the observed ports and `GET /metrics`.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_request_duration: HistogramVec,
    http_requests_in_flight: IntGauge,
    sign_in_attempts: IntCounterVec,
    sentinel_lockouts: IntCounter,
    token_verifications: IntCounterVec,
    pool_connections: IntGaugeVec,
    pool_max_connections: IntGauge,
    database_reachable: IntGauge,
    store: Store,
}

impl Metrics {
    /// Registers every series; `store` is the pool sampled at each scrape. Fails only on a malformed series
    /// definition (a bug), never at run time.
    pub fn new(store: Store) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("latchkey_http_requests_total", "HTTP requests answered, by method, route pattern and status."),
            &["method", "route", "status"],
        )?;
        let http_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "latchkey_http_request_duration_seconds",
                "Time to answer an HTTP request, by method, route pattern and status class (2xx, 4xx, …).",
            ),
            &["method", "route", "status_class"],
        )?;
        let http_requests_in_flight = IntGauge::new(
            "latchkey_http_requests_in_flight",
            "HTTP requests being handled now (read, not yet answered), this scrape included.",
        )?;
        let sign_in_attempts = IntCounterVec::new(
            Opts::new(
                "latchkey_sign_in_attempts_total",
                "Sign-in API answers, by step (first_factor, mfa) and outcome.",
            ),
            &["step", "outcome"],
        )?;
        let sentinel_lockouts = IntCounter::new(
            "latchkey_sentinel_lockouts_total",
            "Identifiers blocked by the brute-force sentinel (sign-in and verification records).",
        )?;
        let token_verifications = IntCounterVec::new(
            Opts::new(
                "latchkey_token_verifications_total",
                "Bearer tokens verified on API requests: ok, or refused with a reason.",
            ),
            &["outcome", "reason"],
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new("latchkey_db_pool_connections", "Database pool connections, in use or idle, when scraped."),
            &["state"],
        )?;
        let pool_max_connections =
            IntGauge::new("latchkey_db_pool_max_connections", "The most connections the database pool opens.")?;
        let database_reachable = IntGauge::new(
            "latchkey_database_reachable",
            "1 while the database answers the server's watch, 0 while it cannot be reached (always 1 on SQLite).",
        )?;
        database_reachable.set(1);
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_request_duration.clone()))?;
        registry.register(Box::new(http_requests_in_flight.clone()))?;
        registry.register(Box::new(sign_in_attempts.clone()))?;
        registry.register(Box::new(sentinel_lockouts.clone()))?;
        registry.register(Box::new(token_verifications.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max_connections.clone()))?;
        registry.register(Box::new(database_reachable.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_request_duration,
            http_requests_in_flight,
            sign_in_attempts,
            sentinel_lockouts,
            token_verifications,
            pool_connections,
            pool_max_connections,
            database_reachable,
            store,
        })
    }

    /// Every series in Prometheus' text format, the pool sampled now.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        self.sample_pool();
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        String::from_utf8(text).map_err(|error| prometheus::Error::Msg(error.to_string()))
    }

    /// Counts one answered request and its duration, and what it says about sign-ins and tokens.
    pub fn observe(&self, answer: &Answer<'_>, elapsed_secs: f64) {
        let route = answer.route.unwrap_or(UNMATCHED_ROUTE);
        let status = answer.status.as_str();
        self.http_requests.with_label_values(&[answer.method, route, status]).inc();
        self.http_request_duration
            .with_label_values(&[answer.method, route, status_class(answer.status)])
            .observe(elapsed_secs);
        if let Some((_, step)) = SIGN_IN_ROUTES.iter().find(|(pattern, _)| Some(*pattern) == answer.route) {
            self.sign_in_attempts.with_label_values(&[*step, sign_in_outcome(answer.status, answer.error)]).inc();
        }
        if let Some(reason) = answer.error.and_then(auth_error).map(token_refusal_reason) {
            self.token_verifications.with_label_values(&["refused", reason]).inc();
        }
    }

    /// What the database watch found at its last check (`crate::database_watch`).
    pub fn set_database_reachable(&self, reachable: bool) {
        self.database_reachable.set(i64::from(reachable));
    }

    fn sample_pool(&self) {
        let connection = self.store.connection();
        let usage = match connection.get_database_backend() {
            DatabaseBackend::Postgres => PoolUsage::of(connection.get_postgres_connection_pool()),
            DatabaseBackend::Sqlite => PoolUsage::of(connection.get_sqlite_connection_pool()),
            // The store connects to SQLite or PostgreSQL only.
            _ => return,
        };
        self.pool_connections.with_label_values(&["in_use"]).set(usage.in_use);
        self.pool_connections.with_label_values(&["idle"]).set(usage.idle);
        self.pool_max_connections.set(usage.max);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// What [`Metrics::observe`] reads from an answered request.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// From [`method_label`].
    pub method: &'static str,
    /// The matched route pattern (`/api/users/{userId}`), `None` when no route matched.
    pub route: Option<&'a str>,
    pub status: StatusCode,
    /// The typed error the response was made from, if any.
    pub error: Option<&'a actix_web::Error>,
}

/// Actix middleware (with `actix_web::middleware::from_fn`): counts and times every request by its matched route
/// pattern. Does nothing when the app has no [`Metrics`] (`metrics = false`).
#[expect(
    clippy::disallowed_methods,
    reason = "request duration is measured for the metrics only; no decision depends on it"
)]
pub async fn record_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(metrics) = request.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(request).await;
    };
    let method = method_label(request.method());
    let started = std::time::Instant::now();
    let in_flight = InFlight::enter(&metrics.http_requests_in_flight);
    let result = next.call(request).await;
    drop(in_flight);
    let elapsed_secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(response) => {
            let route = response.request().match_pattern();
            let answer = Answer {
                method,
                route: route.as_deref(),
                status: response.status(),
                error: response.response().error(),
            };
            metrics.observe(&answer, elapsed_secs);
        }
        // The request went with the error (an inner middleware failed, which ours do not): no route to name.
        Err(error) => {
            let answer =
                Answer { method, route: None, status: error.as_response_error().status_code(), error: Some(error) };
            metrics.observe(&answer, elapsed_secs);
        }
    }
    result
}

/// One request counted in `latchkey_http_requests_in_flight` until dropped, also when the client goes away and the
/// request's future is dropped unfinished.
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`: every series in Prometheus' text format.
pub async fn serve(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(prometheus::TEXT_FORMAT)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .body(text),
        Err(error) => {
            tracing::error!(%error, "rendering the metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Mounts `GET /metrics` (a resource, so other methods get 405).
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(web::resource(METRICS_PATH).route(web::get().to(serve)));
}

/// The method as a label: the standard ones by name, anything else `other`, so that clients cannot invent series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The outcome of a sign-in route's answer. The account API's typed error tells the cases apart that share a status
/// (a block and a malformed request are both 400); a response without one is judged by its status.
pub fn sign_in_outcome(status: StatusCode, error: Option<&actix_web::Error>) -> &'static str {
    if status.is_success() {
        return "success";
    }
    let Some(api_error) = error.and_then(|error| error.as_error::<AccountApiError>()) else {
        return if status.is_server_error() { "error" } else { "invalid_request" };
    };
    match api_error {
        AccountApiError::MfaRequired(_) => "mfa_required",
        AccountApiError::SignIn(sign_in_error) => match sign_in_error {
            SignInError::InvalidCredentials => "invalid_credentials",
            SignInError::Blocked { .. } => "blocked",
            SignInError::Suspended => "suspended",
            SignInError::UnknownClient | SignInError::ThirdPartyClient | SignInError::ClientCannotSignIn => {
                "client_refused"
            }
            SignInError::MfaChallengeNotFound
            | SignInError::InvalidTotpCode
            | SignInError::InvalidBackupCode
            | SignInError::FactorNotEnabled => "invalid_mfa",
            SignInError::CodeNotFound
            | SignInError::CodeIdentifierMismatch { .. }
            | SignInError::CodeExpired
            | SignInError::CodeAttemptsExceeded
            | SignInError::CodeMismatch
            | SignInError::UserNotFound => "invalid_code",
            SignInError::NotARecipient => "invalid_request",
            SignInError::ConnectorNotFound
            | SignInError::ConnectorFailed(_)
            | SignInError::MessageRateLimited
            | SignInError::Storage(_) => "error",
        },
        AccountApiError::Denied(_) => "client_refused",
        AccountApiError::InvalidSignInRequest(_) | AccountApiError::InvalidBody(_) => "invalid_request",
        // The session could not start: the user vanished meanwhile answers as wrong credentials, the rest fail.
        AccountApiError::Tokens(latchkey_auth::IssueError::UnknownUser) => "invalid_credentials",
        _ => "error",
    }
}

/// The bearer-token refusal a response was made from: the token crate's own error, or the Management API's
/// wrapping of it.
pub fn auth_error(error: &actix_web::Error) -> Option<&AuthError> {
    error.as_error::<AuthError>().or_else(|| match error.as_error::<ManagementApiError>() {
        Some(ManagementApiError::Unauthenticated(auth_error)) => Some(auth_error),
        _ => None,
    })
}

/// Why a token was refused, as a label.
pub fn token_refusal_reason(error: &AuthError) -> &'static str {
    match error {
        AuthError::MissingHeader => "missing_header",
        AuthError::UnsupportedScheme => "unsupported_scheme",
        AuthError::InvalidToken(TokenError::Expired) => "expired",
        AuthError::InvalidToken(TokenError::UnknownKey) => "unknown_key",
        AuthError::InvalidToken(TokenError::InvalidSignature) => "invalid_signature",
        AuthError::InvalidToken(TokenError::CheckFailed(_)) => "check_failed",
        AuthError::InvalidToken(TokenError::LimitExceeded) => "limit_exceeded",
        AuthError::InvalidToken(_) => "malformed",
        AuthError::Revoked => "revoked",
        AuthError::RevocationUnavailable => "revocation_unavailable",
        AuthError::NotConfigured => "not_configured",
    }
}

/// The verifier's revocation check, counting the tokens it lets through: a token reaches it only after its
/// signature and checks passed, so each `Ok` is a verified token.
pub struct ObservedRevocationCheck {
    pub inner: Arc<dyn RevocationCheck>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl RevocationCheck for ObservedRevocationCheck {
    async fn check(&self, principal: &Principal) -> Result<(), RevocationError> {
        let checked = self.inner.check(principal).await;
        if checked.is_ok() {
            self.metrics.token_verifications.with_label_values(&["ok", "none"]).inc();
        }
        checked
    }
}

impl std::fmt::Debug for ObservedRevocationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedRevocationCheck").finish_non_exhaustive()
    }
}

/// The sentinel's failure log, counting lockouts: a recorded failure that carries a block is the one that reached
/// the limit (failures are not recorded while a block holds: the sentinel refuses before checking).
pub struct ObservedSentinel {
    pub inner: Arc<dyn SentinelRepository>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl SentinelRepository for ObservedSentinel {
    async fn blocked_until(&self, target: &SecretHash, now: Timestamp) -> Result<Option<Timestamp>, RepoError> {
        self.inner.blocked_until(target, now).await
    }

    async fn count_failures_since(&self, target: &SecretHash, since: Timestamp) -> Result<u64, RepoError> {
        self.inner.count_failures_since(target, since).await
    }

    async fn record_failure(&self, failure: &SentinelFailure) -> Result<(), RepoError> {
        self.inner.record_failure(failure).await?;
        if failure.blocked_until.is_some() {
            self.metrics.sentinel_lockouts.inc();
        }
        Ok(())
    }

    async fn forget_before(&self, before: Timestamp) -> Result<u64, RepoError> {
        self.inner.forget_before(before).await
    }
}

impl std::fmt::Debug for ObservedSentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedSentinel").finish_non_exhaustive()
    }
}

/// Connections of the pool at one moment.
struct PoolUsage {
    in_use: i64,
    idle: i64,
    max: i64,
}

impl PoolUsage {
    fn of<Db: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<Db>) -> Self {
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX).min(size);
        Self { in_use: size - idle, idle, max: i64::from(pool.options().get_max_connections()) }
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::Timestamp;

    use super::*;

    fn error(error: impl actix_web::ResponseError + 'static) -> actix_web::Error {
        actix_web::Error::from(error)
    }

    #[test]
    fn sign_in_outcomes_tell_apart_the_errors_that_share_a_status() {
        let cases = [
            (AccountApiError::SignIn(SignInError::InvalidCredentials), "invalid_credentials"),
            (AccountApiError::SignIn(SignInError::Blocked { until: Timestamp::from_secs(1) }), "blocked"),
            (AccountApiError::InvalidSignInRequest("no password"), "invalid_request"),
            (AccountApiError::SignIn(SignInError::Suspended), "suspended"),
            (AccountApiError::SignIn(SignInError::UnknownClient), "client_refused"),
            (AccountApiError::SignIn(SignInError::InvalidTotpCode), "invalid_mfa"),
            (AccountApiError::SignIn(SignInError::CodeMismatch), "invalid_code"),
            (AccountApiError::SignIn(SignInError::Storage("down".to_owned())), "error"),
        ];
        for (api_error, expected) in cases {
            let status = actix_web::ResponseError::status_code(&api_error);
            assert_eq!(sign_in_outcome(status, Some(&error(api_error))), expected, "{expected}");
        }
    }

    #[test]
    fn a_sign_in_answer_without_a_typed_error_is_judged_by_its_status() {
        assert_eq!(sign_in_outcome(StatusCode::OK, None), "success");
        assert_eq!(sign_in_outcome(StatusCode::BAD_REQUEST, None), "invalid_request");
        assert_eq!(sign_in_outcome(StatusCode::SERVICE_UNAVAILABLE, None), "error");
    }

    #[test]
    fn token_refusals_are_found_directly_and_inside_the_management_apis_error() {
        let direct = error(AuthError::InvalidToken(TokenError::Expired));
        assert_eq!(auth_error(&direct).map(token_refusal_reason), Some("expired"));
        let wrapped = error(ManagementApiError::Unauthenticated(AuthError::MissingHeader));
        assert_eq!(auth_error(&wrapped).map(token_refusal_reason), Some("missing_header"));
        let unrelated = error(AccountApiError::SignIn(SignInError::InvalidCredentials));
        assert!(auth_error(&unrelated).is_none());
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
