//! The one-click playground, checked without Docker: the lifecycle script runs natively and
//! leaves a working system; the VS Code and devcontainer files parse and name only things that
//! exist; the Dockerfile builds the workspace's binaries and copies only paths that exist.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs the lifecycle script as the dev container does, with the workspace's binaries on PATH.
fn lifecycle(sys: &System, mode: &str, path: &str) -> Output {
    Command::new("bash")
        .arg(repo().join(".devcontainer/lifecycle.sh"))
        .arg(mode)
        .env("EOS_ROOT", &sys.root)
        .env("PATH", path)
        .output()
        .expect("run lifecycle.sh")
}

fn path_with_eos() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn the_lifecycle_script_leaves_a_running_sample_actor_and_is_idempotent() {
    let sys = System::new();
    let out = lifecycle(&sys, "create", &path_with_eos());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sys.wait_running("last_message");
    let pid = fs::read_to_string(sys.path(".pid")).unwrap();

    // Again, and a container restart: still one supervisor, still one sample actor.
    for mode in ["create", "start"] {
        let out = lifecycle(&sys, mode, &path_with_eos());
        assert!(out.status.success());
        assert_eq!(fs::read_to_string(sys.path(".pid")).unwrap(), pid);
    }
    assert_eq!(sys.ls("running"), ["last_message"]);

    // The sample answers messages.
    let sent = sys.eos(&["send", "last_message", r#"{"hello": "world"}"#]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_until("the sample keeps the last message", || {
        sys.state("last_message") == json!({"last": {"hello": "world"}, "from": null})
    });
    assert!(sys.eos(&["shutdown"]).status.success());
}

#[test]
fn the_lifecycle_script_never_fails_the_container_start() {
    let sys = System::new();
    // No eos on PATH at all.
    let out = lifecycle(&sys, "start", "/usr/bin:/bin");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("eos is not on PATH"));
    // A root that cannot be used (others can write to it).
    fs::create_dir_all(&sys.root).unwrap();
    Command::new("chmod")
        .arg("777")
        .arg(&sys.root)
        .status()
        .unwrap();
    let out = lifecycle(&sys, "create", &path_with_eos());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("did not start"));
    // Nonsense.
    assert!(
        lifecycle(&sys, "explode", &path_with_eos())
            .status
            .success()
    );
}

