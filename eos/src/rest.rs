//! What an actor gives back once it has started and waits for mail. A thousand idle actors
//! should cost what they need to handle their next message, not what it took to start them:
//! the code and tables that ran only at start (argument parsing, building a script engine's
//! context, compiling a script) stay resident otherwise, and the allocator keeps freed memory.
//!
//! Both are given back once, at the first rest: the read-only pages mapped from files (the
//! program's and its libraries' code and constants; a page a message needs is mapped again
//! from the page cache) and the heap's free memory. Nothing that holds data is touched.

use std::fs;

/// Gives back, once, the pages the program used only to start (see the module's doc).
pub fn first_rest() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        release_read_only_pages();
        // SAFETY: malloc_trim only returns the allocator's free memory to the kernel.
        unsafe { libc::malloc_trim(0) };
    });
}

/// The private mappings of files that are not writable and hold no page of their own (code,
/// constants): dropping them loses nothing, a later touch maps the page again from the page
/// cache. Relocated tables (RELRO) are read-only too, but their pages are the process's own
/// copies (`Anonymous`), which a drop would lose: they are kept.
fn release_read_only_pages() {
    let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in file_backed_read_only(&smaps) {
        // SAFETY: the range is a private mapping of a file that cannot be written and has no
        // page of its own: its pages are the file's, mapped again when touched.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The ranges of `smaps` (`start-end perms offset dev inode path` headers, each followed by
/// `Field: N kB` lines) that map a file privately, are not writable, and have no anonymous
/// page.
fn file_backed_read_only(smaps: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Anonymous:") {
            let own = kib.split_whitespace().next() != Some("0");
            if let Some(range) = candidate.take().filter(|_| !own) {
                ranges.push(range);
            }
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|f| !f.ends_with(':'))
        {
            candidate = mapping(line);
        }
    }
    ranges
}

/// A header line's range, if it maps a file (not `[heap]`, `[vvar]`...) privately, read-only.
fn mapping(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?.as_bytes();
    let path = fields.nth(3)?;
    let read_only_private = perms.get(1) == Some(&b'-') && perms.get(3) == Some(&b'p');
    if !read_only_private || !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unwritable_private_file_pages_are_given_back() {
        let smaps = "\
5600-5700 r--p 00000000 fe:00 10 /usr/bin/actor
Rss:                  16 kB
Anonymous:             0 kB
5700-5900 r-xp 00001000 fe:00 10 /usr/bin/actor
Rss:                  64 kB
Anonymous:             0 kB
5900-5a00 r--p 00003000 fe:00 10 /usr/bin/actor
Rss:                  16 kB
Anonymous:            16 kB
5a00-5b00 rw-p 00004000 fe:00 10 /usr/bin/actor
Anonymous:             4 kB
5b00-5c00 rw-p 00000000 00:00 0 [heap]
Anonymous:            64 kB
7f00-7f10 r-xp 00000000 fe:00 11 /usr/lib/libc.so.6
Anonymous:             0 kB
7f10-7f20 r--s 00000000 fe:00 12 /dev/shm/shared
Anonymous:             0 kB
7ffd-7ffe r--p 00000000 00:00 0 [vvar]
Anonymous:             0 kB
";
        let ranges = file_backed_read_only(smaps);
        assert_eq!(
            ranges,
            vec![(0x5600, 0x5700), (0x5700, 0x5900), (0x7f00, 0x7f10)]
        );
    }

    #[test]
    fn giving_back_keeps_the_program_running() {
        first_rest();
        first_rest();
        // Code runs and constants read as before: the pages come back from the file.
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
