//! Failing fast while PostgreSQL cannot be reached.
//!
//! The pool retries a refused connection until its acquire timeout (10 s), so during an outage every request would
//! hold its client that long before its 503, and requests would pile up in the server. A watch checks the database
//! every half second on a connection of its own (`latchkey_store::DatabaseProbe`). While the last check found it
//! unreachable, requests that need the database get their 503 at once, readiness answers 503 without asking, and
//! `latchkey_database_reachable` is 0. The first check that reaches it again lets requests through.
//!
//! A request that arrived before the watch noticed still waits out the pool. SQLite has no watch: an embedded file
//! has no server to lose.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use latchkey_auth::oidc::TokenEndpointError;
use latchkey_store::{DatabaseProbe, Reachability};

use crate::metrics::Metrics;
use crate::{app, fallback};

/// How often the database is checked. Bounds how long requests keep waiting out the pool after an outage starts,
/// and how long they are still refused after it ends.
const CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// How long one check may take: a database that cannot answer `SELECT 1` on an idle connection this fast would
/// not serve requests either. Matches readiness' own limit.
const CHECK_TIMEOUT: Duration = crate::readiness::READINESS_TIMEOUT;

/// The paths under `/api/` and `/oidc/` whose handlers never touch the database. Readiness has its own answer.
const WITHOUT_DATABASE: [&str; 3] = [app::STATUS_PATH, app::SWAGGER_PATH, app::JWKS_PATH];

/// What the last check found. Cheap to clone; clones share the state.
#[derive(Debug, Clone)]
pub struct DatabaseWatch {
    unreachable: Arc<AtomicBool>,
}

impl DatabaseWatch {
    /// Starts checking the database with `probe` on the current runtime, reporting to `metrics`. The database
    /// counts as reachable until a check says otherwise (the server has just connected and migrated).
    pub fn spawn(probe: DatabaseProbe, metrics: Option<Arc<Metrics>>) -> Self {
        let watch = Self::reachable();
        tokio::spawn(watch.clone().keep_checking(probe, metrics));
        watch
    }

    fn reachable() -> Self {
        Self { unreachable: Arc::new(AtomicBool::new(false)) }
    }

    /// Whether the last check failed to reach the database.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    async fn keep_checking(self, mut probe: DatabaseProbe, metrics: Option<Arc<Metrics>>) {
        let mut interval = tokio::time::interval(CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let reachability = probe.check(CHECK_TIMEOUT).await;
            let unreachable = matches!(reachability, Reachability::Unreachable(_));
            let was_unreachable = self.unreachable.swap(unreachable, Ordering::Relaxed);
            match (&reachability, was_unreachable) {
                (Reachability::Unreachable(cause), false) => tracing::error!(
                    %cause,
                    "the database cannot be reached; requests that need it are refused with 503 until it answers"
                ),
                (Reachability::Reachable, true) => tracing::info!("the database answers again"),
                _ => {}
            }
            if let Some(metrics) = &metrics {
                metrics.set_database_reachable(!unreachable);
            }
        }
    }
}

/// Actix middleware (with `actix_web::middleware::from_fn`): while the app's [`DatabaseWatch`] finds the database
/// unreachable, answers 503 at once to requests that need it, in the shape their route would have used:
/// `service_unavailable` for the APIs, OAuth's `temporarily_unavailable` for the token endpoints. Passes
/// everything through when the app has no watch.
pub async fn refuse_while_unreachable(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let unreachable = request.app_data::<web::Data<DatabaseWatch>>().is_some_and(|watch| watch.is_unreachable());
    if !unreachable || !needs_database(request.path()) {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    }
    let response = unavailable_answer(request.path());
    Ok(request.into_response(response).map_into_right_body())
}

/// Every route under `/api/` and `/oidc/` reads the database (each bearer token's revocation state, to begin
/// with), except the few in [`WITHOUT_DATABASE`] and readiness. The account page's files do not.
fn needs_database(path: &str) -> bool {
    (path.starts_with("/api/") || path.starts_with("/oidc/"))
        && !WITHOUT_DATABASE.contains(&path)
        && path != crate::readiness::READINESS_PATH
}

fn unavailable_answer(path: &str) -> HttpResponse {
    if path.starts_with("/oidc/") {
        return TokenEndpointError::TemporarilyUnavailable("the database cannot be reached".to_owned())
            .error_response();
    }
    fallback::service_unavailable()
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
    use serde_json::Value;

    use super::*;

    #[test]
    fn every_api_and_oidc_route_needs_the_database_but_liveness_readiness_the_spec_and_the_keys() {
        for path in ["/api/my-account", "/api/users/u1", "/api/sign-in", "/oidc/token", "/oidc/token/revocation"] {
            assert!(needs_database(path), "{path}");
        }
        for path in ["/api/status", "/api/status/ready", "/api/swagger.json", "/oidc/jwks", "/account", "/metrics"] {
            assert!(!needs_database(path), "{path}");
        }
    }

    async fn answer(watch: &DatabaseWatch, path: &str) -> (u16, Value) {
        let app = init_service(
            App::new()
                .wrap(from_fn(refuse_while_unreachable))
                .app_data(web::Data::new(watch.clone()))
                .default_service(web::to(|| async { HttpResponse::Ok().json(serde_json::json!({"served": true})) })),
        )
        .await;
        let response = call_service(&app, TestRequest::get().uri(path).to_request()).await;
        let status = response.status().as_u16();
        (status, read_body_json(response).await)
    }

    #[actix_web::test]
    async fn while_unreachable_database_routes_get_503_in_their_own_shape_and_the_others_are_served() {
        let watch = DatabaseWatch::reachable();
        assert_eq!(answer(&watch, "/api/users").await.0, 200, "reachable: served");

        watch.unreachable.store(true, Ordering::Relaxed);
        let (status, body) = answer(&watch, "/api/users").await;
        assert_eq!((status, body["code"].as_str()), (503, Some("service_unavailable")), "{body}");
        let (status, body) = answer(&watch, "/oidc/token").await;
        assert_eq!((status, body["error"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
        assert_eq!(body["code"], "oidc.temporarily_unavailable");
        assert_eq!(answer(&watch, "/api/status").await.0, 200, "liveness needs no database");

        watch.unreachable.store(false, Ordering::Relaxed);
        assert_eq!(answer(&watch, "/api/users").await.0, 200, "reachable again: served");
    }
}
