//! Spawning: a request `{"path": ..., "args": [...]}` in `spawn/` becomes an actor folder in
//! `running/` and a running process. A request that cannot be honoured goes to `dead/spawn/`
//! with the reason beside it.

use std::env;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use eos::journal::Event;
use eos::layout;
use eos::spawn_request::SpawnRequest;
use eos::{ActorId, fsio};
use log::{error, info, warn};
use nix::unistd::{AccessFlags, access};
use serde_json::Value;

use crate::actor::{Actor, Current, Process};
use crate::events::Watched;
use crate::supervisor::{Origin, Supervisor, set_aside, sorted_names};

impl Supervisor {
    pub(crate) fn scan_spawn_dir(&mut self) {
        for name in sorted_names(&self.root.spawn_dir()) {
            self.spawn_request(&name, Origin::Scan);
        }
    }

    /// Handles the file `name` in `spawn/`.
    pub(crate) fn spawn_request(&mut self, name: &str, origin: Origin) {
        if !layout::is_request_name(name) {
            return;
        }
        let path = self.root.spawn_dir().join(name);
        match self.accept_spawn(&path, origin) {
            Ok(Some(id)) => info!("spawned {id} from {name}"),
            Ok(None) => {}
            Err(reason) => set_aside(&path, &self.root.rejected_spawn_dir(), name, &reason),
        }
    }

    fn accept_spawn(&mut self, path: &Path, origin: Origin) -> Result<Option<ActorId>, String> {
        let Some((meta, bytes)) = self.read_candidate(path, "request")? else {
            return Ok(None);
        };
        let request: SpawnRequest = match serde_json::from_slice(&bytes) {
            Ok(request) => request,
            Err(_) if origin.maybe_unfinished(&meta) => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "not a valid spawn request: {e}\nexpected: {{\"path\": \"/path/to/program\", \
                     \"args\": [\"...\"], \"id\": \"optional-id\", \"state\": <optional JSON>}}"
                ));
            }
        };
        let program = resolve_program(&request.path)?;
        let id = request.id.clone().unwrap_or_else(|| {
            ActorId::generate(&program.file_stem().unwrap_or_default().to_string_lossy())
        });
        let dir = self.root.actor(&id);
        if self.actors.contains_key(&id) || dir.path().exists() {
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
        self.make_actor_dir(&id, &record)
            .map_err(|e| format!("the actor's folder could not be created: {e}"))?;
        // The request is consumed: what it said is kept as the actor's spawn.json.
        if let Err(e) = fs::remove_file(path) {
            warn!("cannot remove the spawn request {}: {e}", path.display());
        }
        self.journal.record(Event::Spawn {
            actor: id.to_string(),
            program: record.path.clone(),
            args: record.args.clone(),
        });
        self.adopt(id.clone(), Some(record), Current::Empty, 0);
        self.start(&id);
        Ok(Some(id))
    }

    /// Prepares the folder in a hidden place and renames it into `running/`, so nobody ever
    /// sees a half-made actor.
    fn make_actor_dir(&self, id: &ActorId, record: &SpawnRequest) -> io::Result<()> {
        let staging = self.root.staging_actor_dir(id);
        if staging.path().exists() {
            fs::remove_dir_all(staging.path())?;
        }
        let result = (|| {
            let private = |p: &Path| DirBuilder::new().mode(0o700).create(p);
            private(staging.path())?;
            private(&staging.spool_dir())?;
            let state = record.state.clone().unwrap_or(Value::Null);
            fsio::write_json_atomic(&staging.state_file(), &state).map_err(io::Error::other)?;
            fsio::write_json_atomic(&staging.spawn_record(), record).map_err(io::Error::other)?;
            if !fsio::rename_no_replace(staging.path(), self.root.actor(id).path())? {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the actor exists",
                ));
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(staging.path());
        }
        result
    }

    /// Registers an actor whose folder exists and watches its spool.
    pub(crate) fn adopt(
        &mut self,
        id: ActorId,
        record: Option<SpawnRequest>,
        current: Current,
        starts: u32,
    ) {
        let dir = self.root.actor(&id);
        let watched = self
            .events
            .watch(&dir.spool_dir(), Watched::Spool(id.clone()))
            .and_then(|()| self.events.watch(dir.path(), Watched::Actor(id.clone())));
        if let Err(e) = watched {
            error!("{e:#}; deliveries to {id} wait for the next rescan");
        }
        self.actors.insert(
            id.clone(),
            Actor {
                id,
                dir,
                record,
                process: Process::Stopped,
                current,
                handling: None,
                starts,
            },
        );
    }
}

/// Finds the program a request names: absolute; relative to the supervisor's working
/// directory when it contains a `/`; otherwise looked up on `PATH`. It must be an executable
/// file.
fn resolve_program(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the request's `path` is empty".into());
    }
    let candidate = if path.contains('/') {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            env::current_dir().map_err(|e| e.to_string())?.join(path)
        }
    } else {
        let dirs = env::var_os("PATH").unwrap_or_default();
        env::split_paths(&dirs)
            .map(|dir| dir.join(path))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("the program `{path}` was not found on PATH"))?
    };
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
