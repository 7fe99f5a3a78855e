//! No secret leaves the server beyond what Logto's contract returns: the real `latchkey` binary, logging JSON at
//! debug level, is driven through HTTP only along every flow that carries a secret; each secret the test sees is
//! then looked for in every line the process wrote, and in the bodies that describe the user afterwards.

use nix::sys::signal::Signal;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::account_client::totp_code;
use crate::binary::{RunningServer, latchkey};
use crate::code_sign_in::Receiver;
use crate::helpers::MANAGEMENT_API;

const BOOTSTRAP_ID: &str = "secrecy-bootstrap";
const BOOTSTRAP_SECRET: &str = "bootstrap-secret-0d8f3b61c2a94e7";
const WEBHOOK_AUTHORIZATION: &str = "Bearer webhook-secret-5e1a9c0b7d";
const WEBHOOK_URL_TOKEN: &str = "webhook-url-token-7c2d41f9";
const FIRST_PASSWORD: &str = "First-Secrecy-Passw0rd-91";
const SECOND_PASSWORD: &str = "Second-Secrecy-Passw0rd-37";
const USER_SCOPES: &str = "openid offline_access profile email identities";
const PAT_TYPE: &str = "urn:logto:token-type:personal_access_token";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

#[tokio::test]
async fn no_secret_of_any_flow_appears_in_the_debug_logs_or_in_the_bodies_describing_the_user() {
    // The HTTP message connector's webhook. Its URL carries a token, as a real webhook's may, which the server must
    // not log either.
    let webhook = Receiver::start().await;
    let webhook_url = format!("{}?token={WEBHOOK_URL_TOKEN}", webhook.url());
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command
        .env("LATCHKEY_LOG", "debug")
        .env("LATCHKEY_LOG_FORMAT", "json")
        .env("LATCHKEY_BOOTSTRAP_CLIENT_ID", BOOTSTRAP_ID)
        .env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", BOOTSTRAP_SECRET)
        .env("LATCHKEY_CONNECTOR", "http")
        .env("LATCHKEY_HTTP_CONNECTOR_URL", &webhook_url)
        .env("LATCHKEY_HTTP_CONNECTOR_AUTHORIZATION", WEBHOOK_AUTHORIZATION);
    let mut server = RunningServer::start(command).await;
    let http = Http { client: reqwest::Client::new(), base_url: server.base_url.clone() };
    let mut secrets = Secrets::default();
    for (what, value) in [
        ("bootstrap client secret", BOOTSTRAP_SECRET),
        ("webhook authorization", WEBHOOK_AUTHORIZATION),
        ("token in the webhook URL", WEBHOOK_URL_TOKEN),
        ("first password", FIRST_PASSWORD),
        ("second password", SECOND_PASSWORD),
    ] {
        secrets.keep(what, value);
    }

    // The administrator: client credentials, the MFA factors, the account center, an app, a user.
    let admin = http.management_token(&mut secrets).await;
    let admin = Some(admin.as_str());
    let factors = json!({"mfa": {"factors": ["Totp", "BackupCode"], "policy": "UserControlled"}});
    http.expect(200, http.call(Method::PATCH, "/api/sign-in-exp", admin, None, Some(factors))).await;
    let fields = json!({"enabled": true, "fields": {"email": "Edit", "password": "Edit", "mfa": "Edit"}});
    http.expect(200, http.call(Method::PATCH, "/api/account-center", admin, None, Some(fields))).await;
    let machine = json!({"name": "jobs", "type": "MachineToMachine"});
    let machine = http.expect(200, http.call(Method::POST, "/api/applications", admin, None, Some(machine))).await;
    secrets.keep("created application secret", machine["secret"].as_str().expect("the secret, shown once"));
    let spa = json!({"name": "web", "type": "SPA", "customClientMetadata": {"allowTokenExchange": true}});
    let spa = http.expect(200, http.call(Method::POST, "/api/applications", admin, None, Some(spa))).await;
    let spa = spa["id"].as_str().expect("an application id").to_owned();
    let user = json!({"username": "ada", "primaryEmail": "ada@example.com", "password": FIRST_PASSWORD});
    let user = http.expect(200, http.call(Method::POST, "/api/users", admin, None, Some(user))).await;
    let user_id = user["id"].as_str().expect("a user id").to_owned();

    // The user signs in and refreshes.
    let signed_in = http.expect(200, http.sign_in(&spa, FIRST_PASSWORD)).await;
    let first_refresh = secrets.keep("refresh token of the sign-in", text(&signed_in["refresh_token"]));
    secrets.keep("access token of the sign-in", text(&signed_in["access_token"]));
    let form = [("grant_type", "refresh_token"), ("refresh_token", &first_refresh), ("client_id", &spa)];
    let refreshed = http.expect(200, http.client.post(http.url("/oidc/token")).form(&form)).await;
    secrets.keep("refresh token of the refresh", text(&refreshed["refresh_token"]));
    let token = secrets.keep("access token of the refresh", text(&refreshed["access_token"]));
    let me = Some(token.as_str());

    // A password record, a new email proven by a code from the webhook, then a new password.
    let password = json!({"password": FIRST_PASSWORD});
    let record =
        http.expect(201, http.call(Method::POST, "/api/verifications/password", me, None, Some(password))).await;
    let identity = record["verificationRecordId"].as_str().expect("a record id").to_owned();
    let new_email = json!({"type": "email", "value": "lovelace@example.com"});
    let send = json!({"identifier": new_email});
    let sent = http.call(Method::POST, "/api/verifications/verification-code", me, None, Some(send));
    let sent = http.expect(201, sent).await;
    let code = secrets.keep("email verification code", &webhook.latest_to("lovelace@example.com").1);
    let verify = json!({"identifier": new_email, "verificationId": sent["verificationRecordId"], "code": code});
    let verified = http.call(Method::POST, "/api/verifications/verification-code/verify", me, None, Some(verify));
    http.expect(200, verified).await;
    let bind =
        json!({"email": "lovelace@example.com", "newIdentifierVerificationRecordId": sent["verificationRecordId"]});
    let bound = http.call(Method::POST, "/api/my-account/primary-email", me, Some(&identity), Some(bind));
    http.expect(204, bound).await;
    let change = json!({"password": SECOND_PASSWORD});
    http.expect(204, http.call(Method::POST, "/api/my-account/password", me, Some(&identity), Some(change))).await;

    // TOTP and backup codes, generated and bound under a record of the new password.
    let password = json!({"password": SECOND_PASSWORD});
    let record =
        http.expect(201, http.call(Method::POST, "/api/verifications/password", me, None, Some(password))).await;
    let identity = record["verificationRecordId"].as_str().expect("a record id").to_owned();
    let generate = "/api/my-account/mfa-verifications/totp-secret/generate";
    let generated = http.expect(200, http.call(Method::POST, generate, me, None, None)).await;
    let totp_secret = secrets.keep("TOTP secret", text(&generated["secret"]));
    let bind_code = secrets.keep("TOTP code", &totp_code(&totp_secret));
    let totp = json!({"type": "Totp", "secret": totp_secret, "code": bind_code});
    let factors = "/api/my-account/mfa-verifications";
    http.expect(204, http.call(Method::POST, factors, me, Some(&identity), Some(totp))).await;
    let generate = "/api/my-account/mfa-verifications/backup-codes/generate";
    let generated = http.expect(200, http.call(Method::POST, generate, me, None, None)).await;
    let backup_codes: Vec<String> = serde_json::from_value(generated["codes"].clone()).expect("backup codes");
    assert_eq!(backup_codes.len(), 10, "{generated}");
    for backup_code in &backup_codes {
        secrets.keep("backup code", backup_code);
    }
    let backup = json!({"type": "BackupCode", "codes": backup_codes});
    http.expect(204, http.call(Method::POST, factors, me, Some(&identity), Some(backup))).await;

    // A second sign-in now asks for a second factor, finished with a backup code.
    let challenged = http.expect(403, http.sign_in(&spa, SECOND_PASSWORD)).await;
    let mfa_token = secrets.keep("MFA token", text(&challenged["data"]["mfaToken"]));
    let finish = json!({"mfaToken": mfa_token, "type": "BackupCode", "code": backup_codes[0]});
    let finished = http.expect(200, http.client.post(http.url("/api/sign-in/mfa")).json(&finish)).await;
    let last_refresh = secrets.keep("refresh token of the MFA sign-in", text(&finished["refresh_token"]));
    secrets.keep("access token of the MFA sign-in", text(&finished["access_token"]));

    // A personal access token and an impersonation subject token, each exchanged for an access token.
    let pats = format!("/api/users/{user_id}/personal-access-tokens");
    let created = http.call(Method::POST, &pats, admin, None, Some(json!({"name": "ci"})));
    let pat = secrets.keep("personal access token", text(&http.expect(201, created).await["value"]));
    let exchanged = http.exchange(&spa, &pat, PAT_TYPE).await;
    secrets.keep("access token of the PAT exchange", text(&exchanged["access_token"]));
    let impersonation = json!({"userId": user_id, "context": {"reason": "support ticket 42"}});
    let created = http.call(Method::POST, "/api/subject-tokens", admin, None, Some(impersonation));
    let subject_token = secrets.keep("subject token", text(&http.expect(201, created).await["subjectToken"]));
    let exchanged = http.exchange(&spa, &subject_token, ACCESS_TOKEN_TYPE).await;
    secrets.keep("access token of the subject token exchange", text(&exchanged["access_token"]));

    // RFC 7009 revocation carries the refresh token in its body.
    let form = [("token", last_refresh.as_str()), ("client_id", spa.as_str())];
    let revoked = http.client.post(http.url("/oidc/token/revocation")).form(&form).send().await.unwrap();
    assert_eq!(revoked.status().as_u16(), 200);

    // The bodies that describe the user show none of the user's secrets.
    let user_secrets: Vec<&str> = [FIRST_PASSWORD, SECOND_PASSWORD, totp_secret.as_str(), pat.as_str()]
        .into_iter()
        .chain(backup_codes.iter().map(String::as_str))
        .collect();
    for (path, token) in [
        (format!("/api/users/{user_id}"), admin),
        (format!("/api/users/{user_id}/mfa-verifications"), admin),
        (pats.clone(), admin),
        ("/api/my-account".to_owned(), me),
        ("/api/my-account/mfa-verifications".to_owned(), me),
    ] {
        let body = http.expect(200, http.call(Method::GET, &path, token, None, None)).await.to_string();
        for secret in &user_secrets {
            assert!(!body.contains(secret), "{path} shows `{secret}`: {body}");
        }
    }

    assert_eq!(server.stop_with(Signal::SIGTERM).await.code(), Some(0));
    webhook.stop().await;
    let rest = server.remaining_stdout().await;
    let stdout = format!("{}\n{rest}", server.listening_line);
    let stderr = server.stderr().await;
    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).filter(|line| !line.is_empty()).collect();
    for line in &lines {
        serde_json::from_str::<serde_json::Map<String, Value>>(line)
            .unwrap_or_else(|error| panic!("not a JSON object ({error}): {line}"));
    }
    // The search means something only if the flows were logged, at debug level too.
    assert!(lines.iter().any(|line| line.contains("\"level\":\"DEBUG\"")), "nothing at debug: {stdout}");
    for path in ["/api/sign-in/mfa", "/api/my-account/password", "/api/verifications/verification-code/verify"] {
        assert!(lines.iter().any(|line| line.contains(&format!("\"path\":\"{path}\""))), "{path} not logged");
    }
    for (what, secret) in &secrets.0 {
        for line in &lines {
            assert!(!appears_in(line, secret), "the {what} `{secret}` was logged: {line}");
        }
    }
}

