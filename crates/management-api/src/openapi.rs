//! The Management API's part of the OpenAPI document (`GET /api/swagger.json`).

use latchkey_auth::openapi::SecuritySchemes;
use utoipa::{OpenApi, ToSchema};

use crate::applications;

/// The Management API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ManagementApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(
        applications::list,
        applications::create,
        applications::get,
        applications::update,
        applications::delete,
        applications::list_secrets,
        applications::add_secret,
        applications::delete_secret,
        applications::list_roles,
        applications::assign_roles,
        applications::remove_role,
    ),
    tags((name = "Applications", description = "Management API: `MachineToMachine` and first-party applications, \
        their client secrets (stored hashed: shown once, listed without values, unlike Logto) and their roles. \
        Call it with a token from `POST /oidc/token` (`client_credentials`, `resource=<endpoint>/api`, \
        `scope=all`).")),
    modifiers(&SecuritySchemes),
)]
struct ManagementApiDoc;

/// Logto's application types that Latchkey serves (the domain's `ApplicationType` on the wire). Documentation only:
/// the domain crate stays free of the OpenAPI library.
#[derive(Debug, ToSchema)]
#[schema(as = ApplicationType)]
#[allow(dead_code)]
pub enum ApplicationTypeSchema {
    MachineToMachine,
    Traditional,
    #[schema(rename = "SPA")]
    Spa,
    Native,
}
