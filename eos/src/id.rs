//! Actor ids and message ids: validated names that are safe to use as file names.
//!
//! An actor id becomes a directory under `running/` and part of message file names, so it must
//! never reach outside the root: only letters, digits, `-`, `_` and `.`, not starting with `.`
//! or `-`, and of a sane length.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

const MAX_ACTOR_ID: usize = 64;
const MAX_MESSAGE_ID: usize = 128;

fn check(kind: &str, s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{kind} is empty"));
    }
    if s.len() > max {
        let start: String = s.chars().take(16).collect();
        return Err(format!("{kind} `{start}…` is longer than {max} bytes"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{kind} `{}` contains {c:?}; use letters, digits, `-`, `_` and `.`",
            s.escape_debug()
        ));
    }
    if s.starts_with('.') || s.starts_with('-') {
        return Err(format!("{kind} `{s}` must not start with `.` or `-`"));
    }
    Ok(())
}

/// The id of an actor: also the name of its directory under `running/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActorId(String);

impl ActorId {
    pub fn parse(s: &str) -> Result<Self, String> {
        check("actor id", s, MAX_ACTOR_ID)?;
        Ok(ActorId(s.to_owned()))
    }

    /// A fresh id for an actor started without one: a readable base (such as the program's
    /// file name) and a random suffix.
    pub fn generate(base: &str) -> Self {
        let mut stem: String = base
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(MAX_ACTOR_ID - 7)
            .collect();
        stem = stem.trim_matches('-').to_owned();
        if stem.is_empty() {
            stem.push_str("actor");
        }
        ActorId(format!("{stem}-{:06x}", fastrand::u32(..0x100_0000)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a message: the `{RANDOM}` part of its file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(s: &str) -> Result<Self, String> {
        check("message id", s, MAX_MESSAGE_ID)?;
        Ok(MessageId(s.to_owned()))
    }

    /// A new unique id. Ids made later sort later (millisecond time first), so `ls send/`
    /// reads in roughly the order messages were sent.
    pub fn generate() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        MessageId(format!("{millis:011x}{:013x}", fastrand::u64(..1 << 52)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(ActorId);
string_newtype!(MessageId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_reach_outside_the_root() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/abs",
            "-rf",
            ".hidden",
            "tab\there",
            "nul\0",
            "new\nline",
            "a::b",
            "ü",
        ] {
            assert!(ActorId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ActorId::parse(&"a".repeat(65)).is_err());
        for good in ["counter", "ping-pong_2", "a.b", "A1"] {
            assert!(ActorId::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_sorted_by_time() {
        let a = MessageId::generate();
        assert!(MessageId::parse(a.as_str()).is_ok());
        assert!(ActorId::parse(ActorId::generate("/usr/bin/my script!").as_str()).is_ok());
        assert!(ActorId::generate("...").as_str().starts_with("actor-"));
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(MessageId::generate() > a);
    }

    #[test]
    fn long_ids_are_refused_without_panicking() {
        let err = ActorId::parse(&"é".repeat(40)).unwrap_err();
        assert!(err.contains("longer"), "{err}");
    }
}
