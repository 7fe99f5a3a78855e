//! The catalogue of attacks (issue 7): one test per attack, each mounted against the real server on every backend
//! under test, asserting the exact refusal (status and Logto code) and that nothing changed, read back afterwards.
//! Many of these behaviours are also covered where their feature is tested; here they are named as attacks.

use biscuit_auth::UnverifiedBiscuit;
use biscuit_auth::builder::BlockBuilder;
use latchkey_auth::attenuate;
use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::keys;
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use url::Url;

use crate::account_client::{AccountSession, create_user, set_account_center, set_mfa_factors};
use crate::code_sign_in::{Receiver, apps_sending_to};
use crate::harness::{Client, TokenApp, expect_accepted, expect_oauth_error, expect_tokens, expect_unauthorized};
use crate::helpers::expect_api_error;
use crate::personal_access_tokens::{audit_entries, call, expect_status, management_client};

const PASSWORD: &str = "Correct-Horse-7-battery";
const SESSIONS: &str = "urn:logto:scope:sessions";
const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "custom_data", SESSIONS];
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const PAT_TYPE: &str = "urn:logto:token-type:personal_access_token";
const SPOOFED_IP: &str = "203.0.113.7";

/// Turns the account center on with every field the attacks touch editable.
async fn allow_every_field(app: &TokenApp) {
    let edit = Some(FieldAccess::Edit);
    let fields = AccountCenterFields {
        name: edit,
        email: edit,
        phone: edit,
        password: edit,
        username: edit,
        custom_data: edit,
        session: edit,
        ..Default::default()
    };
    set_account_center(app, fields).await;
}

/// An address no other test (nor the other backend sharing the receiver) uses.
fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", RandomIds.entity_id().to_lowercase())
}

/// A signed-in session of a new user made with `body`, through a first-party SPA.
async fn signed_in<'a>(app: &'a TokenApp, body: Value) -> (UserId, AccountSession<'a>) {
    let user_id = create_user(app, body).await;
    let client = app.user_app(ApplicationType::Spa, false).await;
    let session = AccountSession::start(app, &user_id, &client.id, SCOPES).await;
    (user_id, session)
}

/// A verification record of `session` proving it received a code at `email` (sent and checked).
async fn verified_email_record(session: &AccountSession<'_>, receiver: &Receiver, email: &str) -> String {
    let record = unverified_email_record(session, email).await;
    let (_, code) = receiver.latest_to(email);
    let body = json!({"identifier": {"type": "email", "value": email}, "verificationId": record, "code": code});
    let verified = session.send(Method::POST, "/api/verifications/verification-code/verify", None, Some(body)).await;
    assert_eq!(verified.status().as_u16(), 200, "on {}", session.app.backend);
    record
}

/// A verification record of `session` for a code sent to `email` and never checked.
async fn unverified_email_record(session: &AccountSession<'_>, email: &str) -> String {
    let body = json!({"identifier": {"type": "email", "value": email}});
    let sent = session.expect(201, Method::POST, "/api/verifications/verification-code", None, Some(body)).await;
    sent["verificationRecordId"].as_str().expect("a record id").to_owned()
}

/// The user as the Management API shows it.
async fn admin_view(app: &TokenApp, admin: &str, user_id: &UserId) -> Value {
    let path = format!("/api/users/{user_id}");
    expect_status(call(app, Some(admin), Method::GET, &path, None).await, 200, app.backend).await
}

/// `POST /api/sign-in` with a username and password.
async fn sign_in(app: &TokenApp, client_id: &str, username: &str, password: &str) -> Response {
    let body = json!({
        "clientId": client_id,
        "identifier": {"type": "username", "value": username},
        "password": password,
    });
    call(app, None, Method::POST, "/api/sign-in", Some(body)).await
}

/// Logto's token exchange of `subject_token` (of `subject_token_type`) by `client`.
async fn exchange(app: &TokenApp, client: &Client, subject_token: &str, subject_token_type: &str) -> Response {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE.to_owned()),
        ("subject_token", subject_token.to_owned()),
        ("subject_token_type", subject_token_type.to_owned()),
    ];
    form.extend(client.form_fields());
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

