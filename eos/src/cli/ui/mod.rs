//! `eos ui`: a live, clickable view of the system in the browser. A local web server (bound to
//! 127.0.0.1, every request carrying the random token of the URL it prints) serves three static
//! files and a small API: the system as it is now, the journal, the journal's new entries as
//! they are written (server-sent events: the page never polls), and actions. Every action goes
//! through the same requests and files as the CLI, so the files stay the truth and the journal
//! records what the page did.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use super::log::Tail;
use super::output::Output;
use super::{actors, checkpoint, debugger, system};
use crate::envelope::Envelope;
use crate::status::ActorStatus;
use crate::{ActorId, MessageId, Root, fsio, journal, mailbox};

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

/// The most a request body may be.
const MAX_BODY: u64 = 1 << 20;

pub fn run(root: &Root, out: &Output, port: u16, open: bool) -> Result<ExitCode> {
    system::require(root)?;
    let server = Server::http(("127.0.0.1", port))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("the server has no address")?;
    let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let url = format!("http://127.0.0.1:{port}/?token={token}");
    out.say(&url)?;
    out.data(&json!({"url": url, "port": port}))?;
    if open {
        // A browser if there is one to start; the URL is printed either way.
        let _ = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    std::thread::scope(|scope| {
        for request in server.incoming_requests() {
            let token = token.as_str();
            scope.spawn(move || {
                if let Err(e) = serve(root, token, request) {
                    crate::sdk::note(format_args!("eos ui: {e:#}"));
                }
            });
        }
    });
    Ok(ExitCode::SUCCESS)
}

/// A header from constant text (which always parses).
fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// A response of `kind` (a content type).
fn typed<R: Read>(response: Response<R>, kind: &str) -> Response<R> {
    match header("Content-Type", kind) {
        Some(h) => response.with_header(h),
        None => response,
    }
}

fn json_response(status: u16, value: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    typed(
        Response::from_string(value.to_string()).with_status_code(status),
        "application/json",
    )
}

/// Whether the request carries the token: `?token=` in its URL, or the `X-EOS-Token` header.
fn allowed(request: &Request, token: &str) -> bool {
    let in_url = request
        .url()
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|kv| kv == format!("token={token}")));
    let in_header = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("X-EOS-Token") && h.value.as_str() == token);
    in_url || in_header
}

fn serve(root: &Root, token: &str, mut request: Request) -> Result<()> {
    // The script and the style are the same for everyone and can do nothing alone; the page
    // and the API need the token.
    let path = request.url().split('?').next().unwrap_or("/");
    let public = matches!(path, "/app.js" | "/style.css");
    if !public && !allowed(&request, token) {
        let text = "forbidden: open the URL `eos ui` printed (it carries the token)\n";
        return Ok(request.respond(Response::from_string(text).with_status_code(403))?);
    }
    let path = request.url().split('?').next().unwrap_or("/").to_owned();
    match (request.method(), path.as_str()) {
        (Method::Get, "/") => Ok(request.respond(typed(
            Response::from_string(INDEX),
            "text/html; charset=utf-8",
        ))?),
        (Method::Get, "/app.js") => Ok(request.respond(typed(
            Response::from_string(SCRIPT),
            "text/javascript; charset=utf-8",
        ))?),
        (Method::Get, "/style.css") => Ok(request.respond(typed(
            Response::from_string(STYLE),
            "text/css; charset=utf-8",
        ))?),
        (Method::Get, "/api/system") => Ok(request.respond(json_response(200, &snapshot(root)))?),
        (Method::Get, "/api/journal") => {
            let entries = serde_json::to_value(journal::read(root))?;
            Ok(request.respond(json_response(200, &entries))?)
        }
        (Method::Get, "/api/events") => {
            // Written straight to the connection, flushed at each entry (a buffered response
            // would hold them back), until the page goes away.
            let mut out = request.into_writer();
            out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                  Connection: close\r\n\r\n",
            )?;
            out.flush()?;
            stream_journal(root, &mut out)
        }
        (Method::Post, "/api/action") => {
            let mut body = String::new();
            request
                .as_reader()
                .take(MAX_BODY)
                .read_to_string(&mut body)?;
            let answer = match serde_json::from_str::<Value>(&body) {
                Ok(action) => match act(root, &action) {
                    Ok(said) => json_response(200, &json!({"ok": true, "said": said})),
                    Err(e) => json_response(400, &json!({"ok": false, "error": format!("{e:#}")})),
                },
                Err(e) => json_response(
                    400,
                    &json!({"ok": false, "error": format!("not JSON: {e}")}),
                ),
            };
            Ok(request.respond(answer)?)
        }
        _ => Ok(request.respond(Response::from_string("not found\n").with_status_code(404))?),
    }
}

