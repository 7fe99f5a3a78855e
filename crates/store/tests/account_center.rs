//! Store tests of the account-center settings row, on SQLite and (when `LATCHKEY_TEST_DATABASE_URL` is set) on
//! PostgreSQL.

#[macro_use]
mod support;

store_suite!(
    unsaved_settings_are_logtos_defaults_at_the_initial_version,
    saved_settings_read_back_with_a_new_version,
    a_save_from_a_stale_version_conflicts_and_changes_nothing,
    two_first_saves_from_the_defaults_let_exactly_one_win,
    a_save_is_read_at_once_through_the_same_store_and_within_the_ttl_through_another,
);

mod suite {
    use latchkey_domain::Timestamp;
    use latchkey_domain::account_center::{
        AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
    };
    use latchkey_domain::ports::{Conflict, RepoError};
    use latchkey_domain::user::Version;
    use latchkey_store::{SETTINGS_TTL, Store};

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

    pub async fn a_save_is_read_at_once_through_the_same_store_and_within_the_ttl_through_another(store: &Store) {
        // Another instance: its own copy of the row, on the same database.
        let other = Store::from_connection(store.connection().clone()).account_center();
        let first_read = tokio::time::Instant::now();
        assert_eq!(other.get().await.unwrap().settings, AccountCenterSettings::default());
        let reader = store.account_center();
        assert_eq!(reader.get().await.unwrap().version, Version::INITIAL);

        let enabled = enabled_with_email(FieldAccess::Edit);
        let version = store.account_center().save(&enabled, Version::INITIAL, Timestamp::from_secs(1)).await.unwrap();
        let read = reader.get().await.unwrap();
        assert_eq!((read.settings, read.version), (enabled_with_email(FieldAccess::Edit), version));

        // The other instance answers from its copy until the copy is older than the TTL (checked only when this
        // machine was quick enough for the copy to be young), then reads the row again.
        let stale = other.get().await.unwrap();
        if first_read.elapsed() < SETTINGS_TTL / 2 {
            assert_eq!(stale.version, Version::INITIAL, "the other instance's copy was not used");
        }
        tokio::time::sleep(SETTINGS_TTL).await;
        let fresh = other.get().await.unwrap();
        assert_eq!((fresh.settings, fresh.version), (enabled_with_email(FieldAccess::Edit), version));

        // A failed save drops the copy rather than keep what it tried to write.
        let stale_save = other.save(&AccountCenterSettings::default(), Version::INITIAL, Timestamp::from_secs(2)).await;
        assert_eq!(stale_save, Err(RepoError::Conflict(Conflict::Version)));
        assert_eq!(other.get().await.unwrap().settings, enabled_with_email(FieldAccess::Edit));
    }
}
