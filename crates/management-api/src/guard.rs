//! The Management API's guard: a bearer token in, a [`ManagementCaller`] out. The token crate verifies the
//! biscuit for this request (signature, expiry, revocation and every attenuation check against the request's
//! method and path); this module turns what the token says into the policy's plain [`Caller`], so that each handler
//! asks [`policy::decide`] for its action and holds the returned capability.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use latchkey_auth::Principal;
use latchkey_auth::oidc::MANAGEMENT_API_ALIAS;
use latchkey_domain::token::Audience;

use crate::error::ApiError;
use crate::policy::{self, Authorized, Caller, ManagementAction};

/// What the guard needs to know about this server; register it once as `web::Data<ManagementConfig>`.
#[derive(Debug, Clone)]
pub struct ManagementConfig {
    endpoint: String,
    indicators: Vec<String>,
}

impl ManagementConfig {
    /// `endpoint` is the public base URL. A management token is one minted for `<endpoint>/api` or for Logto's
    /// default-tenant indicator, the two resources the token endpoint accepts.
    pub fn new(endpoint: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let indicators = vec![format!("{endpoint}/api"), MANAGEMENT_API_ALIAS.to_owned()];
        Self { endpoint, indicators }
    }

    /// The public base URL without a trailing slash (pagination links are built on it).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The policy's view of `principal`. Claims come from the token's authority block only, so a holder's
    /// attenuation can narrow what the token may do but never changes this view.
    pub fn caller(&self, principal: &Principal) -> Caller {
        let management_audience = match &principal.claims.audience {
            Audience::Resource(indicator) => self.indicators.iter().any(|known| known == indicator),
            Audience::Account => false,
        };
        Caller { management_audience, scopes: principal.claims.scopes.clone() }
    }
}

/// An authenticated Management API caller. Holding one proves the token verified for this request; call
/// [`ManagementCaller::authorize`] to get the capability for an action.
#[derive(Debug, Clone)]
pub struct ManagementCaller {
    principal: Principal,
    caller: Caller,
}

impl ManagementCaller {
    pub fn authorize(&self, action: ManagementAction) -> Result<Authorized, ApiError> {
        Ok(policy::decide(&self.caller, action)?)
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl FromRequest for ManagementCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = request.app_data::<web::Data<ManagementConfig>>().cloned();
        let principal = Principal::from_request(request, payload);
        Box::pin(async move {
            let principal = principal.await?;
            let config = config.ok_or(ApiError::NotConfigured)?;
            let caller = config.caller(&principal);
            Ok(Self { principal, caller })
        })
    }
}

#[cfg(test)]
mod tests {
    //! The whole decision without HTTP or a database: a real token is minted, possibly attenuated by its holder,
    //! verified for a request as the extractor would, and then judged by the policy.

    use biscuit_auth::builder::BlockBuilder;
    use biscuit_auth::{KeyPair, UnverifiedBiscuit};
    use latchkey_auth::{KeyRing, Operation, RequestFacts, TokenError, attenuate, mint, verify};
    use latchkey_domain::Timestamp;
    use latchkey_domain::ids::UserId;
    use latchkey_domain::token::{AccessClaims, Subject};