/// `grant_type=refresh_token` by `client`.
async fn refresh(app: &TokenApp, client: &Client, refresh_token: &str) -> Response {
    let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
    form.extend(client.form_fields());
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

/// The ids and `Total-Number` of `GET /api/users` with these query parameters (encoded here, as sent by a client).
async fn search(app: &TokenApp, admin: &str, parameters: &[(&str, &str)]) -> (Vec<String>, u64) {
    let url = Url::parse_with_params(&format!("{}/api/users", app.address), parameters).unwrap();
    let response = app.client.get(url).bearer_auth(admin).send().await.expect("the server answers");
    let status = response.status().as_u16();
    let total = response.headers().get("total-number").map(|total| total.to_str().unwrap().parse().unwrap());
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{parameters:?} on {}: {text}", app.backend);
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut ids: Vec<String> =
        body.as_array().unwrap().iter().map(|user| user["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    (ids, total.expect("a Total-Number header"))
}

/// The refusal of a search query: Logto's 400 `request.invalid_input`.
async fn search_refused(app: &TokenApp, admin: &str, parameters: &[(&str, &str)]) {
    let url = Url::parse_with_params(&format!("{}/api/users", app.address), parameters).unwrap();
    let response = app.client.get(url).bearer_auth(admin).send().await.expect("the server answers");
    expect_api_error(response, 400, "request.invalid_input", app.backend).await;
}

/// The number of users the Management API lists.
async fn user_count(app: &TokenApp, admin: &str) -> u64 {
    search(app, admin, &[]).await.1
}

/// A six-digit code that is not the TOTP code of `secret` anywhere near now, so it is wrong for the whole test.
fn wrong_totp_code(secret: &str) -> String {
    let now = SystemClock.now();
    let near: Vec<String> =
        (-3..=3).map(|step| mfa::totp::code_at(secret, now.plus_secs(step * 30)).unwrap()).collect();
    (0..10).map(|digit| digit.to_string().repeat(6)).find(|code| !near.contains(code)).expect("a wrong code")
}

/// Signs `username` in with the right password and returns the token of the MFA challenge it is answered with.
async fn mfa_challenge(app: &TokenApp, client_id: &str, username: &str) -> String {
    let response = sign_in(app, client_id, username, PASSWORD).await;
    let body = expect_api_error(response, 403, "session.mfa.require_mfa_verification", app.backend).await;
    body["data"]["mfaToken"].as_str().expect("an MFA token").to_owned()
}

/// The ids and total of an `exact` search of `value` in `field`.
async fn exact(app: &TokenApp, admin: &str, field: &str, value: &str) -> (Vec<String>, u64) {
    let (key, mode_key) = (format!("search.{field}"), format!("mode.{field}"));
    search(app, admin, &[(key.as_str(), value), (mode_key.as_str(), "exact")]).await
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn attack_self_marking_an_email_verified_is_refused() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let (own, target) = (unique_email("own"), unique_email("target"));
        let (_, me) = signed_in(&app, json!({"primaryEmail": own, "password": PASSWORD})).await;
        let identity = me.password_record(PASSWORD).await;
        let set = |record: &str| json!({"email": target, "newIdentifierVerificationRecordId": record});
        let path = "/api/my-account/primary-email";

        // Keys that are not the route's are ignored, as Logto's guard strips them: nothing is set.
        let claimed = json!({"primaryEmail": target, "emailVerified": true, "primary_email": target});
        me.expect(200, Method::PATCH, "/api/my-account", Some(&identity), Some(claimed)).await;
        // A code sent to the address but never checked proves nothing.
        let unchecked = unverified_email_record(&me, &target).await;
        let response = me.send(Method::POST, path, Some(&identity), Some(set(&unchecked))).await;
        expect_api_error(response, 400, "verification_record.not_found", backend).await;
        // Nor does the identity record passed off as a proof of the address.
        let response = me.send(Method::POST, path, Some(&identity), Some(set(&identity))).await;
        expect_api_error(response, 400, "verification_record.not_found", backend).await;
        // Nor a code checked for another address of the attacker's.
        let decoy = verified_email_record(&me, &receiver, &unique_email("decoy")).await;
        let response = me.send(Method::POST, path, Some(&identity), Some(set(&decoy))).await;
        expect_api_error(response, 400, "verification_record.not_found", backend).await;
        // Nor a code for this very address checked by another user.
        let (_, other) = signed_in(&app, json!({"username": "mallory", "password": PASSWORD})).await;
        let theirs = verified_email_record(&other, &receiver, &target).await;
        let response = me.send(Method::POST, path, Some(&identity), Some(set(&theirs))).await;
        expect_api_error(response, 400, "verification_record.not_found", backend).await;
        // Nor a made-up record id.
        let response = me.send(Method::POST, path, Some(&identity), Some(set("madeuprecord0000000000"))).await;
        expect_api_error(response, 400, "verification_record.not_found", backend).await;

        assert_eq!(me.me().await["primaryEmail"], own.as_str(), "the email is unchanged on {backend}");
        let admin = app.management_token().await;
        let holders =
            search(&app, &admin, &[("search.primaryEmail", target.as_str()), ("mode.primaryEmail", "exact")]).await;
        assert_eq!(holders.1, 0, "nobody has the address on {backend}");
    }
}

#[tokio::test]
async fn attack_using_a_verification_record_of_another_session_or_another_user_is_refused() {
    for app in TokenApp::all().await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let (user_id, me) = signed_in(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let my_other_session = AccountSession::start(&app, &user_id, &client.id, SCOPES).await;
        let (_, mallory) = signed_in(&app, json!({"username": "mallory", "password": PASSWORD})).await;
        let rename = json!({"username": "ada_stolen"});

        let elsewhere = my_other_session.password_record(PASSWORD).await;
        let response = me.send(Method::PATCH, "/api/my-account", Some(&elsewhere), Some(rename.clone())).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;
        let foreign = mallory.password_record(PASSWORD).await;
        let response = me.send(Method::PATCH, "/api/my-account", Some(&foreign), Some(rename.clone())).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;
        // The other way round: the victim's record in the attacker's session changes nothing of anyone's.
        let victims = me.password_record(PASSWORD).await;
        let response = mallory.send(Method::PATCH, "/api/my-account", Some(&victims), Some(rename)).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;

        assert_eq!(me.me().await["username"], "ada", "on {backend}");
        assert_eq!(mallory.me().await["username"], "mallory", "on {backend}");
    }
}

/// The Account API's social linking needs the test OIDC provider (`LATCHKEY_OIDC_PROVIDER=1`, see
/// `social_identities.rs`); the rule that one identity belongs to one user is the same domain rule behind both APIs,
/// so it is attacked here through the Management API.
#[tokio::test]
async fn attack_linking_a_social_identity_bound_to_someone_else_is_refused() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let victim = create_user(&app, json!({"username": "ada"})).await;
        let attacker = create_user(&app, json!({"username": "mallory"})).await;
        let identity = json!({"userId": "gh-42", "details": {"login": "ada"}});
        let linked =
            call(&app, Some(&admin), Method::PUT, &format!("/api/users/{victim}/identities/github"), Some(identity))
                .await;
        expect_status(linked, 201, backend).await;

        let path = format!("/api/users/{attacker}/identities/github");
        let taken = call(&app, Some(&admin), Method::PUT, &path, Some(json!({"userId": "gh-42"}))).await;
        expect_api_error(taken, 422, "user.identity_already_in_use", backend).await;

        assert_eq!(admin_view(&app, &admin, &attacker).await["identities"], json!({}), "on {backend}");
        let victims = admin_view(&app, &admin, &victim).await;
        assert_eq!(victims["identities"]["github"]["userId"], "gh-42", "on {backend}: {victims}");
    }
}

