//! Ports through which the domain reaches storage. Implementations live in `latchkey-store`; unit tests use the
//! mockall mocks (`MockUserRepository`, enabled in other crates by the `mocks` feature).

use async_trait::async_trait;
use thiserror::Error;

use crate::audit::AuditEntry;
use crate::clock::Timestamp;
use crate::identifiers::{Email, Phone, Username};
use crate::ids::UserId;
use crate::session::{RevokeReason, SessionStart};
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

/// Users, one aggregate. Every write is one transaction, which also stores the write's audit entry.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, RepoError>;
    /// Exact, case-sensitive match (Logto's default username policy).
    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepoError>;
    /// Case-insensitive match.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;
    async fn find_by_phone(&self, phone: &Phone) -> Result<Option<User>, RepoError>;
    /// The user whose social identity at `target` (a valid [`crate::user::identity_target`]) has `identity_user_id`.
    async fn find_by_identity(&self, target: &str, identity_user_id: &str) -> Result<Option<User>, RepoError>;
    /// Inserts a new user with the user roles marked default (Logto's `isDefault`) and `entry`, all at once.
    /// Fails with `Conflict(Username|Email|Phone|Id)` when an identifier is taken.
    async fn insert(&self, user: &User, entry: &AuditEntry) -> Result<(), RepoError>;
    /// Writes `user` if the stored version still equals `user.version`, and returns it with the next version.
    /// Fails with `Conflict(Version)` when someone else wrote first, `NotFound` when the user is gone, and an
    /// identifier conflict when a changed identifier is taken.
    async fn update(&self, user: &User, change: &UserChange) -> Result<User, RepoError>;
    /// Deletes `user` if the stored version still equals `user.version`, keeping a tombstone that
    /// [`Self::restore`] can bring back until `restorable_until`. The user's sessions, refresh tokens, personal
    /// access tokens and subject tokens go with it, so every token derived from them stops working; a restore does
    /// not bring them back. Tombstones past their time are purged in the same transaction.
    async fn delete(&self, user: &User, restorable_until: Timestamp, entry: &AuditEntry) -> Result<(), RepoError>;
    /// Brings back a deleted user whose tombstone is still kept at `now`, with its identifiers. `NotFound` when
    /// there is no such tombstone; an identifier conflict when another user took one meanwhile (the tombstone is
    /// then kept).
    async fn restore(&self, id: &UserId, now: Timestamp, entry: &AuditEntry) -> Result<User, RepoError>;
    /// Drops tombstones kept past their time at `now`; returns how many.
    async fn purge_tombstones(&self, now: Timestamp) -> Result<u64, RepoError>;
    async fn search(&self, query: &UserSearch) -> Result<Page<User>, RepoError>;
}

/// What is written with a change to a user, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    pub entry: AuditEntry,
    /// Ends every live session of the user, and so every token derived from one, for this reason.
    pub end_sessions: Option<RevokeReason>,
    /// Stores a new session of the user (a sign-in), so that the sign-in is recorded with its session or not at
    /// all, and in one commit.
    pub start_session: Option<SessionStart>,
}

impl UserChange {
    pub fn logged(entry: AuditEntry) -> Self {
        Self { entry, end_sessions: None, start_session: None }
    }

    #[must_use]
    pub fn ending_sessions(mut self, reason: RevokeReason) -> Self {
        self.end_sessions = Some(reason);
        self
    }
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
    /// The header giving how many items the whole list holds.
    pub const TOTAL_NUMBER_HEADER: &'static str = "Total-Number";
    pub const MAX_PAGE_SIZE: u64 = 100;

