//! The redirect-free sign-in API and sign-out, on every backend under test: password sign-in for first-party
//! apps, the MFA second step, the brute-force sentinel, and sessions ended by sign-out.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use biscuit_auth::{Algorithm, Biscuit, PublicKey};
use latchkey_auth::{Operation, RequestFacts, root_key_id};
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::identifiers::Username;
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::password::{InlinePasswordHasher, PlainPassword};
use latchkey_domain::service::{AccountService, NewPassword, NewUser, Ports};
use latchkey_domain::session::{RevokeReason, SessionRepository};
use latchkey_domain::sign_in::{IdentifierKind, SentinelFailure, SentinelRepository, SignInIdentifier};
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, UserId};
use latchkey_server::data_dir::DataDir;
use reqwest::Response;
use serde_json::{Value, json};

use crate::harness::{TokenApp, harness_context};
use crate::helpers::expect_api_error;

const PASSWORD: &str = "correct horse battery staple";

/// The shared harness (a running server plus a store on its database), with sign-in helpers.
struct SignInApp(TokenApp);

impl std::ops::Deref for SignInApp {
    type Target = TokenApp;

    fn deref(&self) -> &TokenApp {
        &self.0
    }
}

impl SignInApp {
    /// One per backend: SQLite, plus PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set.
    async fn all() -> Vec<SignInApp> {
        TokenApp::all().await.into_iter().map(SignInApp).collect()
    }

    /// The account use cases on the server's database, sealing with the server's at-rest key.
    fn accounts(&self) -> AccountService {
        let keys = DataDir::prepare(self.data_dir()).unwrap().load_or_create_keys().unwrap();
        AccountService::new(Ports {
            users: Arc::new(self.store.users()),
            hasher: Arc::new(InlinePasswordHasher),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            secrets: Arc::new(keys.secret_box.into_secret_box().unwrap()),
        })
    }

    async fn client_app(&self, app_type: ApplicationType) -> String {
        let application = Application::new(RandomIds.entity_id(), "web".to_owned(), app_type, SystemClock.now());
        self.store.applications().insert(&application).await.expect("inserting an application");
        application.id
    }

    async fn user(&self, username: &str) -> UserId {
        let new_user = NewUser {
            username: Some(Username::parse(username).unwrap()),
            password: Some(NewPassword::Plain(PlainPassword::new(PASSWORD))),
            ..NewUser::default()
        };
        self.accounts().create_user(new_user, &harness_context()).await.expect("creating a user").id
    }

    /// Enables exactly `factors` in the stored sign-in experience.
    async fn enable_mfa_factors(&self, factors: &[MfaFactorType]) {
        let repository = self.store.sign_in_experience();
        let mut stored = repository.get().await.unwrap();
        stored.settings.mfa.factors = factors.to_vec();
        repository
            .save(&stored.settings, stored.version, SystemClock.now())
            .await
            .expect("saving the sign-in experience");
    }

    /// Enables TOTP and backup codes, then binds TOTP (with the previous time step's code, so the current one is
    /// still unused) and backup codes.
    async fn enrol_mfa(&self, user_id: &UserId) -> (String, Vec<String>) {
        let accounts = self.accounts();
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];
        self.enable_mfa_factors(&enabled).await;
        let secret = mfa::totp::generate_secret();
        let code = mfa::totp::code_at(&secret, SystemClock.now().plus_secs(-30)).unwrap();
        accounts.bind_totp(user_id, &secret, &code, &enabled, &harness_context()).await.expect("binding TOTP");
        let (_, codes) = accounts
            .generate_backup_codes(user_id, &enabled, &harness_context())
            .await
            .expect("generating backup codes");
        (secret, codes)
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(format!("{}{path}", self.address)).json(body).send().await.expect("the server answers")
    }

    async fn sign_in(&self, client_id: &str, username: &str, password: &str) -> Response {
        let body = json!({
            "clientId": client_id,
            "identifier": {"type": "username", "value": username},
            "password": password,
        });
        self.post("/api/sign-in", &body).await
    }

    fn claims(&self, access_token: &str) -> AccessClaims {
        let request = RequestFacts::new(Operation::Read, "/api/my-account");
        latchkey_auth::verify(&self.key_ring(), access_token, &request, SystemClock.now())
            .unwrap_or_else(|error| panic!("the token verifies on {}: {error}", self.backend))
            .claims
    }
}