#[tokio::test]
async fn attack_removing_the_last_sign_in_identifier_is_refused() {
    for app in TokenApp::all().await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let email = unique_email("only");
        let (_, email_only) = signed_in(&app, json!({"primaryEmail": email, "password": PASSWORD})).await;
        let record = email_only.password_record(PASSWORD).await;
        let response = email_only.send(Method::DELETE, "/api/my-account/primary-email", Some(&record), None).await;
        expect_api_error(response, 400, "user.last_sign_in_method_required", backend).await;
        assert_eq!(email_only.me().await["primaryEmail"], email.as_str(), "on {backend}");

        let (_, username_only) = signed_in(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let record = username_only.password_record(PASSWORD).await;
        let cleared = json!({"username": null});
        let response = username_only.send(Method::PATCH, "/api/my-account", Some(&record), Some(cleared)).await;
        expect_api_error(response, 400, "user.last_sign_in_method_required", backend).await;
        assert_eq!(username_only.me().await["username"], "ada", "on {backend}");
    }
}

#[tokio::test]
async fn attack_brute_forcing_a_password_is_blocked_even_for_the_right_password() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;

        for attempt in 1..100 {
            let guess = format!("guess-{attempt}");
            let response = sign_in(&app, &client.id, "ada", &guess).await;
            expect_api_error(response, 422, "session.invalid_credentials", backend).await;
        }
        // The hundredth failure within the hour is itself answered with the block.
        let hundredth = sign_in(&app, &client.id, "ada", "guess-100").await;
        expect_api_error(hundredth, 400, "session.verification_blocked_too_many_attempts", backend).await;
        let right = sign_in(&app, &client.id, "ada", PASSWORD).await;
        expect_api_error(right, 400, "session.verification_blocked_too_many_attempts", backend).await;
    }
}

#[tokio::test]
async fn attack_brute_forcing_a_totp_code_at_sign_in_ends_the_challenge_after_five_attempts() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        set_mfa_factors(&app, &[MfaFactorType::Totp]).await;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let admin = app.management_token().await;
        let secret = mfa::totp::generate_secret();
        let path = format!("/api/users/{user_id}/mfa-verifications");
        let bound = call(&app, Some(&admin), Method::POST, &path, Some(json!({"type": "Totp", "secret": secret})));
        expect_status(bound.await, 200, backend).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let answer = |mfa_token: &str, code: &str| json!({"mfaToken": mfa_token, "type": "Totp", "code": code});

        let mfa_token = mfa_challenge(&app, &client.id, "ada").await;
        let wrong = wrong_totp_code(&secret);
        for _ in 0..5 {
            let response = call(&app, None, Method::POST, "/api/sign-in/mfa", Some(answer(&mfa_token, &wrong))).await;
            expect_api_error(response, 400, "session.mfa.invalid_totp_code", backend).await;
        }
        let right = mfa::totp::code_at(&secret, SystemClock.now()).unwrap();
        let sixth = call(&app, None, Method::POST, "/api/sign-in/mfa", Some(answer(&mfa_token, &right))).await;
        expect_api_error(sixth, 400, "session.mfa.pending_info_not_found", backend).await;

        // The code was right: a fresh challenge accepts it, so the refusal was the attempt limit's doing.
        let fresh = mfa_challenge(&app, &client.id, "ada").await;
        let right = mfa::totp::code_at(&secret, SystemClock.now()).unwrap();
        let response = call(&app, None, Method::POST, "/api/sign-in/mfa", Some(answer(&fresh, &right))).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}: {}", response.text().await.unwrap());
    }
}

