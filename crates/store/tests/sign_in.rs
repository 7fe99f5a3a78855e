//! Store tests of the sign-in API's state (the sentinel's failure log and pending MFA challenges), run on SQLite
//! and (when `LATCHKEY_TEST_DATABASE_URL` is set) on PostgreSQL, with the schema built by the real migrations.

#[macro_use]
mod support;

store_suite!(
    failures_are_counted_per_target_within_the_window_and_without_blocks,
    the_latest_block_in_force_is_reported_until_it_ends,
    forgetting_old_failures_keeps_blocks_still_in_force,
    a_challenge_is_found_by_its_hash_with_every_field,
    a_challenge_allows_only_its_maximum_of_attempts,
    an_expired_challenge_takes_no_attempt,
    a_challenge_is_consumed_exactly_once,
    concurrent_attempts_never_exceed_the_maximum,
    inserting_a_challenge_forgets_expired_ones,
    a_challenge_for_a_missing_user_is_not_found,
    deleting_a_user_removes_their_challenges,
);

mod suite {
    use latchkey_domain::ports::{RepoError, UserRepository};
    use latchkey_domain::secrets::{SecretHash, hash_secret};
    use latchkey_domain::sign_in::{PendingMfa, PendingMfaRepository, SentinelFailure, SentinelRepository};
    use latchkey_domain::user::User;
    use latchkey_domain::{Timestamp, UserId};
    use latchkey_store::Store;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn target(name: &str) -> SecretHash {
        hash_secret(name)
    }

    fn failure(name: &str, secs: i64, blocked_until: Option<i64>) -> SentinelFailure {
        SentinelFailure {
            target: target(name),
            created_at: at(secs),
            blocked_until: blocked_until.map(at),
            lockout_event: None,
        }
    }

    async fn insert_user(store: &Store, n: u32) -> UserId {
        let id = UserId::parse(&format!("user{n:08}")).unwrap();
        store
            .users()
            .insert(&User::new(id.clone(), at(1)), &crate::support::audit::created(&User::new(id.clone(), at(1))))
            .await
            .unwrap();
        id
    }

    fn challenge(user_id: UserId, token: &str, created_secs: i64) -> PendingMfa {
        PendingMfa {
            token_hash: hash_secret(token),
            user_id,
            client_id: "spa-app".to_owned(),
            scopes: vec!["openid".to_owned(), "profile".to_owned()],
            sentinel_target: target("username:ada"),
            created_at: at(created_secs),
            expires_at: at(created_secs + 300),
            attempts: 0,
        }
    }

    pub async fn failures_are_counted_per_target_within_the_window_and_without_blocks(store: &Store) {
        let sentinel = store.sentinel();
        for secs in [100, 200, 300] {
            sentinel.record_failure(&failure("ada", secs, None)).await.unwrap();
        }
        sentinel.record_failure(&failure("ada", 400, Some(4_000))).await.unwrap();
        sentinel.record_failure(&failure("grace", 300, None)).await.unwrap();

        assert_eq!(
            sentinel.count_failures_since(&target("ada"), at(0)).await.unwrap(),
            3,
            "the block row is not counted"
        );
        assert_eq!(sentinel.count_failures_since(&target("ada"), at(150)).await.unwrap(), 2);
        assert_eq!(sentinel.count_failures_since(&target("grace"), at(0)).await.unwrap(), 1);
        assert_eq!(sentinel.count_failures_since(&target("nobody"), at(0)).await.unwrap(), 0);
    }

    pub async fn the_latest_block_in_force_is_reported_until_it_ends(store: &Store) {
        let sentinel = store.sentinel();
        assert_eq!(sentinel.blocked_until(&target("ada"), at(100)).await.unwrap(), None);
        sentinel.record_failure(&failure("ada", 100, Some(3_700))).await.unwrap();
        sentinel.record_failure(&failure("ada", 200, Some(3_800))).await.unwrap();
        sentinel.record_failure(&failure("ada", 250, None)).await.unwrap();

        assert_eq!(sentinel.blocked_until(&target("ada"), at(300)).await.unwrap(), Some(at(3_800)));
        assert_eq!(sentinel.blocked_until(&target("grace"), at(300)).await.unwrap(), None, "other targets are free");
        assert_eq!(sentinel.blocked_until(&target("ada"), at(3_800)).await.unwrap(), None, "the block has ended");
    }

