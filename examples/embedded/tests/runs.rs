//! CI runs the embedding example through this test, so it is built with the workspace's features and a broken
//! example fails `cargo test --workspace`.

use std::process::Command;

#[test]
fn the_embedding_example_creates_a_user_enrols_totp_and_verifies_a_code() {
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey-example-embedded")).output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the example failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for step in [
        "created user",
        "password accepted",
        "wrong password refused",
        "TOTP enrolled",
        "a spent code is refused",
        "TOTP code verified",
    ] {
        assert!(stdout.contains(step), "missing `{step}` in:\n{stdout}");
    }
}
