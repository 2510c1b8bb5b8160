//! Daemons in their own process groups, and the sweeps that make sure none
//! of them outlives the lab.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::LabError;

/// Environment variable set on every daemon a lab starts; its value is the
/// lab's root directory. The final sweep finds escaped processes by it.
pub(crate) const TAG_ENV: &str = "SALTWIRE_LAB_TAG";
/// Environment variable holding the pid of the process that owns the lab, so a
/// later lab can reap daemons whose owner was killed before it could drop.
pub(crate) const OWNER_ENV: &str = "SALTWIRE_LAB_OWNER";

/// How long a process group gets between SIGTERM and SIGKILL. A salt-master
/// exits in about 2 s; a salt-minion can take longer than that to wind down
/// its process manager, and nothing of a lab needs a clean minion exit.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for a SIGKILLed group to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// One daemon process (and, through its process group, all it forks).
#[derive(Debug)]
pub(crate) struct Daemon {
    pub(crate) name: String,
    child: Child,
    pgid: Pid,
    term_sent: Option<Instant>,
    stopped: bool,
}

impl Daemon {
    /// Starts `cmd` as the leader of a new process group, with stdout and
    /// stderr appended to `output`.
    pub(crate) fn spawn(
        name: String,
        mut cmd: Command,
        output: &Path,
        tag: &Path,
    ) -> Result<Daemon, LabError> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(output)
            .map_err(|e| LabError::io("open", output, e))?;
        let err = out
            .try_clone()
            .map_err(|e| LabError::io("open", output, e))?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env(TAG_ENV, tag)
            .env(OWNER_ENV, std::process::id().to_string())
            .process_group(0);
        let program = PathBuf::from(cmd.get_program());
        let child = cmd.spawn().map_err(|source| LabError::Spawn {
            what: name.clone(),
            program,
            source,
        })?;
        let pgid = Pid::from_raw(child.id() as i32);
        Ok(Daemon {
            name,
            child,
            pgid,
            term_sent: None,
            stopped: false,
        })
    }

    /// The exit status if the group leader has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM to the whole group without waiting, so several daemons
    /// can shut down at once before [`Daemon::stop`] waits for each.
    pub(crate) fn terminate(&mut self) {
        if self.term_sent.is_none() && !self.stopped {
            let _ = killpg(self.pgid, Signal::SIGTERM);
            self.term_sent = Some(Instant::now());
        }
    }

    /// SIGTERM to the whole group, SIGKILL after a grace period, then waits
    /// until no member of the group is left.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.terminate();
        self.stopped = true;
        let grace_left = self
            .term_sent
            .map_or(TERM_GRACE, |sent| TERM_GRACE.saturating_sub(sent.elapsed()));
        if !self.wait_group_gone(grace_left) {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            self.wait_group_gone(KILL_WAIT);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_group_gone(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let _ = self.child.try_wait();
            if group_members(self.pgid).is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Live (non-zombie) processes in process group `pgid`.
fn group_members(pgid: Pid) -> Vec<Pid> {
    all_pids()
        .filter(|&pid| match stat_of(pid) {
            Some((state, pg)) => pg == pgid.as_raw() && state != 'Z',
            None => false,
        })
        .collect()
}

fn all_pids() -> impl Iterator<Item = Pid> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
}

/// State letter and process group of `pid`, from `/proc/<pid>/stat`.
fn stat_of(pid: Pid) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume
    // after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn environ_of(pid: Pid) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/environ")).ok()
}

fn env_value<'a>(environ: &'a [u8], name: &str) -> Option<&'a [u8]> {
    environ.split(|&b| b == 0).find_map(|entry| {
        let rest = entry.strip_prefix(name.as_bytes())?;
        rest.strip_prefix(b"=")
    })
}

/// Live processes carrying `TAG_ENV=<tag>`.
pub(crate) fn tagged_processes(tag: &Path) -> Vec<Pid> {
    let tag = tag.as_os_str().as_encoded_bytes();
    let me = Pid::this();
    all_pids()
        .filter(|&pid| pid != me)
        .filter(|&pid| matches!(stat_of(pid), Some((s, _)) if s != 'Z'))
        .filter(|&pid| environ_of(pid).is_some_and(|env| env_value(&env, TAG_ENV) == Some(tag)))
        .collect()
}

/// SIGKILLs every live process tagged with `tag` (a process that left its
/// process group) and waits briefly for them to go.
pub(crate) fn kill_tagged(tag: &Path) {
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        let left = tagged_processes(tag);
        if left.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in left {
            let _ = kill(pid, Signal::SIGKILL);
        }
        thread::sleep(POLL);
    }
}

/// SIGKILLs lab daemons whose owning process no longer exists (a test binary
/// that was killed before its `Lab` could drop).
pub(crate) fn reap_orphans() {
    for pid in all_pids() {
        let Some(env) = environ_of(pid) else { continue };
        let Some(owner) = env_value(&env, OWNER_ENV) else {
            continue;
        };
        let Some(owner) = std::str::from_utf8(owner)
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if env_value(&env, TAG_ENV).is_none() {
            continue;
        }
        let owner_alive = !matches!(kill(Pid::from_raw(owner), None), Err(Errno::ESRCH));
        if !owner_alive {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_finds_exact_name() {
        let env = b"A=1\0SALTWIRE_LAB_TAGX=no\0SALTWIRE_LAB_TAG=/tmp/x\0";
        assert_eq!(env_value(env, TAG_ENV), Some(&b"/tmp/x"[..]));
        assert_eq!(env_value(env, "B"), None);
    }

    #[test]
    fn stat_of_self() {
        let (state, pgrp) = stat_of(Pid::this()).unwrap();
        assert_ne!(state, 'Z');
        assert_eq!(pgrp, nix::unistd::getpgrp().as_raw());
    }
}