/// The journal's new entries, as server-sent events, for as long as the page listens.
fn stream_journal(root: &Root, out: &mut dyn Write) -> Result<()> {
    let mut tail = Tail::at_end(root);
    let mut quiet_since = Instant::now();
    loop {
        let entries = tail.next()?;
        if entries.is_empty() {
            if quiet_since.elapsed() > Duration::from_secs(15) {
                // A comment keeps the connection, and finds a page that left.
                out.write_all(b": still here\n\n")?;
                out.flush()?;
                quiet_since = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        for entry in entries {
            out.write_all(b"data: ")?;
            out.write_all(&journal::line(&entry))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        quiet_since = Instant::now();
    }
}

/// The system as it is now: every actor with its status, state and pending messages in order.
fn snapshot(root: &Root) -> Value {
    let all_paused = root.paused_file().exists();
    let mut list = Vec::new();
    for id in actors::known(root) {
        let dir = root.actor(&id);
        let status = fsio::read_json::<ActorStatus>(&dir.status_file())
            .map(|s| s.word())
            .unwrap_or("unknown");
        let state: Value = fsio::read_json(&dir.state_file()).unwrap_or(Value::Null);
        let read = |path: &std::path::Path| fsio::read_json::<Envelope>(path).ok();
        let pending: Vec<Value> = mailbox::envelopes(&dir.spool_dir())
            .into_iter()
            .map(|(file, e)| {
                json!({"file": file, "id": e.id, "sender": e.sender, "payload": e.payload,
                       "timer": e.due_ms().is_some()})
            })
            .collect();
        let handling = read(&dir.current_file())
            .map(|e| json!({"id": e.id, "sender": e.sender, "payload": e.payload}));
        list.push(json!({
            "id": id, "status": status, "state": state, "pending": pending,
            "handling": handling, "paused": all_paused || dir.paused_file().exists(),
        }));
    }
    let checkpoints: Vec<String> = fsio::names(&root.checkpoints_dir())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    json!({
        "root": root.path(), "paused": all_paused, "actors": list,
        "checkpoints": checkpoints, "journal_seq": journal::last_seq(root),
    })
}

fn text<'a>(action: &'a Value, key: &str) -> Result<&'a str> {
    action[key]
        .as_str()
        .ok_or_else(|| anyhow!("the action has no `{key}`"))
}

/// JSON typed in the page, checked again here: the parser's message if it is not JSON.
fn parse(typed: &str, what: &str) -> Result<Value> {
    serde_json::from_str(typed).map_err(|e| anyhow!("{what} is not valid JSON: {e}"))
}

/// A pending message of `actor`, by its spool file name.
fn pending_file(root: &Root, action: &Value) -> Result<(ActorId, std::path::PathBuf)> {
    let actor = actors::require(root, text(action, "actor")?)?;
    let file = text(action, "file")?;
    if file.contains('/') || !crate::layout::is_pending_name(file) {
        bail!("`{file}` is not a pending message's file");
    }
    let path = root.actor(&actor).spool_dir().join(file);
    if !path.is_file() {
        bail!("`{file}` is no longer pending for {actor}");
    }
    Ok((actor, path))
}

/// Carries out what the page asked for, through the CLI's own functions and the files.
fn act(root: &Root, action: &Value) -> Result<String> {
    let quiet = Output::quiet();
    let who = action["actor"].as_str().map(str::to_owned);
    match text(action, "do")? {
        "pause" => debugger::pause(root, &quiet, who).map(|_| "paused".into()),
        "resume" => debugger::resume(root, &quiet, who).map(|_| "resumed".into()),
        "step" => debugger::step(root, &quiet, who).map(|_| "stepped".into()),
        "deliver" => {
            debugger::deliver(root, &quiet, text(action, "message")?).map(|_| "delivered".into())
        }
        "drop" => {
            let (actor, path) = pending_file(root, action)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            crate::dead::set_aside(&path, &root.dead_dir(), &name, "dropped from eos ui")?;
            Ok(format!("dropped a message to {actor}"))
        }
        "duplicate" => {
            let (actor, path) = pending_file(root, action)?;
            let mut copy: Envelope = fsio::read_json(&path)?;
            copy.id = Some(MessageId::generate());
            copy.post(root, &actor)?;
            Ok(format!("sent a copy to {actor}"))
        }
        "edit" => {
            let (actor, path) = pending_file(root, action)?;
            let payload = parse(text(action, "payload")?, "the payload")?;
            let mut envelope: Envelope = fsio::read_json(&path)?;
            envelope.payload = payload;
            fsio::write_json_atomic(&path, &envelope)?;
            Ok(format!("edited a message to {actor}"))
        }
        "state" => {
            let actor = actors::require(root, text(action, "actor")?)?;
            let state = parse(text(action, "state")?, "the state")?;
            fsio::write_json_atomic(&root.actor(&actor).state_file(), &state)?;
            Ok(format!("wrote {actor}'s state"))
        }
        "send" => {
            let to = actors::require(root, text(action, "to")?)?;
            let payload = parse(text(action, "payload")?, "the payload")?;
            let from = action["from"]
                .as_str()
                .filter(|f| !f.is_empty())
                .map(ActorId::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let id = Envelope::new(MessageId::generate(), from, payload).post(root, &to)?;
            Ok(format!("sent {id} to {to}"))
        }
        "checkpoint" => {
            checkpoint::take(root, &quiet, text(action, "name")?).map(|_| "saved".into())
        }
        "restore" => {
            checkpoint::restore(root, &quiet, text(action, "name")?).map(|_| "restored".into())
        }
        "kill" => {
            actors::kill(root, &quiet, text(action, "actor")?, "TERM").map(|_| "stopped".into())
        }
        "restart" => {
            actors::restart(root, &quiet, text(action, "actor")?).map(|_| "started".into())
        }
        other => bail!("`{other}` is not an action of eos ui"),
    }
}
