//! Store tests of applications, sessions, refresh tokens, personal access tokens, subject tokens and the revocation
//! state, run on SQLite and (when `LATCHKEY_TEST_DATABASE_URL` is set) on PostgreSQL, with the schema built by the
//! real migrations. Output reads `sqlite::<test>` and `postgres::<test>`.

#[macro_use]
mod support;

store_suite!(
    an_inserted_application_is_found_with_every_field,
    a_stored_client_secret_still_verifies_and_is_kept_only_as_a_hash,
    a_taken_application_id_conflicts,
    applications_are_listed_newest_first_with_a_total,
    an_application_update_bumps_the_version_and_a_stale_one_conflicts,
    updating_a_missing_application_is_not_found,
    deleting_an_application_removes_it_once,
    a_created_session_is_found_with_every_field,
    a_session_for_a_missing_user_is_not_found,
    listing_active_sessions_skips_revoked_and_expired_ones,
    revoking_a_session_twice_keeps_the_first_reason,
    revoking_a_missing_session_is_not_found,
    revoking_all_sessions_of_a_user_counts_them_and_spares_other_users,
    a_logged_revocation_ends_the_named_sessions_and_writes_its_entry,
    touching_a_session_records_activity_unless_revoked,
    rotating_a_refresh_token_marks_it_used_and_stores_its_successor,
    presenting_a_rotated_refresh_token_again_is_reported_as_reuse,
    concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed,
    an_expired_refresh_token_is_not_rotated,
    a_refresh_token_of_a_revoked_session_is_not_rotated_and_stays_unused,
    an_unknown_refresh_token_is_reported_unknown,
    a_session_whose_first_refresh_token_cannot_be_stored_is_not_stored_either,
    a_session_with_a_refresh_token_for_a_missing_user_is_not_found,
    a_personal_access_token_is_found_by_its_value_hash,
    a_duplicate_token_name_conflicts_for_one_user_but_not_across_users,
    renaming_a_token_keeps_its_value_and_refuses_a_taken_name,
    renaming_or_deleting_an_absent_token_is_not_found,
    deleting_a_token_frees_its_name,
    marking_a_token_used_records_the_time,
    revoking_all_tokens_of_a_user_spares_other_users,
    credential_writes_store_their_audit_entries_and_failed_ones_none,
    a_subject_token_is_consumed_exactly_once,
    an_expired_subject_token_is_not_consumable,
    an_unknown_subject_token_is_reported_unknown,
    concurrent_consumptions_of_one_subject_token_let_exactly_one_succeed,
    session_state_reflects_revocation_suspension_and_expiry,
    session_state_of_an_unknown_session_is_none,
    pat_state_reflects_revocation_expiry_and_suspension,
    deleting_a_user_removes_their_sessions_and_tokens,
    credential_tables_roll_back_and_reapply,
);

