use latchkey_server::Application;

use crate::helpers::{spawn_apps, test_settings};

#[tokio::test]
async fn status_answers_204() {
    for app in spawn_apps().await {
        let response = app.client.get(format!("{}/api/status", app.address)).send().await.expect("the server answers");

        assert_eq!(response.status().as_u16(), 204, "on {}", app.backend);
        assert!(response.bytes().await.expect("a body").is_empty(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn status_refuses_other_methods() {
    for app in spawn_apps().await {
        let response = app.client.post(format!("{}/api/status", app.address)).send().await.expect("the server answers");

        assert_eq!(response.status().as_u16(), 405, "on {}", app.backend);
    }
}

#[tokio::test]
async fn restarting_on_the_same_data_directory_reuses_it() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let settings = test_settings(data_dir.path(), None);
    let first = Application::build(&settings).await.expect("the first start");
    let second = Application::build(&settings).await.expect("a second start on the same data directory");
    let port = second.port();
    tokio::spawn(second.run_until_stopped());
    drop(first);

    let response = reqwest::get(format!("http://127.0.0.1:{port}/api/status")).await.expect("the server answers");
    assert_eq!(response.status().as_u16(), 204);
    let key_files = std::fs::read_dir(data_dir.path().join("keys")).expect("the keys directory").count();
    assert_eq!(key_files, 2, "the second start generated no new keys");
}
