//! The query of `GET /api/users`, read as Logto's `parseSearchParamsForSearch` reads it: `search` (every field) and
//! `search.<field>` values, `mode`/`mode.<field>` (`like` by default, `exact`, `similar_to`, `posix`),
//! `joint`/`jointMode` (`or` by default, `and`), `isCaseSensitive`. Ours besides: `search.customData.<path>` and
//! `isSuspended=true|false`. Values are handed to the store as data; nothing here becomes SQL text.

use std::collections::HashMap;

use latchkey_domain::ports::{
    AnyFieldCondition, CustomDataCondition, FieldCondition, Joint, Pagination, SearchField, SearchMode, UserSearch,
};

use crate::error::ApiError;

/// Where a search term applies: one field, every field, or a path in `customData`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    Every,
    Field(SearchField),
    CustomData(Vec<String>),
}

/// The user search that `pairs` (the decoded query string, in order) ask for, on page `pagination`.
pub fn user_search(pairs: &[(String, String)], pagination: Pagination) -> Result<UserSearch, ApiError> {
    let mut modes: HashMap<Option<Target>, SearchMode> = HashMap::new();
    let mut values: Vec<(Target, Vec<String>)> = Vec::new();
    let mut joint = None;
    let mut case_sensitive = None;
    let mut is_suspended = None;

    for (key, value) in pairs {
        match key.as_str() {
            "joint" | "jointMode" => joint = joint.or(Some(joint_mode(value)?)),
            "isCaseSensitive" => case_sensitive = case_sensitive.or(Some(value == "true")),
            "isSuspended" => is_suspended = Some(boolean("isSuspended", value)?),
            "mode" => {
                modes.insert(None, mode(value)?);
            }
            "search" => push(&mut values, Target::Every, value),
            _ => {
                if let Some(field) = key.strip_prefix("mode.") {
                    modes.insert(Some(target(field)?), mode(value)?);
                } else if let Some(field) = key.strip_prefix("search.") {
                    push(&mut values, target(field)?, value);
                }
                // Other keys (page, page_size, includeSsoIdentities, …) belong to someone else.
            }
        }
    }

    let mut search = UserSearch {
        joint: joint.unwrap_or_default(),
        case_sensitive: case_sensitive.unwrap_or(false),
        is_suspended,
        pagination,
        ..UserSearch::default()
    };
    for (target, values) in values {
        let mode = modes.get(&Some(target.clone())).or_else(|| modes.get(&None)).copied().unwrap_or_default();
        if values.iter().any(String::is_empty) {
            return Err(ApiError::InvalidQuery("Search value cannot be empty."));
        }
        if mode != SearchMode::Exact && values.len() > 1 {
            return Err(ApiError::InvalidQuery("Only one search value is allowed when search mode is not `exact`."));
        }
        if mode == SearchMode::SimilarTo && !search.case_sensitive {
            return Err(ApiError::InvalidQuery("Cannot use case-insensitive match for `similar to`."));
        }
        for value in &values {
            mode.regex_pattern(value, search.case_sensitive).map_err(|_| {
                ApiError::InvalidQuery("The search pattern is not a regular expression this server evaluates.")
            })?;
        }
        match target {
            Target::Every => search.any_field.push(AnyFieldCondition { values, mode }),
            Target::Field(field) => search.fields.push(FieldCondition { field, values, mode }),
            Target::CustomData(path) => search.custom_data.push(CustomDataCondition { path, values, mode }),
        }
    }
    Ok(search)
}

fn push(values: &mut Vec<(Target, Vec<String>)>, target: Target, value: &str) {
    match values.iter_mut().find(|(existing, _)| *existing == target) {
        Some((_, list)) => list.push(value.to_owned()),
        None => values.push((target, vec![value.to_owned()])),
    }
}