mod suite {
    use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType, MANAGEMENT_API_ROLE};
    use latchkey_domain::credentials_ports::TokenStateRepository;
    use latchkey_domain::personal_access_token::{PersonalAccessToken, PersonalAccessTokenRepository};
    use latchkey_domain::ports::{Conflict, Pagination, RepoError, UserRepository};
    use latchkey_domain::secrets::{OpaqueSecret, hash_secret};
    use latchkey_domain::session::{RefreshToken, RevokeReason, Rotation, Session, SessionRepository};
    use latchkey_domain::subject_token::{Consumption, SubjectToken, SubjectTokenRepository};
    use latchkey_domain::user::{User, Version};
    use latchkey_domain::{Timestamp, UserId};
    use latchkey_migrations::{Migrator, MigratorTrait};
    use latchkey_store::Store;
    use sea_orm::{ConnectionTrait, Statement};
    use serde_json::json;

    // ---- helpers -------------------------------------------------------------------------------------------

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn user_id(n: u32) -> UserId {
        UserId::parse(&format!("user{n:08}")).unwrap()
    }

    async fn insert_user(store: &Store, n: u32) -> UserId {
        store
            .users()
            .insert(&User::new(user_id(n), at(1)), &crate::support::audit::created(&User::new(user_id(n), at(1))))
            .await
            .unwrap();
        user_id(n)
    }

    /// The audit entry a credential write stores with its change.
    fn logged(user: &UserId) -> latchkey_domain::audit::AuditEntry {
        crate::support::audit::entry(user, latchkey_domain::audit::keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED)
    }

    fn entity_id(prefix: &str, n: u32) -> String {
        format!("{prefix}{n:0>width$}", width = 21 - prefix.len())
    }

    fn application(n: u32, created_at: i64) -> Application {
        Application::new(entity_id("app", n), format!("App {n}"), ApplicationType::MachineToMachine, at(created_at))
    }

    /// A session of `user` live from second 100 to second 1000.
    fn session(n: u32, user: &UserId) -> Session {
        Session::new(entity_id("session", n), user.clone(), "client".to_owned(), at(100), at(1_000))
    }

    async fn user_with_session(store: &Store) -> (UserId, Session) {
        let user = insert_user(store, 1).await;
        let session = session(1, &user);
        store.sessions().create(&session, None).await.unwrap();
        (user, session)
    }

    /// A refresh token of `session_id` with the hash of `value`, expiring at second 500.
    fn refresh_token(session_id: &str, value: &str) -> RefreshToken {
        RefreshToken {
            token_hash: hash_secret(value),
            session_id: session_id.to_owned(),
            created_at: at(100),
            expires_at: at(500),
            used_at: None,
        }
    }

    /// A user's session started with a first refresh token, the hash of `first`.
    async fn session_with_refresh_token(store: &Store, first: &str) -> (UserId, Session, RefreshToken) {
        let user = insert_user(store, 1).await;
        let session = session(1, &user);
        let token = refresh_token(&session.id, first);
        store.sessions().create(&session, Some(token.clone())).await.unwrap();
        (user, session, token)
    }

    fn pat(n: u32, user: &UserId, name: &str) -> (OpaqueSecret, PersonalAccessToken) {
        PersonalAccessToken::issue(entity_id("pat", n), user.clone(), name.to_owned(), at(100), None)
    }

    async fn count_rows(store: &Store, table: &str) -> i64 {
        let connection = store.connection();
        let row = connection
            .query_one_raw(Statement::from_string(
                connection.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    // ---- applications --------------------------------------------------------------------------------------

    pub async fn an_inserted_application_is_found_with_every_field(store: &Store) {
        let mut app = application(1, 10);
        app.description = Some("Back office".to_owned());
        app.app_type = ApplicationType::Spa;
        app.is_third_party = true;
        app.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        app.custom_client_metadata.allow_token_exchange = true;
        app.custom_client_metadata.other.insert("idTokenTtl".to_owned(), json!(3600));
        app.oidc_client_metadata.redirect_uris = vec!["https://app.example.com/callback".to_owned()];
        app.custom_data.insert("team".to_owned(), json!({"name": "ops"}));
        app.add_generated_secret("default".to_owned(), at(10), Some(at(99)));
        store.applications().insert(&app).await.unwrap();

        assert_eq!(store.applications().find_by_id(&app.id).await.unwrap(), Some(app));
        assert_eq!(store.applications().find_by_id("absent").await.unwrap(), None);
    }

    pub async fn a_stored_client_secret_still_verifies_and_is_kept_only_as_a_hash(store: &Store) {
        let mut app = application(1, 10);
        let secret = app.add_generated_secret("default".to_owned(), at(10), None);
        store.applications().insert(&app).await.unwrap();

        let stored = store.applications().find_by_id(&app.id).await.unwrap().unwrap();
        assert!(stored.verify_secret(secret.expose(), at(20)));
        assert!(!stored.verify_secret("not the secret", at(20)));
        let connection = store.connection();
        let row = connection
            .query_one_raw(Statement::from_string(
                connection.get_database_backend(),
                "SELECT secrets FROM applications".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let column: serde_json::Value = row.try_get("", "secrets").unwrap();
        assert!(!column.to_string().contains(secret.expose()), "the clear secret must not be stored");
    }

    pub async fn a_taken_application_id_conflicts(store: &Store) {
        store.applications().insert(&application(1, 10)).await.unwrap();
        assert_eq!(store.applications().insert(&application(1, 20)).await, Err(RepoError::Conflict(Conflict::Id)));
    }

    pub async fn applications_are_listed_newest_first_with_a_total(store: &Store) {
        for (n, created_at) in [(1, 10), (2, 30), (3, 20)] {
            store.applications().insert(&application(n, created_at)).await.unwrap();
        }
        let first = store.applications().list(Pagination::new(1, 2).unwrap()).await.unwrap();
        let second = store.applications().list(Pagination::new(2, 2).unwrap()).await.unwrap();
        let names = |page: &[Application]| page.iter().map(|app| app.name.clone()).collect::<Vec<_>>();
        assert_eq!(first.total, 3);
        assert_eq!(names(&first.items), ["App 2", "App 3"]);
        assert_eq!(names(&second.items), ["App 1"]);
    }

    pub async fn an_application_update_bumps_the_version_and_a_stale_one_conflicts(store: &Store) {
        let app = application(1, 10);
        store.applications().insert(&app).await.unwrap();

        let mut renamed = app.clone();
        renamed.name = "Renamed".to_owned();
        let stored = store.applications().update(&renamed).await.unwrap();
        assert_eq!(stored.version, Version(2));
        assert_eq!(store.applications().find_by_id(&app.id).await.unwrap(), Some(stored));

        let mut stale = app.clone();
        stale.add_generated_secret("second".to_owned(), at(20), None);
        assert_eq!(store.applications().update(&stale).await, Err(RepoError::Conflict(Conflict::Version)));
        let kept = store.applications().find_by_id(&app.id).await.unwrap().unwrap();
        assert_eq!(kept.name, "Renamed");
        assert!(kept.secrets.is_empty());
    }

    pub async fn updating_a_missing_application_is_not_found(store: &Store) {
        assert_eq!(store.applications().update(&application(1, 10)).await, Err(RepoError::NotFound));
    }

    pub async fn deleting_an_application_removes_it_once(store: &Store) {
        let app = application(1, 10);
        store.applications().insert(&app).await.unwrap();
        store.applications().delete(&app.id).await.unwrap();
        assert_eq!(store.applications().find_by_id(&app.id).await.unwrap(), None);
        assert_eq!(store.applications().delete(&app.id).await, Err(RepoError::NotFound));
    }

    // ---- sessions ------------------------------------------------------------------------------------------

    pub async fn a_created_session_is_found_with_every_field(store: &Store) {
        let user = insert_user(store, 1).await;
        let mut session =
            session(1, &user).with_origin(Some("Mozilla/5.0"), Some("203.0.113.7")).with_scopes(["profile", "email"]);
        session.revoked_at = Some(at(150));
        session.revoke_reason = Some(RevokeReason::SignOut);
        store.sessions().create(&session, None).await.unwrap();
        assert_eq!(store.sessions().find(&session.id).await.unwrap(), Some(session));
        assert_eq!(store.sessions().find("absent").await.unwrap(), None);
    }

    pub async fn a_session_for_a_missing_user_is_not_found(store: &Store) {
        assert_eq!(store.sessions().create(&session(1, &user_id(9)), None).await, Err(RepoError::NotFound));
    }

    pub async fn listing_active_sessions_skips_revoked_and_expired_ones(store: &Store) {
        let user = insert_user(store, 1).await;
        let mut older = session(1, &user);
        older.last_active_at = at(200);
        let mut newer = session(2, &user);
        newer.last_active_at = at(300);
        let mut expired = session(3, &user);
        expired.expires_at = at(400);
        let revoked = session(4, &user);
        for session in [&older, &newer, &expired, &revoked] {
            store.sessions().create(session, None).await.unwrap();
        }
        store.sessions().revoke(&revoked.id, RevokeReason::SignOut, at(350)).await.unwrap();

        let active = store.sessions().list_active_for_user(&user, at(400)).await.unwrap();
        assert_eq!(active, vec![newer, older]);
    }

    pub async fn revoking_a_session_twice_keeps_the_first_reason(store: &Store) {
        let (_, session) = user_with_session(store).await;
        store.sessions().revoke(&session.id, RevokeReason::SignOut, at(200)).await.unwrap();
        store.sessions().revoke(&session.id, RevokeReason::Revoked, at(300)).await.unwrap();
        let stored = store.sessions().find(&session.id).await.unwrap().unwrap();
        assert_eq!(stored.revoked_at, Some(at(200)));
        assert_eq!(stored.revoke_reason, Some(RevokeReason::SignOut));
    }

    pub async fn a_logged_revocation_ends_the_named_sessions_and_writes_its_entry(store: &Store) {
        use latchkey_domain::audit::AuditLogRepository;

        let user = insert_user(store, 1).await;
        let (first, second, spared, earlier) =
            (session(1, &user), session(2, &user), session(3, &user), session(4, &user));
        for session in [&first, &second, &spared, &earlier] {
            store.sessions().create(session, None).await.unwrap();
        }
        store.sessions().revoke(&earlier.id, RevokeReason::SignOut, at(150)).await.unwrap();
        let entry = logged(&user);
        let named = [first.id.clone(), second.id.clone(), earlier.id.clone(), "absent".to_owned()];

        store.sessions().revoke_logged(&named, RevokeReason::Revoked, at(200), &entry).await.unwrap();

        for (session, revoked_at, reason) in [
            (&first, Some(at(200)), Some(RevokeReason::Revoked)),
            (&second, Some(at(200)), Some(RevokeReason::Revoked)),
            (&spared, None, None),
            (&earlier, Some(at(150)), Some(RevokeReason::SignOut)),
        ] {
            let stored = store.sessions().find(&session.id).await.unwrap().unwrap();
            assert_eq!((stored.revoked_at, stored.revoke_reason), (revoked_at, reason), "{}", session.id);
        }
        assert_eq!(store.audit_log().find(&entry.id).await.unwrap().map(|found| found.id), Some(entry.id));
    }

    pub async fn revoking_a_missing_session_is_not_found(store: &Store) {
        assert_eq!(store.sessions().revoke("absent", RevokeReason::SignOut, at(1)).await, Err(RepoError::NotFound));
    }

    pub async fn revoking_all_sessions_of_a_user_counts_them_and_spares_other_users(store: &Store) {
        let user = insert_user(store, 1).await;
        let other = insert_user(store, 2).await;
        for n in 1..=3 {
            store.sessions().create(&session(n, &user), None).await.unwrap();
        }
        store.sessions().create(&session(4, &other), None).await.unwrap();
        store.sessions().revoke(&entity_id("session", 1), RevokeReason::SignOut, at(150)).await.unwrap();

        let revoked = store.sessions().revoke_all_for_user(&user, RevokeReason::PasswordChanged, at(200)).await;
        assert_eq!(revoked, Ok(2), "the already revoked session is not counted again");
        assert!(store.sessions().list_active_for_user(&user, at(200)).await.unwrap().is_empty());
        assert_eq!(store.sessions().list_active_for_user(&other, at(200)).await.unwrap().len(), 1);
        let first = store.sessions().find(&entity_id("session", 1)).await.unwrap().unwrap();
        assert_eq!(first.revoke_reason, Some(RevokeReason::SignOut));
        let second = store.sessions().find(&entity_id("session", 2)).await.unwrap().unwrap();
        assert_eq!(second.revoke_reason, Some(RevokeReason::PasswordChanged));
    }

    pub async fn touching_a_session_records_activity_unless_revoked(store: &Store) {
        let (_, session) = user_with_session(store).await;
        store.sessions().touch(&session.id, at(250)).await.unwrap();
        assert_eq!(store.sessions().find(&session.id).await.unwrap().unwrap().last_active_at, at(250));

        store.sessions().revoke(&session.id, RevokeReason::SignOut, at(260)).await.unwrap();
        assert_eq!(store.sessions().touch(&session.id, at(270)).await, Err(RepoError::NotFound));
        assert_eq!(store.sessions().touch("absent", at(270)).await, Err(RepoError::NotFound));
    }

    // ---- refresh tokens ------------------------------------------------------------------------------------

    pub async fn rotating_a_refresh_token_marks_it_used_and_stores_its_successor(store: &Store) {
        let (_, session, old) = session_with_refresh_token(store, "first").await;
        let new_hash = hash_secret("second");

        let rotation = store.sessions().rotate_refresh_token(&old.token_hash, &new_hash, at(900), at(200)).await;
        assert_eq!(rotation, Ok(Rotation::Rotated(session.clone())));
        let old_stored = store.sessions().find_refresh_token(&old.token_hash).await.unwrap().unwrap();
        assert_eq!(old_stored.used_at, Some(at(200)));
        let successor = store.sessions().find_refresh_token(&new_hash).await.unwrap().unwrap();
        assert_eq!(
            successor,
            RefreshToken {
                token_hash: new_hash,
                session_id: session.id,
                created_at: at(200),
                expires_at: at(900),
                used_at: None
            }
        );
    }

    pub async fn presenting_a_rotated_refresh_token_again_is_reported_as_reuse(store: &Store) {
        let (_, session, old) = session_with_refresh_token(store, "first").await;
        let sessions = store.sessions();
        sessions.rotate_refresh_token(&old.token_hash, &hash_secret("second"), at(900), at(200)).await.unwrap();

        let again = sessions.rotate_refresh_token(&old.token_hash, &hash_secret("third"), at(900), at(210)).await;
        assert_eq!(again, Ok(Rotation::Reused { session_id: session.id }));
        assert_eq!(sessions.find_refresh_token(&hash_secret("third")).await.unwrap(), None, "nothing is written");
    }

    pub async fn concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed(store: &Store) {
        let (_, session, old) = session_with_refresh_token(store, "first").await;

        let tasks: Vec<_> = (0..6)
            .map(|n| {
                let sessions = store.sessions();
                let old_hash = old.token_hash.clone();
                tokio::spawn(async move {
                    sessions.rotate_refresh_token(&old_hash, &hash_secret(&format!("next {n}")), at(900), at(200)).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().unwrap());
        }

        let rotated = outcomes.iter().filter(|outcome| matches!(outcome, Rotation::Rotated(_))).count();
        let reused = outcomes.iter().filter(|outcome| **outcome == Rotation::Reused { session_id: session.id.clone() });
        assert_eq!(rotated, 1, "{outcomes:?}");
        assert_eq!(reused.count(), 5, "{outcomes:?}");
        assert_eq!(count_rows(store, "refresh_tokens").await, 2, "one successor only");
    }

    pub async fn an_expired_refresh_token_is_not_rotated(store: &Store) {
        let (.., old) = session_with_refresh_token(store, "first").await;
        let sessions = store.sessions();
        let rotation = sessions.rotate_refresh_token(&old.token_hash, &hash_secret("second"), at(900), at(500)).await;
        assert_eq!(rotation, Ok(Rotation::Expired));
        assert_eq!(store.sessions().find_refresh_token(&old.token_hash).await.unwrap().unwrap().used_at, None);
    }

    pub async fn a_refresh_token_of_a_revoked_session_is_not_rotated_and_stays_unused(store: &Store) {
        let (_, session, old) = session_with_refresh_token(store, "first").await;
        store.sessions().revoke(&session.id, RevokeReason::SignOut, at(150)).await.unwrap();

        let sessions = store.sessions();
        let rotation = sessions.rotate_refresh_token(&old.token_hash, &hash_secret("second"), at(900), at(200)).await;
        assert_eq!(rotation, Ok(Rotation::SessionEnded));
        assert_eq!(store.sessions().find_refresh_token(&old.token_hash).await.unwrap().unwrap().used_at, None);
        assert_eq!(store.sessions().find_refresh_token(&hash_secret("second")).await.unwrap(), None);
    }

    pub async fn an_unknown_refresh_token_is_reported_unknown(store: &Store) {
        let sessions = store.sessions();
        let rotation = sessions.rotate_refresh_token(&hash_secret("x"), &hash_secret("y"), at(900), at(200)).await;
        assert_eq!(rotation, Ok(Rotation::Unknown));
    }

    pub async fn a_session_whose_first_refresh_token_cannot_be_stored_is_not_stored_either(store: &Store) {
        let (user, first_session, first) = session_with_refresh_token(store, "first").await;
        // The same token hash again: the token's insert fails after the session's has succeeded.
        let second = session(2, &user);
        let taken = RefreshToken { session_id: second.id.clone(), ..first };
        assert_eq!(store.sessions().create(&second, Some(taken)).await, Err(RepoError::Conflict(Conflict::Id)));
        assert_eq!(store.sessions().find(&second.id).await.unwrap(), None, "both or neither");
        assert_eq!(store.sessions().find(&first_session.id).await.unwrap(), Some(first_session));
    }

    pub async fn a_session_with_a_refresh_token_for_a_missing_user_is_not_found(store: &Store) {
        let orphan = session(1, &user_id(9));
        let token = refresh_token(&orphan.id, "orphan");
        assert_eq!(store.sessions().create(&orphan, Some(token.clone())).await, Err(RepoError::NotFound));
        assert_eq!(store.sessions().find_refresh_token(&token.token_hash).await.unwrap(), None);
    }

    // ---- personal access tokens ----------------------------------------------------------------------------

    pub async fn a_personal_access_token_is_found_by_its_value_hash(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, mut token) = pat(1, &user, "ci");
        token.scopes = vec!["read".to_owned()];
        store.personal_access_tokens().create(&token, &logged(&token.user_id)).await.unwrap();

        let found = store.personal_access_tokens().find_by_value_hash(&value.hash()).await.unwrap();
        assert_eq!(found, Some(token.clone()));
        assert_eq!(store.personal_access_tokens().find_by_value_hash(&hash_secret("pat_other")).await.unwrap(), None);
        assert_eq!(store.personal_access_tokens().list_for_user(&user).await.unwrap(), vec![token]);
    }

    pub async fn a_duplicate_token_name_conflicts_for_one_user_but_not_across_users(store: &Store) {
        let user = insert_user(store, 1).await;
        let other = insert_user(store, 2).await;
        store.personal_access_tokens().create(&pat(1, &user, "ci").1, &logged(&user)).await.unwrap();

        let duplicate = store.personal_access_tokens().create(&pat(2, &user, "ci").1, &logged(&user)).await;
        assert_eq!(duplicate, Err(RepoError::Conflict(Conflict::Name)));
        store.personal_access_tokens().create(&pat(3, &other, "ci").1, &logged(&other)).await.unwrap();
        assert_eq!(store.personal_access_tokens().list_for_user(&user).await.unwrap().len(), 1);
    }

    pub async fn renaming_a_token_keeps_its_value_and_refuses_a_taken_name(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = pat(1, &user, "ci");
        store.personal_access_tokens().create(&token, &logged(&token.user_id)).await.unwrap();
        store.personal_access_tokens().create(&pat(2, &user, "laptop").1, &logged(&user)).await.unwrap();

        store.personal_access_tokens().rename(&user, "ci", "deploy", &logged(&user)).await.unwrap();
        let renamed = store.personal_access_tokens().find_by_value_hash(&value.hash()).await.unwrap().unwrap();
        assert_eq!(renamed.name, "deploy");
        let taken = store.personal_access_tokens().rename(&user, "deploy", "laptop", &logged(&user)).await;
        assert_eq!(taken, Err(RepoError::Conflict(Conflict::Name)));
    }

    pub async fn renaming_or_deleting_an_absent_token_is_not_found(store: &Store) {
        let user = insert_user(store, 1).await;
        assert_eq!(
            store.personal_access_tokens().rename(&user, "ci", "x", &logged(&user)).await,
            Err(RepoError::NotFound)
        );
        assert_eq!(store.personal_access_tokens().delete(&user, "ci", &logged(&user)).await, Err(RepoError::NotFound));
        assert_eq!(store.personal_access_tokens().mark_used("absent", at(1)).await, Err(RepoError::NotFound));
    }

    pub async fn deleting_a_token_frees_its_name(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = pat(1, &user, "ci");
        store.personal_access_tokens().create(&token, &logged(&token.user_id)).await.unwrap();
        store.personal_access_tokens().delete(&user, "ci", &logged(&user)).await.unwrap();
        assert_eq!(store.personal_access_tokens().find_by_value_hash(&value.hash()).await.unwrap(), None);
        store.personal_access_tokens().create(&pat(2, &user, "ci").1, &logged(&user)).await.unwrap();
    }

    pub async fn marking_a_token_used_records_the_time(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = pat(1, &user, "ci");
        store.personal_access_tokens().create(&token, &logged(&token.user_id)).await.unwrap();
        store.personal_access_tokens().mark_used(&token.id, at(300)).await.unwrap();
        let used = store.personal_access_tokens().find_by_value_hash(&value.hash()).await.unwrap().unwrap();
        assert_eq!(used.last_used_at, Some(at(300)));
    }

    pub async fn revoking_all_tokens_of_a_user_spares_other_users(store: &Store) {
        let user = insert_user(store, 1).await;
        let other = insert_user(store, 2).await;
        store.personal_access_tokens().create(&pat(1, &user, "ci").1, &logged(&user)).await.unwrap();
        store.personal_access_tokens().create(&pat(2, &user, "laptop").1, &logged(&user)).await.unwrap();
        store.personal_access_tokens().create(&pat(3, &other, "ci").1, &logged(&other)).await.unwrap();

        assert_eq!(store.personal_access_tokens().revoke_all_for_user(&user, at(200)).await, Ok(2));
        assert_eq!(store.personal_access_tokens().revoke_all_for_user(&user, at(300)).await, Ok(0));
        let tokens = store.personal_access_tokens().list_for_user(&user).await.unwrap();
        assert!(tokens.iter().all(|token| token.revoked_at == Some(at(200))), "{tokens:?}");
        let others = store.personal_access_tokens().list_for_user(&other).await.unwrap();
        assert_eq!(others[0].revoked_at, None);
    }

    pub async fn credential_writes_store_their_audit_entries_and_failed_ones_none(store: &Store) {
        use latchkey_domain::audit::{AuditFilter, AuditLogRepository};

        let user = insert_user(store, 1).await;
        let tokens = store.personal_access_tokens();
        let (created, renamed, deleted) = (logged(&user), logged(&user), logged(&user));
        tokens.create(&pat(1, &user, "ci").1, &created).await.unwrap();
        let refused = logged(&user);
        assert_eq!(tokens.create(&pat(2, &user, "ci").1, &refused).await, Err(RepoError::Conflict(Conflict::Name)));
        tokens.rename(&user, "ci", "deploy", &renamed).await.unwrap();
        assert_eq!(tokens.delete(&user, "ci", &refused).await, Err(RepoError::NotFound));
        tokens.delete(&user, "deploy", &deleted).await.unwrap();
        let (_, subject) = SubjectToken::issue(user.clone(), json!({}), "admin-app".to_owned(), at(100));
        let impersonation = logged(&user);
        store.subject_tokens().insert(&subject, &impersonation).await.unwrap();

        let filter = AuditFilter { user_id: Some(user.as_str().to_owned()), ..AuditFilter::default() };
        let logged = store.audit_log().list(&filter, Pagination::new(1, 100).unwrap()).await.unwrap();
        let mut ids: Vec<_> = logged.items.iter().map(|entry| entry.id.clone()).collect();
        ids.sort();
        let mut expected: Vec<_> =
            [&created, &renamed, &deleted, &impersonation].iter().map(|entry| entry.id.clone()).collect();
        // The user's own creation entry is there too.
        expected.extend(logged.items.iter().filter(|entry| entry.key == "User.Created").map(|entry| entry.id.clone()));
        expected.sort();
        assert_eq!(ids, expected);
    }

    // ---- subject tokens ------------------------------------------------------------------------------------

    pub async fn a_subject_token_is_consumed_exactly_once(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = SubjectToken::issue(user, json!({"ticket": 42}), "admin-app".to_owned(), at(100));
        store.subject_tokens().insert(&token, &logged(&token.user_id)).await.unwrap();

        let first = store.subject_tokens().consume(&value.hash(), at(200)).await.unwrap();
        assert_eq!(first, Consumption::Consumed(SubjectToken { consumed_at: Some(at(200)), ..token }));
        let second = store.subject_tokens().consume(&value.hash(), at(201)).await.unwrap();
        assert_eq!(second, Consumption::AlreadyConsumed);
    }

    pub async fn an_expired_subject_token_is_not_consumable(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = SubjectToken::issue(user, json!({}), "admin-app".to_owned(), at(100));
        store.subject_tokens().insert(&token, &logged(&token.user_id)).await.unwrap();
        assert_eq!(store.subject_tokens().consume(&value.hash(), at(700)).await, Ok(Consumption::Expired));
    }

    pub async fn an_unknown_subject_token_is_reported_unknown(store: &Store) {
        assert_eq!(store.subject_tokens().consume(&hash_secret("sub_x"), at(1)).await, Ok(Consumption::Unknown));
    }

    pub async fn concurrent_consumptions_of_one_subject_token_let_exactly_one_succeed(store: &Store) {
        let user = insert_user(store, 1).await;
        let (value, token) = SubjectToken::issue(user, json!({}), "admin-app".to_owned(), at(100));
        store.subject_tokens().insert(&token, &logged(&token.user_id)).await.unwrap();

        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let tokens = store.subject_tokens();
                let hash = value.hash();
                tokio::spawn(async move { tokens.consume(&hash, at(200)).await })
            })
            .collect();
        let mut consumed = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Consumption::Consumed(_) => consumed += 1,
                other => assert_eq!(other, Consumption::AlreadyConsumed),
            }
        }
        assert_eq!(consumed, 1);
    }

    // ---- revocation state ----------------------------------------------------------------------------------

    pub async fn session_state_reflects_revocation_suspension_and_expiry(store: &Store) {
        let (user, session) = user_with_session(store).await;
        let state = store.token_state().session_state(&session.id, at(200)).await.unwrap().unwrap();
        assert_eq!(state.user_id, user);
        assert!(state.allows_tokens(), "{state:?}");
        assert!(store.token_state().session_state(&session.id, at(1_000)).await.unwrap().unwrap().expired);

        let mut suspended = store.users().find_by_id(&user).await.unwrap().unwrap();
        suspended.is_suspended = true;
        store.users().update(&suspended, &crate::support::audit::changed(&suspended)).await.unwrap();
        let state = store.token_state().session_state(&session.id, at(200)).await.unwrap().unwrap();
        assert!(state.user_suspended && !state.allows_tokens(), "{state:?}");

        store.sessions().revoke(&session.id, RevokeReason::UserSuspended, at(210)).await.unwrap();
        let state = store.token_state().session_state(&session.id, at(220)).await.unwrap().unwrap();
        assert!(state.revoked, "{state:?}");
    }

    pub async fn session_state_of_an_unknown_session_is_none(store: &Store) {
        assert_eq!(store.token_state().session_state("absent", at(1)).await, Ok(None));
        assert_eq!(store.token_state().pat_state("absent", at(1)).await, Ok(None));
    }

    pub async fn pat_state_reflects_revocation_expiry_and_suspension(store: &Store) {
        let user = insert_user(store, 1).await;
        let (_, mut token) = pat(1, &user, "ci");
        token.expires_at = Some(at(1_000));
        store.personal_access_tokens().create(&token, &logged(&token.user_id)).await.unwrap();

        let state = store.token_state().pat_state(&token.id, at(200)).await.unwrap().unwrap();
        assert!(state.allows_tokens(), "{state:?}");
        assert!(store.token_state().pat_state(&token.id, at(1_000)).await.unwrap().unwrap().expired);

        let mut suspended = store.users().find_by_id(&user).await.unwrap().unwrap();
        suspended.is_suspended = true;
        store.users().update(&suspended, &crate::support::audit::changed(&suspended)).await.unwrap();
        assert!(store.token_state().pat_state(&token.id, at(200)).await.unwrap().unwrap().user_suspended);

        store.personal_access_tokens().revoke_all_for_user(&user, at(300)).await.unwrap();
        assert!(store.token_state().pat_state(&token.id, at(400)).await.unwrap().unwrap().revoked);
    }

    // ---- schema --------------------------------------------------------------------------------------------

    pub async fn deleting_a_user_removes_their_sessions_and_tokens(store: &Store) {
        let (user, ..) = session_with_refresh_token(store, "first").await;
        store.personal_access_tokens().create(&pat(1, &user, "ci").1, &logged(&user)).await.unwrap();
        let (_, subject) = SubjectToken::issue(user.clone(), json!({}), "admin-app".to_owned(), at(100));
        store.subject_tokens().insert(&subject, &logged(&subject.user_id)).await.unwrap();

        crate::support::audit::delete_user(store, &user).await.unwrap();
        for table in ["sessions", "refresh_tokens", "personal_access_tokens", "subject_tokens"] {
            assert_eq!(count_rows(store, table).await, 0, "{table}");
        }
    }

    pub async fn credential_tables_roll_back_and_reapply(store: &Store) {
        let (_, session) = user_with_session(store).await;
        // Every migration after the users table's, newest first: the credentials migration and those built on it.
        let after_users = u32::try_from(Migrator::migrations().len() - 1).unwrap();
        Migrator::down(store.connection(), Some(after_users)).await.expect("the credentials migrations roll back");
        assert!(matches!(store.sessions().find(&session.id).await, Err(RepoError::Unavailable(_))));
        assert!(store.users().find_by_id(&user_id(1)).await.unwrap().is_some(), "users are untouched");

        Migrator::up(store.connection(), None).await.expect("the credentials migration applies again");
        assert_eq!(store.sessions().find(&session.id).await.unwrap(), None);
        store.sessions().create(&session, None).await.unwrap();
    }
}
