//! Logto's list pagination on the wire: the page asked for in the query (read by the domain's
//! [`Pagination::from_query`]); the total in `Total-Number` and RFC 8288 `Link`s in the answer.

use actix_web::{HttpRequest, HttpResponse};
use latchkey_domain::ports::Pagination;
use serde::Serialize;

use crate::error::ApiError;

/// The page asked for in the request's query, or Logto's `guard.invalid_pagination`.
pub fn requested_page(request: &HttpRequest) -> Result<Pagination, ApiError> {
    Pagination::from_query(request.query_string()).ok_or(ApiError::InvalidPagination)
}

/// A 200 answer with `items` as the JSON body and the pagination headers; `endpoint` is the public base URL.
pub fn paged_response<T: Serialize>(
    request: &HttpRequest,
    endpoint: &str,
    pagination: Pagination,
    total: u64,
    items: &[T],
) -> HttpResponse {
    let url = format!("{endpoint}{}", request.path());
    let mut response = HttpResponse::Ok();
    for header in pagination.response_headers(&url, request.query_string(), total) {
        response.insert_header(header);
    }
    response.json(items)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_bad_page_is_logtos_invalid_pagination() {
        let request = TestRequest::get().uri("/api/applications?page=0").to_http_request();
        assert!(matches!(requested_page(&request), Err(ApiError::InvalidPagination)));
    }

    #[test]
    fn the_answer_carries_the_total_and_links_on_the_public_url() {
        let request = TestRequest::get().uri("/api/applications?page_size=2&page=2").to_http_request();
        let response = paged_response(&request, "http://h", Pagination { page: 2, page_size: 2 }, 5, &[1, 2]);
        let link = response.headers().get("Link").unwrap().to_str().unwrap();
        assert!(link.starts_with("<http://h/api/applications?page=1&page_size=2>; rel=\"first\""), "{link}");
        assert_eq!(response.headers().get(Pagination::TOTAL_NUMBER_HEADER).unwrap(), "5");
    }
}
