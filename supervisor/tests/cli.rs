//! The supervisor's command line. (Being an integration test also makes `cargo test` build the
//! `supervisor` binary, which the end-to-end tests in `eos/tests/e2e` run.)

// Tests may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn help_describes_the_root_and_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_supervisor"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["[ROOT]", "--tick", "--grace", "--max-message-bytes"] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_supervisor"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
