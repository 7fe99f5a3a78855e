//! The actix side: `Authorization: Bearer …` in, [`Principal`] out, or an error in Logto's wire shape.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use latchkey_domain::Clock;
use serde_json::{Value, json};
use thiserror::Error;

use crate::error_body::error_response;
use crate::keys::KeyRing;
use crate::revocation::{RevocationCheck, RevocationError};
use crate::token::{Operation, Principal, RequestFacts, TargetUser, TokenError, VerifiedTokenCache, verify_cached};

/// Path prefixes whose routes act on the caller's own account.
const CALLER_PATHS: [&str; 2] = ["/api/my-account", "/api/verifications"];
/// The route parameter that names the user a Management API route acts on (`/api/users/{userId}/…`).
const USER_PARAMETER: &str = "userId";

/// Everything the extractor needs; register it once as `web::Data<TokenVerifier>`.
///
/// It keeps a [`VerifiedTokenCache`] so that a token seen before skips its signature checks and parse; its
/// attenuation checks, expiry and the revocation check still run on every request. The key ring cannot change while
/// the verifier lives, so a cached signature check stays valid for as long as the entry does.
pub struct TokenVerifier {
    keys: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn RevocationCheck>,
    cache: VerifiedTokenCache,
}

/// Why a request was not authenticated. Each variant has exactly one status and Logto code (see
/// [`AuthError::wire`]); the variant itself is logged, never sent.
#[derive(Debug, Error)]
pub enum AuthError {
    #[error("the Authorization header is missing")]
    MissingHeader,
    #[error("the Authorization scheme is not Bearer")]
    UnsupportedScheme,
    #[error("the bearer token is refused: {0}")]
    InvalidToken(#[from] TokenError),
    #[error("the token is revoked")]
    Revoked,
    #[error("the revocation state is unavailable")]
    RevocationUnavailable,
    #[error("no TokenVerifier is registered as application data")]
    NotConfigured,
}

impl TokenVerifier {
    pub fn new(keys: Arc<KeyRing>, clock: Arc<dyn Clock>, revocation: Arc<dyn RevocationCheck>) -> Self {
        Self { keys, clock, revocation, cache: VerifiedTokenCache::default() }
    }

    /// Replaces the default cache (of [`crate::token::CACHED_TOKENS`] tokens), for example by one of capacity 0 to
    /// verify every token in full.
    pub fn with_token_cache(mut self, cache: VerifiedTokenCache) -> Self {
        self.cache = cache;
        self
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Verifies the `Authorization` header's value for `request`, then asks the revocation port.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        request: &RequestFacts,
    ) -> Result<Principal, AuthError> {
        let token = bearer_token(authorization)?;
        let principal = verify_cached(&self.keys, &self.cache, token, request, self.clock.now())?;
        self.revocation.check(&principal).await.map_err(|error| match error {
            RevocationError::Revoked => AuthError::Revoked,
            RevocationError::Unavailable => AuthError::RevocationUnavailable,
        })?;
        Ok(principal)
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").field("keys", &self.keys).field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl AuthError {
    /// The status, Logto code and message of each error: the one place they are decided.
    pub fn wire(&self) -> (StatusCode, &'static str, &'static str) {
        const UNAUTHORIZED: &str = "Unauthorized. Please check credentials and its scope.";
        match self {
            Self::MissingHeader => {
                (StatusCode::UNAUTHORIZED, "auth.authorization_header_missing", "Authorization header is missing.")
            }
            Self::UnsupportedScheme => (
                StatusCode::UNAUTHORIZED,
                "auth.authorization_token_type_not_supported",
                "Authorization type is not supported.",
            ),
            Self::InvalidToken(_) | Self::Revoked => (StatusCode::UNAUTHORIZED, "auth.unauthorized", UNAUTHORIZED),
            Self::RevocationUnavailable | Self::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "The service is temporarily unavailable. Please try again later.",
            ),
        }
    }

    fn data(&self) -> Option<Value> {
        match self {
            Self::UnsupportedScheme => Some(json!({ "supportedTypes": ["Bearer"] })),
            _ => None,
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        self.wire().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message) = self.wire();
        if status.is_server_error() {
            tracing::error!(error = %self, "request not authenticated");
        } else {
            tracing::debug!(error = %self, "request not authenticated");
        }
        error_response(status, code, message, self.data())
    }
}

impl FromRequest for Principal {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = request.app_data::<web::Data<TokenVerifier>>().cloned();
        // A header that is not visible ASCII cannot hold a biscuit: treat it as a bad token, not a missing one.
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().map(str::to_owned).map_err(|_| TokenError::Malformed));
        let facts = request_facts(request);
        Box::pin(async move {
            let verifier = verifier.ok_or(AuthError::NotConfigured)?;
            let authorization = authorization.transpose()?;
            verifier.authenticate(authorization.as_deref(), &facts).await
        })
    }
}

