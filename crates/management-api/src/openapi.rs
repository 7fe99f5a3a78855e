//! The Management API's part of the OpenAPI document (`GET /api/swagger.json`).

use latchkey_auth::openapi::SecuritySchemes;
use utoipa::{OpenApi, ToSchema};

use crate::{
    account_center, applications, hooks, logs, personal_access_tokens, roles, sessions, sign_in_experience,
    subject_tokens, users,
};

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
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        users::restore,
        users::get_custom_data,
        users::merge_custom_data,
        users::merge_profile,
        users::get_logto_configs,
        users::update_logto_configs,
        users::set_password,
        users::verify_password,
        users::has_password,
        users::set_suspended,
        users::identities::link,
        users::identities::link_by_connector,
        users::identities::get,
        users::identities::unlink,
        users::mfa_verifications::list,
        users::mfa_verifications::create,
        users::mfa_verifications::remove,
        logs::list,
        logs::get,
        logs::list_for_user,
        account_center::get,
        account_center::get_public,
        account_center::update,
        sign_in_experience::get,
        sign_in_experience::update,
        personal_access_tokens::list,
        personal_access_tokens::create,
        personal_access_tokens::rename,
        personal_access_tokens::rename_by_path,
        personal_access_tokens::delete,
        personal_access_tokens::delete_by_path,
        sessions::list,
        sessions::get,
        sessions::revoke,
        sessions::list_grants,
        sessions::revoke_grant,
        subject_tokens::create,
        roles::list,
        roles::create,
        roles::get,
        roles::update,
        roles::delete,
        roles::list_user_roles,
        roles::assign_user_roles,
        roles::replace_user_roles,
        roles::remove_user_role,
        hooks::list,
        hooks::create,
        hooks::get,
        hooks::update,
        hooks::delete,
        hooks::regenerate_signing_key,
        hooks::test,
        hooks::recent_logs,
        hooks::resend,
    ),
    tags((name = "Users", description = "Management API: users, wire-compatible with Logto's user routes. \
        Every change is written to the audit log in the change's own transaction. Extensions: `ETag`/`If-Match` on \
        user reads and writes, deletion into a restorable tombstone and `POST /api/users/{userId}/restore`, and the \
        `search.customData.<path>` and `isSuspended` filters."),
        (name = "Audit logs", description = "Management API: who changed what about a user, when, through which \
        client, from where, and on whose behalf when an administrator impersonated the user. Entries are written \
        in the transaction of the change they describe."),
        (name = "Applications", description = "Management API: `MachineToMachine` and first-party applications, \
        their client secrets (stored hashed: shown once, listed without values, unlike Logto) and their roles. \
        Call it with a token from `POST /oidc/token` (`client_credentials`, `resource=<endpoint>/api`, \
        `scope=all`)."),
        (name = "Account center", description = "Management API: whether end users may see or change each field \
        of their account through the Account API, as Logto's account center settings."),
        (name = "Sign-in experience", description = "Management API: the password policy, username policy and \
        MFA settings of Logto's sign-in experience (the rest of Logto's sign-in experience is not kept)."),
        (name = "Roles", description = "Management API: Logto's roles (`User` and `MachineToMachine`) and users' \
        roles. The built-in `management-api-access` role of applications is listed as a `MachineToMachine` role and \
        cannot be changed, deleted or given to users."),
        (name = "Hooks", description = "Management API: Logto's webhooks. Each event is written to an outbox in \
        the transaction of the change that caused it and delivered at least once, signed \
        (`logto-signature-sha-256`) and named (`latchkey-delivery-id`), with retries. Extension: re-sending a \
        delivery (`POST /api/hooks/{id}/recent-logs/{logId}/resend`)."),
        (name = "Subject tokens", description = "Management API: Logto's impersonation tokens (`sub_…`, single use, \
        600 s), exchanged at `POST /oidc/token`; each impersonation is written to the audit log with its reason."),
    ),
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
