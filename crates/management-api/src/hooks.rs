//! `/api/hooks…`: Logto's webhooks. An administrator registers, changes, tests and removes hooks, rotates their
//! signing keys, and reads the last 24 hours of deliveries (`recent-logs`), each as the log row Logto shows; re-sending
//! one of them (`…/recent-logs/{logId}/resend`) is Latchkey's extension.
//!
//! The rules live in the domain's [`HookService`]; this module turns Logto's bodies and queries into its calls and
//! its deliveries into Logto's log rows.

use std::collections::BTreeMap;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::Timestamp;
use latchkey_domain::hook::delivery::{DeliveryFilter, DeliveryStatus, ExecutionStats, HookDelivery};
use latchkey_domain::hook::{Hook, HookConfig, HookEvent};
use latchkey_domain::ports::Page;
use latchkey_domain::service::{HookError, HookPatch, HookService, NewHook};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::guard::{ManagementCaller, ManagementConfig};
use crate::pagination::{paged_response, requested_page};
use crate::policy::ManagementAction;

/// What the hook handlers need; register it once as `web::Data<HooksDeps>`.
#[derive(Clone)]
pub struct HooksDeps {
    pub service: HookService,
}

impl std::fmt::Debug for HooksDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HooksDeps").finish_non_exhaustive()
    }
}

/// How far back `executionStats` and `recent-logs` look, as Logto (one day).
const RECENT_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// The routes under `/api/hooks`.
pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(web::resource("").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/{id}/signing-key").route(web::patch().to(regenerate_signing_key)))
        .service(web::resource("/{id}/test").route(web::post().to(test)))
        .service(web::resource("/{id}/recent-logs").route(web::get().to(recent_logs)))
        .service(web::resource("/{id}/recent-logs/{logId}/resend").route(web::post().to(resend)));
}

type Json<T> = Result<web::Json<T>, actix_web::Error>;
type Deps = web::Data<HooksDeps>;

