//! The user lifecycle on both backends: every change stored with its audit entry in one transaction, suspension
//! ending sessions in the same write, deletion into a restorable tombstone, restore and purge.

#[macro_use]
mod support;

store_suite!(
    a_change_and_its_audit_entry_are_stored_together,
    a_refused_change_leaves_no_audit_entry,
    a_change_that_ends_sessions_revokes_every_live_session_of_the_user_only,
    a_sign_in_record_is_stored_with_its_new_session_and_refresh_token_or_neither,
    a_deleted_user_frees_its_identifiers_and_loses_its_sessions,
    a_restored_user_comes_back_with_its_identifiers_and_a_new_version,
    restoring_is_refused_when_another_user_took_an_identifier_and_the_tombstone_is_kept,
    a_tombstone_past_its_time_cannot_be_restored_and_is_purged,
    the_audit_log_filters_by_user_application_key_and_time_newest_first,
);

mod suite {
    use latchkey_domain::audit::{
        Actor, AuditContext, AuditEntry, AuditFilter, AuditLogRepository, AuditResult, details, keys,
    };
    use latchkey_domain::credentials_ports::TokenStateRepository;
    use latchkey_domain::identifiers::{Email, Username};
    use latchkey_domain::ports::{Conflict, Pagination, RepoError, UserChange, UserRepository};
    use latchkey_domain::session::{RevokeReason, Session, SessionLifetimes, SessionRepository, SessionStart};
    use latchkey_domain::user::User;
    use latchkey_domain::{Timestamp, UserId};
    use latchkey_store::Store;
    use serde_json::{Value, json};

    fn id(n: u32) -> UserId {
        UserId::parse(&format!("user{n:08}")).unwrap()
    }

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    fn user(n: u32, name: &str) -> User {
        let mut user = User::new(id(n), at(1_000 + i64::from(n)));
        user.username = Some(Username::parse(name).unwrap());
        user.primary_email = Some(Email::parse(&format!("{name}@example.com")).unwrap());
        user
    }

    fn context(application: &str) -> AuditContext {
        AuditContext::new(Actor::Application { id: application.to_owned() })
            .with_application(application)
            .with_origin(Some("203.0.113.7"), Some("curl/8"))
    }

    fn entry(entry_id: &str, user_id: &UserId, key: &str, application: &str, now: i64) -> AuditEntry {
        let details = details([("fields", json!(["name"]))]);
        AuditEntry::about(format!("{entry_id:0>21}"), key, user_id, &context(application), details, at(now))
    }

    async fn insert(store: &Store, user: &User) {
        let created = entry(&format!("c{}", user.id), &user.id, keys::USER_CREATED, "m2m", 2_000);
        store.users().insert(user, &created).await.unwrap();
    }

    async fn session(store: &Store, session_id: &str, user: &UserId) {
        let session = Session::new(format!("{session_id:0>21}"), user.clone(), "spa".into(), at(2_000), at(9_000_000));
        store.sessions().create(&session, None).await.unwrap();
    }

    async fn live_session(store: &Store, session_id: &str) -> Option<bool> {
        let state = store.token_state().session_state(&format!("{session_id:0>21}"), at(3_000)).await.unwrap();
        state.map(|state| state.allows_tokens())
    }

    fn everything() -> Pagination {
        Pagination::new(1, 100).unwrap()
    }

    pub async fn a_change_and_its_audit_entry_are_stored_together(store: &Store) {
        let ada = user(1, "ada");
        insert(store, &ada).await;
        let mut renamed = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        renamed.name = Some("Ada".into());
        let change = UserChange::logged(entry("e1", &ada.id, keys::USER_DATA_UPDATED, "m2m", 3_000));
        store.users().update(&renamed, &change).await.unwrap();

        let stored = store.audit_log().find(&change.entry.id).await.unwrap().expect("the entry is stored");
        assert_eq!(stored, change.entry);
        assert_eq!(stored.result, AuditResult::Success);
        assert_eq!(stored.context.ip.as_deref(), Some("203.0.113.7"));
        let log = store.audit_log().list(&AuditFilter::default(), everything()).await.unwrap();
        assert_eq!(log.total, 2, "the creation is logged too");
    }

