//! The Management API's one error type and its one mapping to HTTP: status and Logto code per variant.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use latchkey_auth::error_body::error_response;

use crate::policy::Denial;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Denied(#[from] Denial),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Denied(Denial::WrongAudience) => "auth.unauthorized",
            ApiError::Denied(Denial::MissingScope) => "auth.forbidden",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Denied(Denial::WrongAudience) => StatusCode::UNAUTHORIZED,
            ApiError::Denied(Denial::MissingScope) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.status_code(), self.code(), &self.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_map_to_logtos_statuses_and_codes() {
        let wrong_audience = ApiError::from(Denial::WrongAudience);
        assert_eq!(
            (wrong_audience.status_code(), wrong_audience.code()),
            (StatusCode::UNAUTHORIZED, "auth.unauthorized")
        );
        let missing_scope = ApiError::from(Denial::MissingScope);
        assert_eq!((missing_scope.status_code(), missing_scope.code()), (StatusCode::FORBIDDEN, "auth.forbidden"));
    }
}