/// JSON with comments and trailing commas, as VS Code reads it.
fn jsonc(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            plain.push(c);
            match c {
                '\\' => plain.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                plain.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                plain.push('\n');
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            _ => plain.push(c),
        }
    }
    // Trailing commas before a closing bracket.
    let mut cleaned = String::new();
    let mut pending_comma = false;
    for c in plain.chars() {
        if pending_comma {
            if c.is_whitespace() {
                cleaned.push(c);
                continue;
            }
            if c != '}' && c != ']' {
                cleaned.push(',');
            }
            pending_comma = false;
        }
        if c == ',' {
            pending_comma = true;
        } else {
            cleaned.push(c);
        }
    }
    serde_json::from_str(&cleaned).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_editor_files_parse_and_name_only_what_exists() {
    let repo = repo();
    let dev = jsonc(&repo.join(".devcontainer/devcontainer.json"));
    let dev_dir = repo.join(".devcontainer");
    assert!(
        dev_dir
            .join(dev["build"]["dockerfile"].as_str().unwrap())
            .is_file()
    );
    assert!(
        dev_dir
            .join(dev["build"]["context"].as_str().unwrap())
            .is_dir()
    );
    assert_eq!(dev["build"]["target"], "dev");
    for hook in ["postCreateCommand", "postStartCommand"] {
        let command = dev[hook].as_str().unwrap();
        let script = command.split_whitespace().nth(1).unwrap();
        assert!(repo.join(script).is_file(), "{hook}: {command}");
    }
    assert!(
        dev["containerEnv"]["EOS_ROOT"]
            .as_str()
            .unwrap()
            .contains("${containerWorkspaceFolder}")
    );

    let tasks = jsonc(&repo.join(".vscode/tasks.json"));
    let defined: BTreeSet<String> = tasks["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let mut used = BTreeSet::new();
    let eos_help = String::from_utf8(
        Command::new(bin("eos"))
            .arg("--help")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for task in tasks["tasks"].as_array().unwrap() {
        let label = task["label"].as_str().unwrap();
        let command = task["command"].as_str().unwrap();
        let args: Vec<&str> = task["args"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if command == "eos" {
            assert!(
                eos_help.contains(&format!("  {} ", args[0])),
                "{label}: no `eos {}`",
                args[0]
            );
        } else {
            let path = command.replace("${workspaceFolder}", repo.to_str().unwrap());
            assert!(
                Path::new(&path).is_file(),
                "{label}: {command} does not exist"
            );
        }
        for arg in args.iter().chain([&command]) {
            if let Some(rest) = arg.strip_prefix("${input:") {
                let id = rest.trim_end_matches('}');
                assert!(defined.contains(id), "{label}: undefined input {id}");
                used.insert(id.to_owned());
            }
        }
    }
    assert_eq!(used, defined, "every input is used");
    let settings = jsonc(&repo.join(".vscode/settings.json"));
    assert_eq!(settings["files.associations"]["*.rn"], "rune");
    assert!(
        settings["rune.server.path"]
            .as_str()
            .unwrap()
            .ends_with("/eos-lsp")
    );
    let extensions = jsonc(&repo.join(".vscode/extensions.json"));
    let recommended = extensions["recommendations"].as_array().unwrap();
    assert!(recommended.iter().any(|e| e == "udoprog.rune-vscode"));
    // In the container the Rune extension runs EOS's language server, installed by the image.
    let vscode = &dev["customizations"]["vscode"];
    assert!(
        vscode["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "udoprog.rune-vscode")
    );
    let server = vscode["settings"]["rune.server.path"].as_str().unwrap();
    let dockerfile = fs::read_to_string(repo.join("Dockerfile")).unwrap();
    let name = Path::new(server).file_name().unwrap().to_str().unwrap();
    assert!(
        dockerfile.contains(&format!("release/{name}")),
        "{server} is installed"
    );
    // The language server is a package of its own (built with `-p eos-lsp`).
    let package = fs::read_to_string(repo.join(name).join("Cargo.toml")).unwrap();
    assert!(
        package.contains(&format!("name = \"{name}\"")),
        "{name} is a package of the workspace"
    );
}

#[test]
fn the_problem_matcher_reads_what_eos_check_prints() {
    let tasks = jsonc(&repo().join(".vscode/tasks.json"));
    let check = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["args"][0] == "check")
        .expect("a check task");
    let regexp = check["problemMatcher"]["pattern"]["regexp"]
        .as_str()
        .unwrap();
    assert_eq!(regexp, r"^(.+):(\d+):(\d+): (error): (.*)$");
    let sys = System::new();
    let bad = sys.script("bad.rn", "pub fn handle(s, m) { let = ; }\n");
    let out = sys.eos(&["check", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap();
    // The line has the pattern's shape: absolute file, line, column, "error", message.
    let (place, message) = first.split_once(": error: ").unwrap();
    let mut parts = place.rsplitn(3, ':');
    let (col, line, file) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(
        col.parse::<u32>().is_ok() && line.parse::<u32>().is_ok(),
        "{first}"
    );
    assert_eq!(Path::new(file), bad);
    assert!(!message.is_empty());
}

#[test]
fn the_dockerfile_builds_the_workspace_and_copies_only_what_exists() {
    let repo = repo();
    let dockerfile = fs::read_to_string(repo.join("Dockerfile")).unwrap();
    // Join continued lines.
    let text = dockerfile.replace("\\\n", " ");
    let manifest = fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let members: Vec<&str> = ["eos", "supervisor", "script-actor", "eos-lsp"]
        .into_iter()
        .filter(|m| manifest.contains(&format!("\"{m}\"")))
        .collect();
    assert_eq!(
        members.len(),
        4,
        "workspace members changed: update this test"
    );
    for member in &members {
        assert!(
            text.contains(&format!("COPY {member} {member}")),
            "the build stage has no {member}"
        );
    }
    let binaries = ["eos", "act", "supervisor", "script-actor", "eos-lsp"];
    let mut stages = Vec::new();
    let mut built = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(from) = line.strip_prefix("FROM ") {
            if let Some((_, name)) = from.split_once(" AS ") {
                stages.push(name.trim().to_owned());
            }
        } else if let Some(copy) = line.strip_prefix("COPY ") {
            let words: Vec<&str> = copy.split_whitespace().collect();
            let (sources, _dest) = words.split_at(words.len() - 1);
            if let Some(stage) = sources[0].strip_prefix("--from=") {
                assert!(
                    stages.iter().any(|s| s == stage),
                    "COPY from unknown stage {stage}"
                );
                for source in &sources[1..] {
                    let name = source.rsplit('/').next().unwrap();
                    // The manual pages `eos man --dir /src/man` wrote in the build stage.
                    let pages = *source == "/src/man" && text.contains("eos man --dir /src/man");
                    assert!(
                        binaries.contains(&name) || pages,
                        "copies {source}, not a workspace binary"
                    );
                }
            } else {
                for source in sources {
                    assert!(repo.join(source).exists(), "COPY {source}: no such path");
                }
            }
        } else if line.contains("cargo build") {
            for command in line.split("&&").filter(|c| c.contains("cargo build")) {
                assert!(
                    command.contains("--release") && command.contains("--locked"),
                    "{command}"
                );
                built.push(command.trim().to_owned());
            }
        }
    }
    // The default members in one build, the language server in one of its own (built with the
    // others, its Rune feature would be compiled into all of them).
    assert!(
        built.iter().any(|c| !c.contains(" -p ")),
        "the default members are built: {built:?}"
    );
    assert!(
        built.iter().any(|c| c.contains("-p eos-lsp")),
        "the language server is built: {built:?}"
    );
    for stage in ["build", "runtime", "dev"] {
        assert!(stages.iter().any(|s| s == stage), "no {stage} stage");
    }
    // `eos-lsp` is built by `-p eos-lsp` only; the rest by the default build the tests ran on.
    for name in binaries.iter().filter(|&&name| name != "eos-lsp") {
        assert!(
            bin_dir().join(name).is_file(),
            "the workspace does not build {name}"
        );
    }
    // Build output and the root stay out of the image and of git.
    let ignored = fs::read_to_string(repo.join(".dockerignore")).unwrap();
    let git_ignored = fs::read_to_string(repo.join(".gitignore")).unwrap();
    for entry in ["target", "eos-root"] {
        assert!(
            ignored.lines().any(|l| l.trim_matches('/') == entry),
            ".dockerignore: {entry}"
        );
        assert!(
            git_ignored.lines().any(|l| l.trim_matches('/') == entry),
            ".gitignore: {entry}"
        );
    }
}
