//! Store tests of email/phone verification codes and the per-recipient send log, run on SQLite and (when
//! `LATCHKEY_TEST_DATABASE_URL` is set) on PostgreSQL, with the schema built by the real migrations.

#[macro_use]
mod support;

store_suite!(
    a_code_is_found_by_its_id_with_every_field,
    an_unknown_code_is_not_found,
    a_new_code_replaces_the_earlier_one_for_the_same_target,
    inserting_a_code_forgets_expired_ones,
    a_code_allows_only_its_maximum_of_attempts,
    an_expired_code_takes_no_attempt,
    a_code_is_consumed_exactly_once,
    concurrent_attempts_never_exceed_the_maximum,
    sends_are_limited_per_target_within_the_window,
    sends_older_than_the_window_no_longer_count,
    concurrent_sends_never_exceed_the_limit,
);

mod suite {
    use std::sync::Arc;

    use latchkey_domain::Timestamp;
    use latchkey_domain::secrets::{SecretHash, hash_secret};
    use latchkey_domain::verification_code::{CodePurpose, VerificationCode, VerificationCodeRepository};
    use latchkey_store::Store;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn target(name: &str) -> SecretHash {
        hash_secret(name)
    }

    fn code(name: &str, created_secs: i64) -> (String, VerificationCode) {
        VerificationCode::issue(CodePurpose::SignIn, target(name), at(created_secs))
    }

    pub async fn a_code_is_found_by_its_id_with_every_field(store: &Store) {
        let codes = store.verification_codes();
        let (clear, record) = code("email:ada@example.com", 1_000);
        codes.insert(&record).await.unwrap();

        let found = codes.find(&record.id).await.unwrap().expect("the code is stored");

        assert_eq!(found, record);
        assert!(found.matches(&clear));
    }

    pub async fn an_unknown_code_is_not_found(store: &Store) {
        assert_eq!(store.verification_codes().find("no-such-verification").await.unwrap(), None);
    }

    pub async fn a_new_code_replaces_the_earlier_one_for_the_same_target(store: &Store) {
        let codes = store.verification_codes();
        let (_, first) = code("email:ada@example.com", 1_000);
        let (_, other) = code("email:eve@example.com", 1_000);
        let (_, second) = code("email:ada@example.com", 1_010);
        codes.insert(&first).await.unwrap();
        codes.insert(&other).await.unwrap();
        codes.insert(&second).await.unwrap();

        assert_eq!(codes.find(&first.id).await.unwrap(), None, "one live code per target");
        assert!(codes.find(&second.id).await.unwrap().is_some());
        assert!(codes.find(&other.id).await.unwrap().is_some(), "other targets keep theirs");
    }

    pub async fn inserting_a_code_forgets_expired_ones(store: &Store) {
        let codes = store.verification_codes();
        let (_, old) = code("email:eve@example.com", 1_000);
        codes.insert(&old).await.unwrap();
        let (_, fresh) = code("email:ada@example.com", 1_000 + 600);
        codes.insert(&fresh).await.unwrap();

        assert_eq!(codes.find(&old.id).await.unwrap(), None);
    }

    pub async fn a_code_allows_only_its_maximum_of_attempts(store: &Store) {
        let codes = store.verification_codes();
        let (_, record) = code("email:ada@example.com", 1_000);
        codes.insert(&record).await.unwrap();

        for _ in 0..3 {
            assert!(codes.begin_attempt(&record.id, at(1_001), 3).await.unwrap());
        }
        assert!(!codes.begin_attempt(&record.id, at(1_001), 3).await.unwrap());
        assert_eq!(codes.find(&record.id).await.unwrap().unwrap().attempts, 3);
    }

    pub async fn an_expired_code_takes_no_attempt(store: &Store) {
        let codes = store.verification_codes();
        let (_, record) = code("email:ada@example.com", 1_000);
        codes.insert(&record).await.unwrap();

        assert!(!codes.begin_attempt(&record.id, record.expires_at, 10).await.unwrap());
        assert!(!codes.begin_attempt("no-such-verification", at(1_001), 10).await.unwrap());
        assert_eq!(codes.find(&record.id).await.unwrap().unwrap().attempts, 0);
    }

    pub async fn a_code_is_consumed_exactly_once(store: &Store) {
        let codes = store.verification_codes();
        let (_, record) = code("email:ada@example.com", 1_000);
        codes.insert(&record).await.unwrap();

        assert!(codes.consume(&record.id).await.unwrap());
        assert!(!codes.consume(&record.id).await.unwrap());
        assert_eq!(codes.find(&record.id).await.unwrap(), None);
    }

    pub async fn concurrent_attempts_never_exceed_the_maximum(store: &Store) {
        let codes = Arc::new(store.verification_codes());
        let (_, record) = code("email:ada@example.com", 1_000);
        codes.insert(&record).await.unwrap();

        let attempts: Vec<_> = (0..20)
            .map(|_| {
                let codes = Arc::clone(&codes);
                let id = record.id.clone();
                tokio::spawn(async move { codes.begin_attempt(&id, at(1_001), 10).await.unwrap() })
            })
            .collect();
        let mut taken = 0;
        for attempt in attempts {
            taken += usize::from(attempt.await.unwrap());
        }

        assert_eq!(taken, 10);
        assert_eq!(codes.find(&record.id).await.unwrap().unwrap().attempts, 10);
    }

    pub async fn sends_are_limited_per_target_within_the_window(store: &Store) {
        let codes = store.verification_codes();
        let ada = target("email:ada@example.com");

        for second in 0..10 {
            assert!(codes.record_send(&ada, at(1_000 + second), at(400 + second), 10).await.unwrap());
        }
        assert!(!codes.record_send(&ada, at(1_010), at(410), 10).await.unwrap(), "the eleventh is refused");
        assert!(
            codes.record_send(&target("email:eve@example.com"), at(1_010), at(410), 10).await.unwrap(),
            "other recipients are not limited by it"
        );
    }

    pub async fn sends_older_than_the_window_no_longer_count(store: &Store) {
        let codes = store.verification_codes();
        let ada = target("email:ada@example.com");
        for second in 0..10 {
            assert!(codes.record_send(&ada, at(1_000 + second), at(400 + second), 10).await.unwrap());
        }
        assert!(!codes.record_send(&ada, at(1_500), at(900), 10).await.unwrap(), "refusals are not counted");

        // Ten minutes after the first send, it has left the window: one more fits.
        assert!(codes.record_send(&ada, at(1_600), at(1_000), 10).await.unwrap());
        assert!(!codes.record_send(&ada, at(1_600), at(1_000), 10).await.unwrap());
    }

    pub async fn concurrent_sends_never_exceed_the_limit(store: &Store) {
        let codes = Arc::new(store.verification_codes());
        let ada = target("email:ada@example.com");

        let sends: Vec<_> = (0..20)
            .map(|_| {
                let codes = Arc::clone(&codes);
                let ada = ada.clone();
                tokio::spawn(async move { codes.record_send(&ada, at(1_000), at(400), 10).await.unwrap() })
            })
            .collect();
        let mut recorded = 0;
        for send in sends {
            recorded += usize::from(send.await.unwrap());
        }

        assert!(recorded <= 10, "{recorded} sends recorded");
        // Refused sends left nothing behind: exactly the rest of the allowance is still free.
        let mut later = 0;
        while codes.record_send(&ada, at(1_001), at(401), 10).await.unwrap() {
            later += 1;
        }
        assert_eq!(recorded + later, 10);
    }
}
