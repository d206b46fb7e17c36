//! The spawn request: what a person or tool writes into `spawn/` to start an actor, and what
//! the supervisor keeps as `running/<id>/spawn.json` to start it again.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::ActorId;
use crate::supervision::RestartType;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    /// The executable. Absolute; or relative to the supervisor's working directory when it
    /// contains a `/`; or a bare name looked up on `PATH`. Recorded resolved.
    pub path: String,
    /// Passed after the four protocol arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The actor's id; a readable one is made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ActorId>,
    /// The first `state.json`; `null` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The actor that asked for this one, when an actor did (recorded in the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ActorId>,
    /// Files and folders copied into the actor's folder (under their own names) before it
    /// starts, as the original EOS did. Relative paths are taken from the supervisor's
    /// working directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<String>,
    /// Whether it is started again when it exits; kept in `running/<id>/restart`, where a
    /// person may change it. Absent: `temporary` for an actor a person spawned, `permanent`
    /// for one in a tree or spawned by an actor (as in OTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartType>,
    /// Milliseconds between SIGTERM and SIGKILL when its supervisor stops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_ms: Option<u64>,
    /// A message it was handling when it crashed this many times in a row goes to `dead/`
    /// (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poison_after: Option<u32>,
    /// The supervision node it belongs to: a tree (`name`, or `name/sub` for a nested node).
    /// Absent: its parent actor's, or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_bad_ids_are_errors() {
        let err = serde_json::from_str::<SpawnRequest>(r#"{"path": "/bin/x", "arg": []}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `arg`"), "{err}");
        let err = serde_json::from_str::<SpawnRequest>(r#"{"path": "/bin/x", "id": "../up"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("actor id"), "{err}");
        let ok: SpawnRequest = serde_json::from_str(r#"{"path": "/bin/x"}"#).unwrap();
        assert!(ok.args.is_empty() && ok.id.is_none());
    }
}
