//! Webhooks and their outbox on both backends: a user or role change leaves one delivery per hook that wants its
//! event, in the change's own transaction (a refused change leaves none); claims lease a delivery to one claimer
//! until its lease ends; attempts, re-sends, statistics and the purge.

#[macro_use]
mod support;

store_suite!(
    hooks_are_stored_updated_listed_and_deleted_with_their_deliveries,
    a_change_leaves_one_delivery_per_hook_that_wants_its_event,
    a_refused_change_leaves_no_delivery,
    a_claimed_delivery_is_leased_to_one_claimer_until_its_lease_ends,
    attempts_are_recorded_and_deliveries_can_be_sent_again,
    concurrent_claimers_never_share_a_delivery,
    a_lockout_is_delivered_with_the_failure_that_starts_it,
);

mod suite {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use latchkey_domain::audit::{AuditContext, AuditEntry, keys};
    use latchkey_domain::hook::delivery::{
        AttemptOutcome, AttemptRecord, AttemptResult, DeliveryFilter, DeliveryOutbox, DeliveryStatus, ExecutionStats,
    };
    use latchkey_domain::hook::{Hook, HookConfig, HookEvent, HookRepository};
    use latchkey_domain::identifiers::Username;
    use latchkey_domain::ports::{Conflict, Pagination, RepoError, UserChange, UserRepository};
    use latchkey_domain::role::{Role, RoleRepository, RoleType};
    use latchkey_domain::{IdGenerator, RandomIds, Timestamp, User, UserId};

    use latchkey_store::Store;
    use serde_json::Value;

    use crate::support::audit;

    const T0: Timestamp = Timestamp::from_millis(1_000_000);

    fn hook(n: u32, events: &[HookEvent], enabled: bool) -> Hook {
        Hook {
            id: format!("hook{n:017}"),
            name: format!("hook {n}"),
            event: None,
            events: events.to_vec(),
            config: HookConfig { url: format!("https://receiver{n}.example/"), headers: None, retries: None },
            signing_key: format!("key{n}"),
            enabled,
            created_at: Timestamp::from_millis(i64::from(n)),
        }
    }

    fn filter(hook_id: &str) -> DeliveryFilter {
        DeliveryFilter { hook_id: hook_id.to_owned(), since: Timestamp::from_millis(0), event: None }
    }

    fn everything() -> Pagination {
        Pagination::new(1, 100).unwrap()
    }

    async fn new_user(store: &Store, n: u32, username: &str) -> User {
        let mut user = User::new(UserId::parse(&format!("user{n:08}")).unwrap(), T0);
        user.username = Some(Username::parse(username).unwrap());
        let mut entry = audit::created(&user);
        entry.created_at = T0;
        store.users().insert(&user, &entry).await.unwrap();
        user
    }

    pub async fn hooks_are_stored_updated_listed_and_deleted_with_their_deliveries(store: &Store) {
        let hooks = store.hooks();
        let mut first = hook(1, &[HookEvent::USER_CREATED], true);
        first.config.headers = Some([("authorization".to_owned(), "Bearer x".to_owned())].into());
        hooks.insert(&first).await.unwrap();
        hooks.insert(&hook(2, &[HookEvent::USER_DELETED], false)).await.unwrap();
        assert_eq!(hooks.find(&first.id).await.unwrap(), Some(first.clone()));

        let mut changed = first.clone();
        changed.events = vec![HookEvent::USER_CREATED, HookEvent::POST_SIGN_IN];
        changed.enabled = false;
        hooks.update(&changed).await.unwrap();
        assert_eq!(hooks.find(&first.id).await.unwrap(), Some(changed));
        assert_eq!(hooks.update(&hook(9, &[], true)).await, Err(RepoError::NotFound));

        let all = hooks.list(None).await.unwrap();
        assert_eq!(
            all.items.iter().map(|hook| hook.id.as_str()).collect::<Vec<_>>(),
            [first.id.as_str(), "hook00000000000000002"]
        );
        let second_page = hooks.list(Pagination::new(2, 1)).await.unwrap();
        assert_eq!((second_page.total, second_page.items[0].id.as_str()), (2, "hook00000000000000002"));

        hooks.update(&hook(1, &[HookEvent::USER_CREATED], true)).await.unwrap();
        new_user(store, 1, "ada").await;
        assert_eq!(store.hook_outbox().list(&filter(&first.id), everything()).await.unwrap().total, 1);
        hooks.delete(&first.id).await.unwrap();
        assert_eq!(hooks.delete(&first.id).await, Err(RepoError::NotFound));
        assert_eq!(store.hook_outbox().list(&filter(&first.id), everything()).await.unwrap().total, 0);
    }

