//! Translation of the domain's `UserSearch` into a sea-query condition. Every value supplied by a caller is a bound
//! parameter; the only text spliced into SQL is ours (column and function names, the `ESCAPE` character).

use latchkey_domain::ports::{
    CustomDataCondition, FieldCondition, Joint, RepoError, SearchField, SearchMode, UserSearch,
};
use sea_orm::sea_query::extension::postgres::PgBinOper;
use sea_orm::sea_query::extension::sqlite::SqliteBinOper;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{Condition, DbBackend};

use crate::entity::users::Column;

/// The character that escapes `%`, `_` and itself in the LIKE patterns we build (PostgreSQL's default, made
/// explicit so that SQLite agrees).
const LIKE_ESCAPE: char = '\\';

/// The longest `customData` path we look into (the domain bounds nesting at the same depth).
const MAX_CUSTOM_DATA_PATH: usize = latchkey_domain::user::limits::CUSTOM_DATA_MAX_DEPTH;

/// Builds the `WHERE` condition of a search: field and custom-data conditions joined by `joint`, values of one
/// condition OR'ed, and the suspension filter AND'ed on top.
pub(crate) fn condition(search: &UserSearch, backend: DbBackend) -> Result<Condition, RepoError> {
    let mut matches = match search.joint {
        Joint::Or => Condition::any(),
        Joint::And => Condition::all(),
    };
    for any in &search.any_field {
        let mut any_field = Condition::any();
        for field in SearchField::ALL {
            let condition = FieldCondition { field, values: any.values.clone(), mode: any.mode };
            any_field = any_field.add(field_condition(&condition, search.case_sensitive, backend)?);
        }
        matches = matches.add(any_field);
    }
    for field in &search.fields {
        matches = matches.add(field_condition(field, search.case_sensitive, backend)?);
    }
    for custom in &search.custom_data {
        matches = matches.add(custom_data_condition(custom, search.case_sensitive, backend)?);
    }

    let mut condition = Condition::all();
    if !matches.is_empty() {
        condition = condition.add(matches);
    }
    if let Some(is_suspended) = search.is_suspended {
        condition = condition.add(Expr::col(Column::IsSuspended).eq(is_suspended));
    }
    Ok(condition)
}

fn field_condition(field: &FieldCondition, case_sensitive: bool, backend: DbBackend) -> Result<Condition, RepoError> {
    if let Some(condition) =
        regex_condition(Expr::col(column(field.field)), &field.values, field.mode, case_sensitive, backend)?
    {
        return Ok(condition);
    }
    let target = match (field.field, case_sensitive) {
        // The key column already holds the lower-cased email (lower-cased by Rust, like the value below, so that
        // non-ASCII letters agree on SQLite too).
        (SearchField::PrimaryEmail, false) => Expr::col(Column::PrimaryEmailKey),
        (other, true) => Expr::col(column(other)),
        (other, false) => Func::lower(Expr::col(column(other))).into(),
    };
    matching(target, &field.values, field.mode, case_sensitive, backend)
}

fn custom_data_condition(
    custom: &CustomDataCondition,
    case_sensitive: bool,
    backend: DbBackend,
) -> Result<Condition, RepoError> {
    let value = custom_data_value(&custom.path, backend)?;
    if let Some(condition) = regex_condition(value.clone(), &custom.values, custom.mode, case_sensitive, backend)? {
        return Ok(condition);
    }
    let target = if case_sensitive { value } else { Func::lower(value).into() };
    matching(target, &custom.values, custom.mode, case_sensitive, backend)
}

fn column(field: SearchField) -> Column {
    match field {
        SearchField::Id => Column::Id,
        SearchField::PrimaryEmail => Column::PrimaryEmail,
        SearchField::PrimaryPhone => Column::PrimaryPhone,
        SearchField::Username => Column::Username,
        SearchField::Name => Column::Name,
    }
}