#[tokio::test]
async fn attack_guessing_a_verification_code_is_stopped_after_ten_checks_even_with_the_right_code() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let backend = app.backend;
        let email = unique_email("guessed");
        create_user(&app, json!({"primaryEmail": email})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let identifier = json!({"type": "email", "value": email});
        let sent = call(
            &app,
            None,
            Method::POST,
            "/api/sign-in/verification-code",
            Some(json!({"clientId": client.id, "identifier": identifier})),
        )
        .await;
        let verification_id = expect_status(sent, 200, backend).await["verificationId"].as_str().unwrap().to_owned();
        let (_, code) = receiver.latest_to(&email);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let attempt = |code: &str| {
            let mut body = json!({"clientId": client.id, "identifier": identifier, "verificationId": verification_id});
            body["code"] = json!(code);
            body
        };

        for _ in 0..10 {
            let response = call(&app, None, Method::POST, "/api/sign-in", Some(attempt(wrong))).await;
            expect_api_error(response, 400, "verification_code.code_mismatch", backend).await;
        }
        let eleventh = call(&app, None, Method::POST, "/api/sign-in", Some(attempt(&code))).await;
        expect_api_error(eleventh, 400, "verification_code.exceed_max_try", backend).await;
    }
}

#[tokio::test]
async fn attack_an_account_api_token_on_the_management_api_is_unauthorized() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let (_, me) = signed_in(&app, json!({"username": "mallory", "password": PASSWORD})).await;
        let victim = create_user(&app, json!({"username": "ada", "name": "Ada"})).await;
        let before = admin_view(&app, &admin, &victim).await;

        for (method, path, body) in [
            (Method::GET, "/api/users".to_owned(), None),
            (Method::GET, format!("/api/users/{victim}"), None),
            (Method::PATCH, format!("/api/users/{victim}"), Some(json!({"name": "Owned"}))),
            (Method::PATCH, format!("/api/users/{victim}/password"), Some(json!({"password": "0wned-password"}))),
            (Method::DELETE, format!("/api/users/{victim}"), None),
            (Method::GET, format!("/api/users/{victim}/sessions"), None),
            (Method::POST, format!("/api/users/{victim}/personal-access-tokens"), Some(json!({"name": "mine"}))),
            (Method::POST, "/api/subject-tokens".to_owned(), Some(json!({"userId": victim.as_str()}))),
        ] {
            let response = call(&app, Some(&me.token), method.clone(), &path, body).await;
            let refused = expect_api_error(response, 401, "auth.unauthorized", backend).await;
            assert!(!refused.to_string().contains("Ada"), "{method} {path} leaks the victim: {refused}");
        }

        assert_eq!(admin_view(&app, &admin, &victim).await, before, "nothing changed on {backend}");
        let tokens_path = format!("/api/users/{victim}/personal-access-tokens");
        let tokens = call(&app, Some(&admin), Method::GET, &tokens_path, None).await;
        assert_eq!(expect_status(tokens, 200, backend).await, json!([]), "on {backend}");
        assert!(audit_entries(&app, &victim, keys::USER_IMPERSONATION_STARTED).await.is_empty(), "on {backend}");
    }
}

#[tokio::test]
async fn attack_a_users_token_reaching_for_another_users_data_through_the_account_api_finds_only_its_own() {
    for app in TokenApp::all().await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let (attacker_id, me) = signed_in(&app, json!({"username": "mallory", "password": PASSWORD})).await;
        let (victim_id, victim) = signed_in(&app, json!({"username": "ada", "password": PASSWORD})).await;

        // The Account API has no way to name another user: parameters naming the victim are ignored.
        let query = format!("/api/my-account?userId={victim_id}&id={victim_id}&user_id={victim_id}");
        let mine = me.ok(Method::GET, &query, None).await;
        assert_eq!(mine["id"], attacker_id.as_str(), "on {backend}: {mine}");
        assert!(!mine.to_string().contains(victim_id.as_str()), "on {backend}: {mine}");

        // Another user's session id is not one of the caller's.
        let record = me.password_record(PASSWORD).await;
        let path = format!("/api/my-account/sessions/{}", victim.session_id);
        let response = me.send(Method::DELETE, &path, Some(&record), None).await;
        expect_api_error(response, 404, "oidc.session_not_found", backend).await;
        expect_accepted(&app, &victim.token).await;
        let listed = me.ok(Method::GET, "/api/my-account/sessions", Some(&record)).await;
        assert!(!listed.to_string().contains(victim_id.as_str()), "on {backend}: {listed}");
        assert!(!listed.to_string().contains(&victim.session_id), "on {backend}: {listed}");
    }
}

