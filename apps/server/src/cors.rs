//! Cross-origin access for browser front ends, never with credentials. Tokens travel in the `Authorization`
//! header, so no cookie is ever needed cross-origin, and refusing credentials keeps a page on an allowed origin from
//! riding on a user's cookies.
//!
//! Two allow-lists, chosen by request path: the Account API (`/api/my-account…`) and its verifications
//! (`/api/verifications…`) use `account_api_cors_allowed_origins`, by default any origin as in Logto, since the
//! caller's own bearer token is the whole credential there; every other route (the sign-in API, `/oidc/token`, the
//! Management API) uses `cors_allowed_origins`, by default none.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_cors::{Cors, CorsMiddleware};
use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{Method, header};

/// The allow-list entry that allows every origin (only the Account API's list may hold it, and then alone).
pub const ANY_ORIGIN: &str = "*";

/// Path prefixes, whole segments, of the routes under the Account API's allow-list.
const ACCOUNT_API_PATHS: [&str; 2] = ["/api/my-account", "/api/verifications"];

const ALLOWED_METHODS: [Method; 6] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
/// Request headers a front end may send: the bearer token, the body type, and the precondition of conditional
/// updates.
const ALLOWED_HEADERS: [header::HeaderName; 3] = [header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH];
/// Response headers a front end may read, on both APIs: pagination (`Total-Number`, `Link`: the Management API's
/// lists and the Account API's activity log) and the entity tag of user reads, for `If-Match`.
const EXPOSED_HEADERS: [&str; 4] = [
    latchkey_domain::ports::Pagination::TOTAL_NUMBER_HEADER,
    "Link",
    "ETag",
    // So that a browser client can quote the id of a failed request to support.
    crate::request_id::REQUEST_ID_HEADER,
];
/// The Account API's request headers: those above, plus the verification record that sensitive changes carry.
const ACCOUNT_API_ALLOWED_HEADERS: [&str; 4] = ["authorization", "content-type", "if-match", "logto-verification-id"];
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE_SECS: usize = 3_600;

/// The CORS middleware: `account_api_origins` for the Account API's paths, `origins` for every other route. The
/// settings have checked that both hold serialized origins (`https://host:port`), the Account API's list possibly
/// [`ANY_ORIGIN`] alone. With no origins, preflights are refused and no response carries
/// `Access-Control-Allow-Origin`.
pub fn middleware(origins: &[String], account_api_origins: &[String]) -> PerPathCors {
    PerPathCors {
        account_api: allow(account_api_origins)
            .allowed_methods(ALLOWED_METHODS)
            .allowed_headers(ACCOUNT_API_ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE_SECS),
        general: allow(origins)
            .allowed_methods(ALLOWED_METHODS)
            .allowed_headers(ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE_SECS),
    }
}

/// Two `actix-cors` middlewares, one chosen per request by its path: `Cors` itself has one configuration for every
/// route it wraps, and allow-lists are only half the difference (the two differ in headers too).
#[derive(Debug)]
pub struct PerPathCors {
    account_api: Cors,
    general: Cors,
}

impl<S, B> Transform<S, ServiceRequest> for PerPathCors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type InitError = ();
    type Transform = PerPathCorsMiddleware<SharedService<S>>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Transform, ()>>>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let service = SharedService(Rc::new(service));
        let account_api = self.account_api.new_transform(service.clone());
        let general = self.general.new_transform(service);
        Box::pin(async move { Ok(PerPathCorsMiddleware { account_api: account_api.await?, general: general.await? }) })
    }
}

#[derive(Debug)]
#[doc(hidden)]
pub struct PerPathCorsMiddleware<S> {
    account_api: CorsMiddleware<S>,
    general: CorsMiddleware<S>,
}

impl<S, B> Service<ServiceRequest> for PerPathCorsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = <CorsMiddleware<S> as Service<ServiceRequest>>::Future;

    fn poll_ready(&self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both wrap the same service, so either one's readiness is the other's.
        self.general.poll_ready(context)
    }

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // The path as the router matches it, so that the allow-list follows the route that will answer.
        if is_account_api_path(request.match_info().as_str()) {
            self.account_api.call(request)
        } else {
            self.general.call(request)
        }
    }
}

/// The wrapped service, shared by the two CORS middlewares (each takes its inner service by value).
#[derive(Debug)]
#[doc(hidden)]
pub struct SharedService<S>(Rc<S>);

impl<S> Clone for SharedService<S> {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

impl<S: Service<ServiceRequest>> Service<ServiceRequest> for SharedService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&self, request: ServiceRequest) -> Self::Future {
        self.0.call(request)
    }
}

/// A `Cors` allowing `origins`. [`ANY_ORIGIN`] answers `Access-Control-Allow-Origin: *` rather than echoing each
/// origin: browsers never hand a page a credentialed response allowed by `*`, so even a request sent with cookies
/// cannot ride on them, and the answer is the same for every origin.
fn allow(origins: &[String]) -> Cors {
    if origins.iter().any(|origin| origin == ANY_ORIGIN) {
        return Cors::default().allow_any_origin().send_wildcard();
    }
    origins.iter().fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
}

/// Whether `path` is under the Account API's allow-list: one of its prefixes as a whole path segment
/// (`/api/my-account` and `/api/my-account/…`, not `/api/my-accountX`).
fn is_account_api_path(path: &str) -> bool {
    ACCOUNT_API_PATHS
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_api_paths_are_matched_by_whole_segments() {
        for path in ["/api/my-account", "/api/my-account/", "/api/my-account/password", "/api/verifications/password"] {
            assert!(is_account_api_path(path), "{path}");
        }
        for path in ["/api/my-accountX", "/api/verificationsX/a", "/api/users", "/api", "/my-account", "/oidc/token"] {
            assert!(!is_account_api_path(path), "{path}");
        }
    }
}