    pub async fn a_refused_change_leaves_no_audit_entry(store: &Store) {
        let ada = user(1, "ada");
        let bob = user(2, "bob");
        insert(store, &ada).await;
        insert(store, &bob).await;
        let mut stale = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        stale.version = stale.version.next();
        let refused = UserChange::logged(entry("e1", &ada.id, keys::USER_DATA_UPDATED, "m2m", 3_000));
        assert_eq!(store.users().update(&stale, &refused).await, Err(RepoError::Conflict(Conflict::Version)));

        let mut taking_email = store.users().find_by_id(&bob.id).await.unwrap().unwrap();
        taking_email.primary_email = ada.primary_email.clone();
        let clashing = UserChange::logged(entry("e2", &bob.id, keys::USER_DATA_UPDATED, "m2m", 3_000));
        assert_eq!(store.users().update(&taking_email, &clashing).await, Err(RepoError::Conflict(Conflict::Email)));

        let mut taken_username = user(3, "ada");
        taken_username.primary_email = None;
        let created = entry("e3", &taken_username.id, keys::USER_CREATED, "m2m", 3_000);
        assert_eq!(store.users().insert(&taken_username, &created).await, Err(RepoError::Conflict(Conflict::Username)));

        for refused in ["e1", "e2", "e3"] {
            assert_eq!(store.audit_log().find(&format!("{refused:0>21}")).await.unwrap(), None, "{refused}");
        }
    }

    pub async fn a_change_that_ends_sessions_revokes_every_live_session_of_the_user_only(store: &Store) {
        let ada = user(1, "ada");
        let bob = user(2, "bob");
        insert(store, &ada).await;
        insert(store, &bob).await;
        session(store, "s1", &ada.id).await;
        session(store, "s2", &ada.id).await;
        session(store, "s3", &bob.id).await;

        let mut suspended = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        suspended.is_suspended = true;
        let change = UserChange::logged(entry("e1", &ada.id, keys::USER_SUSPENSION_UPDATED, "m2m", 3_000))
            .ending_sessions(RevokeReason::UserSuspended);
        store.users().update(&suspended, &change).await.unwrap();

        let mut reinstated = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        reinstated.is_suspended = false;
        let change = UserChange::logged(entry("e2", &ada.id, keys::USER_SUSPENSION_UPDATED, "m2m", 3_100));
        store.users().update(&reinstated, &change).await.unwrap();

        assert_eq!(live_session(store, "s1").await, Some(false), "reinstating revives no session");
        assert_eq!(live_session(store, "s2").await, Some(false));
        assert_eq!(live_session(store, "s3").await, Some(true), "another user's session is untouched");
        let revoked = store.sessions().find(&format!("{:0>21}", "s1")).await.unwrap().unwrap();
        assert_eq!(revoked.revoke_reason, Some(RevokeReason::UserSuspended));
    }

