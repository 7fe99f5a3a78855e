//! Email code sign-in end to end, on every backend under test: the server is configured with the HTTP connector
//! pointed at a real HTTP receiver started here, and each test reads the code from what the receiver got.

use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::identifiers::Email;
use latchkey_domain::sign_in::{IdentifierKind, SentinelRepository, SignInIdentifier};
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, User, UserId};
use latchkey_server::settings::{ConnectorKind, SecretSetting};
use reqwest::Response;
use serde_json::{Value, json};
use url::Url;

use crate::harness::{TokenApp, expect_tokens};

const HOOK_AUTHORIZATION: &str = "Bearer hook-secret";

/// What the webhook received: the `Authorization` header and the JSON body of each POST.
#[derive(Debug, Clone)]
struct Delivery {
    authorization: Option<String>,
    body: Value,
}

type Deliveries = Arc<Mutex<Vec<Delivery>>>;

/// A real HTTP server on 127.0.0.1:0 that records the POSTs to `/hook` and answers 204.
pub(crate) struct Receiver {
    url: Url,
    deliveries: Deliveries,
    handle: ServerHandle,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let deliveries: Deliveries = Arc::default();
        let shared = web::Data::new(Arc::clone(&deliveries));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/hook", web::post().to(record))
                .route("/broken", web::post().to(HttpResponse::ServiceUnavailable))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listening")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { url: Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap(), deliveries, handle }
    }

    /// The code of the latest message sent to `to`, after checking the message's shape.
    fn code_sent_to(&self, to: &str) -> String {
        let deliveries = self.deliveries.lock().unwrap();
        let delivery = deliveries.iter().rev().find(|delivery| delivery.body["to"] == to).expect("a message to it");
        assert_eq!(delivery.authorization.as_deref(), Some(HOOK_AUTHORIZATION));
        assert_eq!(delivery.body["type"], "SignIn", "{}", delivery.body);
        assert_eq!(delivery.body["channel"], "email", "{}", delivery.body);
        let code = delivery.body["payload"]["code"].as_str().expect("a code").to_owned();
        assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()), "{code}");
        code
    }

    /// The template type and code of the latest message sent to `to`.
    pub(crate) fn latest_to(&self, to: &str) -> (String, String) {
        let deliveries = self.deliveries.lock().unwrap();
        let delivery = deliveries.iter().rev().find(|delivery| delivery.body["to"] == to).expect("a message to it");
        let template = delivery.body["type"].as_str().expect("a template type").to_owned();
        (template, delivery.body["payload"]["code"].as_str().expect("a code").to_owned())
    }

    /// Where the messages go (`…/hook`).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    pub(crate) async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub(crate) fn count_to(&self, to: &str) -> usize {
        self.deliveries.lock().unwrap().iter().filter(|delivery| delivery.body["to"] == to).count()
    }
}

async fn record(deliveries: web::Data<Deliveries>, request: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    let authorization = request.headers().get("authorization").and_then(|value| value.to_str().ok()).map(str::to_owned);
    deliveries.lock().unwrap().push(Delivery { authorization, body: body.into_inner() });
    HttpResponse::NoContent().finish()
}

/// The servers under test, each sending codes through the HTTP connector to `receiver`.
pub(crate) async fn apps_sending_to(receiver: &Receiver) -> Vec<TokenApp> {
    let url = receiver.url.clone();
    TokenApp::all_with(move |settings| {
        settings.connector = ConnectorKind::Http;
        settings.http_connector_url = Some(url.clone());
        settings.http_connector_authorization = Some(SecretSetting::new(HOOK_AUTHORIZATION));
    })
    .await
}

async fn spa(app: &TokenApp) -> String {
    let application =
        Application::new(RandomIds.entity_id(), "web".to_owned(), ApplicationType::Spa, SystemClock.now());
    app.store.applications().insert(&application).await.expect("inserting an application");
    application.id
}

