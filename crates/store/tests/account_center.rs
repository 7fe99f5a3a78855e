//! Store tests of the account-center settings row, on SQLite and (when `LATCHKEY_TEST_DATABASE_URL` is set) on
//! PostgreSQL.

#[macro_use]
mod support;

store_suite!(
    unsaved_settings_are_logtos_defaults_at_the_initial_version,
    saved_settings_read_back_with_a_new_version,
    a_save_from_a_stale_version_conflicts_and_changes_nothing,
    two_first_saves_from_the_defaults_let_exactly_one_win,
);

mod suite {
    use latchkey_domain::Timestamp;
    use latchkey_domain::account_center::{
        AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
    };
    use latchkey_domain::ports::{Conflict, RepoError};
    use latchkey_domain::user::Version;
    use latchkey_store::Store;

    fn enabled_with_email(access: FieldAccess) -> AccountCenterSettings {
        AccountCenterSettings {
            enabled: true,
            fields: AccountCenterFields { email: Some(access), ..Default::default() },
            webauthn_related_origins: vec!["https://example.com".to_owned()],
            ..Default::default()
        }
    }

    pub async fn unsaved_settings_are_logtos_defaults_at_the_initial_version(store: &Store) {
        let stored = store.account_center().get().await.unwrap();
        assert_eq!(stored.settings, AccountCenterSettings::default());
        assert!(!stored.settings.enabled);
        assert_eq!(stored.version, Version::INITIAL);
    }

    pub async fn saved_settings_read_back_with_a_new_version(store: &Store) {
        let repository = store.account_center();
        let (edit, read_only) = (enabled_with_email(FieldAccess::Edit), enabled_with_email(FieldAccess::ReadOnly));
        let first = repository.save(&edit, Version::INITIAL, Timestamp::from_secs(1)).await.unwrap();
        let second = repository.save(&read_only, first, Timestamp::from_secs(2)).await.unwrap();

        let stored = repository.get().await.unwrap();
        assert_eq!(stored.settings, enabled_with_email(FieldAccess::ReadOnly));
        assert_eq!(stored.version, second);
        assert!(second > first && first > Version::INITIAL);
    }

    pub async fn a_save_from_a_stale_version_conflicts_and_changes_nothing(store: &Store) {
        let repository = store.account_center();
        let edit = enabled_with_email(FieldAccess::Edit);
        repository.save(&edit, Version::INITIAL, Timestamp::from_secs(1)).await.unwrap();
        let defaults = AccountCenterSettings::default();
        let stale = repository.save(&defaults, Version::INITIAL, Timestamp::from_secs(2)).await;
        assert_eq!(stale, Err(RepoError::Conflict(Conflict::Version)));
        assert_eq!(repository.get().await.unwrap().settings, enabled_with_email(FieldAccess::Edit));
    }

    pub async fn two_first_saves_from_the_defaults_let_exactly_one_win(store: &Store) {
        let (one, two) = (store.account_center(), store.account_center());
        let now = Timestamp::from_secs(1);
        let (first, second) = tokio::join!(
            tokio::spawn(async move { one.save(&enabled_with_email(FieldAccess::Edit), Version::INITIAL, now).await }),
            tokio::spawn(async move { two.save(&enabled_with_email(FieldAccess::Off), Version::INITIAL, now).await }),
        );
        let outcomes = [first.unwrap(), second.unwrap()];
        let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(wins, 1, "{outcomes:?}");
        assert!(outcomes.contains(&Err(RepoError::Conflict(Conflict::Version))), "{outcomes:?}");
    }
}
