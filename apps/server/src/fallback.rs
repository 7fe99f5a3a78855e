//! Error bodies for what no API handler answers: unknown routes, wrong methods, and the plain-text or empty
//! errors of actix-web and its middleware (a refused CORS preflight, a payload over a limit). Logto answers these in
//! plain text; Latchkey answers every error in Logto's `{"code", "message"}` shape (spec §2), so that a client
//! parses all of them the same way.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, Result};
use latchkey_auth::error_body::error_response;

/// The app's default service: 404 with a JSON body for a path no route matches.
pub async fn not_found() -> HttpResponse {
    let (code, message) = wire(StatusCode::NOT_FOUND);
    error_response(StatusCode::NOT_FOUND, code, message, None)
}

/// 503 `service_unavailable` with Logto's body: the database cannot be reached (readiness, and requests refused while
/// the database watch finds it unreachable).
pub fn service_unavailable() -> HttpResponse {
    let (code, message) = wire(StatusCode::SERVICE_UNAVAILABLE);
    error_response(StatusCode::SERVICE_UNAVAILABLE, code, message, None)
}

/// Middleware giving a JSON body to every error response that lacks one, keeping its status and headers (a 405
/// keeps the `Allow` header actix computes from the resource's routes; CORS headers stay). Responses that already
/// carry JSON, such as the API crates' errors and the OAuth endpoint's, pass untouched.
pub fn json_error_bodies<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(with_json_body)
}

/// The Logto-style code and message for an error status that reached no handler of ours. Logto has no code for
/// these (it answers in plain text); the `request` namespace is Logto's, for errors about the request itself.
pub fn wire(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("request.not_found", "The requested route does not exist."),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("request.method_not_allowed", "The method is not allowed for this route; see the Allow header.")
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            ("service_unavailable", "The service is temporarily unavailable. Please try again later.")
        }
        status if status.is_server_error() => ("unknown", "An unexpected error occurred."),
        _ => ("request.general", "Request error occurred."),
    }
}

fn with_json_body<B>(response: ServiceResponse<B>) -> Result<ErrorHandlerResponse<B>> {
    if has_json_body(response.headers()) {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let (request, original) = response.into_parts();
    let status = original.status();
    let (code, message) = wire(status);
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), "an error response without a body was given a generic one");
    }
    let mut replaced = error_response(status, code, message, None);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    let replaced: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(request, replaced).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(replaced))
}

/// `application/json` and the `+json` types (`application/problem+json`) count.
fn has_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    #[test]
    fn every_status_maps_to_a_namespaced_code_and_a_message() {
        let cases = [
            (StatusCode::NOT_FOUND, "request.not_found"),
            (StatusCode::METHOD_NOT_ALLOWED, "request.method_not_allowed"),
            (StatusCode::BAD_REQUEST, "request.general"),
            (StatusCode::PAYLOAD_TOO_LARGE, "request.general"),
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            (StatusCode::INTERNAL_SERVER_ERROR, "unknown"),
        ];
        for (status, code) in cases {
            let (actual, message) = wire(status);
            assert_eq!(actual, code, "{status}");
            assert!(message.ends_with('.'), "{status}: {message}");
        }
    }

    #[test]
    fn json_and_json_suffixed_content_types_count_as_json_bodies() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            headers
        };
        assert!(has_json_body(&with("application/json")));
        assert!(has_json_body(&with("Application/JSON; charset=utf-8")));
        assert!(has_json_body(&with("application/problem+json")));
        assert!(!has_json_body(&with("text/plain; charset=utf-8")));
        assert!(!has_json_body(&HeaderMap::new()));
    }
}