/// `target` matched against any of `values`. With no values nothing matches (an empty `any` renders as false).
fn matching(
    target: Expr,
    values: &[String],
    mode: SearchMode,
    case_sensitive: bool,
    backend: DbBackend,
) -> Result<Condition, RepoError> {
    let values: Vec<String> =
        values.iter().map(|value| if case_sensitive { value.clone() } else { value.to_lowercase() }).collect();
    let mut any = Condition::any();
    match mode {
        SearchMode::Exact => {
            if !values.is_empty() {
                any = any.add(target.is_in(values));
            }
        }
        SearchMode::Like => {
            for value in &values {
                let pattern = LikePattern::parse(value);
                let condition = if case_sensitive && backend == DbBackend::Sqlite {
                    // SQLite's LIKE ignores ASCII case; GLOB is its case-sensitive matcher.
                    target.clone().binary(SqliteBinOper::Glob, Expr::val(pattern.to_glob()))
                } else {
                    target.clone().like(LikeExpr::new(pattern.to_like()).escape(LIKE_ESCAPE))
                };
                any = any.add(condition);
            }
        }
        SearchMode::SimilarTo | SearchMode::Posix => {
            unreachable!("regular-expression modes are matched by `regex_condition`")
        }
    }
    Ok(any)
}

/// `target` (as stored, not lower-cased: lower-casing a pattern can change its meaning) matched against the
/// regular expression of each value, for the `posix` and `similar_to` modes; `None` for the other modes. The
/// expression is the domain's translation, the same on both backends: PostgreSQL evaluates it with `~`, SQLite
/// with `REGEXP` (sqlx's function on Rust's `regex`). Patterns are bound parameters.
fn regex_condition(
    target: Expr,
    values: &[String],
    mode: SearchMode,
    case_sensitive: bool,
    backend: DbBackend,
) -> Result<Option<Condition>, RepoError> {
    if !matches!(mode, SearchMode::SimilarTo | SearchMode::Posix) {
        return Ok(None);
    }
    let mut any = Condition::any();
    for value in values {
        let pattern = mode
            .regex_pattern(value, case_sensitive)
            .map_err(|error| RepoError::Unavailable(error.to_string()))?
            .unwrap_or_default();
        let condition = match backend {
            DbBackend::Postgres => target.clone().binary(PgBinOper::Regex, Expr::val(pattern)),
            // SQLite's placeholder is `?`: the operands fill them in order.
            DbBackend::Sqlite => Expr::cust_with_exprs("? REGEXP ?", [target.clone(), Expr::val(pattern)]),
            other => {
                return Err(RepoError::Unavailable(format!(
                    "regular-expression search is not implemented for {other:?}"
                )));
            }
        };
        any = any.add(condition);
    }
    Ok(Some(any))
}

/// The text at `path` inside `custom_data`, or NULL when absent. The path is validated and bound as parameters.
fn custom_data_value(path: &[String], backend: DbBackend) -> Result<Expr, RepoError> {
    if path.is_empty() || path.len() > MAX_CUSTOM_DATA_PATH || !path.iter().all(|segment| is_path_segment(segment)) {
        return Err(RepoError::Unavailable(format!(
            "a customData search path has 1 to {MAX_CUSTOM_DATA_PATH} segments of [A-Za-z0-9_]"
        )));
    }
    json_text(Column::CustomData, path, backend)
}

/// The text at `path` inside the JSON `column`, or NULL when absent. Callers have checked the segments: on SQLite
/// they go into a quoted JSON path (itself a bound value), on PostgreSQL each is a bound value.
pub(crate) fn json_text(column: Column, path: &[String], backend: DbBackend) -> Result<Expr, RepoError> {
    match backend {
        DbBackend::Sqlite => {
            let json_path: String =
                std::iter::once("$".to_owned()).chain(path.iter().map(|segment| format!(".\"{segment}\""))).collect();
            // json_extract answers numbers as numbers; as text they compare like PostgreSQL's `#>>` output.
            let extracted = Func::cust("json_extract").arg(Expr::col(column)).arg(json_path);
            Ok(Func::cast_as(extracted, Alias::new("TEXT")).into())
        }
        DbBackend::Postgres => {
            let args = std::iter::once(Expr::col(column))
                .chain(path.iter().map(|segment| Expr::val(segment.as_str())))
                .collect::<Vec<_>>();
            Ok(Func::cust("jsonb_extract_path_text").args(args).into())
        }
        other => Err(RepoError::Unavailable(format!("JSON look-ups are not implemented for {other:?}"))),
    }
}

