use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_server::data_dir::DataDir;

use crate::helpers::spawn_apps;

#[tokio::test]
async fn jwks_publishes_the_signing_key_as_an_okp_ed25519_jwk() {
    for app in spawn_apps().await {
        let response = app.client.get(format!("{}/oidc/jwks", app.address)).send().await.expect("the server answers");
        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        let body: serde_json::Value = response.json().await.expect("a JSON body");

        let keys = body["keys"].as_array().expect("a `keys` array");
        assert_eq!(keys.len(), 1, "one key on a fresh data directory: {body}");
        let jwk = &keys[0];
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")), "{jwk}");
        assert!(jwk.get("d").is_none(), "never the private half: {jwk}");

        // The published key is the one in the data directory's key file, under its kid.
        let signing = DataDir::prepare(app.data_dir()).unwrap().load_or_create_keys().unwrap().signing;
        let active = signing.active();
        assert_eq!(jwk["kid"].as_str(), Some(active.kid()), "on {}", app.backend);
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().expect("x")).expect("x is base64url");
        assert_eq!(x, active.public_key().to_bytes().to_vec(), "on {}", app.backend);
    }
}
