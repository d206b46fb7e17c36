//! Starting a supervisor: the folders, `.pid`, one supervisor per root, private roots.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::*;

#[test]
fn start_creates_private_folders_and_pid() {
    let mut sys = System::new();
    sys.start();
    for dir in ["", "spawn", "send", "running", "dead", "dead/spawn"] {
        let meta = fs::metadata(sys.path(dir)).unwrap();
        assert!(meta.is_dir(), "{dir}");
        assert_eq!(meta.permissions().mode() & 0o077, 0, "{dir} is not private");
    }
    let pid = fs::read_to_string(sys.path(".pid")).unwrap();
    assert_eq!(pid.trim(), sys.supervisor_pid().to_string());
}

#[test]
fn a_second_supervisor_on_the_same_root_is_refused() {
    let mut sys = System::new();
    sys.start();
    let out = sys.run_supervisor(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another supervisor") && stderr.contains(&sys.supervisor_pid().to_string()),
        "{stderr}"
    );
    // The first one is unharmed and still owns .pid.
    let pid = fs::read_to_string(sys.path(".pid")).unwrap();
    assert_eq!(pid.trim(), sys.supervisor_pid().to_string());
}

#[test]
fn a_stale_pid_file_does_not_block_a_restart() {
    let mut sys = System::new();
    sys.start();
    sys.kill9();
    assert!(sys.path(".pid").exists(), "SIGKILL leaves .pid behind");
    sys.start();
}

#[test]
fn a_root_others_can_write_to_is_refused() {
    let sys = System::new();
    fs::create_dir_all(sys.path("spawn")).unwrap();
    fs::set_permissions(sys.path("spawn"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = sys.run_supervisor(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can be written by other users"), "{stderr}");
    assert!(!sys.path(".pid").exists());
}

#[test]
fn a_bad_tick_is_a_usage_error() {
    let sys = System::new();
    let out = sys.run_supervisor(&["--tick", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("500ms"), "{stderr}");
}