    pub async fn forgetting_old_failures_keeps_blocks_still_in_force(store: &Store) {
        let sentinel = store.sentinel();
        sentinel.record_failure(&failure("ada", 100, None)).await.unwrap();
        sentinel.record_failure(&failure("ada", 200, Some(9_000))).await.unwrap();
        sentinel.record_failure(&failure("ada", 5_000, None)).await.unwrap();

        let forgotten = sentinel.forget_before(at(4_000)).await.unwrap();

        assert_eq!(forgotten, 1);
        assert_eq!(sentinel.blocked_until(&target("ada"), at(4_000)).await.unwrap(), Some(at(9_000)));
        assert_eq!(sentinel.count_failures_since(&target("ada"), at(0)).await.unwrap(), 1);
    }

    pub async fn a_challenge_is_found_by_its_hash_with_every_field(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        let stored = challenge(user, "token-1", 1_000);
        pending.insert(&stored).await.unwrap();

        let found = pending.begin_attempt(&hash_secret("token-1"), at(1_001), 5).await.unwrap();

        assert_eq!(found, Some(PendingMfa { attempts: 1, ..stored }));
        assert_eq!(pending.begin_attempt(&hash_secret("token-2"), at(1_001), 5).await.unwrap(), None);
    }

    pub async fn a_challenge_allows_only_its_maximum_of_attempts(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user, "token-1", 1_000)).await.unwrap();

        for expected in 1..=3 {
            let taken = pending.begin_attempt(&hash_secret("token-1"), at(1_001), 3).await.unwrap();
            assert_eq!(taken.map(|challenge| challenge.attempts), Some(expected));
        }
        assert_eq!(pending.begin_attempt(&hash_secret("token-1"), at(1_001), 3).await.unwrap(), None);
    }

    pub async fn an_expired_challenge_takes_no_attempt(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user, "token-1", 1_000)).await.unwrap();

        assert_eq!(pending.begin_attempt(&hash_secret("token-1"), at(1_300), 5).await.unwrap(), None);
    }

    pub async fn a_challenge_is_consumed_exactly_once(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user, "token-1", 1_000)).await.unwrap();

        assert!(pending.consume(&hash_secret("token-1")).await.unwrap());
        assert!(!pending.consume(&hash_secret("token-1")).await.unwrap());
        assert_eq!(pending.begin_attempt(&hash_secret("token-1"), at(1_001), 5).await.unwrap(), None);
    }

    pub async fn concurrent_attempts_never_exceed_the_maximum(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user, "token-1", 1_000)).await.unwrap();

        let attempts = (0..12).map(|_| {
            let pending = pending.clone();
            tokio::spawn(async move { pending.begin_attempt(&hash_secret("token-1"), at(1_001), 5).await })
        });
        let mut taken = 0;
        for attempt in attempts {
            if attempt.await.unwrap().unwrap().is_some() {
                taken += 1;
            }
        }

        assert_eq!(taken, 5);
    }

    pub async fn inserting_a_challenge_forgets_expired_ones(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user.clone(), "old", 1_000)).await.unwrap();
        pending.insert(&challenge(user, "new", 2_000)).await.unwrap();

        assert!(!pending.consume(&hash_secret("old")).await.unwrap(), "the expired challenge is gone");
        assert!(pending.consume(&hash_secret("new")).await.unwrap());
    }

    pub async fn a_challenge_for_a_missing_user_is_not_found(store: &Store) {
        let missing = UserId::parse("missing00001").unwrap();

        let result = store.pending_mfa().insert(&challenge(missing, "token-1", 1_000)).await;

        assert!(matches!(result, Err(RepoError::NotFound)), "{result:?}");
    }

    pub async fn deleting_a_user_removes_their_challenges(store: &Store) {
        let user = insert_user(store, 1).await;
        let pending = store.pending_mfa();
        pending.insert(&challenge(user.clone(), "token-1", 1_000)).await.unwrap();

        crate::support::audit::delete_user(store, &user).await.unwrap();

        assert!(!pending.consume(&hash_secret("token-1")).await.unwrap());
    }
}
