//! `Store::insert_users`, the bulk path, on SQLite and (with `LATCHKEY_TEST_DATABASE_URL`) PostgreSQL: users inserted
//! in batches are found like users inserted one by one, and a batch is all or nothing.

#[macro_use]
mod support;

store_suite!(
    bulk_inserted_users_are_found_by_id_and_by_email,
    bulk_insert_spanning_several_statements_stores_every_user,
    a_duplicate_email_in_a_batch_fails_the_batch_and_inserts_none_of_it,
    a_duplicate_username_in_a_later_statement_rolls_back_the_earlier_statements,
    a_batch_colliding_with_a_stored_user_conflicts_and_keeps_the_stored_user,
    an_empty_batch_inserts_nothing,
);

mod suite {
    use latchkey_domain::identifiers::{Email, Phone, Username};
    use latchkey_domain::ports::{Conflict, Pagination, RepoError, UserRepository, UserSearch};
    use latchkey_domain::{Timestamp, User, UserId};
    use latchkey_store::Store;

    /// More than one multi-row statement's worth (1,000 rows), so that a batch spans several statements.
    const LARGE_BATCH: u32 = 2_345;

    /// User `n`: id, username, email (mixed case) and phone all derived from `n`, created at `n` seconds.
    fn user(n: u32) -> User {
        let mut user = User::new(id(n), Timestamp::from_secs(i64::from(n)));
        user.username = Some(Username::parse(&format!("bulk_user_{n}")).unwrap());
        user.primary_email = Some(Email::parse(&format!("Bulk.User{n}@Example.com")).unwrap());
        user.primary_phone = Some(Phone::parse(&format!("4420{n:08}")).unwrap());
        user.name = Some(format!("Bulk User {n}"));
        user
    }

    fn id(n: u32) -> UserId {
        UserId::parse(&format!("bulk{n:08}")).unwrap()
    }

    async fn count(store: &Store) -> u64 {
        let everyone = UserSearch { pagination: Pagination::new(1, 1).unwrap(), ..UserSearch::default() };
        store.users().search(&everyone).await.unwrap().total
    }

    pub async fn bulk_inserted_users_are_found_by_id_and_by_email(store: &Store) {
        let users: Vec<User> = (1..=3).map(user).collect();
        store.insert_users(&users).await.unwrap();

        for expected in &users {
            let by_id = store.users().find_by_id(&expected.id).await.unwrap();
            assert_eq!(by_id.as_ref(), Some(expected));
            let typed_otherwise =
                Email::parse(&expected.primary_email.as_ref().unwrap().as_str().to_uppercase()).unwrap();
            let by_email = store.users().find_by_email(&typed_otherwise).await.unwrap();
            assert_eq!(by_email.as_ref(), Some(expected));
        }
    }

    pub async fn bulk_insert_spanning_several_statements_stores_every_user(store: &Store) {
        let users: Vec<User> = (1..=LARGE_BATCH).map(user).collect();
        store.insert_users(&users).await.unwrap();

        assert_eq!(count(store).await, u64::from(LARGE_BATCH));
        for n in [1, 1_000, 1_001, 2_000, LARGE_BATCH] {
            let found = store.users().find_by_id(&id(n)).await.unwrap();
            assert_eq!(found, Some(user(n)), "user {n}");
        }
    }

    pub async fn a_duplicate_email_in_a_batch_fails_the_batch_and_inserts_none_of_it(store: &Store) {
        let mut twin = user(3);
        twin.username = None;
        twin.primary_phone = None;
        // The same address in other letters: emails are unique regardless of case.
        twin.primary_email = Some(Email::parse("BULK.USER1@example.COM").unwrap());
        let batch = vec![user(1), user(2), twin];

        let error = store.insert_users(&batch).await.unwrap_err();

        assert!(matches!(error, RepoError::Conflict(Conflict::Email)), "{error:?}");
        for n in 1..=3 {
            assert_eq!(store.users().find_by_id(&id(n)).await.unwrap(), None, "user {n}");
        }
        assert_eq!(count(store).await, 0);
    }

    pub async fn a_duplicate_username_in_a_later_statement_rolls_back_the_earlier_statements(store: &Store) {
        let mut batch: Vec<User> = (1..=LARGE_BATCH).map(user).collect();
        // The last user, in the third statement, takes the username of the first.
        let last = batch.last_mut().unwrap();
        last.username = Some(Username::parse("bulk_user_1").unwrap());

        let error = store.insert_users(&batch).await.unwrap_err();

        assert!(matches!(error, RepoError::Conflict(Conflict::Username)), "{error:?}");
        assert_eq!(count(store).await, 0);
        assert_eq!(store.users().find_by_id(&id(1)).await.unwrap(), None);
    }

    pub async fn a_batch_colliding_with_a_stored_user_conflicts_and_keeps_the_stored_user(store: &Store) {
        let stored = user(1);
        store.insert_users(std::slice::from_ref(&stored)).await.unwrap();
        let mut newcomer = user(2);
        newcomer.primary_phone = stored.primary_phone.clone();

        let error = store.insert_users(&[user(3), newcomer]).await.unwrap_err();

        assert!(matches!(error, RepoError::Conflict(Conflict::Phone)), "{error:?}");
        assert_eq!(store.users().find_by_id(&stored.id).await.unwrap(), Some(stored));
        assert_eq!(store.users().find_by_id(&id(3)).await.unwrap(), None);
        assert_eq!(count(store).await, 1);
    }

    pub async fn an_empty_batch_inserts_nothing(store: &Store) {
        store.insert_users(&[]).await.unwrap();
        assert_eq!(count(store).await, 0);
    }
}
