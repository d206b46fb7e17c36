//! `eos history --git DIR`: the root's history as a git repository, one commit per delivery
//! (and per hand edit, spawn, removal, restore), so that `git log -p` shows what each message
//! changed and `git bisect run` finds the first step at which a predicate fails.
//!
//! The commits are made from the journal, not from the live root, by one `git fast-import`
//! process, so the system never waits for git: it runs beside it (`--follow`) or afterwards.
//! Each commit's message ends with an `Eos-Seq:` trailer; a second run goes on from there.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};

use super::log::Tail;
use super::output::{GOOD, Output, styled};
use crate::image::{Image, Moment};
use crate::journal::{self, Entry, Event};
use crate::{ActorId, Root, fsio, mailbox};

const BRANCH: &str = "refs/heads/main";
const TRAILER: &str = "Eos-Seq: ";

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).stdin(Stdio::null());
    command
}

/// Makes `dir` a repository if it is not one; returns the last journal entry it holds.
fn prepare(dir: &Path) -> Result<u64> {
    if !dir.join(".git").is_dir() {
        if dir.exists() && fsio::names(dir).is_ok_and(|n| !n.is_empty()) {
            bail!(
                "{} is neither empty nor a git repository made by eos history",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let out = git(dir)
            .args(["init", "-q", "-b", "main"])
            .output()
            .context("running git (is it installed?)")?;
        if !out.status.success() {
            bail!("git init: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        return Ok(0);
    }
    let out = git(dir)
        .args(["log", "-1", "--format=%B", "main", "--"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(TRAILER))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

/// A `git fast-import` process and what it has been given.
struct Importer {
    child: Child,
    input: BufWriter<ChildStdin>,
    /// The branch existed before this import: the first commit names its parent.
    continues: bool,
    commits: u64,
}

impl Importer {
    fn start(dir: &Path, continues: bool) -> Result<Importer> {
        let mut child = git(dir)
            // No `--done`: a follower stopped by Ctrl-C ends its input early, and what came
            // before still lands.
            .args(["fast-import", "--quiet"])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting git fast-import")?;
        let input = BufWriter::new(
            child
                .stdin
                .take()
                .ok_or_else(|| anyhow!("git fast-import has no input"))?,
        );
        Ok(Importer {
            child,
            input,
            continues,
            commits: 0,
        })
    }

    fn data(&mut self, text: &str) -> Result<()> {
        write!(self.input, "data {}\n{text}\n", text.len())?;
        Ok(())
    }

    fn commit(&mut self, moment: &Moment, image: &mut Image) -> Result<()> {
        let (changes, replaced) = image.take_changes();
        let first = self.commits == 0;
        writeln!(self.input, "commit {BRANCH}")?;
        writeln!(
            self.input,
            "committer eos <eos@localhost> {} +0000",
            moment.us / 1_000_000
        )?;
        let message = format!(
            "{}\n\n{}\n\n{TRAILER}{}\n",
            moment.subject, moment.body, moment.seq
        );
        self.data(&message)?;
        if first && self.continues {
            writeln!(self.input, "from {BRANCH}^0")?;
        }
        if replaced || first {
            // From nothing: a restore, or a first commit whose parent this run did not build.
            writeln!(self.input, "deleteall")?;
            for (path, content) in image.files() {
                writeln!(self.input, "M 100644 inline {path}")?;
                self.data(&content)?;
            }
        } else {
            for (path, content) in changes {
                match content {
                    Some(content) => {
                        writeln!(self.input, "M 100644 inline {path}")?;
                        self.data(&content)?;
                    }
                    None => writeln!(self.input, "D {path}")?,
                }
            }
        }
        writeln!(self.input)?;
        self.commits += 1;
        Ok(())
    }

    /// Makes what was imported so far visible (updates the branch).
    fn checkpoint(&mut self) -> Result<()> {
        writeln!(self.input, "checkpoint\n")?;
        self.input.flush()?;
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        self.input.flush()?;
        drop(self.input);
        let status = self.child.wait()?;
        if !status.success() {
            bail!("git fast-import failed ({status})");
        }
        Ok(self.commits)
    }
}

/// What a checkpoint holds, for the image after a restore.
fn checkpoint_image(root: &Root, name: &str, image: &mut Image) {
    let checkpoint = Root::new(root.checkpoints_dir().join(name));
    let mut states = BTreeMap::new();
    let mut pending = Vec::new();
    for actor in fsio::names(&checkpoint.running_dir()).unwrap_or_default() {
        let Ok(id) = ActorId::parse(&actor) else {
            continue;
        };
        let dir = checkpoint.actor(&id);
        states.insert(
            actor.clone(),
            fsio::read_json::<Value>(&dir.state_file()).unwrap_or(Value::Null),
        );
        for (file, e) in mailbox::envelopes(&dir.spool_dir()) {
            let id = e.id.as_ref().map_or(file.clone(), ToString::to_string);
            let from = e.sender.as_ref().map(ToString::to_string);
            pending.push((actor.clone(), file, id, from, e.payload));
        }
    }
    image.replace(states, pending);
}

/// Takes in one entry, committing the moment it makes if it is new to the repository.
fn take(
    root: &Root,
    entry: &Entry,
    image: &mut Image,
    importer: &mut Importer,
    after: u64,
) -> Result<()> {
    let moment = match &entry.event {
        Event::Restored { checkpoint, .. } => {
            checkpoint_image(root, checkpoint, image);
            Some(Moment {
                subject: format!("restore {checkpoint}"),
                body: format!(
                    "the root was put back as it was at checkpoint `{checkpoint}`, journal \
                     entry {}",
                    entry.seq
                ),
                seq: entry.seq,
                us: entry.us,
            })
        }
        _ => image.apply(entry),
    };
    if let Some(moment) = moment
        && entry.seq > after
    {
        importer.commit(&moment, image)?;
    }
    Ok(())
}

/// `eos history --git DIR [--follow]`.
pub fn run(root: &Root, out: &Output, dir: &Path, follow: bool) -> Result<ExitCode> {
    let after = prepare(dir)?;
    let mut importer = Importer::start(dir, after > 0)?;
    let mut image = Image::default();
    let mut tail = Tail::at_end(root);
    let mut seen = 0;
    for entry in journal::read(root) {
        take(root, &entry, &mut image, &mut importer, after)?;
        seen = entry.seq;
    }
    if follow {
        importer.checkpoint()?;
        out.say(format!(
            "{} the journal into {} (one commit per delivery); Ctrl-C to stop",
            styled(GOOD, "following"),
            dir.display()
        ))?;
        let mut last_shown = Instant::now();
        let mut unshown = 0;
        loop {
            let entries = tail.next()?;
            if entries.is_empty() {
                if unshown > 0 && last_shown.elapsed() > Duration::from_millis(500) {
                    importer.checkpoint()?;
                    unshown = 0;
                    last_shown = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            // The tail began before the first read: what that read took is skipped.
            for entry in &entries {
                if entry.seq > seen {
                    take(root, entry, &mut image, &mut importer, after)?;
                    seen = entry.seq;
                }
            }
            unshown += entries.len();
            if last_shown.elapsed() > Duration::from_secs(1) {
                importer.checkpoint()?;
                unshown = 0;
                last_shown = Instant::now();
            }
        }
    }
    let commits = importer.finish()?;
    // The working tree shows the newest moment (bisect checks out the others).
    let _ = git(dir).args(["reset", "-q", "--hard"]).status();
    out.say(format!(
        "{} {commits} commit(s) in {}: git -C {} log -p",
        styled(GOOD, "wrote"),
        dir.display(),
        dir.display()
    ))?;
    out.data(&json!({"repository": dir, "commits": commits}))?;
    Ok(ExitCode::SUCCESS)
}
