//! `eos ui` in a real headless browser (Chromium, driven through chromedriver's WebDriver
//! protocol with curl): the token, a message sent from the CLI appearing, a click that
//! delivers, an edit that reaches the file and one that is refused, a screenshot.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::*;

/// `eos ui` on the system, and the URL it printed.
struct Ui {
    child: Child,
    url: String,
}

impl Ui {
    fn start(sys: &System) -> Ui {
        let mut child = Command::new(bin("eos"))
            .arg("--root")
            .arg(&sys.root)
            .args(["ui", "--no-open"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Ui {
            child,
            url: line.trim().to_owned(),
        }
    }

    /// The URL without its token.
    fn bare(&self) -> String {
        self.url.split('?').next().unwrap().to_owned()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP status of a GET.
fn status(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_page_refuses_a_request_without_its_token() {
    let mut sys = System::new();
    sys.start();
    let ui = Ui::start(&sys);
    assert!(ui.url.starts_with("http://127.0.0.1:"), "{}", ui.url);
    assert!(ui.url.contains("?token="), "{}", ui.url);
    wait_until("the page is served", || status(&ui.url) == "200");
    assert_eq!(status(&ui.bare()), "403");
    assert_eq!(status(&format!("{}api/system", ui.bare())), "403");
    assert_eq!(
        status(&format!("{}api/system?token=wrong", ui.bare())),
        "403"
    );
}

/// A headless Chromium session through chromedriver.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Whether Chromium and chromedriver are installed. Where they are not, a browser test is
    /// skipped with a line that says so, except in CI (`CI` set), which installs them: there
    /// their absence fails the test.
    fn available() -> bool {
        if programs_on_path("chromedriver") && programs_on_path("chromium") {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium and chromedriver are missing (CI installs them: see .ci/run)"
        );
        // Written to the standard error itself: `eprintln!` is captured for a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the browser test needs chromium and chromedriver \
             (apt-get install chromium chromium-driver)"
        );
        false
    }

    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
        let base = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver is ready", || {
            status(&format!("{base}/status")) == "200"
        });
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,800",
        ];
        let created = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": args}}}}),
        );
        browser.session = created["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = if path.starts_with("/session/") || path == "/session" {
            path.to_owned()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let out = Command::new("curl")
            .args(["-s", "-X", method, "-H", "Content-Type: application/json"])
            .args(["-d", &body.to_string()])
            .arg(format!("{}{path}", self.base))
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Clicks (as a person does: through the driver) the first element matching `css`, if
    /// there is one now.
    fn click(&self, css: &str) {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        if let Some(id) = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
        {
            self.call("POST", &format!("/element/{id}/click"), json!({}));
        }
    }

    /// Replaces the text of the first textarea matching `css`.
    fn type_into(&self, css: &str, text: &str) {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        let id = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        self.call("POST", &format!("/element/{id}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    fn screenshot(&self) -> Vec<u8> {
        use std::io::Write;
        let encoded = self.call("GET", "/screenshot", json!({}));
        let mut child = Command::new("base64")
            .arg("-d")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(encoded.as_str().unwrap().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap().stdout
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.call("DELETE", &format!("/session/{}", self.session), json!({}));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const BANK: &str = r#"
pub fn init() { #{ balance: 100, paid: [], refused: [] } }
pub fn handle(state, msg) {
    if msg.payload.withdraw <= state.balance {
        state.balance -= msg.payload.withdraw;
        state.paid.push(msg.payload.who);
    } else {
        state.refused.push(msg.payload.who);
    }
    state
}
"#;

#[test]
fn the_bank_in_the_browser_click_deliver_edit_and_a_screenshot() {
    if !Browser::available() {
        return;
    }
    let mut sys = System::new();
    sys.start();
    let bank = sys.script("bank.rn", BANK);
    sys.spawn_script("bank", &bank, &[]);
    ok(&sys.eos(&["pause"]));
    sys.send("bank", "alice", r#"{"withdraw": 70, "who": "alice"}"#);
    sys.send("bank", "bob", r#"{"withdraw": 50, "who": "bob"}"#);
    wait_pending(&sys, "bank", 2);
    let ui = Ui::start(&sys);
    let browser = Browser::start();
    browser.go(&ui.url);
    let count = "return document.querySelectorAll('[data-actor=bank] .pending li').length";
    wait_until("the page shows two pending", || browser.eval(count) == 2);

    // Sent from the CLI: the server pushes it, the page shows it.
    ok(&sys.eos(&["send", "bank", r#"{"withdraw": 10, "who": "carol"}"#]));
    wait_until("the page shows carol's", || browser.eval(count) == 3);

    // Bob first, by a click.
    let bob_waits = "return document.querySelector('[data-actor=bank] li[data-id$=bob]') !== null";
    wait_until("bob's is delivered", || {
        if browser.eval(bob_waits) == true {
            browser.click("[data-actor=bank] li[data-id$=bob] button.deliver");
        }
        sys.state("bank")["paid"] == json!(["bob"])
    });
    let shown = "return document.querySelector('[data-actor=bank] pre.state').textContent";
    wait_until("the page shows bob paid", || {
        browser
            .eval(shown)
            .as_str()
            .is_some_and(|s| s.contains("bob"))
    });
    assert_eq!(sys.state("bank")["paid"], json!(["bob"]));

    // An edit that is not JSON: refused in the page with the parser's message; nothing changes.
    let alice = pending_file(&sys, "bank", "alice");
    let before = std::fs::read_to_string(&alice).unwrap();
    // (A click can land on an element the page has just redrawn: then it is clicked again.)
    let editor = "[data-actor=bank] li[data-id$=alice] textarea";
    let open = format!("return document.querySelector('{editor}') !== null");
    wait_until("the editor opens", || {
        if browser.eval(&open) != true {
            browser.click("[data-actor=bank] li[data-id$=alice] button.edit");
        }
        browser.eval(&open) == true
    });
    browser.type_into(editor, "{\"withdraw\": ");
    let error = "return document.getElementById('error').textContent";
    wait_until("the page says why", || {
        let said = browser.eval(error);
        if !said.as_str().is_some_and(|e| e.contains("not valid JSON")) {
            browser.click("[data-actor=bank] li[data-id$=alice] button.save");
        }
        browser
            .eval(error)
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON"))
    });
    assert_eq!(std::fs::read_to_string(&alice).unwrap(), before);
    // A valid one reaches the file.
    browser.type_into(
        "[data-actor=bank] li[data-id$=alice] textarea",
        r#"{"withdraw": 20, "who": "alice"}"#,
    );
    wait_until("the file on disk changed", || {
        if browser.eval(&open) == true {
            browser.click("[data-actor=bank] li[data-id$=alice] button.save");
        }
        read_json(&alice)["payload"]["withdraw"] == 20
    });
    wait_until("the journal has the edit", || {
        journal(&sys).iter().any(|e| e["event"] == "pending_edited")
    });

    // The history slider: the moment bob's withdrawal was handled, read from the journal —
    // alice's message as it was then (70, before the edit), nothing changed on disk.
    let handled = journal(&sys)
        .iter()
        .find(|e| e["event"] == "result" && e["actor"] == "bank")
        .and_then(|e| e["seq"].as_u64())
        .unwrap();
    let slide = format!(
        "const s = document.getElementById('slider'); s.value = '{handled}'; \
         s.dispatchEvent(new Event('input')); return document.getElementById('mode').textContent"
    );
    let newest = journal(&sys)
        .last()
        .and_then(|e| e["seq"].as_u64())
        .unwrap();
    let pushed = "return journal.length ? journal[journal.length - 1].seq : 0";
    wait_until("the page has the whole journal", || {
        browser.eval(pushed).as_u64() >= Some(newest)
    });
    assert_eq!(browser.eval(&slide), format!("history at #{handled}"));
    let lane = "return document.querySelector('[data-actor=bank]').textContent";
    let then = browser.eval(lane);
    let then = then.as_str().unwrap();
    assert!(then.contains("\"balance\": 50"), "{then}");
    assert!(then.contains("\"withdraw\":70"), "{then}");
    assert_eq!(read_json(&alice)["payload"]["withdraw"], 20);
    browser.click("#live");

    let png = browser.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(sys.path("../bank.png"), &png).unwrap();
}

/// Whether `name` is an executable file in a folder of `PATH`.
fn programs_on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
