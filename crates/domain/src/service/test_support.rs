//! Test doubles shared by the use-case tests.

use std::sync::{Arc, Mutex};

use crate::ports::{Conflict, MockUserRepository, RepoError};
use crate::user::User;

/// A user repository mock that behaves like one stored row: reads (by id, or by its username) return it, updates
/// check and bump its version.
pub(crate) fn repository_holding(user: User) -> (MockUserRepository, Arc<Mutex<User>>) {
    let row = Arc::new(Mutex::new(user));
    let mut users = MockUserRepository::new();
    let read = Arc::clone(&row);
    users.expect_find_by_id().returning(move |_| Ok(Some(read.lock().unwrap().clone())));
    let by_name = Arc::clone(&row);
    users.expect_find_by_username().returning(move |name| {
        let user = by_name.lock().unwrap().clone();
        Ok((user.username.as_ref() == Some(name)).then_some(user))
    });
    let write = Arc::clone(&row);
    users.expect_update().returning(move |changed, _| {
        let mut stored = write.lock().unwrap();
        if stored.version != changed.version {
            return Err(RepoError::Conflict(Conflict::Version));
        }
        let mut saved = changed.clone();
        saved.version = changed.version.next();
        *stored = saved.clone();
        Ok(saved)
    });
    (users, row)
}