/// The secrets seen by the test, each with what it is.
#[derive(Default)]
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    /// Remembers `value` as a secret and returns it.
    fn keep(&mut self, what: &'static str, value: &str) -> String {
        assert!(!value.is_empty(), "no {what}");
        self.0.push((what, value.to_owned()));
        value.to_owned()
    }
}

/// The string `value` is, for the secrets that responses carry.
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value}"))
}

/// Whether `secret` is in `line`. A six-digit code is looked for as a number of its own, not inside a longer one
/// or after a decimal point, where the timestamps and durations of any log line would match it by chance.
fn appears_in(line: &str, secret: &str) -> bool {
    if !(secret.len() <= 8 && secret.chars().all(|c| c.is_ascii_digit())) {
        return line.contains(secret);
    }
    line.match_indices(secret).any(|(start, _)| {
        let before = line[..start].chars().next_back();
        let after = line[start + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.') && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The server under test, through HTTP only.
struct Http {
    client: reqwest::Client,
    base_url: String,
}

impl Http {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `method path` with an optional bearer token, verification record and JSON body.
    fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        record: Option<&str>,
        body: Option<Value>,
    ) -> RequestBuilder {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(record) = record {
            request = request.header("logto-verification-id", record);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    }

    /// Sends `request`, asserts `status` and returns the JSON body (`null` when there is none).
    async fn expect(&self, status: u16, request: RequestBuilder) -> Value {
        let response = request.send().await.expect("the server answers");
        let (actual, url) = (response.status().as_u16(), response.url().path().to_owned());
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{url}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("a JSON body") }
    }

    /// A Management API token of the configured bootstrap app, by HTTP Basic client authentication.
    async fn management_token(&self, secrets: &mut Secrets) -> String {
        let form = [("grant_type", "client_credentials"), ("resource", MANAGEMENT_API), ("scope", "all")];
        let request = self.client.post(self.url("/oidc/token")).basic_auth(BOOTSTRAP_ID, Some(BOOTSTRAP_SECRET));
        let tokens = self.expect(200, request.form(&form)).await;
        secrets.keep("Management API access token", text(&tokens["access_token"]))
    }

    fn sign_in(&self, client_id: &str, password: &str) -> RequestBuilder {
        let identifier = json!({"type": "username", "value": "ada"});
        let body = json!({"clientId": client_id, "identifier": identifier, "password": password, "scope": USER_SCOPES});
        self.client.post(self.url("/api/sign-in")).json(&body)
    }

    async fn exchange(&self, client_id: &str, subject_token: &str, subject_token_type: &str) -> Value {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", subject_token),
            ("subject_token_type", subject_token_type),
            ("client_id", client_id),
        ];
        self.expect(200, self.client.post(self.url("/oidc/token")).form(&form)).await
    }
}