    pub async fn a_change_leaves_one_delivery_per_hook_that_wants_its_event(store: &Store) {
        let hooks = store.hooks();
        hooks.insert(&hook(1, &[HookEvent::USER_CREATED, HookEvent::USER_DATA_UPDATED], true)).await.unwrap();
        hooks.insert(&hook(2, &[HookEvent::USER_CREATED], true)).await.unwrap();
        hooks.insert(&hook(3, &[HookEvent::USER_CREATED], false)).await.unwrap();
        hooks.insert(&hook(4, &[HookEvent::ROLE_CREATED, HookEvent::ROLE_DELETED], true)).await.unwrap();
        let outbox = store.hook_outbox();

        let user = new_user(store, 1, "ada").await;
        let mut renamed = user.clone();
        renamed.name = Some("Ada".to_owned());
        let mut change = audit::changed(&renamed);
        change.entry.created_at = T0.plus_secs(1);
        let renamed = store.users().update(&renamed, &change).await.unwrap();
        // Not a hook event.
        let revoked = audit::entry(&user.id, keys::USER_SESSIONS_REVOKED);
        store.users().update(&renamed, &UserChange::logged(revoked)).await.unwrap();

        let first = outbox.list(&filter("hook00000000000000001"), everything()).await.unwrap().items;
        let events: Vec<&str> = first.iter().map(|delivery| delivery.event.as_str()).collect();
        assert_eq!(events, ["User.Data.Updated", "User.Created"]);
        let payload: Value = serde_json::from_str(&first[0].payload).unwrap();
        assert_eq!(
            (payload["hookId"].as_str(), payload["data"]["name"].as_str()),
            (Some("hook00000000000000001"), Some("Ada"))
        );
        assert!(first.iter().all(|delivery| delivery.status == DeliveryStatus::Pending && delivery.attempts == 0));
        assert_eq!(outbox.list(&filter("hook00000000000000002"), everything()).await.unwrap().total, 1);
        assert_eq!(outbox.list(&filter("hook00000000000000003"), everything()).await.unwrap().total, 0);

        // Role events carry the role in Logto's shape.
        let role = Role {
            id: "role00000000000000001".to_owned(),
            name: "admin".to_owned(),
            description: "admins".to_owned(),
            role_type: RoleType::User,
            is_default: false,
            created_at: T0,
        };
        let role_entry =
            |key: &str| AuditEntry::of(RandomIds.entity_id(), key, &AuditContext::system(), serde_json::Map::new(), T0);
        store.roles().insert(&role, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        store.roles().delete(&role.id, &role_entry(keys::ROLE_DELETED)).await.unwrap();
        let role_events = outbox.list(&filter("hook00000000000000004"), everything()).await.unwrap().items;
        assert_eq!(role_events.len(), 2);
        for delivery in &role_events {
            let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
            assert_eq!(
                (payload["data"]["name"].as_str(), payload["data"]["type"].as_str()),
                (Some("admin"), Some("User"))
            );
        }
    }

    pub async fn a_refused_change_leaves_no_delivery(store: &Store) {
        store.hooks().insert(&hook(1, &[HookEvent::USER_CREATED, HookEvent::USER_DATA_UPDATED], true)).await.unwrap();
        let ada = new_user(store, 1, "ada").await;
        // The same username again: refused by the unique index, after the audit entry and delivery were written in
        // the same transaction.
        let mut clash = User::new(UserId::parse("user00000002").unwrap(), T0);
        clash.username = ada.username.clone();
        let refused = store.users().insert(&clash, &audit::created(&clash)).await;
        assert_eq!(refused, Err(RepoError::Conflict(Conflict::Username)));
        // A stale version: refused.
        let mut stale = ada.clone();
        stale.version = stale.version.next();
        assert_eq!(
            store.users().update(&stale, &audit::changed(&stale)).await.map(|_| ()),
            Err(RepoError::Conflict(Conflict::Version))
        );

        let deliveries = store.hook_outbox().list(&filter("hook00000000000000001"), everything()).await.unwrap();
        assert_eq!(deliveries.total, 1, "only ada's creation: {deliveries:?}");
    }

    pub async fn a_claimed_delivery_is_leased_to_one_claimer_until_its_lease_ends(store: &Store) {
        store.hooks().insert(&hook(1, &[HookEvent::USER_CREATED], true)).await.unwrap();
        store.hooks().insert(&hook(2, &[HookEvent::USER_CREATED], false)).await.unwrap();
        new_user(store, 1, "ada").await;
        let outbox = store.hook_outbox();

        // Not due before it was created.
        assert!(outbox.claim_due(Timestamp::from_millis(T0.as_millis() - 1), T0, 10).await.unwrap().is_empty());
        let lease_end = T0.plus_secs(60);
        let claimed = outbox.claim_due(T0, lease_end, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].url.as_str(), claimed[0].signing_key.as_str()), ("https://receiver1.example/", "key1"));
        // Leased: nobody else gets it until the lease ends, then someone does (its claimer died).
        assert!(outbox.claim_due(T0.plus_secs(59), T0.plus_secs(120), 10).await.unwrap().is_empty());
        let taken_over = outbox.claim_due(lease_end, T0.plus_secs(120), 10).await.unwrap();
        assert_eq!(taken_over.len(), 1);
        assert_eq!(taken_over[0].delivery.id, claimed[0].delivery.id);

