//! Readiness: `GET /api/status/ready` answers 204 while the database answers, and 503 when it does not, so that a
//! load balancer or an orchestrator sends no traffic to an instance that can only fail. `GET /api/status` stays
//! liveness (the process answers), as in Logto: restarting an instance does not bring its database back. While the
//! database watch (`crate::database_watch`) finds PostgreSQL unreachable, readiness answers 503 without asking.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::app::AppState;
use crate::database_watch::DatabaseWatch;
use crate::fallback;

/// The path of the readiness check.
pub const READINESS_PATH: &str = "/api/status/ready";

/// How long the database may take to answer `SELECT 1`. Probes usually give up after a second or a few; a pool
/// waiting its full acquire timeout (10 s) would outlast them and leave the probe with no answer at all.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Mounts the readiness check (a resource, so other methods get 405).
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(web::resource(READINESS_PATH).route(web::get().to(ready)));
}

/// Readiness for load balancers: 204 when the database answers a trivial query in time, otherwise 503
/// `service_unavailable` (the cause is logged, never sent).
#[utoipa::path(
    get,
    path = "/api/status/ready",
    tag = "Server",
    summary = "Readiness",
    responses(
        (status = 204, description = "The server and its database answer."),
        (status = 503, description = "`service_unavailable`: the database does not answer.",
            body = latchkey_auth::error_body::ErrorBody),
    ),
    security(()),
    extensions(("x-latchkey-extension" = json!(true))),
)]
pub async fn ready(state: web::Data<AppState>, watch: Option<web::Data<DatabaseWatch>>) -> HttpResponse {
    // The watch's last check found the database unreachable: asking again through the pool would only wait.
    if watch.is_some_and(|watch| watch.is_unreachable()) {
        return unavailable();
    }
    match tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            unavailable()
        }
        Err(_) => {
            tracing::warn!(
                timeout_secs = READINESS_TIMEOUT.as_secs(),
                "not ready: the database did not answer in time"
            );
            unavailable()
        }
    }
}

fn unavailable() -> HttpResponse {
    let mut response = fallback::service_unavailable();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}
