//! The message envelope: what a handler sees as `msg`.
//!
//! `{"sender": <actor id or null>, "payload": <any JSON>}` as in the original EOS, plus:
//! `id` (the message id), `cause` (the id of the message whose handling sent this one) and
//! `redelivered` (true when the message was `current` while the supervisor was killed, so the
//! actor may have handled it already). A hand-written file that is not an envelope is
//! delivered as the payload of an envelope with a null sender.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fsio;
use crate::id::{ActorId, MessageId};
use crate::layout::Root;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    pub sender: Option<ActorId>,
    pub payload: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<MessageId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redelivered: bool,
    /// Any other fields a sender put in: kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The field of a timer message: when it is due (milliseconds since the epoch). Until then it
/// waits in the receiver's spool, visible, and is not delivered (unless a person delivers it
/// early); any language can set it.
pub const DUE: &str = "due";

/// The field a sender may set instead of [`DUE`]: how long from now (ms). The supervisor turns
/// it into `due` when it routes the message.
pub const DELAY_MS: &str = "delay_ms";

impl Envelope {
    /// When it is due, if it is a timer (ms since the epoch).
    pub fn due_ms(&self) -> Option<u64> {
        self.extra.get(DUE).and_then(Value::as_u64)
    }

    pub fn new(id: MessageId, sender: Option<ActorId>, payload: Value) -> Self {
        Envelope {
            id: Some(id),
            sender,
            payload,
            cause: None,
            redelivered: false,
            extra: Map::new(),
        }
    }

    /// Its id: every envelope that went through [`check`] has one.
    pub fn id_or(&self, fallback: &MessageId) -> MessageId {
        self.id.clone().unwrap_or_else(|| fallback.clone())
    }

    /// Sends it: writes it atomically into `send/` as `{to}::{id}.json` (the temp file in the
    /// root's scratch folder). Returns its id.
    pub fn post(&self, root: &Root, to: &ActorId) -> anyhow::Result<MessageId> {
        self.post_via(&root.scratch_dir(), root, to)
    }

    /// [`post`](Self::post), with the temp file written in `scratch` (an actor's own).
    pub fn post_via(
        &self,
        scratch: &std::path::Path,
        root: &Root,
        to: &ActorId,
    ) -> anyhow::Result<MessageId> {
        let id = self.id.clone().unwrap_or_else(MessageId::generate);
        fsio::write_json_atomic_via(scratch, &root.send_file(to, &id), self)?;
        Ok(id)
    }
}

/// How a message file was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A whole envelope, with its id.
    Envelope,
    /// An envelope without an id.
    WithoutId,
    /// A bare payload: the naive way an actor of the original protocol sends.
    Bare,
}

impl Shape {
    /// Whether the envelope differs from what was on disk (then it must be written again;
    /// otherwise the file can simply be renamed).
    pub fn rewritten(self) -> bool {
        self != Shape::Envelope
    }
}

/// Turns whatever was written into `send/` into an envelope with an id. An envelope is an
/// object with both `sender` and `payload`; anything else becomes the payload of one.
///
/// Returns the envelope and how it was written. Extra fields of an envelope are kept.
pub fn normalize(value: Value, id: &MessageId) -> Result<(Value, Shape), String> {
    let mut object = match value {
        Value::Object(object)
            if object.contains_key("sender") && object.contains_key("payload") =>
        {
            object
        }
        payload => {
            let mut object = Map::new();
            object.insert("id".into(), id.as_str().into());
            object.insert("sender".into(), Value::Null);
            object.insert("payload".into(), payload);
            return Ok((Value::Object(object), Shape::Bare));
        }
    };
    match &object["sender"] {
        Value::Null => {}
        Value::String(s) => {
            ActorId::parse(s).map_err(|e| format!("the envelope's sender is not valid: {e}"))?;
        }
        other => {
            return Err(format!(
                "the envelope's sender must be an actor id or null, not {other}"
            ));
        }
    }
    match object.get("id") {
        None => {}
        Some(Value::String(s)) if MessageId::parse(s).is_ok() => {
            return Ok((Value::Object(object), Shape::Envelope));
        }
        Some(other) => {
            return Err(format!(
                "the envelope's id is not a valid message id: {other}"
            ));
        }
    }
    object.insert("id".into(), id.as_str().into());
    Ok((Value::Object(object), Shape::WithoutId))
}

/// Checks the bytes of a message file and makes them an envelope with an id (`id` if it has
/// none): valid JSON, no number that would change on the way, a valid sender. Returns the
/// envelope and how the bytes had it.
pub fn check(bytes: &[u8], id: &MessageId) -> Result<(Envelope, Shape), String> {
    // Whether it is JSON at all first: the exactness check reads numbers in text that may
    // not be JSON, and would give a puzzling reason for it.
    let value = serde_json::from_slice::<Value>(bytes)
        .map_err(|e| format!("the message is not valid JSON: {e}"))?;
    crate::numbers::check_exact(bytes)
        .map_err(|e| format!("the message cannot be delivered unchanged: {e}"))?;
    let (value, shape) = normalize(value, id)?;
    let envelope = serde_json::from_value(value)
        .map_err(|e| format!("the message is not a valid envelope: {e}"))?;
    Ok((envelope, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> MessageId {
        MessageId::parse("m1").unwrap()
    }

    #[test]
    fn plain_json_is_wrapped_with_a_null_sender() {
        let (env, shape) = normalize(json!({"inc": 1}), &id()).unwrap();
        assert!(shape.rewritten());
        assert_eq!(
            env,
            json!({"id": "m1", "sender": null, "payload": {"inc": 1}})
        );
        let (env, _) = normalize(json!(5), &id()).unwrap();
        assert_eq!(env["payload"], json!(5));
    }

    #[test]
    fn envelopes_keep_their_fields_and_get_an_id() {
        let original = json!({"sender": "a", "payload": 1, "extra": true});
        let (env, shape) = normalize(original, &id()).unwrap();
        assert!(shape.rewritten());
        assert_eq!(env["extra"], json!(true));
        assert_eq!(env["id"], json!("m1"));
        let (_, shape) = normalize(env, &id()).unwrap();
        assert!(
            !shape.rewritten(),
            "an envelope with an id is renamed, not rewritten"
        );
    }

    #[test]
    fn bad_senders_are_refused() {
        assert!(normalize(json!({"sender": "../x", "payload": 1}), &id()).is_err());
        assert!(normalize(json!({"sender": 5, "payload": 1}), &id()).is_err());
        assert!(normalize(json!({"sender": null, "payload": 1, "id": 7}), &id()).is_err());
    }

    #[test]
    fn checked_envelopes_keep_extra_fields() {
        let bytes = br#"{"sender": "a", "payload": {"x": 1}, "trace": [1, 2]}"#;
        let (env, shape) = check(bytes, &id()).unwrap();
        assert!(shape.rewritten(), "it got an id");
        assert_eq!(env.id, Some(id()));
        assert_eq!(env.extra["trace"], json!([1, 2]));
        let text = serde_json::to_value(&env).unwrap();
        assert_eq!(text["trace"], json!([1, 2]));
        let (plain, _) = check(b"[1, 2]", &id()).unwrap();
        assert_eq!((plain.sender, plain.payload), (None, json!([1, 2])));
        assert!(check(b"{", &id()).unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn envelopes_parse_into_the_typed_form() {
        let value =
            json!({"id": "m1", "sender": null, "payload": [1], "cause": "m0", "redelivered": true});
        let env: Envelope = serde_json::from_value(value).unwrap();
        assert!(env.redelivered);
        assert_eq!(env.cause.unwrap().as_str(), "m0");
    }
}