#[tokio::test]
async fn attack_an_attenuated_token_escaping_its_restriction_is_unauthorized() {
    for app in TokenApp::all().await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let (attacker_id, me) =
            signed_in(&app, json!({"username": "mallory", "password": PASSWORD, "name": "Mallory"})).await;
        let victim = create_user(&app, json!({"username": "ada", "name": "Ada"})).await;

        // A read-only Account API token cannot write.
        let read_only = attenuate(&me.token, &[r#"check if operation("read")"#]).unwrap();
        expect_accepted(&app, &read_only).await;
        let write = call(&app, Some(&read_only), Method::PATCH, "/api/my-account", Some(json!({"name": "Escaped"})));
        expect_api_error(write.await, 401, "auth.unauthorized", backend).await;
        // A token restricted to one path cannot leave it.
        let logs_only = attenuate(&me.token, &[r#"check if path($p), $p.starts_with("/api/my-account/logs")"#]);
        expect_unauthorized(&app, &logs_only.unwrap()).await;
        // An expiry shortened into the past cannot be lengthened by the holder.
        let expired = attenuate(&me.token, &["check if time($t), $t < 2020-01-01T00:00:00Z"]).unwrap();
        let lengthened = attenuate(&expired, &["check if time($t), $t < 2100-01-01T00:00:00Z"]).unwrap();
        expect_unauthorized(&app, &lengthened).await;

        // Facts in an appended block do not change who the token speaks for, nor make it a Management API token.
        let forged = UnverifiedBiscuit::from_base64(&me.token)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .fact(format!(r#"user("{victim}")"#).as_str())
                    .unwrap()
                    .fact(r#"resource("http://127.0.0.1:3001/api")"#)
                    .unwrap()
                    .fact(r#"scope("all")"#)
                    .unwrap(),
            )
            .unwrap()
            .to_base64()
            .unwrap();
        let account = expect_status(app.my_account(&forged).await, 200, backend).await;
        assert_eq!(account["id"], attacker_id.as_str(), "on {backend}: {account}");
        let response = call(&app, Some(&forged), Method::GET, &format!("/api/users/{victim}"), None).await;
        expect_api_error(response, 401, "auth.unauthorized", backend).await;

        // A Management API token narrowed to one user reaches no other, nor the list.
        let one_user = attenuate(&admin, &[&format!(r#"check if target_user("{attacker_id}")"#)]).unwrap();
        let own = call(&app, Some(&one_user), Method::GET, &format!("/api/users/{attacker_id}"), None).await;
        expect_status(own, 200, backend).await;
        for (method, path) in [
            (Method::GET, format!("/api/users/{victim}")),
            (Method::DELETE, format!("/api/users/{victim}")),
            (Method::GET, "/api/users".to_owned()),
        ] {
            let response = call(&app, Some(&one_user), method.clone(), &path, None).await;
            expect_api_error(response, 401, "auth.unauthorized", backend).await;
        }
        // A read-only Management API token cannot delete.
        let read_only_admin = attenuate(&admin, &[r#"check if operation("read")"#]).unwrap();
        let response = call(&app, Some(&read_only_admin), Method::DELETE, &format!("/api/users/{victim}"), None).await;
        expect_api_error(response, 401, "auth.unauthorized", backend).await;

        assert_eq!(admin_view(&app, &admin, &victim).await["name"], "Ada", "on {backend}");
        assert_eq!(me.me().await["name"], "Mallory", "on {backend}");
    }
}

#[tokio::test]
async fn attack_using_a_personal_access_token_of_a_deleted_or_suspended_user_is_refused() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let client = app.user_app(ApplicationType::Traditional, true).await;

        for ending in ["deleted", "suspended"] {
            let user_id = create_user(&app, json!({"username": format!("user_{ending}")})).await;
            let path = format!("/api/users/{user_id}/personal-access-tokens");
            let created = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": "ci"}))).await;
            let pat = expect_status(created, 201, backend).await["value"].as_str().unwrap().to_owned();
            let exchanged = expect_tokens(exchange(&app, &client, &pat, PAT_TYPE).await, backend).await;
            let access_token = exchanged["access_token"].as_str().unwrap().to_owned();
            expect_accepted(&app, &access_token).await;

            if ending == "deleted" {
                let deleted = call(&app, Some(&admin), Method::DELETE, &format!("/api/users/{user_id}"), None).await;
                expect_status(deleted, 204, backend).await;
            } else {
                let path = format!("/api/users/{user_id}/is-suspended");
                let suspended = call(&app, Some(&admin), Method::PATCH, &path, Some(json!({"isSuspended": true})));
                expect_status(suspended.await, 200, backend).await;
            }

            let refused = exchange(&app, &client, &pat, PAT_TYPE).await;
            expect_oauth_error(refused, 400, "invalid_grant", backend).await;
            expect_unauthorized(&app, &access_token).await;
        }
    }
}

#[tokio::test]
async fn attack_reusing_an_impersonation_subject_token_is_refused() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let user_id = create_user(&app, json!({"username": "ada"})).await;
        let body = json!({"userId": user_id.as_str(), "context": {"reason": "support ticket 7"}});
        let created = call(&app, Some(&admin), Method::POST, "/api/subject-tokens", Some(body)).await;
        let subject_token = expect_status(created, 201, backend).await["subjectToken"].as_str().unwrap().to_owned();
        let (first_client, second_client) =
            (app.user_app(ApplicationType::Spa, true).await, app.user_app(ApplicationType::Native, true).await);

        let first =
            expect_tokens(exchange(&app, &first_client, &subject_token, ACCESS_TOKEN_TYPE).await, backend).await;
        expect_accepted(&app, first["access_token"].as_str().unwrap()).await;
        for client in [&first_client, &second_client] {
            let again = exchange(&app, client, &subject_token, ACCESS_TOKEN_TYPE).await;
            expect_oauth_error(again, 400, "invalid_grant", backend).await;
        }

        // Only the first exchange started a session.
        let sessions = call(&app, Some(&admin), Method::GET, &format!("/api/users/{user_id}/sessions"), None).await;
        let sessions = expect_status(sessions, 200, backend).await;
        assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(1), "on {backend}: {sessions}");
    }
}

#[tokio::test]
async fn attack_replaying_a_rotated_out_refresh_token_revokes_the_whole_session() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let user_id = app.user().await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let started = app.sign_in(&user_id, &client.id, &["openid", "profile"]).await;
        let stolen = started.refresh_token.expect("a refresh token").expose().to_owned();
        let rotated = expect_tokens(refresh(&app, &client, &stolen).await, backend).await;
        let (live_access, successor) =
            (rotated["access_token"].as_str().unwrap(), rotated["refresh_token"].as_str().unwrap());
        expect_accepted(&app, live_access).await;

        let replay = refresh(&app, &client, &stolen).await;
        expect_oauth_error(replay, 400, "invalid_grant", backend).await;

        expect_unauthorized(&app, live_access).await;
        expect_unauthorized(&app, &started.access_token).await;
        expect_oauth_error(refresh(&app, &client, successor).await, 400, "invalid_grant", backend).await;
    }
}

#[tokio::test]
async fn attack_using_the_access_token_of_a_deleted_session_is_unauthorized() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;

        // Deleted by an administrator.
        let revoked = app.sign_in(&user_id, &client.id, &["openid"]).await;
        let survivor = app.sign_in(&user_id, &client.id, &["openid"]).await;
        expect_accepted(&app, &revoked.access_token).await;
        let path = format!("/api/users/{user_id}/sessions/{}", revoked.session_id);
        expect_status(call(&app, Some(&admin), Method::DELETE, &path, None).await, 204, backend).await;
        expect_unauthorized(&app, &revoked.access_token).await;
        expect_accepted(&app, &survivor.access_token).await;

        // Ended by the user's own sign-out.
        let tokens = expect_tokens(sign_in(&app, &client.id, "ada", PASSWORD).await, backend).await;
        let access_token = tokens["access_token"].as_str().unwrap();
        expect_accepted(&app, access_token).await;
        expect_status(call(&app, Some(access_token), Method::POST, "/api/sign-out", None).await, 204, backend).await;
        expect_unauthorized(&app, access_token).await;
        let signed_out_again = call(&app, Some(access_token), Method::POST, "/api/sign-out", None).await;
        expect_api_error(signed_out_again, 401, "auth.unauthorized", backend).await;
    }
}

/// `like` (the default) reads `%` and `_` as wildcards and `\` as their escape, as Logto and the domain's
/// `SearchMode::Like` document; `exact` compares literally; every value is a bound parameter.
#[tokio::test]
async fn attack_injection_and_wildcards_through_the_user_search_match_only_what_they_say() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let admin = app.management_token().await;
        let long_username = format!("{}b", "a".repeat(100));
        let percent = create_user(&app, json!({"username": "percent", "name": "100% sure"})).await;
        let hundred = create_user(&app, json!({"username": "hundred", "name": "100 sure"})).await;
        let underscore = create_user(&app, json!({"username": "a_b", "name": "a_b"})).await;
        let letter = create_user(&app, json!({"username": "axb", "name": "axb"})).await;
        let backslash = create_user(&app, json!({"username": "slash", "name": r"back\slash"})).await;
        let quote = create_user(&app, json!({"username": "quote", "name": "O'Brien", "customData": {"plan": "pro"}}));
        let quote = quote.await;
        let long = create_user(&app, json!({"username": long_username})).await;
        let everyone = sorted(
            [&percent, &hundred, &underscore, &letter, &backslash, &quote, &long]
                .iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
        );
        let ids = |users: &[&UserId]| sorted(users.iter().map(|id| id.as_str().to_owned()).collect());
        let none: (Vec<String>, u64) = (vec![], 0);

        let injections = ["' OR 1=1 --", "' OR '1'='1", "\" OR 1=1 --", "1; DROP TABLE users; --", "') OR 1=1 --"];
        for injection in injections {
            for mode in ["like", "exact", "posix"] {
                for key in ["search", "search.username", "search.name", "search.id", "search.customData.plan"] {
                    let mode_key = if key == "search" { "mode".to_owned() } else { key.replacen("search", "mode", 1) };
                    let parameters = [(key, injection), (mode_key.as_str(), mode)];
                    if mode == "posix" && injection.contains(')') {
                        // An unbalanced parenthesis is no regular expression: refused, not run.
                        search_refused(&app, &admin, &parameters).await;
                    } else {
                        let found = search(&app, &admin, &parameters).await;
                        assert_eq!(found, none, "{key}={injection} ({mode}) on {backend}");
                    }
                }
            }
            let joint = [("search.name", injection), ("search.username", "%"), ("joint", "and")];
            assert_eq!(search(&app, &admin, &joint).await, none, "{injection} joined with a wildcard on {backend}");
        }
        // Injection through the names of parameters and the other parameters' values is refused.
        for parameters in [
            vec![("search.username\"); DROP TABLE users; --", "x")],
            vec![("search.customData.plan') OR 1=1 --", "x")],
            vec![("mode.name", "like' OR 1=1 --"), ("search.name", "x")],
            vec![("joint", "or' OR 1=1 --"), ("search.name", "x")],
            vec![("isSuspended", "true OR 1=1")],
        ] {
            search_refused(&app, &admin, &parameters).await;
        }
        // A quote in a value is just a character.
        assert_eq!(search(&app, &admin, &[("search.name", "O'Brien")]).await, (ids(&[&quote]), 1), "on {backend}");

        // `exact` is literal: `%`, `_` and `\` match only themselves.
        assert_eq!(exact(&app, &admin, "name", "100% sure").await, (ids(&[&percent]), 1), "on {backend}");
        assert_eq!(exact(&app, &admin, "name", "100%").await, none, "on {backend}");
        assert_eq!(exact(&app, &admin, "name", "%").await, none, "on {backend}");
        assert_eq!(exact(&app, &admin, "name", "a_b").await, (ids(&[&underscore]), 1), "on {backend}");
        assert_eq!(exact(&app, &admin, "username", "a_b").await, (ids(&[&underscore]), 1), "on {backend}");
        assert_eq!(exact(&app, &admin, "name", "_").await, none, "on {backend}");
        assert_eq!(exact(&app, &admin, "name", r"back\slash").await, (ids(&[&backslash]), 1), "on {backend}");
        assert_eq!(exact(&app, &admin, "name", r"back\\slash").await, none, "on {backend}");
        // `like` reads wildcards, and its escape makes them literal.
        assert_eq!(search(&app, &admin, &[("search.name", "%")]).await.1, 6, "every user with a name on {backend}");
        assert_eq!(search(&app, &admin, &[("search.name", "a_b")]).await, (ids(&[&underscore, &letter]), 2));
        assert_eq!(search(&app, &admin, &[("search.name", r"a\_b")]).await, (ids(&[&underscore]), 1), "on {backend}");
        assert_eq!(search(&app, &admin, &[("search.name", r"100\%%")]).await, (ids(&[&percent]), 1), "on {backend}");
        assert_eq!(search(&app, &admin, &[("search.name", "100%")]).await, (ids(&[&percent, &hundred]), 2));
        assert_eq!(search(&app, &admin, &[("search.name", r"back\\slash")]).await, (ids(&[&backslash]), 1));
        assert_eq!(search(&app, &admin, &[("search", "%")]).await, (everyone.clone(), 7), "on {backend}");

        // Catastrophic backtracking for a backtracking engine; a linear-time one answers (no timing asserted here:
        // speed targets belong in benchmarks).
        for (pattern, sensitive) in [("^(a+)+$", "false"), ("^(a+)+$", "true"), ("^(a|aa)+$", "true")] {
            let parameters = [("search.username", pattern), ("mode.username", "posix"), ("isCaseSensitive", sensitive)];
            assert_eq!(search(&app, &admin, &parameters).await, none, "{pattern} on {backend}");
        }
        let parameters = [("search.username", "^(a+)+b$"), ("mode.username", "posix")];
        assert_eq!(search(&app, &admin, &parameters).await, (ids(&[&long]), 1), "on {backend}");
        let parameters = [("search", "(a+)+b"), ("mode", "similar_to"), ("isCaseSensitive", "true")];
        assert_eq!(search(&app, &admin, &parameters).await, (ids(&[&long]), 1), "on {backend}");
        // What a linear-time engine cannot promise is refused before the database sees it.
        let too_long = "a".repeat(latchkey_domain::ports::MAX_SEARCH_PATTERN_CHARS + 1);
        for parameters in [
            vec![("search.username", r"^(a+)\1$"), ("mode.username", "posix")],
            vec![("search.username", "(?=a)"), ("mode.username", "posix")],
            vec![("search.username", too_long.as_str()), ("mode.username", "posix")],
        ] {
            search_refused(&app, &admin, &parameters).await;
        }

        assert_eq!(search(&app, &admin, &[]).await, (everyone, 7), "every user is still there on {backend}");
    }
}