fn target(field: &str) -> Result<Target, ApiError> {
    if let Some(path) = field.strip_prefix("customData.") {
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        let well_formed = path.len() <= latchkey_domain::user::limits::CUSTOM_DATA_MAX_DEPTH
            && path.iter().all(|segment| {
                !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
            });
        return if well_formed {
            Ok(Target::CustomData(path))
        } else {
            Err(ApiError::InvalidQuery("A customData search path is dot-separated segments of [A-Za-z0-9_]."))
        };
    }
    let field = match field {
        "id" => SearchField::Id,
        "primaryEmail" | "primary_email" => SearchField::PrimaryEmail,
        "primaryPhone" | "primary_phone" => SearchField::PrimaryPhone,
        "username" => SearchField::Username,
        "name" => SearchField::Name,
        _ => {
            return Err(ApiError::InvalidQuery(
                "Search field is not allowed. Expect one of id, primaryEmail, primaryPhone, username, name.",
            ));
        }
    };
    Ok(Target::Field(field))
}

fn mode(value: &str) -> Result<SearchMode, ApiError> {
    match value {
        "like" => Ok(SearchMode::Like),
        "exact" => Ok(SearchMode::Exact),
        "similar_to" => Ok(SearchMode::SimilarTo),
        "posix" => Ok(SearchMode::Posix),
        _ => {
            Err(ApiError::InvalidQuery("Search match mode is not valid, expect one of like, exact, similar_to, posix."))
        }
    }
}

fn joint_mode(value: &str) -> Result<Joint, ApiError> {
    match value {
        "or" => Ok(Joint::Or),
        "and" => Ok(Joint::And),
        _ => Err(ApiError::InvalidQuery("Search joint mode is not valid, expect one of or, and.")),
    }
}

fn boolean(_name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::InvalidQuery("isSuspended is true or false.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<UserSearch, ApiError> {
        let pairs: Vec<(String, String)> =
            query.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        user_search(&pairs, Pagination::default())
    }

    #[test]
    fn a_bare_search_looks_in_every_field_with_like() {
        let search = parse(&[("search", "%bob%")]).unwrap();
        assert_eq!(search.any_field, vec![AnyFieldCondition { values: vec!["%bob%".into()], mode: SearchMode::Like }]);
        assert!(search.fields.is_empty());
        assert_eq!(search.joint, Joint::Or);
        assert!(!search.case_sensitive);
    }

    #[test]
    fn field_modes_override_the_general_mode_and_repeated_exact_values_make_a_batch() {
        let search = parse(&[
            ("search.id", "aaaaaaaaaaaa"),
            ("search.id", "bbbbbbbbbbbb"),
            ("mode.id", "exact"),
            ("search.username", "bo%"),
            ("mode", "like"),
            ("jointMode", "and"),
            ("isCaseSensitive", "true"),
        ])
        .unwrap();
        assert_eq!(
            search.fields,
            vec![
                FieldCondition {
                    field: SearchField::Id,
                    values: vec!["aaaaaaaaaaaa".into(), "bbbbbbbbbbbb".into()],
                    mode: SearchMode::Exact
                },
                FieldCondition { field: SearchField::Username, values: vec!["bo%".into()], mode: SearchMode::Like },
            ]
        );
        assert_eq!(search.joint, Joint::And);
        assert!(search.case_sensitive);
    }

    #[test]
    fn our_extensions_filter_by_custom_data_and_suspension() {
        let search = parse(&[
            ("search.customData.plan.tier", "pro"),
            ("mode.customData.plan.tier", "exact"),
            ("isSuspended", "false"),
        ])
        .unwrap();
        assert_eq!(
            search.custom_data,
            vec![CustomDataCondition {
                path: vec!["plan".into(), "tier".into()],
                values: vec!["pro".into()],
                mode: SearchMode::Exact
            }]
        );
        assert_eq!(search.is_suspended, Some(false));
    }

    #[test]
    fn what_logto_refuses_is_refused() {
        for query in [
            vec![("search.password", "x")],
            vec![("search.username", "")],
            vec![("search.username", "a"), ("search.username", "b")],
            vec![("mode", "regex"), ("search", "a")],
            vec![("joint", "xor"), ("search", "a")],
            vec![("search", "a"), ("mode", "similar_to")],
            vec![("isSuspended", "yes")],
            vec![("search.customData.a-b", "x")],
        ] {
            assert!(matches!(parse(&query), Err(ApiError::InvalidQuery(_))), "{query:?}");
        }
        assert!(parse(&[("search", "a"), ("mode", "similar_to"), ("isCaseSensitive", "true")]).is_ok());
    }
}