    /// `None` when out of range (Logto answers `guard.invalid_pagination`).
    pub fn new(page: u64, page_size: u64) -> Option<Self> {
        ((1..).contains(&page) && (1..=Self::MAX_PAGE_SIZE).contains(&page_size)).then_some(Self { page, page_size })
    }

    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.page_size)
    }

    /// The page a list request asks for with Logto's `page` (1-based, default 1) and `page_size` (default 20) in
    /// its raw query string; `None` for out-of-range or non-numeric values (Logto's `guard.invalid_pagination`).
    pub fn from_query(query: &str) -> Option<Self> {
        let (mut page, mut page_size) = (None, None);
        // The keys are plain ASCII, so no percent-decoding is needed to match them, and a percent-encoded value
        // is not a number anyway.
        for (key, value) in query_pairs(query) {
            match key {
                "page" => page = Some(value),
                "page_size" => page_size = Some(value),
                _ => {}
            }
        }
        let number = |value: Option<&str>, default: u64| value.map_or(Some(default), |value| value.parse().ok());
        Self::new(number(page, 1)?, number(page_size, Self::DEFAULT_PAGE_SIZE)?)
    }

    /// The RFC 8288 `Link` header of this page of `total` items: the first, last, previous and next pages of
    /// `url` (absolute, without query), each with `query`'s other parameters kept as the client encoded them.
    /// (Logto's links drop the `/api` prefix, a bug; these keep the real path.)
    pub fn links(self, url: &str, query: &str, total: u64) -> String {
        let last = total.div_ceil(self.page_size).max(1);
        let others: Vec<&str> =
            query.split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("page")).collect();
        let link = |page: u64, rel: &str| {
            let parameters =
                std::iter::once(format!("page={page}")).chain(others.iter().map(|pair| (*pair).to_owned()));
            format!("<{url}?{}>; rel=\"{rel}\"", parameters.collect::<Vec<_>>().join("&"))
        };
        let mut links = vec![link(1, "first"), link(last, "last")];
        if self.page > 1 {
            links.push(link(self.page - 1, "prev"));
        }
        if self.page < last {
            links.push(link(self.page + 1, "next"));
        }
        links.join(", ")
    }

    /// Logto's list headers for this page of `total` items: `Total-Number` and the `Link` of [`Pagination::links`].
    /// Both APIs answer lists with exactly these.
    pub fn response_headers(self, url: &str, query: &str, total: u64) -> [(&'static str, String); 2] {
        [(Self::TOTAL_NUMBER_HEADER, total.to_string()), ("Link", self.links(url, query, total))]
    }
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
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

impl SearchField {
    pub const ALL: [SearchField; 5] = [
        SearchField::Id,
        SearchField::PrimaryEmail,
        SearchField::PrimaryPhone,
        SearchField::Username,
        SearchField::Name,
    ];
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

/// The longest `posix` or `similar_to` search value accepted.
pub const MAX_SEARCH_PATTERN_CHARS: usize = 256;

/// A `posix` or `similar_to` value that is not a pattern this server evaluates.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("the search pattern is invalid: {0}")]
pub struct InvalidSearchPattern(pub String);

impl SearchMode {
    /// The regular expression a `posix` or `similar_to` value stands for (`None` for `like` and `exact`). Both
    /// backends evaluate this one expression (PostgreSQL with `~`, SQLite with `REGEXP`), so they agree: a
    /// `similar_to` value is translated here as PostgreSQL translates `SIMILAR TO` (whole value, `%` any run, `_`
    /// any one character, `.`, `^` and `$` literal), and case-insensitive `posix` gets `(?i)`. Only the syntax
    /// both engines read the same is accepted: what Rust's `regex` rejects (backreferences, look-around) is refused.
    pub fn regex_pattern(self, value: &str, case_sensitive: bool) -> Result<Option<String>, InvalidSearchPattern> {
        let pattern = match self {
            SearchMode::Like | SearchMode::Exact => return Ok(None),
            SearchMode::Posix if case_sensitive => value.to_owned(),
            SearchMode::Posix => format!("(?i){value}"),
            SearchMode::SimilarTo => similar_to_regex(value),
        };
        if value.chars().count() > MAX_SEARCH_PATTERN_CHARS {
            return Err(InvalidSearchPattern(format!("longer than {MAX_SEARCH_PATTERN_CHARS} characters")));
        }
        regex::RegexBuilder::new(&pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|error| InvalidSearchPattern(error.to_string().lines().last().unwrap_or_default().to_owned()))?;
        Ok(Some(pattern))
    }
}

fn similar_to_regex(value: &str) -> String {
    let mut pattern = String::from("^(?:");
    let mut chars = value.chars();
    let mut in_brackets = false;
    while let Some(character) = chars.next() {
        if in_brackets {
            pattern.push(character);
            in_brackets = character != ']';
            continue;
        }
        match character {
            '%' => pattern.push_str(".*"),
            '_' => pattern.push('.'),
            '\\' => match chars.next() {
                Some(escaped) => pattern.push_str(&regex::escape(&escaped.to_string())),
                None => pattern.push_str("\\\\"),
            },
            '[' => {
                in_brackets = true;
                pattern.push('[');
            }
            '.' | '^' | '$' => pattern.push_str(&regex::escape(&character.to_string())),
            other => pattern.push(other),
        }
    }
    pattern.push_str(")$");
    pattern
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

/// Logto's bare `search`: the values matched against every searchable field, any field matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyFieldCondition {
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
    pub any_field: Vec<AnyFieldCondition>,
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
    fn pagination_is_read_from_the_query_with_logtos_defaults_and_bounds() {
        assert_eq!(Pagination::from_query(""), Some(Pagination { page: 1, page_size: 20 }));
        assert_eq!(Pagination::from_query("page=3&page_size=100&x=1"), Some(Pagination { page: 3, page_size: 100 }));
        for query in ["page=0", "page_size=0", "page_size=101", "page=abc", "page=-1", "page=", "page_size=%31"] {
            assert_eq!(Pagination::from_query(query), None, "{query}");
        }
    }

    #[test]
    fn links_keep_the_other_parameters_and_name_the_neighbouring_pages() {
        let links =
            Pagination { page: 2, page_size: 2 }.links("http://h/api/applications", "page_size=2&page=2&types=SPA", 5);
        assert_eq!(
            links,
            "<http://h/api/applications?page=1&page_size=2&types=SPA>; rel=\"first\", \
             <http://h/api/applications?page=3&page_size=2&types=SPA>; rel=\"last\", \
             <http://h/api/applications?page=1&page_size=2&types=SPA>; rel=\"prev\", \
             <http://h/api/applications?page=3&page_size=2&types=SPA>; rel=\"next\""
        );
        assert_eq!(
            Pagination::default().links("http://h/api/logs", "", 0),
            "<http://h/api/logs?page=1>; rel=\"first\", <http://h/api/logs?page=1>; rel=\"last\"",
            "an empty list has one page"
        );
    }

    #[test]
    fn pagination_accepts_logtos_range_only() {
        assert!(Pagination::new(1, 1).is_some());
        assert!(Pagination::new(1, 100).is_some());
        assert!(Pagination::new(0, 20).is_none());
        assert!(Pagination::new(1, 0).is_none());
        assert!(Pagination::new(1, 101).is_none());
    }

    #[test]
    fn similar_to_is_translated_as_postgresql_does_and_posix_is_taken_as_written() {
        let similar = |value: &str| SearchMode::SimilarTo.regex_pattern(value, true).unwrap().unwrap();
        assert_eq!(similar("a%b_c"), "^(?:a.*b.c)$");
        assert_eq!(similar("(ab|cd)+x.y"), "^(?:(ab|cd)+x\\.y)$");
        assert_eq!(similar(r"100\%"), "^(?:100%)$");
        assert_eq!(similar("[._%]x"), "^(?:[._%]x)$");
        assert_eq!(SearchMode::Posix.regex_pattern("^ad+a", false), Ok(Some("(?i)^ad+a".to_owned())));
        assert_eq!(SearchMode::Like.regex_pattern("%", false), Ok(None));
    }

    #[test]
    fn patterns_outside_the_shared_syntax_are_refused() {
        assert!(SearchMode::Posix.regex_pattern(r"(a)\1", true).is_err(), "backreference");
        assert!(SearchMode::Posix.regex_pattern("(?=a)", true).is_err(), "look-ahead");
        assert!(SearchMode::Posix.regex_pattern("(", true).is_err());
        assert!(SearchMode::Posix.regex_pattern(&"a".repeat(MAX_SEARCH_PATTERN_CHARS + 1), true).is_err());
    }

    #[test]
    fn pagination_offset_counts_from_page_one() {
        assert_eq!(Pagination::new(3, 20).unwrap().offset(), 40);
    }
}