async fn user_with_email(app: &TokenApp, email: &str) -> UserId {
    let mut user = User::new(RandomIds.user_id(), SystemClock.now());
    user.primary_email = Some(Email::parse(email).unwrap());
    app.insert_user(&user).await;
    user.id
}

async fn post(app: &TokenApp, path: &str, body: &Value) -> Response {
    app.client.post(format!("{}{path}", app.address)).json(body).send().await.unwrap()
}

async fn send_code(app: &TokenApp, client_id: &str, email: &str) -> Response {
    let body = json!({"clientId": client_id, "identifier": {"type": "email", "value": email}});
    post(app, "/api/sign-in/verification-code", &body).await
}

/// Sends a code and returns the verification id.
async fn sent(app: &TokenApp, client_id: &str, email: &str) -> String {
    let response = send_code(app, client_id, email).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "on {}: {body}", app.backend);
    assert!(body["expiresAt"].is_i64(), "on {}: {body}", app.backend);
    body["verificationId"].as_str().expect("a verification id").to_owned()
}

async fn sign_in_with_code(
    app: &TokenApp,
    client_id: &str,
    email: &str,
    verification_id: &str,
    code: &str,
) -> Response {
    let body = json!({
        "clientId": client_id,
        "identifier": {"type": "email", "value": email},
        "verificationId": verification_id,
        "code": code,
    });
    post(app, "/api/sign-in", &body).await
}

async fn expect_logto_error(response: Response, status: u16, code: &str, backend: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "on {backend}: {body}");
    body
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "000001" } else { "000000" }
}

#[tokio::test]
async fn the_code_delivered_to_the_webhook_signs_the_user_in_once() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        user_with_email(&app, "ada@example.com").await;

        let verification_id = sent(&app, &client_id, "Ada@Example.com").await;
        let code = receiver.code_sent_to("Ada@Example.com");
        let signed_in = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, &code).await;
        let tokens = expect_tokens(signed_in, app.backend).await;
        assert!(tokens["refresh_token"].is_string());

        let again = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, &code).await;
        expect_logto_error(again, 400, "verification_code.not_found", app.backend).await;
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn a_wrong_code_is_refused_and_counted_by_the_sentinel() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        user_with_email(&app, "ada@example.com").await;
        let before = SystemClock.now().plus_secs(-1);

        let verification_id = sent(&app, &client_id, "ada@example.com").await;
        let code = receiver.code_sent_to("ada@example.com");
        let refused = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, wrong(&code)).await;

        expect_logto_error(refused, 400, "verification_code.code_mismatch", app.backend).await;
        let target = SignInIdentifier::parse(IdentifierKind::Email, "ada@example.com").unwrap().sentinel_target();
        assert_eq!(app.store.sentinel().count_failures_since(&target, before).await.unwrap(), 1, "on {}", app.backend);
        // The code still works for its remaining attempts.
        let signed_in = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, &code).await;
        expect_tokens(signed_in, app.backend).await;
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn the_eleventh_send_within_ten_minutes_is_refused_with_429() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        let email = format!("rate-{}@example.com", app.backend);

        for _ in 0..10 {
            sent(&app, &client_id, &email).await;
        }
        // Another spelling of the same address counts against the same recipient.
        let eleventh = send_code(&app, &client_id, &email.to_uppercase()).await;

        expect_logto_error(eleventh, 429, "request.message_rate_limited", app.backend).await;
        assert_eq!(receiver.count_to(&email), 10, "on {}", app.backend);
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answers_as_a_known_one() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        user_with_email(&app, "ada@example.com").await;

        let known_id = sent(&app, &client_id, "ada@example.com").await;
        let unknown_id = sent(&app, &client_id, "nobody@example.com").await;
        let known_code = receiver.code_sent_to("ada@example.com");
        let unknown_code = receiver.code_sent_to("nobody@example.com");

        let known = sign_in_with_code(&app, &client_id, "ada@example.com", &known_id, wrong(&known_code)).await;
        let unknown =
            sign_in_with_code(&app, &client_id, "nobody@example.com", &unknown_id, wrong(&unknown_code)).await;
        let known = expect_logto_error(known, 400, "verification_code.code_mismatch", app.backend).await;
        let unknown = expect_logto_error(unknown, 400, "verification_code.code_mismatch", app.backend).await;
        assert_eq!(known, unknown, "on {}", app.backend);

        // Only the holder of the right code learns that no account has the address (as in Logto).
        let right = sign_in_with_code(&app, &client_id, "nobody@example.com", &unknown_id, &unknown_code).await;
        expect_logto_error(right, 404, "user.user_not_exist", app.backend).await;
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn a_code_sent_to_one_email_does_not_sign_in_another() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        user_with_email(&app, "ada@example.com").await;

        let verification_id = sent(&app, &client_id, "eve@example.com").await;
        let code = receiver.code_sent_to("eve@example.com");
        let refused = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, &code).await;

        expect_logto_error(refused, 400, "verification_code.email_mismatch", app.backend).await;
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn a_failing_webhook_is_a_connector_error_that_reveals_nothing_internal() {
    let receiver = Receiver::start().await;
    let broken = receiver.url.join("/broken?token=webhook-token").unwrap();
    let apps = TokenApp::all_with(move |settings| {
        settings.connector = ConnectorKind::Http;
        settings.http_connector_url = Some(broken.clone());
    })
    .await;
    for app in apps {
        let client_id = spa(&app).await;

        let response = send_code(&app, &client_id, "ada@example.com").await;

        let body = expect_logto_error(response, 500, "connector.general", app.backend).await;
        assert!(!body.to_string().contains("127.0.0.1") && !body.to_string().contains("webhook-token"), "{body}");
    }
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn a_username_cannot_be_sent_a_code() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let client_id = spa(&app).await;
        let body = json!({"clientId": client_id, "identifier": {"type": "username", "value": "ada"}});

        let response = post(&app, "/api/sign-in/verification-code", &body).await;

        expect_logto_error(response, 400, "guard.invalid_input", app.backend).await;
    }
    receiver.handle.stop(false).await;
}

