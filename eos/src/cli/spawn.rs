//! `spawn`, `spawn-script` and `check`: writing spawn requests and checking scripts.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::output::{BOLD, GOOD, Output, styled};
use super::{locate, messages, poll, system};
use crate::spawn_request::SpawnRequest;
use crate::status::ActorStatus;
use crate::supervision::RestartType;
use crate::{ActorId, Root, fsio, layout};

/// What `eos spawn` takes besides the program, its arguments and the id.
pub struct Extras {
    /// The program is a Maelstrom node: `maelstrom-actor` runs it.
    pub maelstrom: bool,
    pub state: Option<String>,
    pub copy: Vec<PathBuf>,
    pub restart: Option<RestartType>,
}

pub fn spawn(
    root: &Root,
    out: &Output,
    path: &Path,
    args: Vec<String>,
    id: Option<String>,
    extras: Extras,
) -> Result<ExitCode> {
    let Extras {
        maelstrom,
        state,
        copy,
        restart,
    } = extras;
    system::require(root)?;
    let program = resolve(path)?;
    let copy = copy
        .iter()
        .map(|p| {
            let absolute = std::path::absolute(p)?;
            if !absolute.exists() {
                bail!("there is nothing to copy at {}", absolute.display());
            }
            Ok(absolute.to_string_lossy().into_owned())
        })
        .collect::<Result<Vec<String>>>()?;
    let state = state
        .map(|text| messages::parse_json(&text, "--state"))
        .transpose()?;
    let id = choose_id(root, id, &program, false)?;
    let (path, args) = if maelstrom {
        super::cluster::node_request(&program, args)?
    } else {
        (program.to_string_lossy().into_owned(), args)
    };
    start(
        root,
        out,
        &id,
        SpawnRequest {
            path,
            args,
            id: Some(id.clone()),
            state,
            copy,
            restart,
            ..SpawnRequest::default()
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn spawn_script(
    root: &Root,
    out: &Output,
    script: &Path,
    options: Vec<String>,
    id: Option<String>,
    restart: Option<RestartType>,
) -> Result<ExitCode> {
    system::require(root)?;
    let script = std::path::absolute(script)?;
    if !script.is_file() {
        bail!("there is no script {}", script.display());
    }
    let runner = locate::program("script-actor")?;
    // The script actor's own options are checked by the script actor, before anything runs.
    let dry = Command::new(&runner)
        .args(["--dry-run", "check", "/", "/", "/"])
        .arg(&script)
        .args(&options)
        .output()?;
    if !dry.status.success() {
        bail!(
            "the script actor does not take these options:\n{}",
            String::from_utf8_lossy(&dry.stderr).trim_end()
        );
    }
    let id = choose_id(root, id, &script, true)?;
    let mut args = vec![script.to_string_lossy().into_owned()];
    args.extend(options);
    start(
        root,
        out,
        &id,
        SpawnRequest {
            path: runner.to_string_lossy().into_owned(),
            args,
            id: Some(id.clone()),
            state: None,
            restart,
            ..SpawnRequest::default()
        },
    )?;
    // The actor runs either way; say now if its script does not compile.
    let check = Command::new(&runner).arg("--check").arg(&script).output()?;
    if !check.status.success() {
        out.warn(format!(
            "{} does not compile; `{id}` keeps its messages until it does:\n{}",
            script.display(),
            String::from_utf8_lossy(&check.stderr).trim_end()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `check SCRIPT...`: compiles the scripts with `script-actor --check`.
pub fn check(scripts: &[PathBuf]) -> Result<ExitCode> {
    let status = Command::new(locate::program("script-actor")?)
        .arg("--check")
        .args(scripts)
        .status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// An absolute path to an executable: as given if it has a `/`; a bare name is a file in
/// this folder (`eos spawn counter.sh`), or else a program on `PATH`.
pub(super) fn resolve(path: &Path) -> Result<PathBuf> {
    let found = if path.components().count() > 1 || path.is_absolute() || path.is_file() {
        std::path::absolute(path)?
    } else {
        crate::programs::on_path(&path.to_string_lossy())
            .ok_or_else(|| anyhow!("`{}` is not a file here nor on PATH", path.display()))?
    };
    if !found.is_file() {
        bail!("there is no program {}", found.display());
    }
    if nix::unistd::access(&found, nix::unistd::AccessFlags::X_OK).is_err() {
        bail!("{} is not executable (chmod +x it)", found.display());
    }
    Ok(found)
}

/// The id asked for (which must be free), or the file's name. When that is taken: for a script
/// (`exact`), an error that says so (its messages would go to the actor of that name); for a
/// program, that name made unique. A name that is not a valid id is made into one.
fn choose_id(root: &Root, id: Option<String>, file: &Path, exact: bool) -> Result<ActorId> {
    let taken = |id: &ActorId| root.actor(id).path().exists();
    if let Some(id) = id {
        let id = ActorId::parse(&id).map_err(|e| anyhow!(e))?;
        if taken(&id) {
            bail!("an actor `{id}` already exists; choose another --id");
        }
        return Ok(id);
    }
    let stem = file
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    match ActorId::parse(&stem) {
        Ok(id) if taken(&id) && exact => bail!(
            "an actor `{id}` already exists; give this one another id with --id (for example \
             --id {id}-2)"
        ),
        Ok(id) if !taken(&id) => Ok(id),
        _ => Ok(ActorId::generate(&stem)),
    }
}

/// Writes the request and waits for the supervisor's answer: the actor's status, or the
/// request set aside with a reason.
pub(super) fn start(root: &Root, out: &Output, id: &ActorId, request: SpawnRequest) -> Result<()> {
    let path = root.spawn_request_file(id);
    fsio::write_json_atomic(&path, &request)?;
    let name = path.file_name().unwrap_or_default();
    let rejected = layout::reason_file(&root.rejected_spawn_dir().join(name));
    let status_file = root.actor(id).status_file();
    let answer = poll::until(Duration::from_secs(10), || {
        if let Ok(reason) = crate::dead::read_reason(&rejected) {
            return Some(Err(reason));
        }
        fsio::read_json::<ActorStatus>(&status_file).ok().map(Ok)
    });
    match answer {
        Some(Ok(status)) => report(out, id, root, &status),
        Some(Err(reason)) => bail!("the supervisor refused to spawn `{id}`: {reason}"),
        None => bail!("the supervisor has not answered within 10s; is it stuck? see its log"),
    }
}

fn report(out: &Output, id: &ActorId, root: &Root, status: &ActorStatus) -> Result<()> {
    let (word, pid): (&str, Value) = match status {
        ActorStatus::Running { pid, .. } => ("running", json!(pid)),
        ActorStatus::Failed { error, .. } => bail!("`{id}` could not be started: {error}"),
        ActorStatus::Exited { .. } => {
            out.warn(format!(
                "`{id}` exited at once; see {}",
                root.actor(id).log_file().display()
            ));
            ("exited", Value::Null)
        }
        ActorStatus::Stopped { .. } => ("stopped", Value::Null),
    };
    out.say(format!(
        "{} {} (pid {}); its folder is {}",
        styled(GOOD, "spawned"),
        styled(BOLD, id),
        pid,
        root.actor(id).path().display()
    ))?;
    out.data(&json!({"id": id, "status": word, "pid": pid}))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_default_to_the_file_name_and_stay_unique() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let id = choose_id(&root, None, Path::new("/p/counter.rn"), true).unwrap();
        assert_eq!(id.as_str(), "counter");
        std::fs::create_dir_all(root.actor(&id).path()).unwrap();
        let again = choose_id(&root, None, Path::new("/p/counter"), false).unwrap();
        assert!(again.as_str().starts_with("counter-"), "{again}");
        let err = choose_id(&root, None, Path::new("/p/counter.rn"), true).unwrap_err();
        assert!(err.to_string().contains("--id"), "{err}");
        assert!(choose_id(&root, Some("counter".into()), Path::new("x"), false).is_err());
        assert!(choose_id(&root, Some("a/b".into()), Path::new("x"), false).is_err());
    }
}