/// Asserts a token response and returns it.
async fn expect_tokens(response: Response, backend: &str) -> Value {
    assert_eq!(response.status().as_u16(), 200, "on {backend}");
    assert_eq!(response.headers()["cache-control"], "no-store", "on {backend}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["token_type"], "Bearer", "on {backend}: {body}");
    assert_eq!(body["expires_in"], 3600, "on {backend}: {body}");
    assert!(body["refresh_token"].as_str().is_some_and(|token| token.len() >= 43), "on {backend}: {body}");
    body
}

#[tokio::test]
async fn a_password_sign_in_returns_tokens_that_verify_with_the_published_keys() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        let user_id = app.user("ada").await;

        let response = app
            .client
            .post(format!("{}/api/sign-in", app.address))
            .header("User-Agent", "sign-in-test/1.0")
            .json(&json!({
                "clientId": client_id,
                "identifier": {"type": "username", "value": "ada"},
                "password": PASSWORD,
                "scope": "openid profile email",
            }))
            .send()
            .await
            .unwrap();

        let body = expect_tokens(response, app.backend).await;
        assert_eq!(body["scope"], "openid profile email", "on {}", app.backend);
        let token = body["access_token"].as_str().unwrap();
        // The signature checks out against the JWK set, as another service would check it offline.
        let jwks: Value =
            app.client.get(format!("{}/oidc/jwks", app.address)).send().await.unwrap().json().await.unwrap();
        let published: Vec<(u32, PublicKey)> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|jwk| {
                let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
                (root_key_id(jwk["kid"].as_str().unwrap()), PublicKey::from_bytes(&x, Algorithm::Ed25519).unwrap())
            })
            .collect();
        Biscuit::from_base64(token, |id: Option<u32>| {
            published
                .iter()
                .find(|(key_id, _)| Some(*key_id) == id)
                .map(|(_, key)| *key)
                .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
        })
        .unwrap_or_else(|error| panic!("the token verifies with the JWKS on {}: {error}", app.backend));
        let claims = app.claims(token);
        assert_eq!(claims.subject, Subject::User(user_id), "on {}", app.backend);
        assert_eq!((claims.client_id.as_str(), &claims.audience), (client_id.as_str(), &Audience::Account));
        // The session records where it came from.
        let session = app.store.sessions().find(claims.session_id.as_deref().unwrap()).await.unwrap().unwrap();
        assert_eq!(session.user_agent.as_deref(), Some("sign-in-test/1.0"), "on {}", app.backend);
        assert_eq!(session.ip.as_deref(), Some("127.0.0.1"), "on {}", app.backend);
    }
}

#[tokio::test]
async fn an_email_identifier_signs_in_regardless_of_case() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Native).await;
        let new_user = NewUser {
            primary_email: Some(latchkey_domain::identifiers::Email::parse("ada@example.com").unwrap()),
            password: Some(NewPassword::Plain(PlainPassword::new(PASSWORD))),
            ..NewUser::default()
        };
        app.accounts().create_user(new_user, &harness_context()).await.unwrap();

        let body = json!({
            "clientId": client_id,
            "identifier": {"type": "email", "value": "Ada@Example.com"},
            "password": PASSWORD,
        });
        expect_tokens(app.post("/api/sign-in", &body).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Traditional).await;
        app.user("ada").await;

        let wrong = expect_api_error(
            app.sign_in(&client_id, "ada", "wrong").await,
            422,
            "session.invalid_credentials",
            app.backend,
        )
        .await;
        let unknown = expect_api_error(
            app.sign_in(&client_id, "nobody", PASSWORD).await,
            422,
            "session.invalid_credentials",
            app.backend,
        )
        .await;

        assert_eq!(wrong, unknown, "on {}", app.backend);
    }
}

