//! Every Rune script in the repository compiles, and `--check` reports errors as
//! `file:line:col: error: message`. (Being an integration test also makes `cargo test` build
//! the `script-actor` binary, which the end-to-end tests in `eos/tests/e2e` run.)

// Tests may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether a folder or file is no part of the repository's sources: hidden, or ignored by git
/// (`target/`, and `eos-root/`, which the README's walkthroughs and the dev container make,
/// with whatever invariants a person put there).
fn not_source(name: &std::ffi::OsStr) -> bool {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let ignored = std::fs::read_to_string(repo.join(".gitignore")).unwrap_or_default();
    let name = name.to_string_lossy();
    name.starts_with('.') || ignored.lines().any(|l| l.trim().trim_matches('/') == name)
}

fn rune_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if not_source(&name) {
            continue;
        }
        if path.is_dir() {
            // Invariants have `check`, not `handle`: see the test below.
            if name != "invariants" {
                rune_files(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rn") {
            found.push(path);
        }
    }
}

/// Every folder called `invariants` in the repository.
fn invariant_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if not_source(&name) || !path.is_dir() {
            continue;
        }
        if name == "invariants" {
            found.push(path);
        } else {
            invariant_dirs(&path, found);
        }
    }
}

#[test]
fn every_invariant_in_the_repository_compiles() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut dirs = Vec::new();
    invariant_dirs(repo, &mut dirs);
    assert!(!dirs.is_empty());
    for dir in dirs {
        let invariants = script_actor::invariants::Invariants::load(&dir).unwrap();
        let problems: Vec<_> = invariants.problems().collect();
        assert!(problems.is_empty(), "{}: {problems:?}", dir.display());
        assert!(!invariants.is_empty(), "{}", dir.display());
    }
}

#[test]
fn every_rune_script_in_the_repository_compiles() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut scripts = Vec::new();
    rune_files(repo, &mut scripts);
    assert!(scripts.len() >= 5, "found only {scripts:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_script-actor"))
        .arg("--check")
        .args(&scripts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_reports_errors_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.rn");
    std::fs::write(
        &script,
        "pub fn handle(state, msg) {\n    let x = ;\n    state\n}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_script-actor"))
        .arg("--check")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{}:2:13: error: Expected expression but got `;`",
            script.display()
        )
    );
}