/// The request as authorizer facts: reads are GET/HEAD/OPTIONS, the target user is the `userId` route parameter,
/// or the caller on Account API paths.
pub fn request_facts(request: &HttpRequest) -> RequestFacts {
    let path = request.path();
    let facts = RequestFacts::new(Operation::from_method(request.method().as_str()), path);
    if let Some(user) = request.match_info().get(USER_PARAMETER) {
        facts.acting_on(TargetUser::User(user.to_owned()))
    } else if CALLER_PATHS.iter().any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/"))) {
        facts.acting_on(TargetUser::Caller)
    } else {
        facts
    }
}

/// The token of a `Bearer` authorization; the scheme is matched case-insensitively (RFC 7235).
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let authorization = authorization.ok_or(AuthError::MissingHeader)?;
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::UnsupportedScheme);
    }
    match token.trim() {
        "" => Err(TokenError::Malformed.into()),
        token => Ok(token),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;
    use actix_web::{App, HttpResponse, test as actix_test};
    use biscuit_auth::KeyPair;
    use latchkey_domain::Timestamp;
    use latchkey_domain::clock::FixedClock;
    use latchkey_domain::ids::UserId;
    use latchkey_domain::token::{AccessClaims, Audience, Subject};

    use super::*;
    use crate::revocation::MockRevocationCheck;
    use crate::token::{attenuate, mint};

    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    fn keys() -> Arc<KeyRing> {
        Arc::new(KeyRing::new([("k1".to_owned(), KeyPair::new())]).unwrap())
    }

    fn user_token(keys: &KeyRing) -> String {
        let claims = AccessClaims::new(
            Subject::User(UserId::parse("user00000001").unwrap()),
            "app",
            Audience::Account,
            "token-1",
            NOW,
            NOW.plus_secs(3_600),
        );
        mint(keys, &claims).unwrap()
    }

    fn allowing() -> MockRevocationCheck {
        let mut revocation = MockRevocationCheck::new();
        revocation.expect_check().returning(|_| Ok(()));
        revocation
    }

    async fn who(principal: Principal) -> HttpResponse {
        let subject = match principal.claims.subject {
            Subject::User(user) => user.to_string(),
            Subject::Application(client) => client,
        };
        HttpResponse::Ok().body(subject)
    }

    /// Sends one request through a tiny app and returns the status and body.
    async fn call(
        keys: Arc<KeyRing>,
        now: Timestamp,
        revocation: MockRevocationCheck,
        request: actix_test::TestRequest,
    ) -> (StatusCode, String) {
        let verifier = TokenVerifier::new(keys, Arc::new(FixedClock(now)), Arc::new(revocation));
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(verifier))
                .route("/api/my-account", web::get().to(who))
                .route("/api/my-account", web::patch().to(who))
                .route("/api/users/{userId}", web::get().to(who)),
        )
        .await;
        let response = actix_test::call_service(&app, request.to_request()).await;
        let status = response.status();
        let body = actix_test::read_body(response).await;
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn bearer(path: &str, token: &str) -> actix_test::TestRequest {
        actix_test::TestRequest::get().uri(path).insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
    }

    fn code(body: &str) -> Value {
        serde_json::from_str::<Value>(body).unwrap()["code"].clone()
    }

    #[actix_web::test]
    async fn a_valid_bearer_token_yields_its_principal() {
        let keys = keys();
        let token = user_token(&keys);
        let (status, body) = call(keys, NOW, allowing(), bearer("/api/my-account", &token)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "user00000001"));
    }

    #[actix_web::test]
    async fn a_request_without_authorization_gets_logtos_missing_header_error() {
        let (status, body) = call(keys(), NOW, allowing(), actix_test::TestRequest::get().uri("/api/my-account")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "auth.authorization_header_missing");
        assert_eq!(body["message"], "Authorization header is missing.");
    }

    #[actix_web::test]
    async fn a_basic_authorization_gets_the_unsupported_type_error_listing_bearer() {
        let request = actix_test::TestRequest::get()
            .uri("/api/my-account")
            .insert_header((header::AUTHORIZATION, "Basic dXNlcjpwdw=="));
        let (status, body) = call(keys(), NOW, allowing(), request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "auth.authorization_token_type_not_supported");
        assert_eq!(body["data"], json!({ "supportedTypes": ["Bearer"] }));
    }

    #[actix_web::test]
    async fn a_garbage_or_empty_bearer_token_is_unauthorized_and_the_database_is_not_asked() {
        for token in ["garbage", ""] {
            let mut revocation = MockRevocationCheck::new();
            revocation.expect_check().never();
            let (status, body) = call(keys(), NOW, revocation, bearer("/api/my-account", token)).await;
            assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, json!("auth.unauthorized")), "{token:?}");
        }
    }

    #[actix_web::test]
    async fn an_expired_token_is_unauthorized_at_the_clocks_time() {
        let keys = keys();
        let token = user_token(&keys);
        let (status, body) = call(keys, NOW.plus_secs(3_600), allowing(), bearer("/api/my-account", &token)).await;
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, json!("auth.unauthorized")));
    }

    #[actix_web::test]
    async fn a_revoked_token_is_unauthorized() {
        let keys = keys();
        let token = user_token(&keys);
        let mut revocation = MockRevocationCheck::new();
        revocation
            .expect_check()
            .withf(|principal| principal.claims.token_id == "token-1")
            .times(1)
            .returning(|_| Err(RevocationError::Revoked));
        let (status, body) = call(keys, NOW, revocation, bearer("/api/my-account", &token)).await;
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, json!("auth.unauthorized")));
    }

    #[actix_web::test]
    async fn an_unreachable_revocation_state_fails_closed_with_503() {
        let keys = keys();
        let token = user_token(&keys);
        let mut revocation = MockRevocationCheck::new();
        revocation.expect_check().returning(|_| Err(RevocationError::Unavailable));
        let (status, body) = call(keys, NOW, revocation, bearer("/api/my-account", &token)).await;
        assert_eq!((status, code(&body)), (StatusCode::SERVICE_UNAVAILABLE, json!("service_unavailable")));
    }

    #[actix_web::test]
    async fn a_read_only_token_passes_a_get_and_fails_a_patch() {
        let keys = keys();
        let token = attenuate(&user_token(&keys), &[r#"check if operation("read")"#]).unwrap();
        let (status, _) = call(keys.clone(), NOW, allowing(), bearer("/api/my-account", &token)).await;
        assert_eq!(status, StatusCode::OK);
        let patch = bearer("/api/my-account", &token).method(Method::PATCH);
        let (status, _) = call(keys, NOW, allowing(), patch).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn the_user_id_route_parameter_is_the_target_user() {
        let keys = keys();
        let token = attenuate(&user_token(&keys), &[r#"check if target_user("abc")"#]).unwrap();
        let (status, _) = call(keys.clone(), NOW, allowing(), bearer("/api/users/abc", &token)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(keys.clone(), NOW, allowing(), bearer("/api/users/xyz", &token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // On the Account API the target is the caller, who is not "abc".
        let (status, _) = call(keys, NOW, allowing(), bearer("/api/my-account", &token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn one_verifier_still_refuses_a_write_with_a_read_only_token_it_has_cached() {
        let keys = keys();
        let token = attenuate(&user_token(&keys), &[r#"check if operation("read")"#]).unwrap();
        let verifier = TokenVerifier::new(keys, Arc::new(FixedClock(NOW)), Arc::new(allowing()));
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(verifier))
                .route("/api/my-account", web::get().to(who))
                .route("/api/my-account", web::patch().to(who)),
        )
        .await;
        let expected = [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::OK, StatusCode::UNAUTHORIZED];
        for (round, method) in [Method::GET, Method::PATCH, Method::GET, Method::PATCH].into_iter().enumerate() {
            let request = bearer("/api/my-account", &token).method(method.clone()).to_request();
            let status = actix_test::call_service(&app, request).await.status();
            assert_eq!(status, expected[round], "{method} in round {round}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_matched_case_insensitively() {
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("BEARER  abc ")).unwrap(), "abc");
        assert!(matches!(bearer_token(Some("Bearer")), Err(AuthError::InvalidToken(TokenError::Malformed))));
        assert!(matches!(bearer_token(Some("Bearerabc")), Err(AuthError::UnsupportedScheme)));
    }

    #[test]
    fn every_error_maps_to_one_status_and_logto_code() {
        let cases = [
            (AuthError::MissingHeader, StatusCode::UNAUTHORIZED, "auth.authorization_header_missing"),
            (AuthError::UnsupportedScheme, StatusCode::UNAUTHORIZED, "auth.authorization_token_type_not_supported"),
            (AuthError::InvalidToken(TokenError::Expired), StatusCode::UNAUTHORIZED, "auth.unauthorized"),
            (AuthError::Revoked, StatusCode::UNAUTHORIZED, "auth.unauthorized"),
            (AuthError::RevocationUnavailable, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            (AuthError::NotConfigured, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.wire().0, error.wire().1), (status, code), "{error:?}");
            assert_eq!(error.error_response().status(), status);
        }
    }
}
