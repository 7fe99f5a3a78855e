//! Which address a session and its audit entries record: the TCP peer, unless the peer is a configured trusted
//! proxy, whose `X-Forwarded-For` then names the client (`latchkey_auth::client_ip`).

use serde_json::{Value, json};

use crate::account_client::create_user;
use crate::harness::TokenApp;

/// Signs `username` in through the account page's app with `X-Forwarded-For: forwarded_for`, and answers the
/// `ip` the Management API lists for the session it made.
async fn recorded_address(app: &TokenApp, forwarded_for: &str) -> String {
    let username = format!("proxy_{}", rand_suffix());
    let user_id = create_user(app, json!({ "username": username, "password": "Correct-Horse-9" })).await;
    let signed_in = app
        .client
        .post(format!("{}/api/sign-in", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({
            "clientId": "account-page",
            "identifier": { "type": "username", "value": username },
            "password": "Correct-Horse-9",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "{}: {}", app.backend, signed_in.text().await.unwrap());
    let sessions: Value = app
        .client
        .get(format!("{}/api/users/{}/sessions", app.address, user_id.as_str()))
        .bearer_auth(app.management_token().await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sessions["sessions"][0]["ip"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no session ip in {sessions}", app.backend))
        .to_owned()
}

fn rand_suffix() -> String {
    use rand::Rng;
    format!("{:08x}", rand::rng().random::<u32>())
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    for app in TokenApp::all().await {
        assert_eq!(recorded_address(&app, "203.0.113.7").await, "127.0.0.1", "{}", app.backend);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_it_names_is_recorded_and_spoofed_hops_are_not() {
    for app in TokenApp::all_with(|settings| settings.trusted_proxies = vec!["127.0.0.0/8".to_owned()]).await {
        assert_eq!(recorded_address(&app, "203.0.113.7").await, "203.0.113.7", "{}", app.backend);
        // The client wrote the first entry itself; the proxy appended the address it really saw.
        assert_eq!(recorded_address(&app, "198.51.100.9, 203.0.113.7").await, "203.0.113.7", "{}", app.backend);
    }
}
