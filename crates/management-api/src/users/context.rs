//! What every user route reads from its request besides the body: who is acting (for the audit log) and which
//! version of the user the caller expects (`If-Match`), and the `ETag` it answers with.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use latchkey_domain::audit::{Actor, AuditContext};
use latchkey_domain::service::UserWrite;
use latchkey_domain::token::Subject;
use latchkey_domain::user::{User, Version};

use crate::error::ApiError;
use crate::guard::ManagementCaller;

/// Who acts in this request: the token's subject through its client, from the peer address, with the impersonator
/// when the token came from impersonation. The peer address is the TCP peer: a proxy's forwarding headers are not
/// trusted here.
pub(crate) fn audit_context(caller: &ManagementCaller, request: &HttpRequest) -> AuditContext {
    let claims = &caller.principal().claims;
    let actor = match &claims.subject {
        Subject::Application(id) => Actor::Application { id: id.clone() },
        Subject::User(id) => Actor::User { id: id.as_str().to_owned() },
    };
    let ip = latchkey_auth::client_ip(request).map(|address| address.to_string());
    let user_agent = request.headers().get(header::USER_AGENT).and_then(|value| value.to_str().ok());
    AuditContext::new(actor)
        .with_application(claims.client_id.clone())
        .with_origin(ip.as_deref(), user_agent)
        .with_impersonator(claims.actor.as_deref())
}

/// What every change to a user reads from its request: who acts (for the audit log) and the version the caller
/// expects (`If-Match`).
pub(crate) struct WriteRequest {
    context: AuditContext,
    expected: Option<Version>,
}

impl WriteRequest {
    pub(crate) fn new(caller: &ManagementCaller, request: &HttpRequest) -> Result<Self, ApiError> {
        Ok(Self { context: audit_context(caller, request), expected: expected_version(request)? })
    }

    /// The write to hand to a use case.
    pub(crate) fn write(&self) -> UserWrite<'_> {
        UserWrite::new(&self.context).expecting(self.expected)
    }
}

/// The user's version as an entity tag.
pub(crate) fn etag(user: &User) -> String {
    format!("\"{}\"", user.version.0)
}

/// A 200 answer with the user's `ETag`.
pub(crate) fn with_etag(user: &User) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::ETAG, etag(user)));
    response
}

/// The version `If-Match` asks for: `None` without the header or with `*`. Weak tags never match (RFC 9110 compares
/// `If-Match` strongly), so a weak or foreign tag is refused with 412 before anything is read.
pub(crate) fn expected_version(request: &HttpRequest) -> Result<Option<Version>, ApiError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::UnusableIfMatch)?;
    Version::from_entity_tag(value).ok_or(ApiError::UnusableIfMatch)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn expected(if_match: Option<&str>) -> Result<Option<Version>, ApiError> {
        let mut request = TestRequest::default();
        if let Some(value) = if_match {
            request = request.insert_header((header::IF_MATCH, value));
        }
        expected_version(&request.to_http_request())
    }

    #[test]
    fn if_match_names_a_version_or_anything() {
        assert!(matches!(expected(None), Ok(None)));
        assert!(matches!(expected(Some("*")), Ok(None)));
        assert!(matches!(expected(Some("\"7\"")), Ok(Some(Version(7)))));
        assert!(matches!(expected(Some("\"7\", \"8\"")), Ok(Some(Version(7)))));
    }

    #[test]
    fn weak_or_foreign_tags_cannot_match() {
        for value in ["W/\"7\"", "7", "\"abc\"", "\"\""] {
            assert!(matches!(expected(Some(value)), Err(ApiError::UnusableIfMatch)), "{value}");
        }
    }
}
