//! Passkeys against the real server, on every backend under test, with a real software authenticator
//! (webauthn-authenticator-rs' `SoftPasskey`, ES256, attestation `none`): registration options, the
//! authenticator's answer checked for challenge and origin, binding through `POST /api/my-account/mfa-verifications`,
//! the list, renaming and removal; records serve only the session that made them.
//!
//! WebAuthn forbids an IP address as relying party id, so these servers run with the endpoint
//! `http://localhost:3001` (the tests still reach them on 127.0.0.1).

use latchkey_domain::account_center::{AccountCenterFields, AccountCenterRepository, FieldAccess};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::mfa::MfaFactorType;
use latchkey_domain::{Clock, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::account_client::{AccountSession, create_user_through, set_account_center, set_mfa_factors};
use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "identities"];
const ENDPOINT: &str = "http://localhost:3001";
const AGENT: &str = "PasskeyTest/1.0 (software authenticator)";

async fn apps() -> Vec<TokenApp> {
    TokenApp::all_with(|settings| settings.endpoint = ENDPOINT.parse().expect("a valid endpoint")).await
}

/// A session of the user through this user agent, which a bound passkey records.
async fn session<'a>(app: &'a TokenApp, user_id: &UserId, client_id: &str) -> AccountSession<'a> {
    AccountSession::start(app, user_id, client_id, SCOPES).await.with_user_agent(AGENT)
}

async fn listed_factors(session: &AccountSession<'_>) -> Value {
    session.ok(Method::GET, "/api/my-account/mfa-verifications", None).await
}

/// `POST /api/verifications/web-authn/registration`: the record id and the options.
async fn start_registration(session: &AccountSession<'_>) -> (String, Value) {
    let started = session.ok(Method::POST, "/api/verifications/web-authn/registration", None).await;
    (started["verificationRecordId"].as_str().unwrap().to_owned(), started["registrationOptions"].clone())
}

