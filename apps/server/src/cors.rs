//! Cross-origin access for browser front ends (the sign-in API, `/oidc/token`, the Account and Management APIs):
//! only the origins in the `cors_allowed_origins` setting, and never with credentials. Tokens travel in the
//! `Authorization` header, so no cookie is ever needed cross-origin, and refusing credentials keeps a page on an
//! allowed origin from riding on a user's cookies.

use actix_cors::Cors;
use actix_web::http::{Method, header};

/// Request headers a front end may send: the bearer token, the body type, and the precondition of conditional
/// updates.
const ALLOWED_HEADERS: [header::HeaderName; 3] = [header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH];
/// Response headers a front end may read: pagination (`Total-Number`, `Link`) and the entity tag of user reads.
const EXPOSED_HEADERS: [&str; 3] = ["Total-Number", "Link", "ETag"];
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE_SECS: usize = 3_600;

/// The CORS middleware for `origins`, which the settings have checked are serialized origins (`https://host:port`).
/// With no origins, preflights are refused and no response carries `Access-Control-Allow-Origin`.
pub fn middleware(origins: &[String]) -> Cors {
    let cors = origins.iter().fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allowed_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE_SECS)
}
