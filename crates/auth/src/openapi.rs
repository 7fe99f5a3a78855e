//! What every crate's part of the OpenAPI document (`GET /api/swagger.json`) shares: the security schemes that
//! operations name in their `security(...)`, and the marker of what Latchkey adds to Logto's API.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

/// The operation and tag extension that marks a Latchkey extension beyond Logto's API (spec §5); its value is
/// `true`.
pub const EXTENSION_MARKER: &str = "x-latchkey-extension";

/// Declares the security schemes the operations name: `bearer` (an access token from `POST /oidc/token` or the
/// sign-in API, for the Account and Management APIs) and `clientBasic` (an application's id and secret at the
/// token endpoints, which also accept them as form fields). Each crate applies it, so its part of the document is
/// complete on its own.
#[derive(Debug)]
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("biscuit")
            .description(Some(
                "A Latchkey access token (a biscuit signed by a key of `GET /oidc/jwks`), from `POST /oidc/token` \
                 or the sign-in API.",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let basic = Http::builder()
            .scheme(HttpAuthScheme::Basic)
            .description(Some(
                "An application's client id and secret (RFC 6749 §2.3.1). The token endpoints also accept them as \
                 `client_id` and `client_secret` form fields; public applications send `client_id` alone.",
            ))
            .build();
        components.add_security_scheme("clientBasic", SecurityScheme::Http(basic));
    }
}