    pub async fn a_sign_in_record_is_stored_with_its_new_session_and_refresh_token_or_neither(store: &Store) {
        let ada = user(1, "ada");
        insert(store, &ada).await;
        let before = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        let signing_in = |session_id: &str| {
            let session =
                Session::new(format!("{session_id:0>21}"), ada.id.clone(), "spa".into(), at(2_000), at(9_000))
                    .with_scopes(["openid"])
                    .with_origin(Some("curl/8"), Some("203.0.113.7"));
            SessionStart::with_refresh_token(session, &SessionLifetimes::default())
        };
        let mut signed_in = before.clone();
        signed_in.last_sign_in_at = Some(at(2_000));

        let (start, refresh_token) = signing_in("s1");
        let mut change = UserChange::logged(entry("e1", &ada.id, keys::USER_SIGNED_IN, "spa", 2_000));
        change.start_session = Some(start.clone());
        store.users().update(&signed_in, &change).await.unwrap();

        let stored = store.sessions().find(&start.session.id).await.unwrap().expect("the session is stored");
        assert_eq!(
            (&stored.user_id, stored.client_id.as_str(), stored.scopes.as_slice()),
            (&ada.id, "spa", &["openid".to_owned()][..])
        );
        assert_eq!((stored.ip.as_deref(), stored.user_agent.as_deref()), (Some("203.0.113.7"), Some("curl/8")));
        assert_eq!(stored.expires_at, at(9_000));
        assert_eq!(live_session(store, "s1").await, Some(true));
        let token = store.sessions().find_refresh_token(&refresh_token.hash()).await.unwrap();
        let token = token.expect("the first refresh token is stored with the session");
        assert_eq!((token.session_id.as_str(), token.expires_at), (start.session.id.as_str(), at(9_000)));
        assert!(store.audit_log().find(&change.entry.id).await.unwrap().is_some());

        // The same sign-in written over a stale version: the user change is refused and no session is left behind.
        let (start, refresh_token) = signing_in("s2");
        let mut change = UserChange::logged(entry("e2", &ada.id, keys::USER_SIGNED_IN, "spa", 2_000));
        change.start_session = Some(start.clone());
        assert_eq!(store.users().update(&signed_in, &change).await, Err(RepoError::Conflict(Conflict::Version)));
        assert_eq!(store.sessions().find(&start.session.id).await.unwrap(), None);
        assert_eq!(store.sessions().find_refresh_token(&refresh_token.hash()).await.unwrap(), None);
        assert_eq!(store.audit_log().find(&change.entry.id).await.unwrap(), None);
    }

    pub async fn a_deleted_user_frees_its_identifiers_and_loses_its_sessions(store: &Store) {
        let ada = user(1, "ada");
        insert(store, &ada).await;
        session(store, "s1", &ada.id).await;
        let stored = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        let deleted = entry("e1", &ada.id, keys::USER_DELETED, "m2m", 3_000);
        store.users().delete(&stored, at(10_000), &deleted).await.unwrap();

        assert_eq!(store.users().find_by_id(&ada.id).await.unwrap(), None);
        assert_eq!(live_session(store, "s1").await, None, "the session went with the user");
        assert!(store.audit_log().find(&deleted.id).await.unwrap().is_some());
        insert(store, &user(2, "ada")).await;
    }

    pub async fn a_restored_user_comes_back_with_its_identifiers_and_a_new_version(store: &Store) {
        let mut ada = user(1, "ada");
        ada.custom_data = latchkey_domain::user::CustomData::new(json!({ "plan": "pro" })).unwrap();
        insert(store, &ada).await;
        let stored = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        store
            .users()
            .delete(&stored, at(10_000), &entry("e1", &ada.id, keys::USER_DELETED, "m2m", 3_000))
            .await
            .unwrap();

        let restored_entry = entry("e2", &ada.id, keys::USER_RESTORED, "m2m", 4_000);
        let restored = store.users().restore(&ada.id, at(4_000), &restored_entry).await.unwrap();
        assert_eq!(restored.username, ada.username);
        assert_eq!(restored.primary_email, ada.primary_email);
        assert_eq!(restored.custom_data, ada.custom_data);
        assert_eq!(restored.version, stored.version.next());
        assert_eq!(store.users().find_by_id(&ada.id).await.unwrap(), Some(restored));
        assert_eq!(
            store.users().restore(&ada.id, at(4_000), &entry("e3", &ada.id, keys::USER_RESTORED, "m2m", 4_000)).await,
            Err(RepoError::NotFound),
            "a tombstone is used once"
        );
    }

    pub async fn restoring_is_refused_when_another_user_took_an_identifier_and_the_tombstone_is_kept(store: &Store) {
        let ada = user(1, "ada");
        insert(store, &ada).await;
        let stored = store.users().find_by_id(&ada.id).await.unwrap().unwrap();
        store
            .users()
            .delete(&stored, at(10_000), &entry("e1", &ada.id, keys::USER_DELETED, "m2m", 3_000))
            .await
            .unwrap();
        let mut newcomer = user(2, "newcomer");
        newcomer.primary_email = ada.primary_email.clone();
        insert(store, &newcomer).await;

        let attempt = entry("e2", &ada.id, keys::USER_RESTORED, "m2m", 4_000);
        assert_eq!(
            store.users().restore(&ada.id, at(4_000), &attempt).await,
            Err(RepoError::Conflict(Conflict::Email))
        );
        assert_eq!(store.audit_log().find(&attempt.id).await.unwrap(), None);

        let mut moved_on = store.users().find_by_id(&newcomer.id).await.unwrap().unwrap();
        moved_on.primary_email = None;
        store
            .users()
            .update(&moved_on, &UserChange::logged(entry("e3", &newcomer.id, keys::USER_DATA_UPDATED, "m2m", 4_100)))
            .await
            .unwrap();
        let again = entry("e4", &ada.id, keys::USER_RESTORED, "m2m", 4_200);
        let restored = store.users().restore(&ada.id, at(4_200), &again).await.unwrap();
        assert_eq!(restored.primary_email, ada.primary_email);
    }