fn is_path_segment(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// A LIKE pattern as Logto's `like` mode reads it: `%` any run, `_` any one character, `\` makes the next
/// character literal. Parsed once so that it can be written for LIKE or for SQLite's GLOB.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LikePattern(Vec<Piece>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    AnyRun,
    AnyOne,
    Literal(char),
}

impl LikePattern {
    fn parse(value: &str) -> Self {
        let mut pieces = Vec::new();
        let mut chars = value.chars();
        while let Some(character) = chars.next() {
            pieces.push(match character {
                '%' => Piece::AnyRun,
                '_' => Piece::AnyOne,
                // A trailing backslash escapes nothing; PostgreSQL would reject it, we read it literally.
                '\\' => Piece::Literal(chars.next().unwrap_or('\\')),
                other => Piece::Literal(other),
            });
        }
        Self(pieces)
    }

    fn to_like(&self) -> String {
        let mut pattern = String::new();
        for piece in &self.0 {
            match *piece {
                Piece::AnyRun => pattern.push('%'),
                Piece::AnyOne => pattern.push('_'),
                Piece::Literal(character) => {
                    if matches!(character, '%' | '_' | LIKE_ESCAPE) {
                        pattern.push(LIKE_ESCAPE);
                    }
                    pattern.push(character);
                }
            }
        }
        pattern
    }

    fn to_glob(&self) -> String {
        let mut pattern = String::new();
        for piece in &self.0 {
            match *piece {
                Piece::AnyRun => pattern.push('*'),
                Piece::AnyOne => pattern.push('?'),
                // GLOB has no escape character; a one-character class matches the character itself.
                Piece::Literal(character @ ('*' | '?' | '[')) => {
                    pattern.push('[');
                    pattern.push(character);
                    pattern.push(']');
                }
                Piece::Literal(character) => pattern.push(character),
            }
        }
        pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_used_as_the_whole_pattern_as_logto_does() {
        assert_eq!(LikePattern::parse("bob").to_like(), "bob");
        assert_eq!(LikePattern::parse("b_b%").to_like(), "b_b%");
    }

    #[test]
    fn escaped_wildcards_stay_literal_in_like_and_glob() {
        let pattern = LikePattern::parse(r"%50\%_off*%");
        assert_eq!(pattern.to_like(), r"%50\%_off*%");
        assert_eq!(pattern.to_glob(), "*50%?off[*]*");
    }

    #[test]
    fn a_trailing_backslash_is_a_literal_backslash() {
        assert_eq!(LikePattern::parse(r"a\").to_like(), r"a\\");
        assert_eq!(LikePattern::parse(r"a\").to_glob(), r"a\");
    }

    #[test]
    fn glob_special_characters_are_literal() {
        assert_eq!(LikePattern::parse("[a]?").to_glob(), "[[]a][?]");
    }

    #[test]
    fn custom_data_paths_allow_only_word_characters() {
        assert!(custom_data_value(&["plan".into(), "tier_2".into()], DbBackend::Sqlite).is_ok());
        assert!(custom_data_value(&["a.b".into()], DbBackend::Sqlite).is_err());
        assert!(custom_data_value(&["a'b".into()], DbBackend::Postgres).is_err());
        assert!(custom_data_value(&[], DbBackend::Postgres).is_err());
        assert!(custom_data_value(&[String::new()], DbBackend::Postgres).is_err());
    }
}
