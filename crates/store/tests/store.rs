//! One suite of store tests, run on SQLite (a temporary file per test) and, when `LATCHKEY_TEST_DATABASE_URL`
//! names a PostgreSQL server, on a fresh PostgreSQL database per test. The schema always comes from the real
//! migrations. Output reads `sqlite::<test>` and `postgres::<test>`.

#[macro_use]
mod support;

store_suite!(
    inserted_user_is_found_by_id,
    find_by_username_is_case_sensitive,
    insert_then_find_by_email_ignores_case,
    insert_then_find_by_phone,
    absent_users_are_not_found_by_any_identifier,
    every_field_survives_a_round_trip,
    emails_differing_only_in_case_conflict,
    usernames_differing_only_in_case_can_coexist,
    a_taken_username_conflicts,
    a_taken_phone_conflicts,
    a_taken_id_conflicts,
    users_without_identifiers_do_not_collide,
    update_writes_every_field_and_bumps_the_version,
    an_update_from_a_stale_version_conflicts_and_keeps_the_winner,
    concurrent_updates_from_one_read_let_exactly_one_win,
    updating_a_missing_user_is_not_found,
    changing_an_identifier_to_a_taken_one_conflicts_and_changes_nothing,
    deleting_removes_the_user_and_frees_its_identifiers,
    deleting_a_missing_user_is_not_found,
    search_without_conditions_lists_everyone_newest_first,
    search_orders_equal_creation_times_by_id,
    search_paginates_and_counts_every_match,
    search_like_matches_percent_patterns_ignoring_case,
    search_like_without_percent_matches_the_whole_value_as_logto_does,
    search_like_honours_case_sensitivity,
    search_like_treats_percent_and_underscore_as_wildcards,
    search_like_matches_escaped_wildcards_literally,
    search_exact_matches_whole_values_ignoring_case_unless_asked,
    search_exact_with_several_ids_is_a_batch_get,
    search_joint_combines_fields_with_or_and_and,
    search_filters_by_suspension,
    search_by_custom_data_path_matches_nested_values,
    search_values_with_quotes_are_data_not_sql,
    every_search_mode_finds_the_same_users_on_every_backend,
    search_refuses_a_custom_data_path_with_unsafe_segments,
    migrations_can_be_rolled_back_and_reapplied,
);

mod suite {
    use std::collections::BTreeMap;

    use latchkey_domain::identifiers::{Email, Phone, Username};
    use latchkey_domain::mfa::{BackupCode, BackupCodeSet, MfaFactor, MfaFactorKind, TotpFactor, WebAuthnCredential};
    use latchkey_domain::password::{PasswordAlgorithm, StoredPassword};
    use latchkey_domain::ports::{
        Conflict, CustomDataCondition, FieldCondition, Joint, Page, Pagination, RepoError, SearchField, SearchMode,
        UserRepository, UserSearch,
    };
    use latchkey_domain::secret_box::Sealed;
    use latchkey_domain::user::{
        Address, CustomData, Identity, LogtoConfig, MfaConfig, PasskeySignInConfig, Profile, User, Version,
    };
    use latchkey_domain::{Timestamp, UserId};
    use latchkey_migrations::{Migrator, MigratorTrait};
    use latchkey_store::Store;
    use serde_json::json;

    // ---- helpers -------------------------------------------------------------------------------------------

    /// A user with id `n` padded to 12 characters, created at `n` seconds.
    fn user(n: u32) -> User {
        User::new(id(n), Timestamp::from_secs(i64::from(n)))
    }

    fn id(n: u32) -> UserId {
        UserId::parse(&format!("user{n:08}")).unwrap()
    }

    fn username(value: &str) -> Option<Username> {
        Some(Username::parse(value).unwrap())
    }

    fn email(value: &str) -> Option<Email> {
        Some(Email::parse(value).unwrap())
    }

    fn phone(value: &str) -> Option<Phone> {
        Some(Phone::parse(value).unwrap())
    }

    async fn insert_all(store: &Store, users: &[User]) {
        for user in users {
            store.users().insert(user, &crate::support::audit::created(user)).await.unwrap();
        }
    }

    fn condition(field: SearchField, mode: SearchMode, values: &[&str]) -> FieldCondition {
        FieldCondition { field, values: values.iter().map(|value| (*value).to_owned()).collect(), mode }
    }

    fn search(fields: Vec<FieldCondition>) -> UserSearch {
        UserSearch { fields, ..UserSearch::default() }
    }

