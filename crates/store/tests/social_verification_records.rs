//! Store tests of social verification records: the started ceremony and the verified identity round-trip through
//! `verification_records`, on SQLite and (when `LATCHKEY_TEST_DATABASE_URL` is set) on PostgreSQL.

#[macro_use]
mod support;

store_suite!(a_social_record_keeps_its_ceremony_from_start_to_verified_identity);

mod suite {
    use latchkey_domain::audit::{AuditContext, AuditEntry, keys};
    use latchkey_domain::social::{SocialCeremony, SocialIdentity, SocialSession, SocialUserInfo};
    use latchkey_domain::verification_record::{
        RecordHolder, RecordKind, VerificationRecord, VerificationRecordRepository,
    };
    use latchkey_domain::{Timestamp, User, UserId, UserRepository};
    use latchkey_store::Store;
    use serde_json::{Map, Value, json};

    pub async fn a_social_record_keeps_its_ceremony_from_start_to_verified_identity(store: &Store) {
        let user = User::new(UserId::parse("socialuser01").unwrap(), Timestamp::from_millis(1));
        let created = AuditEntry::about(
            "e".repeat(21),
            keys::USER_CREATED,
            &user.id,
            &AuditContext::system(),
            Map::new(),
            Timestamp::from_millis(1),
        );
        store.users().insert(&user, &created).await.unwrap();
        let session = SocialSession {
            state: "state-1".to_owned(),
            redirect_uri: "https://app.example.com/callback".to_owned(),
            connector_session: Map::from_iter([("nonce".to_owned(), Value::from("n-1"))]),
        };
        let started =
            RecordKind::Social { connector_id: "oidc".to_owned(), ceremony: SocialCeremony::Started(session) };
        let record = VerificationRecord::new(
            "s".repeat(21),
            RecordHolder { user_id: &user.id, session_id: "session-1" },
            started,
            false,
            Timestamp::from_secs(100),
        );
        let records = store.verification_records();
        records.insert(&record).await.unwrap();
        assert_eq!(records.find(&record.id).await.unwrap(), Some(record.clone()));

        let identity = SocialIdentity {
            target: "oidc".to_owned(),
            user_info: SocialUserInfo {
                id: "alice".to_owned(),
                email: Some("alice@example.com".to_owned()),
                name: Some("Alice".to_owned()),
                raw_data: Some(json!({"sub": "alice", "email_verified": true})),
                ..SocialUserInfo::default()
            },
        };
        let verified =
            RecordKind::Social { connector_id: "oidc".to_owned(), ceremony: SocialCeremony::Verified(identity) };
        records.mark_verified(&record.id, &verified).await.unwrap();
        let found = records.find(&record.id).await.unwrap().expect("the record");
        assert!(found.verified);
        assert_eq!(found.kind, verified);
        assert_eq!(found.kind.type_name(), "Social");
    }
}
