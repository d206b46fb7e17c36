//! Control requests: what the CLI asks of the supervisor that is not a protocol file of its
//! own (deliver one message now, even while paused). A request is a JSON file in `control/`;
//! the supervisor answers with a reply file beside it and deletes the request.

use serde::{Deserialize, Serialize};

use crate::ActorId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Deliver exactly one message: the next in order, system-wide or for `actor`.
    Step {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<ActorId>,
    },
    /// Deliver this pending message next (a message id, or a spool file name).
    Deliver { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// What was delivered, or why nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Delivered>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub actor: ActorId,
    pub message: String,
    pub file: String,
    pub payload: serde_json::Value,
}
