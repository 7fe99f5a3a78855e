//! The Account API's one error type and its one mapping to HTTP: status and Logto code per variant.

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
    /// Logto's error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Denied(Denial::AccountCenterDisabled) => "account_center.not_enabled",
            ApiError::Denied(Denial::FieldNotEnabled(_)) => "account_center.field_not_enabled",
            ApiError::Denied(Denial::FieldNotEditable(_)) => "account_center.field_not_editable",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            // Logto answers these account-center gates with 400.
            ApiError::Denied(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.status_code(), self.code(), &self.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use latchkey_domain::account_center::AccountField;

    use super::*;

    #[actix_web::test]
    async fn a_denial_is_answered_in_logtos_shape() {
        let response = ApiError::from(Denial::FieldNotEditable(AccountField::Email)).error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "account_center.field_not_editable");
        assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()));
    }
}