/// `GET /api/hooks`: every hook oldest first; paginated only when the query names `page` or `page_size`.
#[utoipa::path(
    get,
    path = "/api/hooks",
    tag = "Hooks",
    summary = "List hooks",
    description = "Every hook, oldest first. Pagination is optional, as in Logto: without `page` and `page_size` \
        the whole list is returned without pagination headers.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
        ("includeExecutionStats" = Option<String>, Query, description = "`true`, `1`, `yes`, `y`, … adds each \
            hook's `executionStats` over the last 24 hours."),
    ),
    responses(
        (status = 200, description = "The hooks.", body = [HookBody],
            headers(
            ("Total-Number" = String, description = "How many hooks there are, when paginated."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages, when \
                paginated."),
        )),
        (status = 400, description = "`guard.invalid_pagination`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadHooks)?;
    let query = hook_query(&request)?;
    let pagination = if asks_for_pagination(request.query_string()) { Some(requested_page(&request)?) } else { None };
    let Page { items: hooks, total } = deps.service.ports().hooks.list(pagination).await.map_err(ApiError::from)?;
    let with_stats = is_yes(query.include_execution_stats.as_deref());
    let mut items = Vec::with_capacity(hooks.len());
    for hook in &hooks {
        let stats = if with_stats { Some(execution_stats(&deps, &hook.id).await?) } else { None };
        items.push(HookBody::new(hook, stats));
    }
    Ok(match pagination {
        Some(pagination) => paged_response(&request, config.endpoint(), pagination, total, &items),
        None => HttpResponse::Ok().json(items),
    })
}

/// `POST /api/hooks`: 201 with the new hook, its signing key included.
#[utoipa::path(
    post,
    path = "/api/hooks",
    tag = "Hooks",
    summary = "Create a hook",
    request_body = CreateHookBody,
    responses(
        (status = 201, description = "The new hook.", body = HookBody),
        (status = 400, description = "`guard.invalid_input` (an unknown event, an empty `events`, a bad `config`) \
            or `hook.missing_events` (neither `event` nor `events`).", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create(caller: ManagementCaller, deps: Deps, body: Json<CreateHookBody>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    let new_hook = body?.into_inner().into_new_hook()?;
    let hook = deps.service.create(new_hook).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(HookBody::new(&hook, None)))
}

/// `GET /api/hooks/{id}`.
#[utoipa::path(
    get,
    path = "/api/hooks/{id}",
    tag = "Hooks",
    summary = "Get a hook",
    params(
        ("id" = String, Path, description = "The hook's id."),
        ("includeExecutionStats" = Option<String>, Query, description = "Any non-empty value adds the hook's \
            `executionStats` over the last 24 hours (Logto reads this one as a plain truthy string)."),
    ),
    responses(
        (status = 200, description = "The hook.", body = HookBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadHooks)?;
    let query = hook_query(&request)?;
    let hook = deps.service.find(&id).await.map_err(ApiError::from)?;
    // Logto tests this flag for JavaScript truthiness here, not with `yes()` as on the list.
    let with_stats = query.include_execution_stats.is_some_and(|value| !value.is_empty());
    let stats = if with_stats { Some(execution_stats(&deps, &hook.id).await?) } else { None };
    Ok(HttpResponse::Ok().json(HookBody::new(&hook, stats)))
}

/// `PATCH /api/hooks/{id}`.
#[utoipa::path(
    patch,
    path = "/api/hooks/{id}",
    tag = "Hooks",
    summary = "Update a hook",
    description = "Changes the fields given; `event: null` clears the deprecated single event.",
    params(("id" = String, Path, description = "The hook's id.")),
    request_body = UpdateHookBody,
    responses(
        (status = 200, description = "The updated hook.", body = HookBody),
        (status = 400, description = "`guard.invalid_input` or `hook.missing_events`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    body: Json<UpdateHookBody>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    let patch = body?.into_inner().into_patch()?;
    let hook = deps.service.update(&id, patch).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(HookBody::new(&hook, None)))
}

/// `DELETE /api/hooks/{id}`: 204; its deliveries go with it.
#[utoipa::path(
    delete,
    path = "/api/hooks/{id}",
    tag = "Hooks",
    summary = "Delete a hook",
    description = "Its deliveries, sent or not, are deleted with it.",
    params(("id" = String, Path, description = "The hook's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete(caller: ManagementCaller, deps: Deps, id: web::Path<String>) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    deps.service.delete(&id).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /api/hooks/{id}/signing-key`: a fresh signing key.
#[utoipa::path(
    patch,
    path = "/api/hooks/{id}/signing-key",
    tag = "Hooks",
    summary = "Regenerate a hook's signing key",
    description = "Deliveries not yet sent are signed with the new key.",
    params(("id" = String, Path, description = "The hook's id.")),
    responses(
        (status = 200, description = "The hook with its new key.", body = HookBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn regenerate_signing_key(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    let hook = deps.service.regenerate_signing_key(&id).await.map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(HookBody::new(&hook, None)))
}

/// `POST /api/hooks/{id}/test`: one signed test payload per event to `config`, answered before this returns.
#[utoipa::path(
    post,
    path = "/api/hooks/{id}/test",
    tag = "Hooks",
    summary = "Send test payloads",
    description = "Sends one test payload per event to `config` (which need not be the hook's saved one), signed \
        with the hook's key, and waits for the answers. Test payloads are not recorded.",
    params(("id" = String, Path, description = "The hook's id.")),
    request_body = TestHookBody,
    responses(
        (status = 204, description = "Every payload was answered with a 2xx status."),
        (status = 400, description = "`guard.invalid_input`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 422, description = "`hook.endpoint_responded_with_error` (`data`: `responseStatus`, \
            `responseBody`) or `hook.send_test_payload_failed` (the reason in `message`).", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn test(
    caller: ManagementCaller,
    deps: Deps,
    id: web::Path<String>,
    body: Json<TestHookBody>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    let TestHookBody { events, config } = body?.into_inner();
    let events = required_events(events)?;
    deps.service.send_test(&id, &events, &config).await.map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/hooks/{id}/recent-logs`: the hook's deliveries of the last 24 hours, newest first, as Logto's logs.
#[utoipa::path(
    get,
    path = "/api/hooks/{id}/recent-logs",
    tag = "Hooks",
    summary = "List a hook's recent deliveries",
    description = "The hook's deliveries of the last 24 hours, newest first, each in the shape of Logto's \
        `TriggerHook.<event>` log entry; the payload also carries the delivery's `deliveryId`, `status` \
        (`pending`, `delivered`, `failed`), `attempts` and, while pending, `nextAttemptAt`.",
    params(
        ("id" = String, Path, description = "The hook's id."),
        ("page" = Option<u64>, Query, description = "1-based page number (default 1)."),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 20, at most 100)."),
        ("logKey" = Option<String>, Query, description = "Only `TriggerHook.<event>` rows of one event."),
    ),
    responses(
        (status = 200, description = "A page of log rows.", body = [HookLogRow],
            headers(
            ("Total-Number" = String, description = "How many items there are in all."),
            ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages."),
        )),
        (status = 400, description = "`guard.invalid_pagination`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn recent_logs(
    caller: ManagementCaller,
    deps: Deps,
    config: web::Data<ManagementConfig>,
    id: web::Path<String>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ReadHooks)?;
    let pagination = requested_page(&request)?;
    let query = hook_query(&request)?;
    let hook = deps.service.find(&id).await.map_err(ApiError::from)?;
    let page = match logged_event(query.log_key.as_deref()) {
        LogKeyFilter::Unmatchable => Page { items: Vec::new(), total: 0 },
        LogKeyFilter::Event(event) => {
            let filter = DeliveryFilter { hook_id: hook.id, since: recent_since(&deps), event };
            deps.service.ports().outbox.list(&filter, pagination).await.map_err(ApiError::from)?
        }
    };
    let rows: Vec<_> = page.items.iter().map(HookLogRow::new).collect();
    Ok(paged_response(&request, config.endpoint(), pagination, page.total, &rows))
}

/// `POST /api/hooks/{id}/recent-logs/{logId}/resend` (Latchkey's): the delivery is due again, from a fresh count of
/// attempts.
#[utoipa::path(
    post,
    path = "/api/hooks/{id}/recent-logs/{logId}/resend",
    tag = "Hooks",
    summary = "Send a delivery again",
    description = "Latchkey extension. Makes the delivery due now with a fresh count of attempts; the dispatcher \
        sends it shortly after. Answers with its log row as it is now.",
    params(
        ("id" = String, Path, description = "The hook's id."),
        ("logId" = String, Path, description = "The delivery's id (the log row's `id`)."),
    ),
    responses(
        (status = 202, description = "The delivery is due again.", body = HookLogRow),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 404, description = "`entity.not_exists_with_id`: no such hook, or no such delivery of it.",
            body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    extensions(("x-latchkey-extension" = json!(true))),
    security(("bearer" = [])),
)]
async fn resend(
    caller: ManagementCaller,
    deps: Deps,
    path: web::Path<(String, String)>,
) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::WriteHooks)?;
    let (hook_id, delivery_id) = path.into_inner();
    let hook = deps.service.find(&hook_id).await.map_err(ApiError::from)?;
    let delivery =
        deps.service.redeliver(&hook.id, &delivery_id).await.map_err(|error| match ApiError::from(error) {
            // The hook was found just before: a missing row now is the delivery.
            ApiError::HookNotFound => ApiError::HookDeliveryNotFound,
            other => other,
        })?;
    Ok(HttpResponse::Accepted().json(HookLogRow::new(&delivery)))
}

/// Logto's hook config: `{url, headers?, retries?}`.
#[derive(Debug, ToSchema)]
#[schema(as = HookConfig)]
#[allow(dead_code)]
pub struct HookConfigSchema {
    /// An absolute `http` or `https` URL without credentials.
    url: String,
    /// Sent with every delivery (not `content-type`, the signature or the delivery id).
    headers: Option<BTreeMap<String, String>>,
    /// Logto's deprecated retry count (0 to 3), kept for its clients; Latchkey's retries are the server's setting.
    retries: Option<u8>,
}

/// Logto's `executionStats`: the hook's deliveries of the last 24 hours and how many were delivered.
#[derive(Debug, ToSchema)]
#[schema(as = HookExecutionStats, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ExecutionStatsSchema {
    request_count: u64,
    success_count: u64,
}

/// `POST /api/hooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateHookBody {
    /// At most 256 characters; `""` when absent.
    #[serde(default)]
    name: Option<String>,
    /// Logto's deprecated single event.
    #[serde(default)]
    event: Option<String>,
    /// Logto's event names (`User.Created`, `PostSignIn`, …); non-empty when given.
    #[serde(default)]
    events: Option<Vec<String>>,
    #[schema(value_type = HookConfigSchema)]
    config: HookConfig,
    /// `true` when absent.
    #[serde(default)]
    enabled: Option<bool>,
}

impl CreateHookBody {
    /// Logto's guard, in its order: the events are known and `events` is not empty, then one of the two is given.
    fn into_new_hook(self) -> Result<NewHook, ApiError> {
        let event = self.event.as_deref().map(event_named).transpose()?;
        let events = self.events.map(required_events).transpose()?;
        if event.is_none() && events.is_none() {
            return Err(ApiError::MissingHookEvents);
        }
        checked_config(&self.config)?;
        Ok(NewHook {
            name: self.name.unwrap_or_default(),
            event,
            events: events.unwrap_or_default(),
            config: self.config,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

/// `PATCH /api/hooks/{id}`: absent keys are left alone.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateHookBody {
    #[serde(default)]
    name: Option<String>,
    /// `null` clears the deprecated single event.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    event: Option<Option<String>>,
    /// Non-empty when given.
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<HookConfigSchema>)]
    config: Option<HookConfig>,
    #[serde(default)]
    enabled: Option<bool>,
}

impl UpdateHookBody {
    fn into_patch(self) -> Result<HookPatch, ApiError> {
        let event = match self.event {
            Some(Some(name)) => Some(Some(event_named(&name)?)),
            Some(None) => Some(None),
            None => None,
        };
        let events = self.events.map(required_events).transpose()?;
        if let Some(config) = &self.config {
            checked_config(config)?;
        }
        Ok(HookPatch { name: self.name, event, events, config: self.config, enabled: self.enabled })
    }
}

/// `POST /api/hooks/{id}/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestHookBody {
    /// Non-empty; one payload is sent per event.
    events: Vec<String>,
    #[schema(value_type = HookConfigSchema)]
    config: HookConfig,
}

/// A hook in Logto's wire shape (`Hooks.guard` without `tenantId`), with `executionStats` when asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HookBody<'a> {
    id: &'a str,
    name: &'a str,
    /// Logto's deprecated single event, or `null`.
    #[schema(value_type = Option<String>)]
    event: Option<&'static str>,
    #[schema(value_type = Vec<String>)]
    events: Vec<&'static str>,
    #[schema(value_type = HookConfigSchema)]
    config: &'a HookConfig,
    /// The key of `logto-signature-sha-256`, returned as Logto does.
    signing_key: &'a str,
    enabled: bool,
    /// Milliseconds since the epoch.
    created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ExecutionStatsSchema>)]
    execution_stats: Option<ExecutionStats>,
}

impl<'a> HookBody<'a> {
    fn new(hook: &'a Hook, execution_stats: Option<ExecutionStats>) -> Self {
        Self {
            id: &hook.id,
            name: &hook.name,
            event: hook.event.as_ref().map(HookEvent::as_str),
            events: hook.events.iter().map(HookEvent::as_str).collect(),
            config: &hook.config,
            signing_key: &hook.signing_key,
            enabled: hook.enabled,
            created_at: hook.created_at.as_millis(),
            execution_stats,
        }
    }
}

/// One delivery as Logto's `TriggerHook.<event>` log entry (`Logs.guard` without `tenantId`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HookLogRow {
    /// The delivery's id.
    id: String,
    /// `TriggerHook.<event>`.
    key: String,
    /// `{key, result: "Success"|"Error", hookId, hookRequest: {body}, response?: {statusCode, body}, error?,
    /// deliveryId, status, attempts, nextAttemptAt?}`.
    #[schema(value_type = Object)]
    payload: Value,
    /// Milliseconds since the epoch.
    created_at: i64,
}

impl HookLogRow {
    fn new(delivery: &HookDelivery) -> Self {
        let key = delivery.event.log_key();
        let result = if delivery.status == DeliveryStatus::Delivered { "Success" } else { "Error" };
        // The payload is the JSON the domain wrote; were it ever not, the row still shows what was sent.
        let body = serde_json::from_str(&delivery.payload).unwrap_or_else(|_| Value::String(delivery.payload.clone()));
        let mut payload = json!({
            "key": key,
            "result": result,
            "hookId": delivery.hook_id,
            "hookRequest": { "body": body },
            "deliveryId": delivery.id,
            "status": delivery.status.as_str(),
            "attempts": delivery.attempts,
        });
        let outcome = &delivery.last_outcome;
        if let Some(status_code) = outcome.response_status {
            let body = outcome.response_body.as_deref().map(json_or_text).unwrap_or(Value::Null);
            payload["response"] = json!({ "statusCode": status_code, "body": body });
        }
        if let Some(error) = &outcome.error {
            payload["error"] = json!(error);
        }
        if delivery.status == DeliveryStatus::Pending {
            payload["nextAttemptAt"] = json!(delivery.next_attempt_at.as_millis());
        }
        Self { id: delivery.id.clone(), key, payload, created_at: delivery.created_at.as_millis() }
    }
}

/// The query parameters the hook routes read; others (pagination) are read elsewhere.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookQuery {
    include_execution_stats: Option<String>,
    log_key: Option<String>,
}

fn hook_query(request: &HttpRequest) -> Result<HookQuery, ApiError> {
    web::Query::<HookQuery>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ApiError::InvalidQuery("the query string is malformed"))
}

/// Whether the query names `page` or `page_size`: Logto's optional pagination is on only then.
fn asks_for_pagination(query: &str) -> bool {
    query
        .split('&')
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .any(|key| key == "page" || key == "page_size")
}

/// Logto's `yes()`: `1`, `true`, `y`, `yes`, `yep` or `yeah`, in any case.
fn is_yes(value: Option<&str>) -> bool {
    value
        .is_some_and(|value| ["1", "true", "y", "yes", "yep", "yeah"].iter().any(|yes| yes.eq_ignore_ascii_case(value)))
}

/// Which deliveries `logKey` asks for.
#[derive(Debug, PartialEq, Eq)]
enum LogKeyFilter {
    /// Every delivery (`None`) or those of one event.
    Event(Option<HookEvent>),
    /// A key no delivery has: Logto finds no log.
    Unmatchable,
}

fn logged_event(log_key: Option<&str>) -> LogKeyFilter {
    let Some(log_key) = log_key else {
        return LogKeyFilter::Event(None);
    };
    match HookEvent::from_log_key(log_key) {
        Some(event) => LogKeyFilter::Event(Some(event)),
        None => LogKeyFilter::Unmatchable,
    }
}

fn recent_since(deps: &HooksDeps) -> Timestamp {
    deps.service.ports().clock.now().plus_millis(-RECENT_MILLIS)
}

async fn execution_stats(deps: &HooksDeps, hook_id: &str) -> Result<ExecutionStats, ApiError> {
    Ok(deps.service.ports().outbox.stats(hook_id, recent_since(deps)).await?)
}

fn event_named(name: &str) -> Result<HookEvent, ApiError> {
    HookEvent::parse(name).ok_or_else(|| ApiError::InvalidBody(format!("`{name}` is not a hook event")))
}

/// Logto's `nonempty()` guard on `events`, then each event known.
fn required_events(names: Vec<String>) -> Result<Vec<HookEvent>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::InvalidBody("events: at least one event is needed".to_owned()));
    }
    names.iter().map(|name| event_named(name)).collect()
}

