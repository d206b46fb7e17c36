//! The editor's side: `eos-lsp`, Rune's language server with EOS's context, spoken to over
//! LSP as an editor does.

// Tests may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

struct Lsp {
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    child: std::process::Child,
}

fn read_message(out: &mut BufReader<ChildStdout>) -> Option<Value> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length:") {
            length = n.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    out.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Lsp {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eos-lsp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start eos-lsp");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            while let Some(message) = read_message(&mut out) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        Lsp {
            stdin: child.stdin.take().unwrap(),
            messages,
            child,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// The first message that `wanted` accepts, within 30 s.
    fn wait(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(_) => {}
                Err(_) => panic!("eos-lsp did not send {what}"),
            }
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "rune", "version": 1, "text": text}}}),
        );
        let published = self.wait("diagnostics", |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        });
        published["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_language_server_knows_what_scripts_can_call_and_flags_what_they_cannot() {
    let version = std::process::Command::new(env!("CARGO_BIN_EXE_eos-lsp"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("eos-lsp "));

    let dir = tempfile::tempdir().unwrap();
    let root_uri = format!("file://{}", dir.path().display());
    let mut lsp = Lsp::start();
    lsp.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": null, "rootUri": root_uri, "capabilities": {}}}),
    );
    let init = lsp.wait("the initialize reply", |m| m["id"] == 1);
    assert!(init["result"]["capabilities"].is_object(), "{init}");
    lsp.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));

    let good = "pub fn handle(state, msg) {\n    send(\"counter\", #{ inc: 1 });\n    log(`from ${id()}`);\n    let child = spawn(\"worker.rn\", #{});\n    monitor(child);\n    store(\"seen\", 1);\n    state\n}\n";
    let uri = format!("{root_uri}/good.rn");
    let diagnostics = lsp.open(&uri, good);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");

    // Completion knows EOS's functions, with their documentation.
    lsp.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/completion", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 6}}}),
    );
    let completion = lsp.wait("completions", |m| m["id"] == 3);
    let items = completion["result"]
        .as_array()
        .or_else(|| completion["result"]["items"].as_array())
        .cloned()
        .unwrap_or_default();
    let send = items
        .iter()
        .find(|i| i["label"].as_str().is_some_and(|l| l.starts_with("send")))
        .unwrap_or_else(|| panic!("no `send` among {} completions: {completion}", items.len()));
    assert!(
        send.to_string().contains("once the handler returns"),
        "{send}"
    );

    let bad = "pub fn handle(state, msg) {\n    sned(\"counter\", 1);\n    state\n}\n";
    let uri = format!("{root_uri}/bad.rn");
    let diagnostics = lsp.open(&uri, bad);
    assert!(!diagnostics.is_empty(), "a misspelt function is flagged");
    let first = &diagnostics[0];
    assert_eq!(first["range"]["start"]["line"], 1, "{first}");
    assert!(
        first["message"].as_str().unwrap_or("").contains("sned"),
        "{first}"
    );

    // Not even Rune: diagnostics, never a crash.
    let uri = format!("{root_uri}/broken.rn");
    let diagnostics = lsp.open(&uri, "pub fn handle(state msg { ((");
    assert!(!diagnostics.is_empty());
    lsp.send(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    lsp.wait("the shutdown reply", |m| m["id"] == 2);
}