#[tokio::test]
async fn the_hundredth_failure_blocks_the_identifier_even_for_the_right_password() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        app.user("ada").await;
        let target = SignInIdentifier::parse(IdentifierKind::Username, "ada").unwrap().sentinel_target();
        let sentinel = app.store.sentinel();
        for _ in 0..99 {
            let failure = SentinelFailure {
                target: target.clone(),
                created_at: SystemClock.now(),
                blocked_until: None,
                lockout_event: None,
            };
            sentinel.record_failure(&failure).await.unwrap();
        }

        let hundredth = app.sign_in(&client_id, "ada", "wrong").await;
        expect_api_error(hundredth, 400, "session.verification_blocked_too_many_attempts", app.backend).await;
        let right = app.sign_in(&client_id, "ada", PASSWORD).await;
        expect_api_error(right, 400, "session.verification_blocked_too_many_attempts", app.backend).await;

        // Another identifier is not affected.
        app.user("grace").await;
        expect_tokens(app.sign_in(&client_id, "grace", PASSWORD).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_suspended_user_cannot_sign_in() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        let user_id = app.user("ada").await;
        app.suspend(&user_id).await;

        expect_api_error(app.sign_in(&client_id, "ada", PASSWORD).await, 401, "user.suspended", app.backend).await;
        let wrong = app.sign_in(&client_id, "ada", "wrong").await;
        expect_api_error(wrong, 422, "session.invalid_credentials", app.backend).await;
    }
}

#[tokio::test]
async fn only_first_party_user_facing_apps_sign_users_in() {
    for app in SignInApp::all().await {
        app.user("ada").await;
        let machine = app.client_app(ApplicationType::MachineToMachine).await;
        let mut third_party =
            Application::new(RandomIds.entity_id(), "other".to_owned(), ApplicationType::Spa, SystemClock.now());
        third_party.is_third_party = true;
        app.store.applications().insert(&third_party).await.unwrap();

        expect_api_error(app.sign_in(&machine, "ada", PASSWORD).await, 400, "oidc.unauthorized_client", app.backend)
            .await;
        let foreign = app.sign_in(&third_party.id, "ada", PASSWORD).await;
        expect_api_error(foreign, 403, "auth.third_party_application_forbidden", app.backend).await;
        expect_api_error(app.sign_in("no-such-app", "ada", PASSWORD).await, 401, "oidc.invalid_client", app.backend)
            .await;
    }
}