    use super::*;
    use crate::policy::Denial;

    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
    const ENDPOINT: &str = "https://id.example.com/";

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Allowed,
        /// `verify` refused the token for this request (the extractor answers 401).
        Refused,
        Denied(Denial),
    }

    fn keys() -> KeyRing {
        KeyRing::new([("k1".to_owned(), KeyPair::new())]).unwrap()
    }

    fn app_token(keys: &KeyRing, audience: Audience, scopes: &[&str]) -> String {
        let claims = AccessClaims::new(
            Subject::Application("m2m".to_owned()),
            "m2m",
            audience,
            "token-1",
            NOW,
            NOW.plus_secs(3_600),
        )
        .with_scopes(scopes.iter().copied());
        mint(keys, &claims).unwrap()
    }

    fn user_token(keys: &KeyRing) -> String {
        let claims = AccessClaims::new(
            Subject::User(UserId::parse("user00000001").unwrap()),
            "first-party",
            Audience::Account,
            "token-2",
            NOW,
            NOW.plus_secs(3_600),
        )
        .with_scopes(["profile"]);
        mint(keys, &claims).unwrap()
    }

    /// What a holder can do beyond `attenuate`: append a block of arbitrary Datalog, facts included.
    fn append_code(token: &str, code: &str) -> String {
        let block = BlockBuilder::new().code(code).unwrap();
        UnverifiedBiscuit::from_base64(token).unwrap().append(block).unwrap().to_base64().unwrap()
    }

    fn management() -> Audience {
        Audience::Resource("https://id.example.com/api".to_owned())
    }

    fn outcome(keys: &KeyRing, token: &str, operation: Operation, path: &str, action: ManagementAction) -> Outcome {
        let request = RequestFacts::new(operation, path);
        let principal = match verify(keys, token, &request, NOW) {
            Ok(principal) => principal,
            Err(TokenError::CheckFailed(_)) => return Outcome::Refused,
            Err(other) => panic!("unexpected verification error: {other}"),
        };
        match policy::decide(&ManagementConfig::new(ENDPOINT).caller(&principal), action) {
            Ok(authorized) => {
                assert_eq!(authorized.action(), action);
                Outcome::Allowed
            }
            Err(denial) => Outcome::Denied(denial),
        }
    }

    #[test]
    fn management_tokens_and_their_attenuations_are_decided_as_the_table_says() {
        use ManagementAction::{ReadApplications as Read, WriteApplications as Write};
        use Operation::{Read as Get, Write as Post};

        let keys = keys();
        let full = app_token(&keys, management(), &["all"]);
        let alias = app_token(&keys, Audience::Resource(MANAGEMENT_API_ALIAS.to_owned()), &["all"]);
        let read_only = attenuate(&full, &[r#"check if operation("read")"#]).unwrap();
        let applications_only =
            attenuate(&full, &[r#"check if path($p), $p.starts_with("/api/applications")"#]).unwrap();
        let expired_by_holder = attenuate(&full, &["check if time($t), $t < 2020-01-01T00:00:00Z"]).unwrap();
        let no_scope = app_token(&keys, management(), &[]);
        let other_resource = app_token(&keys, Audience::Resource("https://api.example.com".to_owned()), &["all"]);
        let user = user_token(&keys);
        // A holder cannot widen a token: facts in its own block are not read as claims.
        let user_claiming_management = append_code(&user, r#"resource("https://id.example.com/api"); scope("all");"#);

        let table = [
            ("full token reads", &full, Get, "/api/applications", Read, Outcome::Allowed),
            ("full token writes", &full, Post, "/api/applications", Write, Outcome::Allowed),
            ("Logto's alias audience writes", &alias, Post, "/api/applications/x", Write, Outcome::Allowed),
            ("read-only token reads", &read_only, Get, "/api/applications", Read, Outcome::Allowed),
            ("read-only token cannot write", &read_only, Post, "/api/applications", Write, Outcome::Refused),
            ("path-bound token, its path", &applications_only, Post, "/api/applications/x", Write, Outcome::Allowed),
            ("path-bound token, other path", &applications_only, Get, "/api/users", Read, Outcome::Refused),
            ("holder-shortened expiry", &expired_by_holder, Get, "/api/applications", Read, Outcome::Refused),
            ("no scope all", &no_scope, Get, "/api/applications", Read, Outcome::Denied(Denial::MissingScope)),
            (
                "another resource",
                &other_resource,
                Get,
                "/api/applications",
                Read,
                Outcome::Denied(Denial::WrongAudience),
            ),
            ("account token", &user, Get, "/api/applications", Read, Outcome::Denied(Denial::WrongAudience)),
            (
                "account token with holder facts",
                &user_claiming_management,
                Post,
                "/api/applications",
                Write,
                Outcome::Denied(Denial::WrongAudience),
            ),
        ];
        for (case, token, operation, path, action, expected) in table {
            assert_eq!(outcome(&keys, token, operation, path, action), expected, "{case}");
        }
    }

    #[test]
    fn the_endpoint_is_kept_without_its_trailing_slash() {
        assert_eq!(ManagementConfig::new(ENDPOINT).endpoint(), "https://id.example.com");
    }
}
