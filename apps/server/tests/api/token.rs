//! `POST /oidc/token` with the `client_credentials` grant, on every backend under test: Management API tokens for
//! `MachineToMachine` apps, and RFC 6749 errors in Logto's shape for everything else.

use latchkey_auth::{Operation, RequestFacts};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::token::{Audience, Subject};
use latchkey_domain::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::harness::{TokenApp, expect_oauth_error};

const ALIAS: &str = "https://default.logto.app/api";

fn grant(resource: &str) -> Vec<(&str, &str)> {
    vec![("grant_type", "client_credentials"), ("resource", resource), ("scope", "all")]
}

#[tokio::test]
async fn a_management_app_with_basic_auth_gets_a_management_api_token_that_verifies() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;

        let response = app.post(Some((&id, &secret)), &grant(app.management_api())).await;

        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        assert_eq!(response.headers()["cache-control"], "no-store", "on {}", app.backend);
        assert_eq!(response.headers()["pragma"], "no-cache", "on {}", app.backend);
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["expires_in"], 3600, "on {}: {body}", app.backend);
        assert_eq!(body["token_type"], "Bearer", "on {}: {body}", app.backend);
        assert_eq!(body["scope"], "all", "on {}: {body}", app.backend);

        let token = body["access_token"].as_str().expect("an access token");
        let request = RequestFacts { operation: Operation::Read, path: "/api/users".to_owned(), target_user: None };
        let principal = latchkey_auth::verify(&app.key_ring(), token, &request, SystemClock.now())
            .unwrap_or_else(|error| panic!("the token verifies on {}: {error}", app.backend));
        let claims = principal.claims;
        assert_eq!(claims.subject, Subject::Application(id.clone()), "on {}", app.backend);
        assert_eq!(claims.client_id, id, "on {}", app.backend);
        assert_eq!(claims.audience, Audience::Resource(app.management_api().to_owned()), "on {}", app.backend);
        assert_eq!(claims.scopes, ["all"], "on {}", app.backend);
        assert_eq!(claims.expires_at.as_secs() - claims.issued_at.as_secs(), 3600, "on {}", app.backend);
    }
}

#[tokio::test]
async fn client_secret_post_and_the_logto_alias_resource_also_get_a_token() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;
        let mut form = grant(ALIAS);
        form.extend([("client_id", id.as_str()), ("client_secret", secret.as_str())]);

        let response = app.post(None, &form).await;

        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        let body: Value = response.json().await.expect("a JSON body");
        let token = body["access_token"].as_str().expect("an access token");
        let request = RequestFacts { operation: Operation::Write, path: "/api/users".to_owned(), target_user: None };
        let claims = latchkey_auth::verify(&app.key_ring(), token, &request, SystemClock.now()).unwrap().claims;
        assert_eq!(claims.audience, Audience::Resource(ALIAS.to_owned()), "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_wrong_secret_and_an_unknown_client_get_the_same_401_with_a_basic_challenge() {
    for app in TokenApp::all().await {
        let (id, _) = app.management_app().await;

        let wrong_secret = app.post(Some((&id, "not-the-secret")), &grant(app.management_api())).await;
        let challenge = wrong_secret.headers().get("www-authenticate").cloned();
        let wrong_body = expect_oauth_error(wrong_secret, 401, "invalid_client", app.backend).await;
        let unknown = app.post(Some(("no-such-app", "whatever")), &grant(app.management_api())).await;
        let unknown_challenge = unknown.headers().get("www-authenticate").cloned();
        let unknown_body = expect_oauth_error(unknown, 401, "invalid_client", app.backend).await;

        let challenge = challenge.expect("a WWW-Authenticate header");
        assert!(challenge.to_str().unwrap().starts_with("Basic realm=\"latchkey\""), "{challenge:?}");
        assert_eq!(unknown_challenge, Some(challenge), "on {}", app.backend);
        assert_eq!(wrong_body, unknown_body, "on {}", app.backend);
        assert_eq!(
            wrong_body,
            json!({
                "code": "oidc.invalid_client",
                "message": "An OIDC error occurred: oidc.invalid_client.",
                "error": "invalid_client",
                "error_description": "client authentication failed",
            })
        );
    }
}

#[tokio::test]
async fn a_resource_other_than_the_management_api_is_an_invalid_target() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;

        let other = app.post(Some((&id, &secret)), &grant("https://example.com/api")).await;
        expect_oauth_error(other, 400, "invalid_target", app.backend).await;
        let missing = app.post(Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
        expect_oauth_error(missing, 400, "invalid_target", app.backend).await;
    }
}

#[tokio::test]
async fn a_grant_other_than_client_credentials_is_unsupported() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;

        let response = app.post(Some((&id, &secret)), &[("grant_type", "password"), ("resource", ALIAS)]).await;

        expect_oauth_error(response, 400, "unsupported_grant_type", app.backend).await;
    }
}

#[tokio::test]
async fn a_scope_other_than_all_is_an_invalid_scope() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;
        let form = [("grant_type", "client_credentials"), ("resource", ALIAS), ("scope", "all read")];

        let response = app.post(Some((&id, &secret)), &form).await;

        expect_oauth_error(response, 400, "invalid_scope", app.backend).await;
    }
}

#[tokio::test]
async fn an_app_that_is_not_machine_to_machine_is_an_unauthorized_client() {
    for app in TokenApp::all().await {
        let (id, secret) = app.app(ApplicationType::Traditional, true).await;

        let response = app.post(Some((&id, &secret)), &grant(ALIAS)).await;

        expect_oauth_error(response, 400, "unauthorized_client", app.backend).await;
    }
}

#[tokio::test]
async fn a_machine_to_machine_app_without_management_api_access_gets_an_invalid_scope() {
    for app in TokenApp::all().await {
        let (id, secret) = app.app(ApplicationType::MachineToMachine, false).await;

        let response = app.post(Some((&id, &secret)), &grant(ALIAS)).await;

        expect_oauth_error(response, 400, "invalid_scope", app.backend).await;
    }
}

#[tokio::test]
async fn basic_and_post_secrets_together_are_an_invalid_request() {
    for app in TokenApp::all().await {
        let (id, secret) = app.management_app().await;
        let mut form = grant(ALIAS);
        form.push(("client_secret", secret.as_str()));

        let response = app.post(Some((&id, &secret)), &form).await;

        expect_oauth_error(response, 400, "invalid_request", app.backend).await;
    }
}
