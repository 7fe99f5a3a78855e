//! Logto's error body, `{"code", "message", "data"?}`, defined once for every crate that answers HTTP: the
//! extractor here and both API crates (which depend on this crate anyway).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

/// Logto's error body: `code` is Logto's error code (`entity.not_found`, `auth.unauthorized`, …), `message` a
/// human-readable text, `data` details some errors carry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    #[schema(example = "auth.unauthorized")]
    pub code: &'a str,
    #[schema(example = "Unauthorized. Please check credentials and its permissions.")]
    pub message: &'a str,
    /// Typed `Object` in the document (Logto's `data` is an object) so that the document reads back with utoipa,
    /// which cannot deserialise the empty schema of an untyped value (juhaku/utoipa#1192).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// An error response in Logto's shape.
pub fn error_response(status: StatusCode, code: &str, message: &str, data: Option<Value>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody { code, message, data })
}
