//! Reading an actor's spool: the pending messages in delivery order, and the one system-wide
//! order in which waiting messages are delivered.

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::path::Path;

use crate::envelope::Envelope;
use crate::{fsio, layout};

/// The names of the pending messages in `spool`, in delivery order (by name). `current`,
/// hidden files, editor artifacts, folders and anything that is not a `.json` file are not
/// pending. Something else with a message's name (a FIFO, a link) is listed: it is a mistake
/// to report, not a file to pass over.
pub fn pending(spool: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(spool)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if layout::is_pending_name(&name) && entry.file_type().is_ok_and(|t| !t.is_dir()) {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// The pending messages in `spool` that read as envelopes, with their file names, in delivery
/// order (one being written or not a message is passed over).
pub fn envelopes(spool: &Path) -> Vec<(String, Envelope)> {
    pending(spool)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|file| {
            let envelope = fsio::read_json::<Envelope>(&spool.join(&file)).ok()?;
            Some((file, envelope))
        })
        .collect()
}

/// Whether everything written into `send/` has been routed into a spool.
pub fn all_routed(send_dir: &Path) -> bool {
    fsio::names(send_dir)
        .unwrap_or_default()
        .iter()
        .all(|n| !layout::is_outgoing_name(n))
}

/// The system-wide delivery order of two waiting messages, each an (actor, spool file name):
/// by file name, then by actor. Spool names begin with the routing sequence, so this is the
/// order in which messages arrived. The supervisor's policies, `eos pending` and `eos step`
/// all order by this one function.
pub fn system_order(a: (&str, &str), b: (&str, &str)) -> Ordering {
    a.1.cmp(b.1).then_with(|| a.0.cmp(b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_sorted_and_skips_non_messages() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "0002-b.json",
            "0001-a.json",
            "current",
            ".x.swp",
            "notes.txt",
            "9-z.json~",
        ] {
            fs::write(dir.path().join(name), "{}").unwrap();
        }
        fs::create_dir(dir.path().join("sub.json")).unwrap();
        assert_eq!(
            pending(dir.path()).unwrap(),
            vec!["0001-a.json", "0002-b.json"]
        );
    }
}
