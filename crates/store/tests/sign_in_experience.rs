//! Store tests of the sign-in experience row, on SQLite and (when `LATCHKEY_TEST_DATABASE_URL` is set) on
//! PostgreSQL.

#[macro_use]
mod support;

store_suite!(
    an_unsaved_sign_in_experience_is_logtos_default_at_the_initial_version,
    a_saved_sign_in_experience_reads_back_with_a_new_version,
    a_save_from_a_stale_version_conflicts_and_changes_nothing,
    two_first_saves_from_the_defaults_let_exactly_one_win,
);

mod suite {
    use latchkey_domain::Timestamp;
    use latchkey_domain::mfa::MfaFactorType;
    use latchkey_domain::ports::{Conflict, RepoError};
    use latchkey_domain::sign_in::{MfaPolicy, MfaSettings};
    use latchkey_domain::sign_in_experience::{SignInExperience, SignInExperienceRepository};
    use latchkey_domain::user::Version;
    use latchkey_store::Store;

    fn with_mfa(policy: MfaPolicy) -> SignInExperience {
        let mut settings = SignInExperience {
            mfa: MfaSettings { factors: vec![MfaFactorType::Totp, MfaFactorType::BackupCode], policy },
            ..SignInExperience::default()
        };
        settings.password_policy.length.min = 12;
        settings.username_policy.case_sensitive = false;
        settings
    }

    pub async fn an_unsaved_sign_in_experience_is_logtos_default_at_the_initial_version(store: &Store) {
        let stored = store.sign_in_experience().get().await.unwrap();
        assert_eq!(stored.settings, SignInExperience::default());
        assert!(stored.settings.mfa.factors.is_empty());
        assert_eq!(stored.version, Version::INITIAL);
    }

    pub async fn a_saved_sign_in_experience_reads_back_with_a_new_version(store: &Store) {
        let repository = store.sign_in_experience();
        let first = repository.save(&with_mfa(MfaPolicy::Mandatory), Version::INITIAL, Timestamp::from_secs(1)).await;
        let first = first.unwrap();
        let second = repository.save(&with_mfa(MfaPolicy::NoPrompt), first, Timestamp::from_secs(2)).await.unwrap();

        let stored = repository.get().await.unwrap();
        assert_eq!(stored.settings, with_mfa(MfaPolicy::NoPrompt));
        assert_eq!(stored.version, second);
        assert!(second > first && first > Version::INITIAL);
    }

    pub async fn a_save_from_a_stale_version_conflicts_and_changes_nothing(store: &Store) {
        let repository = store.sign_in_experience();
        repository.save(&with_mfa(MfaPolicy::Mandatory), Version::INITIAL, Timestamp::from_secs(1)).await.unwrap();
        let stale = repository.save(&SignInExperience::default(), Version::INITIAL, Timestamp::from_secs(2)).await;
        assert_eq!(stale, Err(RepoError::Conflict(Conflict::Version)));
        assert_eq!(repository.get().await.unwrap().settings, with_mfa(MfaPolicy::Mandatory));
    }

    pub async fn two_first_saves_from_the_defaults_let_exactly_one_win(store: &Store) {
        let (one, two) = (store.sign_in_experience(), store.sign_in_experience());
        let now = Timestamp::from_secs(1);
        let (first, second) = tokio::join!(
            tokio::spawn(async move { one.save(&with_mfa(MfaPolicy::Mandatory), Version::INITIAL, now).await }),
            tokio::spawn(async move { two.save(&with_mfa(MfaPolicy::NoPrompt), Version::INITIAL, now).await }),
        );
        let outcomes = [first.unwrap(), second.unwrap()];
        let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(wins, 1, "{outcomes:?}");
        assert!(outcomes.contains(&Err(RepoError::Conflict(Conflict::Version))), "{outcomes:?}");
    }
}