#[tokio::test]
async fn attack_importing_a_password_hash_of_absurd_cost_is_refused_and_no_user_is_created() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let admin = app.management_token().await;
        let argon2_tail = "$c2FsdHNhbHRzYWx0c2FsdA$TY1ioQac+dT2GdtNdknXFF1rpIZEwH0NWMrPMP03nMs";
        let bcrypt_tail = "V93evtL/lyriKjqNhpQEp.RjN6c2QmJdnufKGb9QfeHFFsPdZe/KK";
        for (algorithm, digest) in [
            ("Bcrypt", format!("$2b$31${bcrypt_tail}")),
            ("Bcrypt", format!("$2b$15${bcrypt_tail}")),
            // 4 GiB of memory per verification.
            ("Argon2id", format!("$argon2id$v=19$m=4194304,t=3,p=1{argon2_tail}")),
            ("Argon2i", format!("$argon2i$v=19$m=65536,t=4294967295,p=1{argon2_tail}")),
            ("Argon2d", format!("$argon2d$v=19$m=65536,t=2,p=255{argon2_tail}")),
        ] {
            let body = json!({"username": "imported", "passwordDigest": digest, "passwordAlgorithm": algorithm});
            let response = call(&app, Some(&admin), Method::POST, "/api/users", Some(body)).await;
            expect_api_error(response, 400, "user.password_digest_cost_out_of_bounds", backend).await;
        }
        assert_eq!(user_count(&app, &admin).await, 0, "no user was created on {backend}");
    }
}

