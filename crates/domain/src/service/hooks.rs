//! Webhooks' use cases: an administrator's changes to hooks, test deliveries, re-sends, and the dispatcher's one
//! step (deliver a claimed delivery and record what happened). The loop that claims and runs deliveries belongs to
//! the server, which owns the runtime.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::clock::Clock;
use crate::hook::delivery::{
    AttemptOutcome, AttemptRecord, AttemptResult, ClaimedDelivery, DELIVERY_ID_HEADER, DeliveryOutbox, HookDelivery,
    MAX_KEPT_RESPONSE_BYTES, RetryPolicy,
};
use crate::hook::payload::test_payload;
use crate::hook::signature::{SIGNATURE_HEADER, sign};
use crate::hook::{Hook, HookConfig, HookEvent, HookRepository, InvalidHook, generate_signing_key};
use crate::ids::IdGenerator;
use crate::ports::RepoError;

/// The `User-Agent` of deliveries.
pub const USER_AGENT: &str = concat!("Latchkey/", env!("CARGO_PKG_VERSION"), " (webhooks)");

/// One HTTP `POST` of a delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

// Headers hold the signature and the receiver's credentials.
impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest").finish_non_exhaustive()
    }
}

/// The receiver's answer. The body is cut to [`MAX_KEPT_RESPONSE_BYTES`] by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// The target resolves to an address the server may not reach ([`crate::hook::target`]); retrying will not help.
    #[error("target refused: {0}")]
    RefusedTarget(String),
    /// No answer: connection refused or reset, DNS failure, timeout.
    #[error("{0}")]
    Transport(String),
}

/// Posts deliveries over HTTP (reqwest in the server, with the target check and a timeout).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(&self, request: &WebhookRequest) -> Result<WebhookResponse, SendError>;
}

#[derive(Debug, Error)]
pub enum HookError {
    #[error("hook not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] InvalidHook),
    /// A test delivery got a non-2xx answer (Logto's 422 `hook.endpoint_responded_with_error`).
    #[error("the endpoint answered {}", .0.status)]
    EndpointResponded(WebhookResponse),
    /// A test delivery got no answer (Logto's 422 `hook.send_test_payload_failed`).
    #[error("the test payload could not be sent: {0}")]
    SendFailed(SendError),
    #[error(transparent)]
    Repo(RepoError),
}

impl From<RepoError> for HookError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::NotFound => Self::NotFound,
            other => Self::Repo(other),
        }
    }
}

/// A new hook's fields (Logto's `POST /api/hooks` body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHook {
    pub name: String,
    pub event: Option<HookEvent>,
    pub events: Vec<HookEvent>,
    pub config: HookConfig,
    pub enabled: bool,
}

/// Fields to change (Logto's `PATCH /api/hooks/:id` body); `event: Some(None)` clears the deprecated event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookPatch {
    pub name: Option<String>,
    pub event: Option<Option<HookEvent>>,
    pub events: Option<Vec<HookEvent>>,
    pub config: Option<HookConfig>,
    pub enabled: Option<bool>,
}

#[derive(Clone)]
pub struct HookPorts {
    pub hooks: Arc<dyn HookRepository>,
    pub outbox: Arc<dyn DeliveryOutbox>,
    pub sender: Arc<dyn WebhookSender>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for HookPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookPorts { .. }")
    }
}

#[derive(Debug, Clone)]
pub struct HookService {
    ports: HookPorts,
    retry: RetryPolicy,
}

impl HookService {
    pub fn new(ports: HookPorts, retry: RetryPolicy) -> Self {
        Self { ports, retry }
    }

    pub fn ports(&self) -> &HookPorts {
        &self.ports
    }

    pub async fn create(&self, new: NewHook) -> Result<Hook, HookError> {
        let hook = Hook {
            id: self.ports.ids.entity_id(),
            name: new.name,
            event: new.event,
            events: crate::hook::deduplicate(new.events),
            config: new.config,
            signing_key: generate_signing_key(),
            enabled: new.enabled,
            created_at: self.ports.clock.now(),
        };
        hook.validate()?;
        self.ports.hooks.insert(&hook).await?;
        Ok(hook)
    }

