//! Passkeys against the real server, on every backend under test, with a real software authenticator
//! (webauthn-authenticator-rs' `SoftPasskey`, ES256, attestation `none`): registration options, the
//! authenticator's answer checked for challenge and origin, binding through `POST /api/my-account/mfa-verifications`,
//! the list, renaming and removal; records serve only the session that made them.
//!
//! WebAuthn forbids an IP address as relying party id, so these servers run with the endpoint
//! `http://localhost:3001` (the tests still reach them on 127.0.0.1).

use latchkey_domain::account_center::{
    AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::mfa::MfaFactorType;
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::{Clock, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::harness::TokenApp;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "identities"];
const ENDPOINT: &str = "http://localhost:3001";
const AGENT: &str = "PasskeyTest/1.0 (software authenticator)";

async fn apps() -> Vec<TokenApp> {
    TokenApp::all_with(|settings| settings.endpoint = ENDPOINT.parse().expect("a valid endpoint")).await
}

/// A signed-in user of one server: the token of one session.
struct Session<'a> {
    app: &'a TokenApp,
    token: String,
}

impl Session<'_> {
    async fn send(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> Response {
        let url = format!("{}{path}", self.app.address);
        let mut request = self.app.client.request(method, url).bearer_auth(&self.token).header("user-agent", AGENT);
        if let Some(record) = record {
            request = request.header("logto-verification-id", record);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    async fn expect(
        &self,
        status: u16,
        method: Method,
        path: &str,
        record: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let response = self.send(method, path, record, body).await;
        let actual = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{path} on {}: {text}", self.app.backend);
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn factors(&self) -> Value {
        self.expect(200, Method::GET, "/api/my-account/mfa-verifications", None, None).await
    }

    async fn password_record(&self) -> String {
        let body = json!({"password": PASSWORD});
        let made = self.expect(201, Method::POST, "/api/verifications/password", None, Some(body)).await;
        made["verificationRecordId"].as_str().unwrap().to_owned()
    }

    /// `POST /api/verifications/web-authn/registration`: the record id and the options.
    async fn start(&self) -> (String, Value) {
        let started = self.expect(200, Method::POST, "/api/verifications/web-authn/registration", None, None).await;
        (started["verificationRecordId"].as_str().unwrap().to_owned(), started["registrationOptions"].clone())
    }

    async fn verify(&self, record: &str, payload: &Value) -> Response {
        let body = json!({"verificationRecordId": record, "payload": payload});
        self.send(Method::POST, "/api/verifications/web-authn/registration/verify", None, Some(body)).await
    }
}

/// The authenticator's answer to `options`, as a browser at `origin` sends it.
fn register(authenticator: &mut WebauthnAuthenticator<SoftPasskey>, origin: &str, options: &Value) -> Value {
    // The soft authenticator keeps no discoverable credentials: as a browser with such a security key would, it
    // is asked for a server-side credential, which the server's check does not distinguish.
    let mut options = options.clone();
    options["authenticatorSelection"]["requireResidentKey"] = Value::from(false);
    options["authenticatorSelection"]["residentKey"] = Value::from("discouraged");
    let challenge: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options})).expect("Logto's registration options");
    let origin = Url::parse(origin).unwrap();
    let answer = authenticator.do_registration(origin, challenge).expect("the authenticator registers");
    serde_json::to_value(answer).unwrap()
}

fn authenticator() -> WebauthnAuthenticator<SoftPasskey> {
    // `true`: the soft authenticator reports user verification, which Logto's options require.
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

/// Asserts a Logto-shaped error.
async fn expect_error(response: Response, status: u16, code: &str, backend: &str) {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "on {backend}: {body}");
}

async fn configure(app: &TokenApp, factors: &[MfaFactorType]) {
    let repository = app.store.account_center();
    let stored = repository.get().await.unwrap();
    let fields = AccountCenterFields { mfa: Some(FieldAccess::Edit), ..Default::default() };
    let settings = AccountCenterSettings { enabled: true, fields, ..AccountCenterSettings::default() };
    repository.save(&settings, stored.version, SystemClock.now()).await.expect("saving the account center");
    let repository = app.store.sign_in_experience();
    let mut stored = repository.get().await.unwrap();
    stored.settings.mfa.factors = factors.to_vec();
    repository.save(&stored.settings, stored.version, SystemClock.now()).await.expect("saving the sign-in experience");
}

/// A user with a username and password, made through the Management API of this endpoint.
async fn create_user(app: &TokenApp, username: &str) -> UserId {
    let (client_id, client_secret) = app.management_app().await;
    let resource = format!("{ENDPOINT}/api");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
        ("resource", resource.as_str()),
        ("scope", "all"),
    ];
    let tokens: Value = app.post(None, &form).await.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap_or_else(|| panic!("a management token: {tokens}"));
    let body = json!({"username": username, "password": PASSWORD});
    let response =
        app.client.post(format!("{}/api/users", app.address)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
    let user: Value = response.json().await.unwrap();
    UserId::parse(user["id"].as_str().unwrap()).unwrap()
}

async fn session<'a>(app: &'a TokenApp, user_id: &UserId, client_id: &str) -> Session<'a> {
    Session { app, token: app.sign_in(user_id, client_id, SCOPES).await.access_token }
}