/// The service checks the configuration too; checking it here as well answers a bad body before a missing hook
/// (400 before 404), in the order of Logto's guard. The answer is the service's own mapping.
fn checked_config(config: &HookConfig) -> Result<(), ApiError> {
    config.validate().map_err(|invalid| ApiError::from(HookError::Invalid(invalid)))
}

/// A receiver's answer as JSON when it is JSON, else as the text it is.
fn json_or_text(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

/// `Some(value)` whenever the key is present, `null` included, so that `Option<Option<_>>` tells absent from null.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use latchkey_domain::hook::delivery::AttemptOutcome;

    use super::*;

    fn create_body(json: Value) -> Result<NewHook, ApiError> {
        serde_json::from_value::<CreateHookBody>(json).unwrap().into_new_hook()
    }

    fn patch_body(json: Value) -> Result<HookPatch, ApiError> {
        serde_json::from_value::<UpdateHookBody>(json).unwrap().into_patch()
    }

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        result.unwrap_err().code()
    }

    const URL: &str = "https://receiver.example/hook";

    fn delivery(status: DeliveryStatus, outcome: AttemptOutcome) -> HookDelivery {
        HookDelivery {
            id: "d1".into(),
            hook_id: "h1".into(),
            event: HookEvent::USER_CREATED,
            payload: r#"{"event":"User.Created","data":{"id":"u1"}}"#.into(),
            status,
            attempts: 2,
            next_attempt_at: Timestamp::from_millis(5_000),
            last_attempt_at: Some(Timestamp::from_millis(4_000)),
            last_outcome: outcome,
            created_at: Timestamp::from_millis(1_000),
        }
    }

    #[test]
    fn a_new_hook_takes_logtos_defaults() {
        let new = create_body(json!({ "events": ["User.Created", "PostSignIn"], "config": { "url": URL } })).unwrap();
        assert_eq!(new.name, "");
        assert!(new.enabled);
        assert_eq!(new.event, None);
        assert_eq!(new.events, [HookEvent::USER_CREATED, HookEvent::POST_SIGN_IN]);
        assert_eq!(new.config.url, URL);
        let single =
            create_body(json!({ "event": "PostSignIn", "config": { "url": URL }, "enabled": false, "name": "n" }))
                .unwrap();
        assert_eq!((single.event, single.events.len(), single.enabled), (Some(HookEvent::POST_SIGN_IN), 0, false));
        assert_eq!(single.name, "n");
    }

    #[test]
    fn a_new_hook_without_events_is_logtos_missing_events() {
        assert_eq!(code(create_body(json!({ "config": { "url": URL } }))), "hook.missing_events");
        let error = create_body(json!({ "config": { "url": URL } })).unwrap_err();
        assert_eq!(error.status_code().as_u16(), 400);
    }

    #[test]
    fn unknown_or_empty_events_and_bad_configs_are_invalid_input() {
        for body in [
            json!({ "events": [], "config": { "url": URL } }),
            json!({ "events": ["User.Created", "user.created"], "config": { "url": URL } }),
            json!({ "event": "Nope", "config": { "url": URL } }),
            json!({ "events": ["User.Created"], "config": { "url": "ftp://receiver.example/" } }),
            json!({ "events": ["User.Created"], "config": { "url": URL, "headers": { "Content-Length": "1" } } }),
            // An empty `events` is refused even when the single event is there (Logto's `nonempty`).
            json!({ "event": "PostSignIn", "events": [], "config": { "url": URL } }),
        ] {
            assert_eq!(code(create_body(body.clone())), "guard.invalid_input", "{body}");
        }
    }

    #[test]
    fn a_patch_tells_a_cleared_event_from_an_absent_one() {
        assert_eq!(patch_body(json!({})).unwrap(), HookPatch::default());
        assert_eq!(patch_body(json!({ "event": null })).unwrap().event, Some(None));
        assert_eq!(patch_body(json!({ "event": "PostSignIn" })).unwrap().event, Some(Some(HookEvent::POST_SIGN_IN)));
        let patch = patch_body(json!({ "name": "x", "enabled": false, "events": ["User.Deleted"] })).unwrap();
        assert_eq!(patch.name.as_deref(), Some("x"));
        assert_eq!(patch.enabled, Some(false));
        assert_eq!(patch.events, Some(vec![HookEvent::USER_DELETED]));
    }

    #[test]
    fn a_patch_refuses_empty_or_unknown_events_and_bad_configs() {
        assert_eq!(code(patch_body(json!({ "events": [] }))), "guard.invalid_input");
        assert_eq!(code(patch_body(json!({ "event": "Nope" }))), "guard.invalid_input");
        assert_eq!(code(patch_body(json!({ "config": { "url": "/relative" } }))), "guard.invalid_input");
    }

    #[test]
    fn the_test_route_needs_events() {
        assert_eq!(code(required_events(Vec::new())), "guard.invalid_input");
        assert_eq!(code(required_events(vec!["Nope".into()])), "guard.invalid_input");
        assert_eq!(required_events(vec!["User.Created".into()]).unwrap(), [HookEvent::USER_CREATED]);
    }

    #[test]
    fn a_hook_is_logtos_shape_with_its_signing_key() {
        let hook = Hook {
            id: "h1".into(),
            name: "n".into(),
            event: None,
            events: vec![HookEvent::USER_CREATED],
            config: HookConfig { url: URL.into(), headers: None, retries: Some(3) },
            signing_key: "key".into(),
            enabled: true,
            created_at: Timestamp::from_millis(1_000),
        };
        let body = serde_json::to_value(HookBody::new(&hook, None)).unwrap();
        assert_eq!(
            body,
            json!({
                "id": "h1", "name": "n", "event": null, "events": ["User.Created"],
                "config": { "url": URL, "retries": 3 }, "signingKey": "key", "enabled": true, "createdAt": 1_000,
            })
        );
        let stats = ExecutionStats { request_count: 3, success_count: 2 };
        let body = serde_json::to_value(HookBody::new(&hook, Some(stats))).unwrap();
        assert_eq!(body["executionStats"], json!({ "requestCount": 3, "successCount": 2 }));
    }

    #[test]
    fn a_delivered_delivery_is_a_successful_trigger_hook_log() {
        let outcome =
            AttemptOutcome { response_status: Some(200), response_body: Some(r#"{"ok":true}"#.into()), error: None };
        let row = serde_json::to_value(HookLogRow::new(&delivery(DeliveryStatus::Delivered, outcome))).unwrap();
        assert_eq!(
            row,
            json!({
                "id": "d1",
                "key": "TriggerHook.User.Created",
                "createdAt": 1_000,
                "payload": {
                    "key": "TriggerHook.User.Created",
                    "result": "Success",
                    "hookId": "h1",
                    "hookRequest": { "body": { "event": "User.Created", "data": { "id": "u1" } } },
                    "response": { "statusCode": 200, "body": { "ok": true } },
                    "deliveryId": "d1",
                    "status": "delivered",
                    "attempts": 2,
                },
            })
        );
    }

    #[test]
    fn an_undelivered_delivery_is_an_error_log_with_its_answer_or_its_error() {
        let answered = AttemptOutcome { response_status: Some(503), response_body: Some("busy".into()), error: None };
        let row = HookLogRow::new(&delivery(DeliveryStatus::Pending, answered));
        assert_eq!(row.payload["result"], "Error");
        assert_eq!(row.payload["response"], json!({ "statusCode": 503, "body": "busy" }));
        assert_eq!(row.payload["nextAttemptAt"], 5_000);
        assert_eq!(row.payload["status"], "pending");
        assert!(row.payload.get("error").is_none());

        let unanswered = AttemptOutcome { error: Some("connection refused".into()), ..AttemptOutcome::default() };
        let row = HookLogRow::new(&delivery(DeliveryStatus::Failed, unanswered));
        assert_eq!(row.payload["result"], "Error");
        assert_eq!(row.payload["error"], "connection refused");
        assert_eq!(row.payload["status"], "failed");
        assert!(row.payload.get("response").is_none());
        assert!(row.payload.get("nextAttemptAt").is_none());
    }

    #[test]
    fn truthy_values_are_logtos_yes() {
        for yes in ["1", "true", "TRUE", "y", "Yes", "yep", "yeah"] {
            assert!(is_yes(Some(yes)), "{yes}");
        }
        for no in ["", "0", "false", "no", "on", "truthy"] {
            assert!(!is_yes(Some(no)), "{no}");
        }
        assert!(!is_yes(None));
    }

    #[test]
    fn pagination_is_on_only_when_the_query_names_it() {
        assert!(!asks_for_pagination(""));
        assert!(!asks_for_pagination("includeExecutionStats=true"));
        assert!(asks_for_pagination("page=2"));
        assert!(asks_for_pagination("includeExecutionStats=1&page_size=5"));
        assert!(!asks_for_pagination("pages=2"));
    }

    #[test]
    fn the_openapi_document_has_every_hook_route_and_marks_the_resend_extension() {
        let document = serde_json::to_value(crate::openapi()).unwrap();
        let paths = &document["paths"];
        for (path, method) in [
            ("/api/hooks", "get"),
            ("/api/hooks", "post"),
            ("/api/hooks/{id}", "get"),
            ("/api/hooks/{id}", "patch"),
            ("/api/hooks/{id}", "delete"),
            ("/api/hooks/{id}/signing-key", "patch"),
            ("/api/hooks/{id}/test", "post"),
            ("/api/hooks/{id}/recent-logs", "get"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}");
            assert!(paths[path][method].get(latchkey_auth::openapi::EXTENSION_MARKER).is_none(), "{method} {path}");
        }
        let resend = &paths["/api/hooks/{id}/recent-logs/{logId}/resend"]["post"];
        assert_eq!(resend[latchkey_auth::openapi::EXTENSION_MARKER], true);
        for schema in ["HookBody", "HookConfig", "HookExecutionStats", "CreateHookBody", "HookLogRow"] {
            assert!(document["components"]["schemas"][schema].is_object(), "{schema}");
        }
    }

    #[test]
    fn log_keys_name_one_event_or_match_nothing() {
        assert_eq!(logged_event(None), LogKeyFilter::Event(None));
        assert_eq!(logged_event(Some("TriggerHook.User.Created")), LogKeyFilter::Event(Some(HookEvent::USER_CREATED)));
        assert_eq!(logged_event(Some("TriggerHook.Nope")), LogKeyFilter::Unmatchable);
        assert_eq!(logged_event(Some("User.Created")), LogKeyFilter::Unmatchable);
    }
}