    async fn found(store: &Store, query: &UserSearch) -> Vec<String> {
        ids(&store.users().search(query).await.unwrap())
    }

    fn ids(page: &Page<User>) -> Vec<String> {
        page.items.iter().map(|user| user.id.to_string()).collect()
    }

    fn named(names: &[u32]) -> Vec<String> {
        names.iter().map(|n| id(*n).to_string()).collect()
    }

    /// A user with every field set, the MFA factors of every kind included.
    fn complete_user(n: u32) -> User {
        let mut user = user(n);
        user.username = username("Complete_User");
        user.primary_email = email("Complete.User@Example.com");
        user.primary_phone = phone("15551234567");
        user.name = Some("Zoë Ünïcode".to_owned());
        user.avatar = Some("https://example.com/a.png".to_owned());
        user.profile = Profile {
            family_name: Some("User".to_owned()),
            given_name: Some("Complete".to_owned()),
            nickname: Some("cu".to_owned()),
            locale: Some("fr-CH".to_owned()),
            address: Some(Address {
                street_address: Some("1 Main St".to_owned()),
                country: Some("CH".to_owned()),
                ..Address::default()
            }),
            ..Profile::default()
        };
        user.custom_data =
            CustomData::new(json!({ "plan": { "tier": "gold", "seats": 5 }, "tags": ["a", "b"], "quote": "it's" }))
                .unwrap();
        user.identities = BTreeMap::from([(
            "github".to_owned(),
            Identity { user_id: "4242".to_owned(), details: Some(json!({ "login": "cu", "email": "cu@github" })) },
        )]);
        user.logto_config = LogtoConfig {
            mfa: MfaConfig {
                enabled: Some(true),
                skipped: true,
                skip_mfa_on_sign_in: true,
                additional_binding_suggestion_skipped: true,
            },
            passkey_sign_in: PasskeySignInConfig { skipped: true },
        };
        user.mfa_factors = vec![
            MfaFactor {
                id: "totpfactor0000000000a".to_owned(),
                created_at: Timestamp::from_millis(1_700_000_000_123),
                last_used_at: Some(Timestamp::from_millis(1_700_000_100_000)),
                kind: MfaFactorKind::Totp(TotpFactor {
                    secret: Sealed("v1.key1.c2VhbGVkLXRvdHA".to_owned()),
                    last_used_step: Some(56_666_669),
                }),
            },
            MfaFactor {
                id: "webauthnfactor000000b".to_owned(),
                created_at: Timestamp::from_millis(1_700_000_000_456),
                last_used_at: None,
                kind: MfaFactorKind::WebAuthn(WebAuthnCredential {
                    rp_id: Some("example.com".to_owned()),
                    credential_id: "Y3JlZC1pZA".to_owned(),
                    public_key: "cHVibGljLWtleQ".to_owned(),
                    transports: vec!["usb".to_owned(), "internal".to_owned()],
                    counter: 7,
                    agent: "Firefox on Linux".to_owned(),
                    name: Some("YubiKey".to_owned()),
                }),
            },
            MfaFactor {
                id: "backupcodes00000000c".to_owned(),
                created_at: Timestamp::from_millis(1_700_000_000_789),
                last_used_at: None,
                kind: MfaFactorKind::BackupCode(BackupCodeSet {
                    codes: vec![
                        BackupCode { code: Sealed("v1.key1.Y29kZTE".to_owned()), used_at: None },
                        BackupCode {
                            code: Sealed("v1.key1.Y29kZTI".to_owned()),
                            used_at: Some(Timestamp::from_millis(1_700_000_200_000)),
                        },
                    ],
                }),
            },
        ];
        user.password = Some(StoredPassword {
            algorithm: PasswordAlgorithm::Argon2id,
            digest: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        });
        user.is_suspended = true;
        user.is_password_expired = true;
        user.application_id = Some("app0000000000000000aa".to_owned());
        user.last_sign_in_at = Some(Timestamp::from_millis(1_700_000_300_000));
        user.password_updated_at = Some(Timestamp::from_millis(1_700_000_400_000));
        user.updated_at = Timestamp::from_millis(1_700_000_500_000);
        user
    }

    // ---- identifiers and look-ups ----------------------------------------------------------------------------

    pub async fn inserted_user_is_found_by_id(store: &Store) {
        let stored = user(1);
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();
        assert_eq!(store.users().find_by_id(&stored.id).await.unwrap(), Some(stored));
    }

