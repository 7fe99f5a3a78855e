//! Logto's list pagination: `page` (1-based) and `page_size` (default 20, at most 100) in the query; the total in
//! `Total-Number` and RFC 8288 `Link`s to the first, previous, next and last pages. Logto's links drop the `/api`
//! prefix (a bug); these keep the real path.

use actix_web::{HttpRequest, HttpResponse};
use latchkey_domain::ports::Pagination;
use serde::Serialize;

use crate::error::ApiError;

pub const TOTAL_NUMBER: &str = "Total-Number";

/// The page asked for in the request's query; out-of-range or non-numeric values are Logto's
/// `guard.invalid_pagination`.
pub fn requested_page(request: &HttpRequest) -> Result<Pagination, ApiError> {
    let (mut page, mut page_size) = (None, None);
    for (key, value) in query_pairs(request.query_string()) {
        match key {
            "page" => page = Some(value),
            "page_size" => page_size = Some(value),
            _ => {}
        }
    }
    let number = |value: Option<&str>, default: u64| match value {
        None => Ok(default),
        Some(value) => value.parse::<u64>().map_err(|_| ApiError::InvalidPagination),
    };
    let page = number(page, 1)?;
    let page_size = number(page_size, Pagination::DEFAULT_PAGE_SIZE)?;
    Pagination::new(page, page_size).ok_or(ApiError::InvalidPagination)
}

/// A 200 answer with `items` as the JSON body and the pagination headers; `endpoint` is the public base URL.
pub fn paged_response<T: Serialize>(
    request: &HttpRequest,
    endpoint: &str,
    pagination: Pagination,
    total: u64,
    items: &[T],
) -> HttpResponse {
    let last = total.div_ceil(pagination.page_size).max(1);
    let link = |page: u64, rel: &str| format!("<{}>; rel=\"{rel}\"", page_url(request, endpoint, page));
    let mut links = vec![link(1, "first"), link(last, "last")];
    if pagination.page > 1 {
        links.push(link(pagination.page - 1, "prev"));
    }
    if pagination.page < last {
        links.push(link(pagination.page + 1, "next"));
    }
    HttpResponse::Ok()
        .insert_header((TOTAL_NUMBER, total.to_string()))
        .insert_header(("Link", links.join(", ")))
        .json(items)
}

/// The request's URL with `page` replaced; every other parameter is kept as the client encoded it.
fn page_url(request: &HttpRequest, endpoint: &str, page: u64) -> String {
    let mut parameters: Vec<&str> = request
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("page"))
        .collect();
    let page = format!("page={page}");
    parameters.insert(0, &page);
    format!("{endpoint}{}?{}", request.path(), parameters.join("&"))
}

/// Raw `key=value` pairs; the keys read here are plain ASCII, so no percent-decoding is needed to match them,
/// and a value that is percent-encoded is not a number anyway.
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn page(uri: &str) -> Result<Pagination, ApiError> {
        requested_page(&TestRequest::get().uri(uri).to_http_request())
    }

    #[test]
    fn defaults_and_bounds_are_logtos() {
        assert_eq!(page("/api/applications").unwrap(), Pagination { page: 1, page_size: 20 });
        assert_eq!(page("/api/applications?page=3&page_size=100").unwrap(), Pagination { page: 3, page_size: 100 });
        for uri in ["?page=0", "?page_size=0", "?page_size=101", "?page=abc", "?page=-1", "?page="] {
            assert!(matches!(page(&format!("/api/applications{uri}")), Err(ApiError::InvalidPagination)), "{uri}");
        }
    }

    #[test]
    fn links_keep_the_path_and_other_parameters_and_name_the_neighbouring_pages() {
        let request = TestRequest::get().uri("/api/applications?page_size=2&page=2&types=SPA").to_http_request();
        let response = paged_response(&request, "http://h", Pagination { page: 2, page_size: 2 }, 5, &[1, 2]);
        let link = response.headers().get("Link").unwrap().to_str().unwrap();
        assert_eq!(
            link,
            "<http://h/api/applications?page=1&page_size=2&types=SPA>; rel=\"first\", \
             <http://h/api/applications?page=3&page_size=2&types=SPA>; rel=\"last\", \
             <http://h/api/applications?page=1&page_size=2&types=SPA>; rel=\"prev\", \
             <http://h/api/applications?page=3&page_size=2&types=SPA>; rel=\"next\""
        );
        assert_eq!(response.headers().get(TOTAL_NUMBER).unwrap(), "5");
    }

    #[test]
    fn an_empty_list_has_one_page() {
        let request = TestRequest::get().uri("/api/applications").to_http_request();
        let response = paged_response::<u8>(&request, "http://h", Pagination::default(), 0, &[]);
        let link = response.headers().get("Link").unwrap().to_str().unwrap();
        assert_eq!(
            link,
            "<http://h/api/applications?page=1>; rel=\"first\", <http://h/api/applications?page=1>; rel=\"last\""
        );
    }
}
