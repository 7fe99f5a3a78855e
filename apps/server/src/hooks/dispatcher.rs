//! The webhook dispatcher every instance runs (unless `hook_dispatch = false`): it claims due deliveries for a
//! lease, delivers them concurrently through the domain's [`HookService::deliver`], and when there is nothing due
//! waits for the poll interval. Leases make several instances safe: a delivery is sent by one of them, and sent
//! again only when its lease ended without an outcome (the instance died mid-delivery), which is the at-least-once
//! rule receivers deduplicate with the delivery id.

use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::Clock;
use latchkey_domain::hook::delivery::DeliveryOutbox;
use latchkey_domain::service::HookService;
use tokio::task::JoinSet;

/// Deliveries claimed (and sent concurrently) at a time.
const BATCH_SIZE: u64 = 32;
/// How often finished deliveries past their retention are forgotten.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct DispatcherSettings {
    pub lease: Duration,
    pub poll_interval: Duration,
    pub retention: Duration,
}

pub struct Dispatcher {
    service: HookService,
    outbox: Arc<dyn DeliveryOutbox>,
    clock: Arc<dyn Clock>,
    settings: DispatcherSettings,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(service: HookService, settings: DispatcherSettings) -> Self {
        let ports = service.ports();
        let (outbox, clock) = (Arc::clone(&ports.outbox), Arc::clone(&ports.clock));
        Self { service, outbox, clock, settings }
    }

    /// Runs until the runtime stops. Deliveries in flight then keep their lease and are taken over after it.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let mut purge = tokio::time::interval(PURGE_INTERVAL);
        loop {
            let claimed = self.dispatch_batch().await;
            if claimed < BATCH_SIZE {
                // Only the idle wait races the purge: a batch is never cut short, since dropping it would abort
                // deliveries in flight (to be sent again when their lease ends).
                tokio::select! {
                    _ = purge.tick() => self.purge().await,
                    () = tokio::time::sleep(self.settings.poll_interval) => {}
                }
            }
        }
    }

    /// Claims and delivers one batch; answers how many deliveries were claimed.
    async fn dispatch_batch(&self) -> u64 {
        let now = self.clock.now();
        let lease_until = now.plus_millis(duration_millis(self.settings.lease));
        let claimed = match self.outbox.claim_due(now, lease_until, BATCH_SIZE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot claim webhook deliveries; will retry");
                return 0;
            }
        };
        let count = claimed.len() as u64;
        let mut running = JoinSet::new();
        for delivery in claimed {
            let service = self.service.clone();
            running.spawn(async move {
                let (id, hook_id) = (delivery.delivery.id.clone(), delivery.delivery.hook_id.clone());
                let result = service.deliver(delivery, rand::random::<f64>()).await;
                (id, hook_id, result)
            });
        }
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((id, hook_id, Ok(result))) => {
                    tracing::debug!(delivery_id = %id, %hook_id, ?result, "webhook attempt recorded");
                }
                // The attempt happened but its outcome was not saved: the lease will end and it is sent again.
                Ok((id, hook_id, Err(error))) => {
                    tracing::warn!(delivery_id = %id, %hook_id, %error, "cannot record a webhook attempt");
                }
                Err(error) => tracing::error!(%error, "a webhook delivery task failed"),
            }
        }
        count
    }

    async fn purge(&self) {
        let before = self.clock.now().plus_millis(-duration_millis(self.settings.retention));
        match self.outbox.purge_finished(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot finished webhook deliveries past their retention"),
            Err(error) => tracing::warn!(%error, "purging webhook deliveries failed; will retry"),
        }
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