    pub async fn find_by_username_is_case_sensitive(store: &Store) {
        let mut stored = user(1);
        stored.username = username("Bob_Smith");
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();

        let found = store.users().find_by_username(&Username::parse("Bob_Smith").unwrap()).await.unwrap();
        assert_eq!(found.map(|user| user.id), Some(stored.id));
        let other_case = store.users().find_by_username(&Username::parse("bob_smith").unwrap()).await.unwrap();
        assert_eq!(other_case, None);
    }

    pub async fn insert_then_find_by_email_ignores_case(store: &Store) {
        let mut stored = user(1);
        stored.primary_email = email("Alice@Example.COM");
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();

        let found = store.users().find_by_email(&Email::parse("alice@example.com").unwrap()).await.unwrap().unwrap();
        assert_eq!(found.id, stored.id);
        assert_eq!(found.primary_email, email("Alice@Example.COM"), "the email is kept as typed");
    }

    pub async fn insert_then_find_by_phone(store: &Store) {
        let mut stored = user(1);
        stored.primary_phone = phone("15551234567");
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();

        let found = store.users().find_by_phone(&Phone::parse("15551234567").unwrap()).await.unwrap();
        assert_eq!(found.map(|user| user.id), Some(stored.id));
    }

    pub async fn absent_users_are_not_found_by_any_identifier(store: &Store) {
        let users = store.users();
        assert_eq!(users.find_by_id(&id(9)).await.unwrap(), None);
        assert_eq!(users.find_by_username(&Username::parse("nobody").unwrap()).await.unwrap(), None);
        assert_eq!(users.find_by_email(&Email::parse("no@body.org").unwrap()).await.unwrap(), None);
        assert_eq!(users.find_by_phone(&Phone::parse("15550000000").unwrap()).await.unwrap(), None);
    }

    pub async fn every_field_survives_a_round_trip(store: &Store) {
        let stored = complete_user(1);
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();
        assert_eq!(store.users().find_by_id(&stored.id).await.unwrap(), Some(stored.clone()));
        assert_eq!(
            store.users().find_by_email(&Email::parse("complete.user@example.com").unwrap()).await.unwrap(),
            Some(stored)
        );
    }

    pub async fn emails_differing_only_in_case_conflict(store: &Store) {
        let mut first = user(1);
        first.primary_email = email("bob@example.com");
        let mut second = user(2);
        second.primary_email = email("BOB@EXAMPLE.COM");
        store.users().insert(&first, &crate::support::audit::created(&first)).await.unwrap();

        assert_eq!(
            store.users().insert(&second, &crate::support::audit::created(&second)).await,
            Err(RepoError::Conflict(Conflict::Email))
        );
        assert_eq!(store.users().find_by_id(&second.id).await.unwrap(), None);
    }

    pub async fn usernames_differing_only_in_case_can_coexist(store: &Store) {
        let mut first = user(1);
        first.username = username("BOB_x");
        let mut second = user(2);
        second.username = username("bob_x");
        insert_all(store, &[first.clone(), second.clone()]).await;

        let lower = store.users().find_by_username(&Username::parse("bob_x").unwrap()).await.unwrap().unwrap();
        assert_eq!(lower.id, second.id);
    }

    pub async fn a_taken_username_conflicts(store: &Store) {
        let mut first = user(1);
        first.username = username("taken");
        let mut second = user(2);
        second.username = username("taken");
        store.users().insert(&first, &crate::support::audit::created(&first)).await.unwrap();
        assert_eq!(
            store.users().insert(&second, &crate::support::audit::created(&second)).await,
            Err(RepoError::Conflict(Conflict::Username))
        );
    }

    pub async fn a_taken_phone_conflicts(store: &Store) {
        let mut first = user(1);
        first.primary_phone = phone("447911123456");
        let mut second = user(2);
        // The national trunk prefix after the country code normalizes to the same number.
        second.primary_phone = phone("4407911123456");
        store.users().insert(&first, &crate::support::audit::created(&first)).await.unwrap();
        assert_eq!(
            store.users().insert(&second, &crate::support::audit::created(&second)).await,
            Err(RepoError::Conflict(Conflict::Phone))
        );
    }

    pub async fn a_taken_id_conflicts(store: &Store) {
        store.users().insert(&user(1), &crate::support::audit::created(&user(1))).await.unwrap();
        let mut again = user(1);
        again.username = username("someone_else");
        assert_eq!(
            store.users().insert(&again, &crate::support::audit::created(&again)).await,
            Err(RepoError::Conflict(Conflict::Id))
        );
    }

    pub async fn users_without_identifiers_do_not_collide(store: &Store) {
        insert_all(store, &[user(1), user(2), user(3)]).await;
        assert_eq!(store.users().search(&UserSearch::default()).await.unwrap().total, 3);
    }