async fn verify_registration(session: &AccountSession<'_>, record: &str, payload: &Value) -> Response {
    let body = json!({"verificationRecordId": record, "payload": payload});
    session.send(Method::POST, "/api/verifications/web-authn/registration/verify", None, Some(body)).await
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

async fn configure(app: &TokenApp, factors: &[MfaFactorType]) {
    set_account_center(app, AccountCenterFields { mfa: Some(FieldAccess::Edit), ..Default::default() }).await;
    set_mfa_factors(app, factors).await;
}

/// A user with a username and password, made through the Management API of this endpoint.
async fn user_named(app: &TokenApp, username: &str) -> UserId {
    let resource = format!("{ENDPOINT}/api");
    create_user_through(app, &resource, json!({"username": username, "password": PASSWORD})).await
}

#[tokio::test]
async fn a_user_registers_a_passkey_binds_it_renames_it_and_removes_it() {
    for app in apps().await {
        let backend = app.backend;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        let user_id = user_named(&app, "ada").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;
        let mut authenticator = authenticator();

        // Options for the endpoint's host, verified user, no attestation; the record is made without a password.
        let (record, options) = start_registration(&me).await;
        assert_eq!(options["rp"]["id"], "localhost", "on {backend}: {options}");
        assert_eq!(options["user"]["name"], "ada", "on {backend}");
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required", "on {backend}");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "on {backend}");
        assert_eq!(options["attestation"], "none", "on {backend}");
        let payload = register(&mut authenticator, ENDPOINT, &options);
        let verified = verify_registration(&me, &record, &payload).await;
        assert_eq!(verified.status().as_u16(), 200, "on {backend}");
        assert_eq!(verified.json::<Value>().await.unwrap(), json!({"verificationRecordId": record}));
        // A registration verifies once.
        expect_api_error(
            verify_registration(&me, &record, &payload).await,
            400,
            "session.mfa.pending_info_not_found",
            backend,
        )
        .await;

        // Binding needs a record proving identity, and a verified WebAuthn record as the new factor.
        let bind = |id: &str| json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": id, "name": "Laptop"});
        let path = "/api/my-account/mfa-verifications";
        let without = me.send(Method::POST, path, None, Some(bind(&record))).await;
        expect_api_error(without, 401, "verification_record.permission_denied", backend).await;
        let identity = me.password_record(PASSWORD).await;
        let not_webauthn = me.send(Method::POST, path, Some(&identity), Some(bind(&identity))).await;
        expect_api_error(not_webauthn, 400, "verification_record.not_found", backend).await;
        me.expect(204, Method::POST, path, Some(&identity), Some(bind(&record))).await;
        let again = me.send(Method::POST, path, Some(&identity), Some(bind(&record))).await;
        expect_api_error(again, 400, "verification_record.not_found", backend).await;

        // Listed as Logto lists it: type, name, agent; never the key.
        let factors = listed_factors(&me).await;
        let [factor] = factors.as_array().unwrap().as_slice() else { panic!("one factor on {backend}: {factors}") };
        assert_eq!(factor["type"], "WebAuthn", "on {backend}: {factor}");
        assert_eq!(factor["name"], "Laptop", "on {backend}: {factor}");
        assert_eq!(factor["agent"], AGENT, "on {backend}: {factor}");
        assert!(factor.get("publicKey").is_none() && factor.get("credentialId").is_none(), "{factor}");
        let factor_id = factor["id"].as_str().unwrap().to_owned();

        // A second registration excludes the bound credential.
        let (_, second) = start_registration(&me).await;
        assert_eq!(second["excludeCredentials"][0]["id"], payload["rawId"], "on {backend}: {second}");

        // Renaming: a record, a passkey's id, 200 as Logto.
        let rename = format!("{path}/{factor_id}/name");
        let unnamed = me.send(Method::PATCH, &rename, None, Some(json!({"name": "Phone"}))).await;
        expect_api_error(unnamed, 401, "verification_record.permission_denied", backend).await;
        let unknown_path = format!("{path}/nope/name");
        let unknown = me.send(Method::PATCH, &unknown_path, Some(&identity), Some(json!({"name": "X"}))).await;
        expect_api_error(unknown, 400, "verification_record.not_found", backend).await;
        let renamed = me.send(Method::PATCH, &rename, Some(&identity), Some(json!({"name": "Phone"}))).await;
        assert_eq!(renamed.status().as_u16(), 200, "on {backend}");
        assert_eq!(listed_factors(&me).await[0]["name"], "Phone", "on {backend}");

        me.expect(204, Method::DELETE, &format!("{path}/{factor_id}"), Some(&identity), None).await;
        assert_eq!(listed_factors(&me).await, json!([]), "on {backend}");
    }
}

#[tokio::test]
async fn a_wrong_origin_or_challenge_fails_a_related_origin_passes_and_a_record_serves_only_its_session() {
    for app in apps().await {
        let backend = app.backend;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        let user_id = user_named(&app, "grace").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;
        let other = session(&app, &user_id, &client.id).await;
        let mut authenticator = authenticator();
        let failed = "session.mfa.webauthn_verification_failed";

        let (record, options) = start_registration(&me).await;
        let elsewhere = register(&mut authenticator, "http://localhost:4444", &options);
        expect_api_error(verify_registration(&me, &record, &elsewhere).await, 400, failed, backend).await;
        let (second_record, second_options) = start_registration(&me).await;
        let for_second = register(&mut authenticator, ENDPOINT, &second_options);
        expect_api_error(verify_registration(&me, &record, &for_second).await, 400, failed, backend).await;
        let unreadable = json!({"id": "x"});
        expect_api_error(verify_registration(&me, &record, &unreadable).await, 400, failed, backend).await;

        // An origin among the account center's `webauthnRelatedOrigins` is accepted.
        let repository = app.store.account_center();
        let mut stored = repository.get().await.unwrap();
        stored.settings.webauthn_related_origins = vec!["http://localhost:4444".to_owned()];
        repository.save(&stored.settings, stored.version, SystemClock.now()).await.expect("saving the origins");
        let (related_record, related_options) = start_registration(&me).await;
        let from_related = register(&mut authenticator, "http://localhost:4444", &related_options);
        let accepted = verify_registration(&me, &related_record, &from_related).await;
        assert_eq!(accepted.status().as_u16(), 200, "on {backend}: {}", accepted.text().await.unwrap());
        configure(&app, &[MfaFactorType::WebAuthn]).await;

        // Another session of the same user can neither verify nor bind this session's record.
        let stolen = verify_registration(&other, &second_record, &for_second).await;
        expect_api_error(stolen, 400, "verification_record.not_found", backend).await;
        let verified = verify_registration(&me, &second_record, &for_second).await;
        assert_eq!(verified.status().as_u16(), 200, "on {backend}");
        let bind = json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": second_record});
        let path = "/api/my-account/mfa-verifications";
        let other_identity = other.password_record(PASSWORD).await;
        let taken = other.send(Method::POST, path, Some(&other_identity), Some(bind.clone())).await;
        expect_api_error(taken, 400, "verification_record.not_found", backend).await;

        // The factor must be enabled in the sign-in experience.
        configure(&app, &[MfaFactorType::Totp]).await;
        let identity = me.password_record(PASSWORD).await;
        let disabled = me.send(Method::POST, path, Some(&identity), Some(bind.clone())).await;
        expect_api_error(disabled, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
        configure(&app, &[MfaFactorType::WebAuthn]).await;
        me.expect(204, Method::POST, path, Some(&identity), Some(bind)).await;
        assert_eq!(listed_factors(&other).await.as_array().unwrap().len(), 1, "on {backend}");
    }
}

#[tokio::test]
async fn an_endpoint_on_an_ip_address_cannot_register_passkeys() {
    for app in TokenApp::all().await {
        let client = app.user_app(ApplicationType::Spa, false).await;
        let user_id = app.user().await;
        let me = session(&app, &user_id, &client.id).await;
        let response = me.send(Method::POST, "/api/verifications/web-authn/registration", None, None).await;
        expect_api_error(response, 500, "unexpected_error", app.backend).await;
    }
}
