//! The audit log: Logto's `GET /api/logs` and `GET /api/logs/:id`, and ours, `GET /api/users/:userId/logs`.
//! Entries are the domain's [`LogView`], Logto's log shape (`{id, key, payload, createdAt}`).

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::Timestamp;
use latchkey_domain::audit::{AuditFilter, AuditLogRepository, LogView};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::guard::{ManagementCaller, ManagementConfig};
use crate::pagination::{paged_response, requested_page};
use crate::policy::ManagementAction;

/// What the log handlers need; register it once as `web::Data<LogsDeps>`.
#[derive(Clone)]
pub struct LogsDeps {
    pub audit_log: Arc<dyn AuditLogRepository>,
}

impl std::fmt::Debug for LogsDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsDeps").finish_non_exhaustive()
    }
}

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("").route(web::get().to(list)))
        .service(web::resource("/{id}").route(web::get().to(get)));
}

/// Sub-resources of `/api/users`.
pub(crate) fn user_routes(config: &mut ServiceConfig) {
    config.service(web::resource("/{userId}/logs").route(web::get().to(list_for_user)));
}

/// Logto's filters, and ours: a time range in milliseconds.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Entries about this user.
    pub user_id: Option<String>,
    /// Entries of requests made with this application's tokens.
    pub application_id: Option<String>,
    /// Entries with this key, e.g. `User.Data.Updated`.
    pub log_key: Option<String>,
    /// From this time on (milliseconds since the epoch, inclusive). A Latchkey extension.
    #[serde(rename = "start_time")]
    #[param(rename = "start_time")]
    pub start_time: Option<i64>,
    /// Before this time (milliseconds since the epoch, exclusive). A Latchkey extension.
    #[serde(rename = "end_time")]
    #[param(rename = "end_time")]
    pub end_time: Option<i64>,
}

impl LogQuery {
    fn filter(self) -> AuditFilter {
        AuditFilter {
            user_id: self.user_id,
            application_id: self.application_id,
            key: self.log_key,
            since: self.start_time.map(Timestamp::from_millis),
            until: self.end_time.map(Timestamp::from_millis),
        }
    }
}

type Deps = web::Data<LogsDeps>;

/// `GET /api/logs`: newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/logs",
    tag = "Audit logs",
    summary = "List audit log entries",
    params(
        LogQuery,
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
    ),
    responses(
        (status = 200, description = "A page of entries, newest first.", body = [LogView], headers(
            ("Total-Number" = String, description = "How many entries match in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination` or `guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "No valid Management API token.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let query = web::Query::<LogQuery>::from_query(request.query_string())
        .map_err(|error| ApiError::InvalidBody(error.to_string()))?
        .into_inner();
    respond(&deps, &config, &request, query.filter()).await
}

/// `GET /api/users/:userId/logs` (ours; Logto 1.37 has no such route): the entries about one user.
#[utoipa::path(
    get,
    path = "/api/users/{userId}/logs",
    tag = "Audit logs",
    summary = "List the audit log entries about a user",
    params(
        ("userId" = String, Path, description = "The user's id (deleted users' entries are kept)."),
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
    ),
    responses(
        (status = 200, description = "A page of entries, newest first.", body = [LogView]),
        (status = 400, description = "`guard.invalid_pagination`.", body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
async fn list_for_user(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    request: HttpRequest,
    path: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let filter = AuditFilter { user_id: Some(path.into_inner()), ..AuditFilter::default() };
    respond(&deps, &config, &request, filter).await
}

async fn respond(
    deps: &LogsDeps,
    config: &ManagementConfig,
    request: &HttpRequest,
    filter: AuditFilter,
) -> actix_web::Result<HttpResponse> {
    let pagination = requested_page(request)?;
    let page = deps.audit_log.list(&filter, pagination).await.map_err(ApiError::from)?;
    let items: Vec<_> = page.items.iter().map(LogView::new).collect();
    Ok(paged_response(request, config.endpoint(), pagination, page.total, &items))
}

/// `GET /api/logs/:id`.
#[utoipa::path(
    get,
    path = "/api/logs/{id}",
    tag = "Audit logs",
    summary = "Get an audit log entry",
    params(("id" = String, Path, description = "The entry's id.")),
    responses(
        (status = 200, description = "The entry.", body = LogView),
        (status = 404, description = "`entity.not_found`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps, path: web::Path<String>) -> actix_web::Result<HttpResponse> {
    caller.authorize(ManagementAction::ReadUsers)?;
    let entry = deps.audit_log.find(&path).await.map_err(ApiError::from)?;
    let entry = entry.ok_or(ApiError::EntryNotFound)?;
    Ok(HttpResponse::Ok().json(LogView::new(&entry)))
}