        // Deliveries of disabled hooks wait.
        let mut disabled = hook(1, &[HookEvent::USER_CREATED], false);
        disabled.signing_key = "key1".to_owned();
        store.hooks().update(&disabled).await.unwrap();
        assert!(outbox.claim_due(T0.plus_secs(500), T0.plus_secs(560), 10).await.unwrap().is_empty());
    }

    pub async fn attempts_are_recorded_and_deliveries_can_be_sent_again(store: &Store) {
        store.hooks().insert(&hook(1, &[HookEvent::USER_CREATED], true)).await.unwrap();
        new_user(store, 1, "ada").await;
        let outbox = store.hook_outbox();
        let id = outbox.claim_due(T0, T0.plus_secs(60), 10).await.unwrap()[0].delivery.id.clone();

        let retry_at = T0.plus_secs(5);
        let failed = AttemptOutcome { response_status: Some(503), response_body: Some("down".into()), error: None };
        outbox
            .record_attempt(&AttemptRecord {
                delivery_id: id.clone(),
                attempt: 1,
                at: T0,
                result: AttemptResult::RetryAt(retry_at),
                outcome: failed,
            })
            .await
            .unwrap();
        let pending = outbox.find("hook00000000000000001", &id).await.unwrap().unwrap();
        assert_eq!((pending.status, pending.attempts, pending.next_attempt_at), (DeliveryStatus::Pending, 1, retry_at));
        assert_eq!(pending.last_outcome.response_status, Some(503));
        // The lease ended with the attempt, but the retry is not due yet.
        assert!(outbox.claim_due(T0.plus_secs(4), T0.plus_secs(64), 10).await.unwrap().is_empty());
        assert_eq!(outbox.claim_due(retry_at, T0.plus_secs(65), 10).await.unwrap().len(), 1);

        let delivered = AttemptOutcome { response_status: Some(200), response_body: Some("ok".into()), error: None };
        outbox
            .record_attempt(&AttemptRecord {
                delivery_id: id.clone(),
                attempt: 2,
                at: retry_at,
                result: AttemptResult::Delivered,
                outcome: delivered,
            })
            .await
            .unwrap();
        let done = outbox.find("hook00000000000000001", &id).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.attempts, done.last_outcome.response_body.as_deref()),
            (DeliveryStatus::Delivered, 2, Some("ok"))
        );
        assert_eq!(
            outbox.stats("hook00000000000000001", Timestamp::from_millis(0)).await.unwrap(),
            ExecutionStats { request_count: 1, success_count: 1 }
        );
        assert!(outbox.claim_due(T0.plus_secs(999), T0.plus_secs(1059), 10).await.unwrap().is_empty());

        // Sent again on request, from a fresh count; only by its own hook.
        assert_eq!(outbox.redeliver("hook00000000000000002", &id, T0).await, Err(RepoError::NotFound));
        let again = outbox.redeliver("hook00000000000000001", &id, T0.plus_secs(10)).await.unwrap();
        assert_eq!((again.status, again.attempts), (DeliveryStatus::Pending, 0));
        assert_eq!(outbox.claim_due(T0.plus_secs(10), T0.plus_secs(70), 10).await.unwrap().len(), 1);

        // Finished deliveries are purged after their retention; pending ones never.
        outbox
            .record_attempt(&AttemptRecord {
                delivery_id: id.clone(),
                attempt: 1,
                at: T0,
                result: AttemptResult::Failed,
                outcome: AttemptOutcome::default(),
            })
            .await
            .unwrap();
        new_user(store, 2, "bob").await;
        assert_eq!(outbox.purge_finished(T0.plus_secs(1)).await.unwrap(), 1);
        assert_eq!(outbox.list(&filter("hook00000000000000001"), everything()).await.unwrap().total, 1);
    }

    pub async fn concurrent_claimers_never_share_a_delivery(store: &Store) {
        store.hooks().insert(&hook(1, &[HookEvent::USER_CREATED], true)).await.unwrap();
        for n in 0..40 {
            new_user(store, n, &format!("user{n}")).await;
        }
        let outbox = Arc::new(store.hook_outbox());
        let mut claimers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let outbox = Arc::clone(&outbox);
            claimers.spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = outbox.claim_due(T0, T0.plus_secs(60), 3).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|claimed| claimed.delivery.id));
                }
            });
        }
        let mut all = Vec::new();
        while let Some(mine) = claimers.join_next().await {
            all.extend(mine.unwrap());
        }
        let distinct: BTreeSet<&String> = all.iter().collect();
        assert_eq!((all.len(), distinct.len()), (40, 40));
    }

    pub async fn a_lockout_is_delivered_with_the_failure_that_starts_it(store: &Store) {
        use latchkey_domain::hook::payload::{EventData, HookEventOccurrence};
        use latchkey_domain::secrets::hash_secret;
        use latchkey_domain::sign_in::{SentinelFailure, SentinelRepository};

        store.hooks().insert(&hook(1, &[HookEvent::IDENTIFIER_LOCKOUT], true)).await.unwrap();
        let target = hash_secret("email:ada@example.com");
        let plain =
            SentinelFailure { target: target.clone(), created_at: T0, blocked_until: None, lockout_event: None };
        store.sentinel().record_failure(&plain).await.unwrap();
        let lockout = HookEventOccurrence {
            event: HookEvent::IDENTIFIER_LOCKOUT,
            context: AuditContext::system().with_origin(Some("203.0.113.7"), None),
            user_id: None,
            data: EventData::Lockout { identifier_type: "email", value: "ada@example.com".to_owned() },
            created_at: T0,
        };
        let blocking = SentinelFailure {
            target,
            created_at: T0,
            blocked_until: Some(T0.plus_secs(60)),
            lockout_event: Some(lockout),
        };
        store.sentinel().record_failure(&blocking).await.unwrap();

        let deliveries = store.hook_outbox().list(&filter("hook00000000000000001"), everything()).await.unwrap().items;
        assert_eq!(deliveries.len(), 1);
        let payload: Value = serde_json::from_str(&deliveries[0].payload).unwrap();
        assert_eq!(
            (payload["event"].as_str(), payload["type"].as_str(), payload["value"].as_str(), payload["ip"].as_str()),
            (Some("Identifier.Lockout"), Some("email"), Some("ada@example.com"), Some("203.0.113.7"))
        );
    }
}