#[tokio::test]
async fn a_user_registers_a_passkey_binds_it_renames_it_and_removes_it() {
    for app in apps().await {
        let backend = app.backend;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        let user_id = create_user(&app, "ada").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;
        let mut authenticator = authenticator();

        // Options for the endpoint's host, verified user, no attestation; the record is made without a password.
        let (record, options) = me.start().await;
        assert_eq!(options["rp"]["id"], "localhost", "on {backend}: {options}");
        assert_eq!(options["user"]["name"], "ada", "on {backend}");
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required", "on {backend}");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "on {backend}");
        assert_eq!(options["attestation"], "none", "on {backend}");
        let payload = register(&mut authenticator, ENDPOINT, &options);
        let verified = me.verify(&record, &payload).await;
        assert_eq!(verified.status().as_u16(), 200, "on {backend}");
        assert_eq!(verified.json::<Value>().await.unwrap(), json!({"verificationRecordId": record}));
        // A registration verifies once.
        expect_error(me.verify(&record, &payload).await, 400, "session.mfa.pending_info_not_found", backend).await;

        // Binding needs a record proving identity, and a verified WebAuthn record as the new factor.
        let bind = |id: &str| json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": id, "name": "Laptop"});
        let path = "/api/my-account/mfa-verifications";
        let without = me.send(Method::POST, path, None, Some(bind(&record))).await;
        expect_error(without, 401, "verification_record.permission_denied", backend).await;
        let identity = me.password_record().await;
        let not_webauthn = me.send(Method::POST, path, Some(&identity), Some(bind(&identity))).await;
        expect_error(not_webauthn, 400, "verification_record.not_found", backend).await;
        me.expect(204, Method::POST, path, Some(&identity), Some(bind(&record))).await;
        let again = me.send(Method::POST, path, Some(&identity), Some(bind(&record))).await;
        expect_error(again, 400, "verification_record.not_found", backend).await;

        // Listed as Logto lists it: type, name, agent; never the key.
        let factors = me.factors().await;
        let [factor] = factors.as_array().unwrap().as_slice() else { panic!("one factor on {backend}: {factors}") };
        assert_eq!(factor["type"], "WebAuthn", "on {backend}: {factor}");
        assert_eq!(factor["name"], "Laptop", "on {backend}: {factor}");
        assert_eq!(factor["agent"], AGENT, "on {backend}: {factor}");
        assert!(factor.get("publicKey").is_none() && factor.get("credentialId").is_none(), "{factor}");
        let factor_id = factor["id"].as_str().unwrap().to_owned();

        // A second registration excludes the bound credential.
        let (_, second) = me.start().await;
        assert_eq!(second["excludeCredentials"][0]["id"], payload["rawId"], "on {backend}: {second}");

        // Renaming: a record, a passkey's id, 200 as Logto.
        let rename = format!("{path}/{factor_id}/name");
        let unnamed = me.send(Method::PATCH, &rename, None, Some(json!({"name": "Phone"}))).await;
        expect_error(unnamed, 401, "verification_record.permission_denied", backend).await;
        let unknown_path = format!("{path}/nope/name");
        let unknown = me.send(Method::PATCH, &unknown_path, Some(&identity), Some(json!({"name": "X"}))).await;
        expect_error(unknown, 400, "verification_record.not_found", backend).await;
        let renamed = me.send(Method::PATCH, &rename, Some(&identity), Some(json!({"name": "Phone"}))).await;
        assert_eq!(renamed.status().as_u16(), 200, "on {backend}");
        assert_eq!(me.factors().await[0]["name"], "Phone", "on {backend}");

        me.expect(204, Method::DELETE, &format!("{path}/{factor_id}"), Some(&identity), None).await;
        assert_eq!(me.factors().await, json!([]), "on {backend}");
    }
}

#[tokio::test]
async fn a_wrong_origin_or_challenge_fails_and_a_record_serves_only_the_session_that_made_it() {
    for app in apps().await {
        let backend = app.backend;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        let user_id = create_user(&app, "grace").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;
        let other = session(&app, &user_id, &client.id).await;
        let mut authenticator = authenticator();
        let failed = "session.mfa.webauthn_verification_failed";

        let (record, options) = me.start().await;
        let elsewhere = register(&mut authenticator, "http://localhost:4444", &options);
        expect_error(me.verify(&record, &elsewhere).await, 400, failed, backend).await;
        let (second_record, second_options) = me.start().await;
        let for_second = register(&mut authenticator, ENDPOINT, &second_options);
        expect_error(me.verify(&record, &for_second).await, 400, failed, backend).await;
        let unreadable = json!({"id": "x"});
        expect_error(me.verify(&record, &unreadable).await, 400, failed, backend).await;

        // Another session of the same user can neither verify nor bind this session's record.
        let stolen = other.verify(&second_record, &for_second).await;
        expect_error(stolen, 400, "verification_record.not_found", backend).await;
        let verified = me.verify(&second_record, &for_second).await;
        assert_eq!(verified.status().as_u16(), 200, "on {backend}");
        let bind = json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": second_record});
        let path = "/api/my-account/mfa-verifications";
        let other_identity = other.password_record().await;
        let taken = other.send(Method::POST, path, Some(&other_identity), Some(bind.clone())).await;
        expect_error(taken, 400, "verification_record.not_found", backend).await;

        // The factor must be enabled in the sign-in experience.
        configure(&app, &[MfaFactorType::Totp]).await;
        let identity = me.password_record().await;
        let disabled = me.send(Method::POST, path, Some(&identity), Some(bind.clone())).await;
        expect_error(disabled, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        me.expect(204, Method::POST, path, Some(&identity), Some(bind)).await;
        assert_eq!(other.factors().await.as_array().unwrap().len(), 1, "on {backend}");
    }
}

#[tokio::test]
async fn an_endpoint_on_an_ip_address_cannot_register_passkeys() {
    for app in TokenApp::all().await {
        let client = app.user_app(ApplicationType::Spa, false).await;
        let user_id = app.user().await;
        let me = session(&app, &user_id, &client.id).await;
        let response = me.send(Method::POST, "/api/verifications/web-authn/registration", None, None).await;
        expect_error(response, 500, "unexpected_error", app.backend).await;
    }
}
