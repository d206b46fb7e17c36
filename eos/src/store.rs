//! An actor's key-value storage as files: `running/<id>/store/<key>.json`, one JSON value a key,
//! written atomically, so a person can `cat` and edit them like `state.json`. The original EOS
//! gave scripts `store`, `load`, `delete` and `exists`; here they are for scripts and the SDK
//! alike. Writes take effect at once (they are not undone if the handler fails).

use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use serde_json::Value;

use crate::layout::ActorDir;
use crate::{fsio, numbers};

/// Longest key.
const MAX_KEY: usize = 100;
/// Largest value read back.
const MAX_VALUE: u64 = 64 << 20;

/// A key is a file name: letters, digits, `-`, `_` and `.`, not starting with a dot; nothing
/// that could reach outside the folder (`/`, `..`).
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(format!(
            "a storage key has 1 to {MAX_KEY} characters, not {}",
            key.len()
        ));
    }
    if key.starts_with('.') {
        return Err(format!("the storage key `{key}` starts with a dot"));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "the storage key `{key}` has `{bad}`; use letters, digits, -, _ and ."
        ));
    }
    Ok(())
}

/// The storage of one actor.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    scratch: PathBuf,
}

impl Store {
    pub fn of(actor: &ActorDir) -> Self {
        Store {
            dir: actor.store_dir(),
            scratch: actor.scratch_dir(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key).map_err(|e| anyhow!(e))?;
        Ok(self.dir.join(format!("{key}.json")))
    }

    /// Keeps `value` under `key`, replacing what was there.
    pub fn store(&self, key: &str, value: &Value) -> Result<()> {
        let path = self.path(key)?;
        fsio::create_private_dir(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fsio::write_json_atomic_via(&self.scratch, &path, value)
    }

    /// The value under `key`, if there is one.
    pub fn load(&self, key: &str) -> Result<Option<Value>> {
        let path = self.path(key)?;
        let bytes = match fsio::read_limited(&path, MAX_VALUE) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        numbers::check_exact(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid JSON", path.display()))
    }

    /// Removes `key`; whether it was there.
    pub fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("deleting {}", path.display())),
        }
    }

    /// Whether there is a value under `key`.
    pub fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.path(key)?.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_files_and_keys_cannot_escape() {
        let tmp = tempfile::tempdir().unwrap();
        let actor = crate::Root::new(tmp.path()).actor(&"a".parse().unwrap());
        fs::create_dir_all(actor.scratch_dir()).unwrap();
        let store = Store::of(&actor);
        assert!(!store.exists("visits").unwrap());
        assert_eq!(store.load("visits").unwrap(), None);
        store.store("visits", &json!({"n": 1})).unwrap();
        assert!(store.exists("visits").unwrap());
        let on_disk = fs::read_to_string(actor.store_dir().join("visits.json")).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&on_disk).unwrap(),
            json!({"n": 1})
        );
        assert_eq!(store.load("visits").unwrap(), Some(json!({"n": 1})));
        assert!(store.delete("visits").unwrap());
        assert!(!store.delete("visits").unwrap());
        for bad in ["", "../x", "a/b", ".hidden", "..", "sp ace"] {
            assert!(store.store(bad, &json!(1)).is_err(), "{bad:?}");
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key("user-1.profile_v2").is_ok());
    }
}
