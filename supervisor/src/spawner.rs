//! Spawning: a request `{"path": ..., "args": [...]}` in `spawn/` becomes an actor folder in
//! `running/`. The folder is prepared in a hidden place and renamed in, so nobody ever sees a
//! half-made actor.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use eos::spawn_request::SpawnRequest;
use eos::{ActorDir, ActorId, Root, fsio, programs};
use nix::unistd::{AccessFlags, access};
use serde_json::Value;

use crate::registry::Registry;

/// Checks a spawn request and makes the actor's folder. Returns the new actor's id and the
/// record to keep (the program resolved, the id filled in).
pub fn accept(
    root: &Root,
    registry: &Registry,
    request: SpawnRequest,
) -> Result<(ActorId, SpawnRequest), String> {
    let program = resolve_program(&request.path)?;
    let id = request.id.clone().unwrap_or_else(|| {
        ActorId::generate(&program.file_stem().unwrap_or_default().to_string_lossy())
    });
    let dir = root.actor(&id);
    if registry.contains(&id) || dir.path().exists() {
        return Err(format!(
            "an actor `{id}` already exists ({}); choose another id",
            dir.path().display()
        ));
    }
    let record = SpawnRequest {
        path: program
            .to_str()
            .ok_or_else(|| format!("the program path {} is not UTF-8", program.display()))?
            .to_owned(),
        id: Some(id.clone()),
        ..request
    };
    make_actor_dir(root, &id, &record)?;
    Ok((id, record))
}

/// What a request must look like, for the reason of one that does not.
pub const EXPECTED: &str = "expected: {\"path\": \"/path/to/program\", \"args\": [\"...\"], \
                            \"id\": \"optional-id\", \"state\": <optional JSON>}";

fn make_actor_dir(root: &Root, id: &ActorId, record: &SpawnRequest) -> Result<(), String> {
    let staging = root.staging_actor_dir(id);
    if staging.path().exists() {
        fs::remove_dir_all(staging.path())
            .map_err(|e| format!("a half-made folder is in the way: {e}"))?;
    }
    let result = (|| {
        let private = |p: &Path| DirBuilder::new().mode(0o700).create(p);
        private(staging.path())?;
        private(&staging.spool_dir())?;
        private(&staging.scratch_dir())?;
        let state = record.state.clone().unwrap_or(Value::Null);
        fsio::write_json_atomic(&staging.state_file(), &state).map_err(io::Error::other)?;
        fsio::write_json_atomic(&staging.spawn_record(), record).map_err(io::Error::other)?;
        Ok::<(), io::Error>(())
    })()
    .map_err(|e| format!("the actor's folder could not be created: {e}"))
    .and_then(|()| copy_into(staging.path(), &record.copy))
    .and_then(
        |()| match fsio::rename_no_replace(staging.path(), root.actor(id).path()) {
            Ok(true) => Ok(()),
            Ok(false) => Err("the actor exists".to_owned()),
            Err(e) => Err(format!("the actor's folder could not be created: {e}")),
        },
    );
    if result.is_err() {
        let _ = fs::remove_dir_all(staging.path());
    }
    result
}

/// Copies the request's `copy` files and folders into the new actor's folder, under their own
/// names; none may take the name of a file of the protocol.
fn copy_into(dir: &Path, paths: &[String]) -> Result<(), String> {
    for path in paths {
        let from = std::path::absolute(path).map_err(|e| format!("`copy` {path}: {e}"))?;
        let Some(name) = from.file_name() else {
            return Err(format!("`copy` {path}: it has no file name"));
        };
        if ActorDir::is_own_name(&name.to_string_lossy()) {
            return Err(format!(
                "`copy` {path}: its name is one of the actor's own files; rename it"
            ));
        }
        copy_tree(&from, &dir.join(name))
            .map_err(|e| format!("`copy` {path} could not be copied: {e}"))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::metadata(from)?;
    if !meta.is_dir() {
        return fs::copy(from, to).map(drop);
    }
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        copy_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Finds the program a request names; it must be an executable file.
fn resolve_program(path: &str) -> Result<PathBuf, String> {
    let candidate = programs::resolve(path)?;
    let meta = fs::metadata(&candidate)
        .map_err(|e| format!("the program {} cannot be used: {e}", candidate.display()))?;
    if !meta.is_file() {
        return Err(format!("the program {} is not a file", candidate.display()));
    }
    if access(&candidate, AccessFlags::X_OK).is_err() {
        return Err(format!(
            "the program {} is not executable (chmod +x it)",
            candidate.display()
        ));
    }
    Ok(candidate)
}
