//! The query string of `GET /api/users`, read as the handler reads it: split into pairs by `web::Query`, the page by
//! `Pagination::from_query`, and the search (`search`, `search.<field>`, `search.customData.<path>`, `mode`,
//! `mode.<field>`, `joint`/`jointMode`, `isCaseSensitive`, `isSuspended`) by `user_search`, which also compiles the
//! `posix` and `similar_to` patterns. Nothing may panic, and an accepted search must hold what the store relies on.

#![no_main]

use actix_web::web;
use latchkey_domain::ports::{Pagination, SearchMode};
use latchkey_management_api::users::user_search;
use libfuzzer_sys::fuzz_target;

fn check_values(values: &[String], mode: SearchMode, case_sensitive: bool) {
    assert!(!values.is_empty() && values.iter().all(|value| !value.is_empty()), "an empty search value passed");
    assert!(mode == SearchMode::Exact || values.len() == 1, "several values in a non-exact mode passed");
    for value in values {
        assert!(mode.regex_pattern(value, case_sensitive).is_ok(), "a pattern the store cannot compile passed");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let Some(pagination) = Pagination::from_query(query) else { return };
    assert!(Pagination::new(pagination.page, pagination.page_size).is_some(), "an out-of-range page passed");
    let Ok(pairs) = web::Query::<Vec<(String, String)>>::from_query(query) else { return };
    let Ok(search) = user_search(&pairs.into_inner(), pagination) else { return };

    for condition in &search.any_field {
        check_values(&condition.values, condition.mode, search.case_sensitive);
    }
    for condition in &search.fields {
        check_values(&condition.values, condition.mode, search.case_sensitive);
    }
    for condition in &search.custom_data {
        check_values(&condition.values, condition.mode, search.case_sensitive);
        assert!(!condition.path.is_empty(), "an empty customData path passed");
    }
    assert!(
        search.any_field.iter().all(|condition| condition.mode != SearchMode::SimilarTo) || search.case_sensitive,
        "a case-insensitive similar_to passed"
    );
});