    pub async fn a_tombstone_past_its_time_cannot_be_restored_and_is_purged(store: &Store) {
        let ada = user(1, "ada");
        let bob = user(2, "bob");
        insert(store, &ada).await;
        insert(store, &bob).await;
        for (user, until) in [(&ada, 5_000), (&bob, 50_000)] {
            let stored = store.users().find_by_id(&user.id).await.unwrap().unwrap();
            let deleted = entry(&format!("d{}", user.id), &user.id, keys::USER_DELETED, "m2m", 3_000);
            store.users().delete(&stored, at(until), &deleted).await.unwrap();
        }
        let late = entry("e1", &ada.id, keys::USER_RESTORED, "m2m", 5_000);
        assert_eq!(store.users().restore(&ada.id, at(5_000), &late).await, Err(RepoError::NotFound));
        assert_eq!(store.users().purge_tombstones(at(6_000)).await, Ok(1));
        assert_eq!(store.users().purge_tombstones(at(6_000)).await, Ok(0));
        let in_time = entry("e2", &bob.id, keys::USER_RESTORED, "m2m", 6_000);
        assert!(store.users().restore(&bob.id, at(6_000), &in_time).await.is_ok());
    }

    pub async fn the_audit_log_filters_by_user_application_key_and_time_newest_first(store: &Store) {
        let log = store.audit_log();
        let entries = [
            entry("a", &id(1), keys::USER_CREATED, "m2m", 1_000),
            entry("b", &id(1), keys::USER_DATA_UPDATED, "console", 2_000),
            entry("c", &id(2), keys::USER_DATA_UPDATED, "m2m", 3_000),
            AuditEntry { user_id: None, ..entry("d", &id(2), keys::USER_SIGNED_IN, "spa", 4_000) },
        ];
        for entry in &entries {
            log.append(entry).await.unwrap();
        }
        let listed = |filter: AuditFilter| async move {
            let page = store.audit_log().list(&filter, everything()).await.unwrap();
            let ids: Vec<String> = page.items.iter().map(|entry| entry.id.trim_start_matches('0').to_owned()).collect();
            (ids, page.total)
        };
        assert_eq!(listed(AuditFilter::default()).await, (vec!["d".into(), "c".into(), "b".into(), "a".into()], 4));
        let by_user = AuditFilter { user_id: Some(id(1).to_string()), ..AuditFilter::default() };
        assert_eq!(listed(by_user).await, (vec!["b".into(), "a".into()], 2));
        let by_application = AuditFilter { application_id: Some("m2m".into()), ..AuditFilter::default() };
        assert_eq!(listed(by_application).await, (vec!["c".into(), "a".into()], 2));
        let by_key = AuditFilter { key: Some(keys::USER_DATA_UPDATED.into()), ..AuditFilter::default() };
        assert_eq!(listed(by_key).await, (vec!["c".into(), "b".into()], 2));
        let by_time = AuditFilter { since: Some(at(2_000)), until: Some(at(4_000)), ..AuditFilter::default() };
        assert_eq!(listed(by_time).await, (vec!["c".into(), "b".into()], 2));

        let second_page = log.list(&AuditFilter::default(), Pagination::new(2, 3).unwrap()).await.unwrap();
        assert_eq!(second_page.items.len(), 1);
        assert_eq!(second_page.total, 4);
        assert_eq!(second_page.items[0].details.get("fields"), Some(&Value::from(vec!["name"])));
    }
}
