//! Signalling a process through a pidfd.
//!
//! A PID read back from a file may belong to another process by now (PIDs are reused; a `.pid`
//! of 0 even means "my whole process group"). A pidfd refers to one process for as long as it
//! is held, so a signal sent through it can only reach that process.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::signal::Signal;

#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
    pid: u32,
}

impl Pidfd {
    /// Opens a pidfd for `pid`. Safe against reuse only while the process cannot have been
    /// reaped, i.e. for our own unreaped children.
    pub fn open(pid: u32) -> io::Result<Self> {
        let pid_t = libc::pid_t::try_from(pid).map_err(|_| io::ErrorKind::InvalidInput)?;
        if pid_t <= 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid_t, libc::PIDFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Pidfd { fd, pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the process; fails with ESRCH once it has exited.
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number, no siginfo, flags 0.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether the process is ready for `signal`: it catches it or blocks it (to wait for it
    /// with sigwait or a signalfd). A signal whose default action kills the process, such as
    /// SIGUSR1, must not be sent before that, or it kills a freshly started actor.
    pub fn is_ready_for(&self, signal: Signal) -> io::Result<bool> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let bit = 1u64 << (signal as u32 - 1);
        let mask = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or(0)
        };
        Ok((mask("SigCgt:") | mask("SigBlk:")) & bit != 0)
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn signals_reach_the_child_and_readiness_is_seen() {
        let mut child = Command::new("sh")
            .args(["-c", "trap 'exit 7' USR1; while :; do sleep 0.01; done"])
            .spawn()
            .unwrap();
        let pidfd = Pidfd::open(child.id()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !pidfd.is_ready_for(Signal::SIGUSR1).unwrap() {
            assert!(std::time::Instant::now() < deadline, "trap never installed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        pidfd.signal(Signal::SIGUSR1).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));
        let err = pidfd.signal(Signal::SIGUSR1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }

    #[test]
    fn pid_zero_is_refused() {
        assert!(Pidfd::open(0).is_err());
    }
}