/// A real SMTP server (Python's `aiosmtpd`) on 127.0.0.1:0 that prints each message it receives as a JSON line.
const SMTP_SERVER: &str = r#"
import asyncio, json, socket
from aiosmtpd.smtp import SMTP

class Handler:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.decode("utf8", "replace")
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "content": content}), flush=True)
        return "250 OK"

async def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(Handler()), sock=listener)
    print(listener.getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

#[tokio::test]
async fn the_code_emailed_through_a_real_smtp_server_signs_the_user_in() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut smtp = tokio::process::Command::new("python3")
        .args(["-c", SMTP_SERVER])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (aiosmtpd is installed by .ci/run)");
    let mut lines = BufReader::new(smtp.stdout.take().unwrap()).lines();
    let port: u16 = lines.next_line().await.unwrap().expect("aiosmtpd prints its port").parse().unwrap();

    let apps = TokenApp::all_with(move |settings| {
        settings.connector = ConnectorKind::Smtp;
        settings.smtp_host = Some("127.0.0.1".to_owned());
        settings.smtp_port = Some(port);
        settings.smtp_tls = latchkey_server::settings::SmtpTls::None;
        settings.smtp_from = Some("Latchkey <no-reply@example.com>".to_owned());
    })
    .await;
    for app in apps {
        let client_id = spa(&app).await;
        user_with_email(&app, "ada@example.com").await;

        let verification_id = sent(&app, &client_id, "ada@example.com").await;
        let line = lines.next_line().await.unwrap().expect("the SMTP server received a message");
        let message: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(message["from"], "no-reply@example.com", "on {}: {message}", app.backend);
        assert_eq!(message["to"], json!(["ada@example.com"]), "on {}: {message}", app.backend);
        let content = message["content"].as_str().unwrap();
        let after = content.split("code is ").nth(1).expect("the code in the text");
        let code: String = after.chars().take(6).collect();

        let signed_in = sign_in_with_code(&app, &client_id, "ada@example.com", &verification_id, &code).await;
        expect_tokens(signed_in, app.backend).await;
    }
}