    // ---- updates ---------------------------------------------------------------------------------------------

    pub async fn update_writes_every_field_and_bumps_the_version(store: &Store) {
        let original = user(1);
        store.users().insert(&original, &crate::support::audit::created(&original)).await.unwrap();

        let mut changed = complete_user(1);
        changed.version = original.version;
        let returned = store.users().update(&changed, &crate::support::audit::changed(&changed)).await.unwrap();

        assert_eq!(returned.version, Version::INITIAL.next());
        assert_eq!(returned, User { version: Version::INITIAL.next(), ..changed });
        assert_eq!(store.users().find_by_id(&original.id).await.unwrap(), Some(returned));
    }

    pub async fn an_update_from_a_stale_version_conflicts_and_keeps_the_winner(store: &Store) {
        store.users().insert(&user(1), &crate::support::audit::created(&user(1))).await.unwrap();
        let read = store.users().find_by_id(&id(1)).await.unwrap().unwrap();

        let mut winner = read.clone();
        winner.name = Some("winner".to_owned());
        let mut loser = read.clone();
        loser.name = Some("loser".to_owned());

        let winner = store.users().update(&winner, &crate::support::audit::changed(&winner)).await.unwrap();
        assert_eq!(
            store.users().update(&loser, &crate::support::audit::changed(&loser)).await,
            Err(RepoError::Conflict(Conflict::Version))
        );
        assert_eq!(store.users().find_by_id(&id(1)).await.unwrap(), Some(winner));
    }

    pub async fn concurrent_updates_from_one_read_let_exactly_one_win(store: &Store) {
        store.users().insert(&user(1), &crate::support::audit::created(&user(1))).await.unwrap();
        let read = store.users().find_by_id(&id(1)).await.unwrap().unwrap();
        let mut first = read.clone();
        first.name = Some("first".to_owned());
        let mut second = read.clone();
        second.name = Some("second".to_owned());

        let (first_repository, second_repository) = (store.users(), store.users());
        let first_task =
            tokio::spawn(async move { first_repository.update(&first, &crate::support::audit::changed(&first)).await });
        let second_task =
            tokio::spawn(
                async move { second_repository.update(&second, &crate::support::audit::changed(&second)).await },
            );
        let outcomes = [first_task.await.unwrap(), second_task.await.unwrap()];

        let winners: Vec<&User> = outcomes.iter().filter_map(|outcome| outcome.as_ref().ok()).collect();
        let losers: Vec<&RepoError> = outcomes.iter().filter_map(|outcome| outcome.as_ref().err()).collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        assert_eq!(losers, vec![&RepoError::Conflict(Conflict::Version)]);
        assert_eq!(store.users().find_by_id(&id(1)).await.unwrap().as_ref(), Some(winners[0]));
    }

    pub async fn updating_a_missing_user_is_not_found(store: &Store) {
        assert_eq!(
            store.users().update(&user(1), &crate::support::audit::changed(&user(1))).await,
            Err(RepoError::NotFound)
        );
    }

    pub async fn changing_an_identifier_to_a_taken_one_conflicts_and_changes_nothing(store: &Store) {
        let mut holder = user(1);
        holder.username = username("holder");
        holder.primary_email = email("holder@example.com");
        holder.primary_phone = phone("15551230000");
        let other = user(2);
        insert_all(store, &[holder, other.clone()]).await;

        let mut takes_username = other.clone();
        takes_username.username = username("holder");
        assert_eq!(
            store.users().update(&takes_username, &crate::support::audit::changed(&takes_username)).await,
            Err(RepoError::Conflict(Conflict::Username))
        );

        let mut takes_email = other.clone();
        takes_email.primary_email = email("HOLDER@example.com");
        assert_eq!(
            store.users().update(&takes_email, &crate::support::audit::changed(&takes_email)).await,
            Err(RepoError::Conflict(Conflict::Email))
        );

        let mut takes_phone = other.clone();
        takes_phone.primary_phone = phone("15551230000");
        assert_eq!(
            store.users().update(&takes_phone, &crate::support::audit::changed(&takes_phone)).await,
            Err(RepoError::Conflict(Conflict::Phone))
        );

        assert_eq!(store.users().find_by_id(&other.id).await.unwrap(), Some(other));
    }

    // ---- deletion --------------------------------------------------------------------------------------------

