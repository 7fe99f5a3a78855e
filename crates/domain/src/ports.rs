//! Ports through which the domain reaches storage. Implementations live in `latchkey-store`; unit tests use the
//! mockall mocks (`MockUserRepository`, enabled in other crates by the `mocks` feature).

use async_trait::async_trait;
use thiserror::Error;

use crate::identifiers::{Email, Phone, Username};
use crate::ids::UserId;
use crate::user::User;

/// What a repository can report. Storage details (SQL errors, driver messages) never cross this boundary in
/// structured form; `Unavailable` carries a description for logs only.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(Conflict),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Which invariant a write would have broken.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    #[error("username already in use")]
    Username,
    #[error("email already in use")]
    Email,
    #[error("phone already in use")]
    Phone,
    #[error("id already in use")]
    Id,
    /// A name that must be unique within its owner is taken (e.g. a user's personal access token names).
    #[error("name already in use")]
    Name,
    /// The stored version is not the one the caller read: someone else updated the record in between.
    #[error("the record was changed by someone else")]
    Version,
}

/// Users, one aggregate. Every write is one transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, RepoError>;
    /// Exact, case-sensitive match (Logto's default username policy).
    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepoError>;
    /// Case-insensitive match.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;
    async fn find_by_phone(&self, phone: &Phone) -> Result<Option<User>, RepoError>;
    /// Fails with `Conflict(Username|Email|Phone|Id)` when an identifier is taken.
    async fn insert(&self, user: &User) -> Result<(), RepoError>;
    /// Writes `user` if the stored version still equals `user.version`, and returns it with the next version.
    /// Fails with `Conflict(Version)` when someone else wrote first, `NotFound` when the user is gone, and an
    /// identifier conflict when a changed identifier is taken.
    async fn update(&self, user: &User) -> Result<User, RepoError>;
    async fn delete(&self, id: &UserId) -> Result<(), RepoError>;
    async fn search(&self, query: &UserSearch) -> Result<Page<User>, RepoError>;
}

/// A page of results and the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// 1-based page number and page size (Logto: default 20, at most 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub page: u64,
    pub page_size: u64,
}

impl Pagination {
    pub const DEFAULT_PAGE_SIZE: u64 = 20;
    pub const MAX_PAGE_SIZE: u64 = 100;

    /// `None` when out of range (Logto answers `guard.invalid_pagination`).
    pub fn new(page: u64, page_size: u64) -> Option<Self> {
        ((1..).contains(&page) && (1..=Self::MAX_PAGE_SIZE).contains(&page_size)).then_some(Self { page, page_size })
    }

    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

impl Default for Pagination {
    fn default() -> Self {
        Self { page: 1, page_size: Self::DEFAULT_PAGE_SIZE }
    }
}

/// The searchable user columns of Logto's `GET /api/users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    Id,
    PrimaryEmail,
    PrimaryPhone,
    Username,
    Name,
}

/// How a search value matches (Logto's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// SQL `LIKE` with the value as the whole pattern (`%` and `_` are wildcards, `\` escapes), as Logto: clients
    /// send `%bob%` to find a substring.
    #[default]
    Like,
    Exact,
    SimilarTo,
    Posix,
}

/// How the conditions on different fields combine (values of one field always combine with OR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Joint {
    #[default]
    Or,
    And,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCondition {
    pub field: SearchField,
    pub values: Vec<String>,
    pub mode: SearchMode,
}

/// An extension of ours: match a string value inside `customData` at a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDataCondition {
    pub path: Vec<String>,
    pub values: Vec<String>,
    pub mode: SearchMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserSearch {
    pub fields: Vec<FieldCondition>,
    pub custom_data: Vec<CustomDataCondition>,
    pub joint: Joint,
    pub case_sensitive: bool,
    pub is_suspended: Option<bool>,
    pub pagination: Pagination,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_accepts_logtos_range_only() {
        assert!(Pagination::new(1, 1).is_some());
        assert!(Pagination::new(1, 100).is_some());
        assert!(Pagination::new(0, 20).is_none());
        assert!(Pagination::new(1, 0).is_none());
        assert!(Pagination::new(1, 101).is_none());
    }

    #[test]
    fn pagination_offset_counts_from_page_one() {
        assert_eq!(Pagination::new(3, 20).unwrap().offset(), 40);
    }
}