    pub async fn find(&self, id: &str) -> Result<Hook, HookError> {
        self.ports.hooks.find(id).await?.ok_or(HookError::NotFound)
    }

    pub async fn update(&self, id: &str, patch: HookPatch) -> Result<Hook, HookError> {
        let mut hook = self.find(id).await?;
        if let Some(name) = patch.name {
            hook.name = name;
        }
        if let Some(event) = patch.event {
            hook.event = event;
        }
        if let Some(events) = patch.events {
            hook.events = crate::hook::deduplicate(events);
        }
        if let Some(config) = patch.config {
            hook.config = config;
        }
        if let Some(enabled) = patch.enabled {
            hook.enabled = enabled;
        }
        hook.validate()?;
        self.ports.hooks.update(&hook).await?;
        Ok(hook)
    }

    /// A new signing key; deliveries not yet sent are signed with it.
    pub async fn regenerate_signing_key(&self, id: &str) -> Result<Hook, HookError> {
        let mut hook = self.find(id).await?;
        hook.signing_key = generate_signing_key();
        self.ports.hooks.update(&hook).await?;
        Ok(hook)
    }

    pub async fn delete(&self, id: &str) -> Result<(), HookError> {
        Ok(self.ports.hooks.delete(id).await?)
    }

    /// Sends one test payload per event to `config` (which need not be the hook's saved one), signed with the
    /// hook's key, and waits for the answers: Logto's `POST /api/hooks/:id/test`. Not recorded in the outbox.
    pub async fn send_test(&self, id: &str, events: &[HookEvent], config: &HookConfig) -> Result<(), HookError> {
        config.validate()?;
        let hook = self.find(id).await?;
        let now = self.ports.clock.now();
        for event in events {
            let body = test_payload(&hook.id, event, now);
            let request = webhook_request(&config.url, configured_headers(config), &hook.signing_key, None, body);
            let response = self.ports.sender.post(&request).await.map_err(HookError::SendFailed)?;
            if !(200..300).contains(&response.status) {
                return Err(HookError::EndpointResponded(response));
            }
        }
        Ok(())
    }

    /// Sends a delivery of `hook_id` again, from a fresh count of attempts.
    pub async fn redeliver(&self, hook_id: &str, delivery_id: &str) -> Result<HookDelivery, HookError> {
        Ok(self.ports.outbox.redeliver(hook_id, delivery_id, self.ports.clock.now()).await?)
    }

    /// One attempt at a claimed delivery, recorded: delivered on a 2xx answer; otherwise due again after the
    /// backoff, or failed once the attempts are used up or the target is refused. `jitter` is uniform in `[0, 1)`.
    pub async fn deliver(&self, claimed: ClaimedDelivery, jitter: f64) -> Result<AttemptResult, RepoError> {
        let delivery = &claimed.delivery;
        let request = webhook_request(
            &claimed.url,
            claimed.headers.clone(),
            &claimed.signing_key,
            Some(&delivery.id),
            delivery.payload.clone(),
        );
        let answer = self.ports.sender.post(&request).await;
        let now = self.ports.clock.now();
        let attempt = delivery.attempts.saturating_add(1);
        let (result, outcome) = match answer {
            Ok(response) if (200..300).contains(&response.status) => {
                (AttemptResult::Delivered, outcome(Some(response), None))
            }
            Ok(response) => (self.after_failure(attempt, now, jitter), outcome(Some(response), None)),
            Err(error @ SendError::RefusedTarget(_)) => (AttemptResult::Failed, outcome(None, Some(error))),
            Err(error) => (self.after_failure(attempt, now, jitter), outcome(None, Some(error))),
        };
        let record =
            AttemptRecord { delivery_id: delivery.id.clone(), attempt, at: now, result: result.clone(), outcome };
        self.ports.outbox.record_attempt(&record).await?;
        Ok(result)
    }