    pub async fn deleting_removes_the_user_and_frees_its_identifiers(store: &Store) {
        let mut stored = user(1);
        stored.username = username("leaver");
        stored.primary_email = email("leaver@example.com");
        store.users().insert(&stored, &crate::support::audit::created(&stored)).await.unwrap();

        crate::support::audit::delete_user(store, &stored.id).await.unwrap();
        assert_eq!(store.users().find_by_id(&stored.id).await.unwrap(), None);

        let mut successor = user(2);
        successor.username = username("leaver");
        successor.primary_email = email("leaver@example.com");
        store.users().insert(&successor, &crate::support::audit::created(&successor)).await.unwrap();
    }

    pub async fn deleting_a_missing_user_is_not_found(store: &Store) {
        let entry = crate::support::audit::entry(&id(1), latchkey_domain::audit::keys::USER_DELETED);
        let result = store.users().delete(&user(1), Timestamp::from_millis(i64::MAX), &entry).await;
        assert_eq!(result, Err(RepoError::NotFound));
    }

    // ---- search ----------------------------------------------------------------------------------------------

    pub async fn search_without_conditions_lists_everyone_newest_first(store: &Store) {
        insert_all(store, &[user(2), user(3), user(1)]).await;
        let page = store.users().search(&UserSearch::default()).await.unwrap();
        assert_eq!(ids(&page), named(&[3, 2, 1]));
        assert_eq!(page.total, 3);
    }

    pub async fn search_orders_equal_creation_times_by_id(store: &Store) {
        let same_time = Timestamp::from_secs(100);
        let users: Vec<User> = [2, 3, 1].into_iter().map(|n| User::new(id(n), same_time)).collect();
        insert_all(store, &users).await;
        assert_eq!(found(store, &UserSearch::default()).await, named(&[3, 2, 1]));
    }