#[tokio::test]
async fn a_user_with_mfa_finishes_with_a_totp_code_or_a_backup_code() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        let user_id = app.user("ada").await;
        let (secret, backup_codes) = app.enrol_mfa(&user_id).await;

        let first = app.sign_in(&client_id, "ada", PASSWORD).await;
        assert_eq!(first.headers()["cache-control"], "no-store", "on {}", app.backend);
        let body = expect_api_error(first, 403, "session.mfa.require_mfa_verification", app.backend).await;
        assert_eq!(body["data"]["availableFactors"], json!(["Totp", "BackupCode"]), "on {}: {body}", app.backend);
        let mfa_token = body["data"]["mfaToken"].as_str().expect("an MFA token").to_owned();

        let wrong =
            app.post("/api/sign-in/mfa", &json!({"mfaToken": mfa_token, "type": "Totp", "code": "abcdef"})).await;
        expect_api_error(wrong, 400, "session.mfa.invalid_totp_code", app.backend).await;
        let code = mfa::totp::code_at(&secret, SystemClock.now()).unwrap();
        let totp = app.post("/api/sign-in/mfa", &json!({"mfaToken": mfa_token, "type": "Totp", "code": code})).await;
        let tokens = expect_tokens(totp, app.backend).await;
        assert_eq!(app.claims(tokens["access_token"].as_str().unwrap()).subject, Subject::User(user_id.clone()));
        let reused = app.post("/api/sign-in/mfa", &json!({"mfaToken": mfa_token, "type": "Totp", "code": code})).await;
        expect_api_error(reused, 400, "session.mfa.pending_info_not_found", app.backend).await;

        let second = app.sign_in(&client_id, "ada", PASSWORD).await;
        let body = expect_api_error(second, 403, "session.mfa.require_mfa_verification", app.backend).await;
        let mfa_token = body["data"]["mfaToken"].as_str().unwrap().to_owned();
        let backup = json!({"mfaToken": mfa_token, "type": "BackupCode", "code": backup_codes[0]});
        expect_tokens(app.post("/api/sign-in/mfa", &backup).await, app.backend).await;

        // Only factors the sign-in experience enables are asked for, read at each sign-in (as Logto).
        app.enable_mfa_factors(&[MfaFactorType::BackupCode, MfaFactorType::WebAuthn]).await;
        let third = app.sign_in(&client_id, "ada", PASSWORD).await;
        let body = expect_api_error(third, 403, "session.mfa.require_mfa_verification", app.backend).await;
        assert_eq!(body["data"]["availableFactors"], json!(["BackupCode"]), "on {}: {body}", app.backend);
        let mfa_token = body["data"]["mfaToken"].as_str().unwrap().to_owned();
        let code = mfa::totp::code_at(&secret, SystemClock.now().plus_secs(30)).unwrap();
        let disabled =
            app.post("/api/sign-in/mfa", &json!({"mfaToken": mfa_token, "type": "Totp", "code": code})).await;
        expect_api_error(disabled, 400, "session.mfa.mfa_factor_not_enabled", app.backend).await;
        app.enable_mfa_factors(&[]).await;
        expect_tokens(app.sign_in(&client_id, "ada", PASSWORD).await, app.backend).await;
    }
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_its_tokens() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        app.user("ada").await;
        let tokens = expect_tokens(app.sign_in(&client_id, "ada", PASSWORD).await, app.backend).await;
        let access_token = tokens["access_token"].as_str().unwrap();
        let refresh = |refresh_token: String| {
            let form = [
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", client_id.clone()),
                ("refresh_token", refresh_token),
            ];
            app.client.post(format!("{}/oidc/token", app.address)).form(&form).send()
        };
        // The refresh token works before sign-out, so its refusal afterwards is the sign-out's doing.
        let refreshed: Value =
            refresh(tokens["refresh_token"].as_str().unwrap().to_owned()).await.unwrap().json().await.unwrap();
        let successor =
            refreshed["refresh_token"].as_str().unwrap_or_else(|| panic!("a successor: {refreshed}")).to_owned();
        let session_id = app.claims(access_token).session_id.expect("a session");
        let sign_out = || app.client.post(format!("{}/api/sign-out", app.address)).bearer_auth(access_token).send();

        let response = sign_out().await.unwrap();
        assert_eq!(response.status().as_u16(), 204, "on {}", app.backend);

        let session = app.store.sessions().find(&session_id).await.unwrap().unwrap();
        assert_eq!(session.revoke_reason, Some(RevokeReason::SignOut), "on {}", app.backend);
        expect_api_error(sign_out().await.unwrap(), 401, "auth.unauthorized", app.backend).await;
        let refresh = refresh(successor).await.unwrap();
        assert_eq!(refresh.status().as_u16(), 400, "the refresh token no longer refreshes on {}", app.backend);
        let refused: Value = refresh.json().await.unwrap();
        assert_eq!(refused["error"], "invalid_grant", "on {}: {refused}", app.backend);
    }
}

#[tokio::test]
async fn sign_out_without_a_token_is_unauthorized() {
    for app in SignInApp::all().await {
        let response = app.client.post(format!("{}/api/sign-out", app.address)).send().await.unwrap();
        expect_api_error(response, 401, "auth.authorization_header_missing", app.backend).await;
    }
}

#[tokio::test]
async fn an_unknown_verification_id_is_not_found_and_bad_bodies_are_invalid_input() {
    for app in SignInApp::all().await {
        let client_id = app.client_app(ApplicationType::Spa).await;
        let email = json!({"type": "email", "value": "ada@example.com"});

        // The full code flow is in `code_sign_in.rs`; the test server's connector is the development log.
        let with_code = json!({"clientId": client_id, "identifier": email, "verificationId": "v1", "code": "123456"});
        let unknown = app.post("/api/sign-in", &with_code).await;
        expect_api_error(unknown, 400, "verification_code.not_found", app.backend).await;
        let code_without_id = json!({"clientId": client_id, "identifier": email, "code": "123456"});
        expect_api_error(app.post("/api/sign-in", &code_without_id).await, 400, "guard.invalid_input", app.backend)
            .await;

        let malformed =
            json!({"clientId": client_id, "identifier": {"type": "email", "value": "not-an-email"}, "password": "x"});
        expect_api_error(app.post("/api/sign-in", &malformed).await, 400, "guard.invalid_input", app.backend).await;
        let no_secret = json!({"clientId": client_id, "identifier": email});
        expect_api_error(app.post("/api/sign-in", &no_secret).await, 400, "guard.invalid_input", app.backend).await;
        let not_json = app.client.post(format!("{}/api/sign-in", app.address)).body("{").send().await.unwrap();
        expect_api_error(not_json, 400, "guard.invalid_input", app.backend).await;
    }
}
