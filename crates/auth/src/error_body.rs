//! Logto's error body, `{"code", "message", "data"?}`, defined once for every crate that answers HTTP: the
//! extractor here and both API crates (which depend on this crate anyway).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// An error response in Logto's shape.
pub fn error_response(status: StatusCode, code: &str, message: &str, data: Option<Value>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody { code, message, data })
}