    pub async fn search_paginates_and_counts_every_match(store: &Store) {
        insert_all(store, &[user(1), user(2), user(3), user(4), user(5)]).await;
        let query = UserSearch { pagination: Pagination::new(2, 2).unwrap(), ..UserSearch::default() };
        let page = store.users().search(&query).await.unwrap();
        assert_eq!(ids(&page), named(&[3, 2]));
        assert_eq!(page.total, 5);

        let beyond = UserSearch { pagination: Pagination::new(4, 2).unwrap(), ..UserSearch::default() };
        let page = store.users().search(&beyond).await.unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total, 5);
    }

    async fn insert_named_users(store: &Store) {
        let mut alice = user(1);
        alice.username = username("Alice_W");
        alice.name = Some("Alice Wonder".to_owned());
        alice.primary_email = email("alice@wonder.land");
        let mut bob = user(2);
        bob.username = username("bobby");
        bob.name = Some("Bob Builder".to_owned());
        bob.primary_email = email("Bob@Builder.example");
        let mut carol = user(3);
        carol.username = username("carol");
        carol.name = Some("Carol O'Brien".to_owned());
        carol.primary_phone = phone("15557654321");
        insert_all(store, &[alice, bob, carol]).await;
    }

    pub async fn search_like_matches_percent_patterns_ignoring_case(store: &Store) {
        insert_named_users(store).await;
        let query = search(vec![condition(SearchField::Name, SearchMode::Like, &["%BUILD%"])]);
        assert_eq!(found(store, &query).await, named(&[2]));
        let query = search(vec![condition(SearchField::PrimaryEmail, SearchMode::Like, &["%builder.EX%"])]);
        assert_eq!(found(store, &query).await, named(&[2]));
        let query = search(vec![condition(SearchField::PrimaryPhone, SearchMode::Like, &["%7654%"])]);
        assert_eq!(found(store, &query).await, named(&[3]));
        let query = search(vec![condition(SearchField::Id, SearchMode::Like, &["%00001"])]);
        assert_eq!(found(store, &query).await, named(&[1]));
    }

    pub async fn search_like_without_percent_matches_the_whole_value_as_logto_does(store: &Store) {
        insert_named_users(store).await;
        let whole = search(vec![condition(SearchField::Name, SearchMode::Like, &["bob builder"])]);
        assert_eq!(found(store, &whole).await, named(&[2]));
        let part = search(vec![condition(SearchField::Name, SearchMode::Like, &["builder"])]);
        assert_eq!(found(store, &part).await, Vec::<String>::new());
    }

    pub async fn search_like_honours_case_sensitivity(store: &Store) {
        insert_named_users(store).await;
        let sensitive = |value: &str| UserSearch {
            case_sensitive: true,
            ..search(vec![condition(SearchField::Username, SearchMode::Like, &[value])])
        };
        assert_eq!(found(store, &sensitive("Alice%")).await, named(&[1]));
        assert_eq!(found(store, &sensitive("alice%")).await, Vec::<String>::new());
        let sensitive_email = UserSearch {
            case_sensitive: true,
            ..search(vec![condition(SearchField::PrimaryEmail, SearchMode::Like, &["Bob@%"])])
        };
        assert_eq!(found(store, &sensitive_email).await, named(&[2]));
    }

    pub async fn search_like_treats_percent_and_underscore_as_wildcards(store: &Store) {
        insert_named_users(store).await;
        // With a `%` the value is the whole pattern: anchored at both ends unless it says otherwise.
        let prefix = search(vec![condition(SearchField::Name, SearchMode::Like, &["bob%"])]);
        assert_eq!(found(store, &prefix).await, named(&[2]));
        let anchored = search(vec![condition(SearchField::Name, SearchMode::Like, &["build%"])]);
        assert_eq!(found(store, &anchored).await, Vec::<String>::new());
        let any_one = search(vec![condition(SearchField::Username, SearchMode::Like, &["b_bby"])]);
        assert_eq!(found(store, &any_one).await, named(&[2]));
        let both = search(vec![condition(SearchField::Name, SearchMode::Like, &["%b_b %"])]);
        assert_eq!(found(store, &both).await, named(&[2]));
    }

    pub async fn search_like_matches_escaped_wildcards_literally(store: &Store) {
        let mut percent = user(1);
        percent.name = Some("50% off".to_owned());
        let mut digits = user(2);
        digits.name = Some("500 off".to_owned());
        let mut star = user(3);
        star.name = Some("star*[x]?".to_owned());
        insert_all(store, &[percent, digits, star]).await;

        let literal = |value: &str, case_sensitive: bool| UserSearch {
            case_sensitive,
            ..search(vec![condition(SearchField::Name, SearchMode::Like, &[value])])
        };
        for case_sensitive in [false, true] {
            assert_eq!(found(store, &literal(r"50\%%", case_sensitive)).await, named(&[1]), "{case_sensitive}");
            assert_eq!(found(store, &literal("50_%", case_sensitive)).await, named(&[2, 1]), "{case_sensitive}");
            // GLOB's own wildcards are literal characters to a LIKE search.
            assert_eq!(found(store, &literal("%*[x]?", case_sensitive)).await, named(&[3]), "{case_sensitive}");
            assert_eq!(found(store, &literal("%r*%", case_sensitive)).await, named(&[3]), "{case_sensitive}");
            assert_eq!(found(store, &literal("%[%", case_sensitive)).await, named(&[3]), "{case_sensitive}");
        }
    }

    pub async fn search_exact_matches_whole_values_ignoring_case_unless_asked(store: &Store) {
        insert_named_users(store).await;
        let exact = |field, value: &str, case_sensitive| UserSearch {
            case_sensitive,
            ..search(vec![condition(field, SearchMode::Exact, &[value])])
        };
        assert_eq!(found(store, &exact(SearchField::Username, "alice_w", false)).await, named(&[1]));
        assert_eq!(found(store, &exact(SearchField::Username, "alice_w", true)).await, Vec::<String>::new());
        assert_eq!(found(store, &exact(SearchField::Username, "Alice_W", true)).await, named(&[1]));
        assert_eq!(found(store, &exact(SearchField::Username, "alice", false)).await, Vec::<String>::new());
        assert_eq!(found(store, &exact(SearchField::PrimaryEmail, "BOB@builder.example", false)).await, named(&[2]));
        assert_eq!(
            found(store, &exact(SearchField::PrimaryEmail, "bob@builder.example", true)).await,
            Vec::<String>::new()
        );
        // Exact means no wildcards.
        assert_eq!(found(store, &exact(SearchField::Username, "bobb%", false)).await, Vec::<String>::new());
    }

    pub async fn search_exact_with_several_ids_is_a_batch_get(store: &Store) {
        insert_all(store, &[user(1), user(2), user(3), user(4)]).await;
        let ids = [id(1).to_string(), id(3).to_string(), id(9).to_string()];
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let query = search(vec![condition(SearchField::Id, SearchMode::Exact, &ids)]);
        let page = store.users().search(&query).await.unwrap();
        assert_eq!(super::suite::ids(&page), named(&[3, 1]));
        assert_eq!(page.total, 2);
    }

    pub async fn search_joint_combines_fields_with_or_and_and(store: &Store) {
        insert_named_users(store).await;
        let fields = vec![
            condition(SearchField::Username, SearchMode::Like, &["ali%"]),
            condition(SearchField::Name, SearchMode::Like, &["%bob%", "%wonder%"]),
        ];
        let or = UserSearch { joint: Joint::Or, ..search(fields.clone()) };
        assert_eq!(found(store, &or).await, named(&[2, 1]));
        let and = UserSearch { joint: Joint::And, ..search(fields) };
        assert_eq!(found(store, &and).await, named(&[1]));
    }

    pub async fn search_filters_by_suspension(store: &Store) {
        let mut suspended = user(1);
        suspended.is_suspended = true;
        suspended.name = Some("same".to_owned());
        let mut active = user(2);
        active.name = Some("same".to_owned());
        let mut other = user(3);
        other.is_suspended = true;
        insert_all(store, &[suspended, active, other]).await;

        let only = |is_suspended| UserSearch { is_suspended: Some(is_suspended), ..UserSearch::default() };
        assert_eq!(found(store, &only(true)).await, named(&[3, 1]));
        assert_eq!(found(store, &only(false)).await, named(&[2]));
        // The filter narrows a search whatever its joint.
        let named_same = UserSearch {
            is_suspended: Some(true),
            ..search(vec![condition(SearchField::Name, SearchMode::Exact, &["same"])])
        };
        assert_eq!(found(store, &named_same).await, named(&[1]));
    }

    pub async fn search_by_custom_data_path_matches_nested_values(store: &Store) {
        let mut gold = user(1);
        gold.custom_data = CustomData::new(json!({ "plan": { "tier": "Gold" }, "seats": 42 })).unwrap();
        let mut silver = user(2);
        silver.custom_data = CustomData::new(json!({ "plan": { "tier": "silver" } })).unwrap();
        let mut flat = user(3);
        flat.custom_data = CustomData::new(json!({ "tier": "gold" })).unwrap();
        insert_all(store, &[gold, silver, flat]).await;

        let on = |path: &[&str], mode, value: &str, case_sensitive| UserSearch {
            case_sensitive,
            custom_data: vec![CustomDataCondition {
                path: path.iter().map(|segment| (*segment).to_owned()).collect(),
                values: vec![value.to_owned()],
                mode,
            }],
            ..UserSearch::default()
        };
        assert_eq!(found(store, &on(&["plan", "tier"], SearchMode::Exact, "gold", false)).await, named(&[1]));
        assert_eq!(found(store, &on(&["plan", "tier"], SearchMode::Exact, "gold", true)).await, Vec::<String>::new());
        assert_eq!(found(store, &on(&["plan", "tier"], SearchMode::Like, "%L%", false)).await, named(&[2, 1]));
        assert_eq!(found(store, &on(&["tier"], SearchMode::Exact, "gold", false)).await, named(&[3]));
        assert_eq!(found(store, &on(&["seats"], SearchMode::Exact, "42", false)).await, named(&[1]));
        assert_eq!(found(store, &on(&["missing"], SearchMode::Like, "%", false)).await, Vec::<String>::new());

        // Custom-data conditions join the field conditions under the same joint.
        let mut either = on(&["tier"], SearchMode::Exact, "gold", false);
        either.fields = vec![condition(SearchField::Id, SearchMode::Exact, &[id(2).as_str()])];
        assert_eq!(found(store, &either).await, named(&[3, 2]));
    }

    pub async fn search_values_with_quotes_are_data_not_sql(store: &Store) {
        insert_named_users(store).await;
        let injection = "x' OR '1'='1";
        for mode in [SearchMode::Like, SearchMode::Exact] {
            for case_sensitive in [false, true] {
                let query =
                    UserSearch { case_sensitive, ..search(vec![condition(SearchField::Name, mode, &[injection])]) };
                assert_eq!(found(store, &query).await, Vec::<String>::new(), "{mode:?} {case_sensitive}");
                let custom = UserSearch {
                    case_sensitive,
                    custom_data: vec![CustomDataCondition {
                        path: vec!["plan".to_owned()],
                        values: vec![injection.to_owned()],
                        mode,
                    }],
                    ..UserSearch::default()
                };
                assert_eq!(found(store, &custom).await, Vec::<String>::new(), "{mode:?} {case_sensitive}");
            }
        }
        let quoted = search(vec![condition(SearchField::Name, SearchMode::Like, &["%o'brien"])]);
        assert_eq!(found(store, &quoted).await, named(&[3]));
        assert_eq!(store.users().search(&UserSearch::default()).await.unwrap().total, 3, "nothing was altered");
    }

    /// One table for every mode, run on both backends: the same users come back from SQLite and PostgreSQL.
    pub async fn every_search_mode_finds_the_same_users_on_every_backend(store: &Store) {
        insert_named_users(store).await;
        // Field, mode, case-sensitive, values, the users expected (newest first).
        type Case = (SearchField, SearchMode, bool, &'static [&'static str], &'static [u32]);
        let table: [Case; 14] = [
            (SearchField::Name, SearchMode::Like, false, &["%o%"], &[3, 2, 1]),
            (SearchField::Name, SearchMode::Like, true, &["%o%"], &[3, 2, 1]),
            (SearchField::Name, SearchMode::Like, true, &["%O%"], &[3]),
            (SearchField::Username, SearchMode::Exact, false, &["ALICE_W", "carol"], &[3, 1]),
            (SearchField::Username, SearchMode::Exact, true, &["ALICE_W"], &[]),
            (SearchField::Name, SearchMode::Posix, true, &["^B.*r$"], &[2]),
            (SearchField::Name, SearchMode::Posix, false, &["^b.*R$"], &[2]),
            (SearchField::Name, SearchMode::Posix, true, &["^b.*R$"], &[]),
            (SearchField::Name, SearchMode::Posix, true, &["(Wonder|Brien)$"], &[3, 1]),
            (SearchField::PrimaryEmail, SearchMode::Posix, false, &["\\.(land|example)$"], &[2, 1]),
            (SearchField::Name, SearchMode::SimilarTo, true, &["%(Wonder|Builder)"], &[2, 1]),
            (SearchField::Name, SearchMode::SimilarTo, true, &["Bob%"], &[2]),
            (SearchField::Name, SearchMode::SimilarTo, true, &["Bob"], &[]),
            (SearchField::PrimaryPhone, SearchMode::SimilarTo, true, &["1555[0-9]{7}"], &[3]),
        ];
        for (field, mode, case_sensitive, values, expected) in table {
            let query = UserSearch { case_sensitive, ..search(vec![condition(field, mode, values)]) };
            assert_eq!(found(store, &query).await, named(expected), "{field:?} {mode:?} {values:?} {case_sensitive}");
        }
        // A dot in SIMILAR TO is literal, as in PostgreSQL's own operator.
        let dotted = search(vec![condition(SearchField::PrimaryEmail, SearchMode::SimilarTo, &["alice@wonder.land"])]);
        assert_eq!(found(store, &UserSearch { case_sensitive: true, ..dotted }).await, named(&[1]));
        let not_a_dot =
            search(vec![condition(SearchField::PrimaryEmail, SearchMode::SimilarTo, &["alice@wonderXland"])]);
        assert_eq!(found(store, &UserSearch { case_sensitive: true, ..not_a_dot }).await, named(&[]));
        let invalid = search(vec![condition(SearchField::Name, SearchMode::Posix, &["(a)\\1"])]);
        assert!(matches!(store.users().search(&invalid).await, Err(RepoError::Unavailable(_))));
    }

    pub async fn search_refuses_a_custom_data_path_with_unsafe_segments(store: &Store) {
        insert_named_users(store).await;
        for path in [vec!["a'); DROP TABLE users; --".to_owned()], vec!["a.b".to_owned()], vec![]] {
            let query = UserSearch {
                custom_data: vec![CustomDataCondition { path, values: vec!["x".to_owned()], mode: SearchMode::Exact }],
                ..UserSearch::default()
            };
            assert!(matches!(store.users().search(&query).await, Err(RepoError::Unavailable(_))));
        }
        assert_eq!(store.users().search(&UserSearch::default()).await.unwrap().total, 3);
    }

    // ---- schema ----------------------------------------------------------------------------------------------

    pub async fn migrations_can_be_rolled_back_and_reapplied(store: &Store) {
        store.users().insert(&user(1), &crate::support::audit::created(&user(1))).await.unwrap();
        Migrator::up(store.connection(), None).await.expect("applying again is a no-op");
        assert!(store.users().find_by_id(&id(1)).await.unwrap().is_some());

        Migrator::down(store.connection(), None).await.expect("every migration rolls back");
        assert!(matches!(store.users().find_by_id(&id(1)).await, Err(RepoError::Unavailable(_))));
        Migrator::up(store.connection(), None).await.expect("migrations apply to an empty database");
        assert_eq!(store.users().find_by_id(&id(1)).await.unwrap(), None);
        store.users().insert(&user(1), &crate::support::audit::created(&user(1))).await.unwrap();
    }
}