    fn after_failure(&self, attempt: u32, now: crate::Timestamp, jitter: f64) -> AttemptResult {
        self.retry.retry_at(attempt, now, jitter).map_or(AttemptResult::Failed, AttemptResult::RetryAt)
    }
}

fn outcome(response: Option<WebhookResponse>, error: Option<SendError>) -> AttemptOutcome {
    AttemptOutcome {
        response_status: response.as_ref().map(|response| response.status),
        response_body: response.map(|response| truncate_on_char_boundary(response.body, MAX_KEPT_RESPONSE_BYTES)),
        error: error.map(|error| error.to_string()),
    }
}

fn truncate_on_char_boundary(mut text: String, max_bytes: usize) -> String {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn configured_headers(config: &HookConfig) -> Vec<(String, String)> {
    config.headers.iter().flatten().map(|(name, value)| (name.clone(), value.clone())).collect()
}

/// The request Logto would send: its `User-Agent` (which configured headers may replace), JSON, the configured
/// headers, then the signature and the delivery id, which nothing replaces.
pub fn webhook_request(
    url: &str,
    configured: Vec<(String, String)>,
    signing_key: &str,
    delivery_id: Option<&str>,
    body: String,
) -> WebhookRequest {
    let mut headers = vec![("user-agent".to_owned(), USER_AGENT.to_owned())];
    for (name, value) in configured {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        headers.push((name, value));
    }
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    headers.push((SIGNATURE_HEADER.to_owned(), sign(signing_key, body.as_bytes())));
    if let Some(id) = delivery_id {
        headers.push((DELIVERY_ID_HEADER.to_owned(), id.to_owned()));
    }
    WebhookRequest { url: url.to_owned(), headers, body }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::clock::{FixedClock, Timestamp};
    use crate::hook::MockHookRepository;
    use crate::hook::delivery::{DeliveryStatus, MockDeliveryOutbox};
    use crate::hook::signature::verify;
    use crate::ids::RandomIds;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    fn claimed(attempts: u32) -> ClaimedDelivery {
        ClaimedDelivery {
            delivery: HookDelivery {
                id: "d1".into(),
                hook_id: "h1".into(),
                event: HookEvent::USER_CREATED,
                payload: r#"{"event":"User.Created"}"#.into(),
                status: DeliveryStatus::Pending,
                attempts,
                next_attempt_at: NOW,
                last_attempt_at: None,
                last_outcome: AttemptOutcome::default(),
                created_at: NOW,
            },
            url: "https://receiver.example/hook".into(),
            headers: vec![("Authorization".into(), "Bearer token".into()), ("User-Agent".into(), "mine".into())],
            signing_key: "key".into(),
        }
    }

    fn service(answer: Result<WebhookResponse, SendError>, recorded: Arc<Mutex<Vec<AttemptRecord>>>) -> HookService {
        let mut sender = MockWebhookSender::new();
        sender.expect_post().returning(move |request| {
            // The receiver's view: the signature verifies against the exact body.
            let signature = header(request, "logto-signature-sha-256").unwrap();
            assert!(verify("key", request.body.as_bytes(), &signature));
            answer.clone()
        });
        let mut outbox = MockDeliveryOutbox::new();
        outbox.expect_record_attempt().returning(move |record| {
            recorded.lock().unwrap().push(record.clone());
            Ok(())
        });
        let ports = HookPorts {
            hooks: Arc::new(MockHookRepository::new()),
            outbox: Arc::new(outbox),
            sender: Arc::new(sender),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
        };
        HookService::new(ports, RetryPolicy { max_attempts: 3, base_delay_ms: 1_000, max_delay_ms: 10_000 })
    }

    fn header(request: &WebhookRequest, name: &str) -> Option<String> {
        request.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone())
    }

    fn answer(status: u16) -> Result<WebhookResponse, SendError> {
        Ok(WebhookResponse { status, body: "ok".into() })
    }

    #[tokio::test]
    async fn a_2xx_answer_delivers() {
        let recorded = Arc::default();
        let result = service(answer(204), Arc::clone(&recorded)).deliver(claimed(0), 0.0).await.unwrap();
        assert_eq!(result, AttemptResult::Delivered);
        let records = recorded.lock().unwrap();
        assert_eq!((records[0].attempt, records[0].outcome.response_status), (1, Some(204)));
    }

    #[tokio::test]
    async fn failures_back_off_then_fail_after_the_last_attempt() {
        let recorded: Arc<Mutex<Vec<AttemptRecord>>> = Arc::default();
        let result = service(answer(503), Arc::clone(&recorded)).deliver(claimed(0), 0.0).await.unwrap();
        assert_eq!(result, AttemptResult::RetryAt(Timestamp::from_millis(NOW.as_millis() + 500)));
        let transport = Err(SendError::Transport("connection refused".into()));
        let result = service(transport, Arc::clone(&recorded)).deliver(claimed(1), 0.0).await.unwrap();
        assert_eq!(result, AttemptResult::RetryAt(Timestamp::from_millis(NOW.as_millis() + 1_000)));
        let result = service(answer(500), Arc::clone(&recorded)).deliver(claimed(2), 0.0).await.unwrap();
        assert_eq!(result, AttemptResult::Failed);
        let records = recorded.lock().unwrap();
        assert_eq!(records.iter().map(|record| record.attempt).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(records[1].outcome.error.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn a_refused_target_fails_at_once() {
        let recorded = Arc::default();
        let refused = Err(SendError::RefusedTarget("10.0.0.1 is internal".into()));
        let result = service(refused, recorded).deliver(claimed(0), 0.0).await.unwrap();
        assert_eq!(result, AttemptResult::Failed);
    }

    #[test]
    fn the_request_is_signed_and_names_the_delivery_and_configured_headers_cannot_displace_either() {
        let request = webhook_request(
            "https://receiver.example/",
            vec![("User-Agent".into(), "mine".into()), ("X-Api-Key".into(), "k".into())],
            "key",
            Some("d1"),
            "{}".into(),
        );
        assert_eq!(header(&request, "user-agent").as_deref(), Some("mine"));
        assert_eq!(header(&request, "x-api-key").as_deref(), Some("k"));
        assert_eq!(header(&request, "latchkey-delivery-id").as_deref(), Some("d1"));
        assert_eq!(header(&request, "content-type").as_deref(), Some("application/json"));
        assert!(verify("key", b"{}", &header(&request, "logto-signature-sha-256").unwrap()));
        assert_eq!(request.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("user-agent")).count(), 1);
    }

    #[test]
    fn kept_response_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(MAX_KEPT_RESPONSE_BYTES);
        let kept = outcome(Some(WebhookResponse { status: 500, body }), None).response_body.unwrap();
        assert!(kept.len() <= MAX_KEPT_RESPONSE_BYTES && kept.chars().all(|c| c == 'é'));
    }

    #[tokio::test]
    async fn a_test_delivery_reports_the_endpoints_error() {
        let mut hooks = MockHookRepository::new();
        hooks.expect_find().returning(|_| {
            Ok(Some(Hook {
                id: "h1".into(),
                name: String::new(),
                event: None,
                events: vec![HookEvent::USER_CREATED],
                config: HookConfig { url: "https://saved.example/".into(), headers: None, retries: None },
                signing_key: "key".into(),
                enabled: true,
                created_at: NOW,
            }))
        });
        let mut sender = MockWebhookSender::new();
        sender.expect_post().returning(|request| {
            assert_eq!(request.url, "https://other.example/");
            Ok(WebhookResponse { status: 401, body: "no".into() })
        });
        let ports = HookPorts {
            hooks: Arc::new(hooks),
            outbox: Arc::new(MockDeliveryOutbox::new()),
            sender: Arc::new(sender),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
        };
        let service = HookService::new(ports, RetryPolicy::default());
        let config = HookConfig { url: "https://other.example/".into(), headers: Some(BTreeMap::new()), retries: None };
        let error = service.send_test("h1", &[HookEvent::USER_CREATED], &config).await.unwrap_err();
        assert!(matches!(error, HookError::EndpointResponded(WebhookResponse { status: 401, .. })));
    }
}
