//! `GET /api/swagger.json`: the OpenAPI 3 document of every route the server serves. Each crate describes its own
//! routes (`latchkey_auth::oidc::openapi`, `latchkey_account_api::openapi`, `latchkey_management_api::openapi`);
//! this module adds the server's own (`/api/status`, `/oidc/jwks`, this one) and merges them. Like Logto's, the
//! document is public.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use latchkey_auth::openapi::SecuritySchemes;
use utoipa::openapi::server::Server;
use utoipa::{OpenApi, ToSchema};

use crate::app::AppState;

/// The whole document, as served (without `servers`, which come from the configured endpoint).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ServerDoc::openapi();
    document.merge(latchkey_auth::oidc::openapi());
    document.merge(latchkey_account_api::openapi());
    document.merge(latchkey_management_api::openapi());
    document
}

/// Built once: the document is fixed at compile time.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(document);

#[utoipa::path(
    get,
    path = "/api/swagger.json",
    tag = "Server",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The OpenAPI 3 document.", content_type = "application/json")),
    security(()),
)]
pub async fn swagger_json(state: web::Data<AppState>) -> HttpResponse {
    let mut document = DOCUMENT.clone();
    document.servers = Some(vec![Server::new(state.endpoint.as_str().trim_end_matches('/'))]);
    HttpResponse::Ok().json(document)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "Latchkey's Account API, Management API, sign-in API and token endpoints, wire-compatible with \
            Logto's. Operations and tags marked `x-latchkey-extension: true` (and the `Sign-in` tag) are Latchkey \
            extensions beyond Logto. Errors carry Logto's body `{code, message, data?}` (`ErrorBody`); the token \
            endpoints answer RFC 6749 error bodies with Logto's `code` and `message` added."
    ),
    paths(crate::app::status, crate::readiness::ready, crate::app::jwks, swagger_json),
    components(schemas(latchkey_auth::error_body::ErrorBody)),
    tags((name = "Server", description = "Liveness, readiness and this document.")),
    modifiers(&SecuritySchemes),
)]
struct ServerDoc;

/// `GET /oidc/jwks`: the token root public keys. Documentation only: the key ring builds this JSON itself.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037); `kid` names it in the tokens it signed.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Jwk {
    #[schema(example = "OKP")]
    kty: String,
    #[schema(example = "Ed25519")]
    crv: String,
    /// The public key, base64url without padding.
    x: String,
    kid: String,
    #[schema(example = "EdDSA")]
    alg: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: String,
}
