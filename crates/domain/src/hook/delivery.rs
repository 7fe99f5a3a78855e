//! One delivery of one event to one hook, the outbox that holds deliveries until they are done, and the rule
//! for retrying them.
//!
//! A delivery is written by the change that caused its event, in that change's transaction (the store does it
//! next to the audit entry), so an event is never lost and never sent for a change that was rolled back. A
//! dispatcher in every server instance then claims due deliveries for a lease, posts them, and records the
//! outcome: delivered, due again later (with exponential backoff and jitter), or failed after the last attempt.
//! A delivery whose claimer died is claimed again when its lease ends, so delivery is at least once; the
//! [`DELIVERY_ID_HEADER`] lets receivers drop repeats.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::hook::HookEvent;
use crate::ports::{Page, Pagination, RepoError};

/// Names the delivery; the same on every attempt, so receivers can deduplicate.
pub const DELIVERY_ID_HEADER: &str = "latchkey-delivery-id";
/// How much of a receiver's answer is kept for `recent-logs`.
pub const MAX_KEPT_RESPONSE_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Not delivered yet; due at `next_attempt_at`.
    Pending,
    Delivered,
    /// Every attempt failed, or the target was refused; an administrator may send it again.
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|status| status.as_str() == value)
    }
}

/// What the receiver answered on the last attempt, or why there was no answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptOutcome {
    pub response_status: Option<u16>,
    /// At most [`MAX_KEPT_RESPONSE_BYTES`].
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// One event for one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    /// 21 characters; sent as [`DELIVERY_ID_HEADER`].
    pub id: String,
    pub hook_id: String,
    pub event: HookEvent,
    /// The exact JSON body sent on every attempt (and signed).
    pub payload: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_outcome: AttemptOutcome,
    pub created_at: Timestamp,
}

/// A delivery claimed for sending, with where to send it: the hook's configuration as it is at claim time.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: HookDelivery,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub signing_key: String,
}

// The signing key and configured headers are credentials.
impl std::fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery").field("delivery", &self.delivery.id).finish_non_exhaustive()
    }
}

/// How an attempt ends a delivery's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    RetryAt(Timestamp),
    Failed,
}

/// What one attempt did, recorded in one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub delivery_id: String,
    /// The attempt's number (1 for the first).
    pub attempt: u32,
    pub at: Timestamp,
    pub result: AttemptResult,
    pub outcome: AttemptOutcome,
}

/// Which deliveries `recent-logs` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub hook_id: String,
    /// Only deliveries created at or after this time.
    pub since: Timestamp,
    pub event: Option<HookEvent>,
}

/// Logto's `executionStats` of a hook: its deliveries of the last 24 hours, and how many of them succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStats {
    pub request_count: u64,
    pub success_count: u64,
}

/// The outbox. Deliveries are added by the store inside the transactions of the changes that cause them, not
/// through this port.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryOutbox: Send + Sync {
    /// Claims up to `limit` pending deliveries of enabled hooks that are due at `now` and not leased to anyone,
    /// leasing them until `lease_until`, oldest due first. Two claimers never get the same delivery while its lease
    /// runs (on PostgreSQL with `FOR UPDATE SKIP LOCKED`).
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, RepoError>;
    /// Records an attempt and ends the lease.
    async fn record_attempt(&self, record: &AttemptRecord) -> Result<(), RepoError>;
    /// Newest first.
    async fn list(&self, filter: &DeliveryFilter, pagination: Pagination) -> Result<Page<HookDelivery>, RepoError>;
    async fn find(&self, hook_id: &str, delivery_id: &str) -> Result<Option<HookDelivery>, RepoError>;
    async fn stats(&self, hook_id: &str, since: Timestamp) -> Result<ExecutionStats, RepoError>;
    /// Makes a delivery of `hook_id` due again at `now` with a fresh count of attempts (an administrator's
    /// re-send); `NotFound` when the hook has no such delivery.
    async fn redeliver(&self, hook_id: &str, delivery_id: &str, now: Timestamp) -> Result<HookDelivery, RepoError>;
    /// Forgets delivered and failed deliveries created before `before`; returns how many.
    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError>;
}

/// Exponential backoff with jitter: attempt `n` (1-based) that failed is followed by a wait of
/// `min(base × 2^(n-1), max)`, of which the second half is random, until `max_attempts` attempts were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
}

impl Default for RetryPolicy {
    /// Eight attempts over about ten minutes: 5 s, 10 s, 20 s … 320 s between them (halved at worst by jitter).
    fn default() -> Self {
        Self { max_attempts: 8, base_delay_ms: 5_000, max_delay_ms: 3_600_000 }
    }
}

impl RetryPolicy {
    /// When attempt number `attempt` has failed at `now`, when to try again; `None` when it was the last one.
    /// `jitter` is a uniform random number in `[0, 1)`.
    pub fn retry_at(&self, attempt: u32, now: Timestamp, jitter: f64) -> Option<Timestamp> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doublings = attempt.saturating_sub(1).min(62);
        let delay = self.base_delay_ms.saturating_mul(1_i64 << doublings).min(self.max_delay_ms).max(0);
        let half = delay / 2;
        // Truncation is fine: the jittered half is at most `half` milliseconds.
        #[expect(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let jittered = (half as f64 * jitter.clamp(0.0, 1.0)) as i64;
        Some(Timestamp::from_millis(now.as_millis().saturating_add(delay - half + jittered)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    #[test]
    fn waits_double_until_the_cap_and_stop_after_the_last_attempt() {
        let policy = RetryPolicy { max_attempts: 5, base_delay_ms: 1_000, max_delay_ms: 5_000 };
        let wait = |attempt, jitter| policy.retry_at(attempt, NOW, jitter).map(|at| at.as_millis() - NOW.as_millis());
        assert_eq!(wait(1, 0.0), Some(500));
        assert_eq!(wait(1, 0.999_999), Some(999));
        assert_eq!(wait(2, 0.0), Some(1_000));
        assert_eq!(wait(3, 0.5), Some(3_000));
        assert_eq!(wait(4, 0.0), Some(2_500)); // 8 s capped at 5 s
        assert_eq!(wait(5, 0.0), None);
        assert_eq!(wait(50, 0.0), None);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let policy = RetryPolicy { max_attempts: u32::MAX, base_delay_ms: 1_000, max_delay_ms: 60_000 };
        let at = policy.retry_at(1_000, NOW, 1.0).unwrap();
        assert_eq!(at.as_millis() - NOW.as_millis(), 60_000);
    }

    #[test]
    fn statuses_round_trip_their_names() {
        for status in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
    }
}