#[tokio::test]
async fn attack_oversized_and_deeply_nested_bodies_are_refused_and_the_server_still_answers() {
    for app in TokenApp::all().await {
        allow_every_field(&app).await;
        let backend = app.backend;
        let admin = app.management_token().await;
        let (_, me) = signed_in(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let raw = |method: Method, path: &str, token: &str, body: String| {
            app.client
                .request(method, format!("{}{path}", app.address))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let nested = |depth: usize| format!(r#"{{"customData":{}1{}}}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));

        for depth in [10_000, 17] {
            let response = raw(Method::POST, "/api/users", &admin, nested(depth)).await.unwrap();
            expect_api_error(response, 400, "guard.invalid_input", backend).await;
            let response = raw(Method::PATCH, "/api/my-account", &me.token, nested(depth)).await.unwrap();
            expect_api_error(response, 400, "guard.invalid_input", backend).await;
        }
        let huge = format!(r#"{{"username":"huge","name":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
        let response = raw(Method::POST, "/api/users", &admin, huge.clone()).await.expect("an answer, not a reset");
        expect_api_error(response, 400, "guard.invalid_input", backend).await;
        let response = raw(Method::PATCH, "/api/my-account", &me.token, huge).await.expect("an answer, not a reset");
        expect_api_error(response, 400, "guard.invalid_input", backend).await;

        let status = app.client.get(format!("{}/api/status", app.address)).send().await.unwrap();
        assert_eq!(status.status().as_u16(), 204, "the server still answers on {backend}");
        assert_eq!(user_count(&app, &admin).await, 1, "no user was created on {backend}");
        assert_eq!(me.me().await["customData"], json!({}), "on {backend}");
    }
}

#[tokio::test]
async fn attack_spoofing_x_forwarded_for_is_not_believed() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let (admin, _) = management_client(&app).await;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let spoofed = |request: reqwest::RequestBuilder| {
            request
                .header("x-forwarded-for", SPOOFED_IP)
                .header("x-real-ip", SPOOFED_IP)
                .header("forwarded", format!("for={SPOOFED_IP}"))
        };

        let body =
            json!({"clientId": client.id, "identifier": {"type": "username", "value": "ada"}, "password": PASSWORD});
        let answered = spoofed(app.client.post(format!("{}/api/sign-in", app.address))).json(&body).send().await;
        expect_tokens(answered.unwrap(), backend).await;
        let path = format!("/api/users/{user_id}");
        let patched = spoofed(app.client.patch(format!("{}{path}", app.address)))
            .bearer_auth(&admin)
            .json(&json!({"name": "Ada"}))
            .send()
            .await;
        expect_status(patched.unwrap(), 200, backend).await;

        let sessions = call(&app, Some(&admin), Method::GET, &format!("{path}/sessions"), None).await;
        let sessions = expect_status(sessions, 200, backend).await;
        assert_eq!(sessions["sessions"][0]["ip"], "127.0.0.1", "on {backend}: {sessions}");
        let logs = call(&app, Some(&admin), Method::GET, &format!("{path}/logs"), None).await;
        let logs = expect_status(logs, 200, backend).await.to_string();
        assert!(logs.contains("127.0.0.1") && !logs.contains(SPOOFED_IP), "on {backend}: {logs}");
        for key in [keys::USER_SIGNED_IN, keys::USER_DATA_UPDATED] {
            let entries = audit_entries(&app, &user_id, key).await;
            assert_eq!(entries.len(), 1, "{key} on {backend}");
            assert_eq!(entries[0].context.ip.as_deref(), Some("127.0.0.1"), "{key} on {backend}");
        }
    }
}
