//! A throwaway Salt master with minions, on loopback, for saltwire's
//! real-server tests and demos.
//!
//! ```no_run
//! use saltwire_lab::Lab;
//!
//! let lab = Lab::start_default()?;
//! let out = lab.salt(&["-G", "roles:webserver", "myproject.update_code", "rev=v2"]);
//! assert!(out.status.success());
//! assert_eq!(lab.evidence("web1", "update_code").as_deref(), Some("v2\n"));
//! assert_eq!(lab.evidence("redis1", "update_code"), None);
//! // Dropping the lab kills every process it started and removes its files.
//! # Ok::<(), saltwire_lab::LabError>(())
//! ```
//!
//! # What is spawned, and when
//!
//! [`Lab::start`] makes a short temp dir under `/tmp` (`/tmp/swl-XXXXXX`), picks
//! two free loopback ports, writes a master config (`<root>/etc/salt/master`)
//! and one config per minion (`<root>/minions/<id>/etc/salt/minion`), then
//! starts `salt-master` and one `salt-minion` per [`MinionSpec`] from the Salt
//! venv (`.venvs/salt-<version>`, made by `scripts/salt-venv.sh` if missing).
//! Each daemon leads its own process group and carries `SALTWIRE_LAB_TAG` in
//! its environment. `start` returns once every minion's key is accepted, the
//! master has each minion's grains cached and `salt test.ping` answers `True`
//! from all of them, or fails after [`LabOptions::ready_timeout`] with the
//! tails of every log in the error.
//!
//! Dropping the [`Lab`] (also while unwinding from a panic) sends SIGTERM to
//! every process group, SIGKILL after a short grace, then SIGKILLs any process
//! still tagged with the lab, and removes the temp dir unless
//! `SALTWIRE_LAB_KEEP=1`. A lab whose owner was killed outright is reaped by
//! the next `Lab::start` of any process.
//!
//! # What the lab contains
//!
//! * Minions `web1`, `web2` (grain `roles: [webserver]`) and `redis1`
//!   (`roles: [redisserver]`) by default.
//! * The `myproject` execution module (`docker/salt/_modules/myproject.py`),
//!   loaded by every minion through `module_dirs`: `update_code(rev)`,
//!   `collectstatic()`, `restart_apache()`, `restart_supervisord()`, `fail()`,
//!   `slow(seconds)`; each writes evidence read back by [`Lab::evidence`].
//! * Pillar `deploy: {env: lab}` on every minion and `frontend: true` on web1.
//! * Nodegroups [`NODEGROUPS`], `file` eauth with [`EAUTH_USERS`], and
//!   [`BLACKLISTED_FUNCTION`] in `publisher_acl_blacklist`.

mod config;
mod error;
mod process;
mod venv;

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use config::{
    EauthUser, BLACKLISTED_FUNCTION, EAUTH_BACKEND, EAUTH_USERS, MYPROJECT_MODULE, NODEGROUPS,
};
pub use error::LabError;
pub use venv::{ensure_venv, repo_root, venv_dir, DEFAULT_SALT_VERSION, SUPPORTED_SALT_VERSIONS};

use config::{Layout, Ports};
use process::Daemon;

/// How long a lab may take to become ready by default.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Set to `1` to keep a lab's temp dir (configs, logs, evidence) after drop.
pub const KEEP_ENV: &str = "SALTWIRE_LAB_KEEP";

/// Timeout given to the `salt` CLI for each readiness ping.
const PING_TIMEOUT_SECS: &str = "5";
/// Pause between readiness checks.
const POLL: Duration = Duration::from_millis(100);
/// What a minion logs (at `info`) once it has authenticated, loaded its
/// modules and subscribed to publications, in 3006, 3007 and 3008 alike.
const MINION_READY_LINE: &str = "Minion is ready to receive requests!";
/// Lines of each log quoted in a readiness error.
const LOG_TAIL_LINES: usize = 40;

/// One minion of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinionSpec {
    /// The minion id.
    pub id: String,
    /// Its `roles` grain.
    pub roles: Vec<String>,
}

impl MinionSpec {
    /// A minion `id` with grain `roles`.
    pub fn new(id: &str, roles: &[&str]) -> MinionSpec {
        MinionSpec {
            id: id.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// web1 and web2 (`roles: [webserver]`) and redis1 (`roles: [redisserver]`).
    pub fn defaults() -> Vec<MinionSpec> {
        vec![
            MinionSpec::new("web1", &["webserver"]),
            MinionSpec::new("web2", &["webserver"]),
            MinionSpec::new("redis1", &["redisserver"]),
        ]
    }
}

/// What lab to start.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Salt release (one of [`SUPPORTED_SALT_VERSIONS`]). Default: `$SALT_VERSION`,
    /// else [`DEFAULT_SALT_VERSION`].
    pub salt_version: String,
    /// The minions. Default: [`MinionSpec::defaults`].
    pub minions: Vec<MinionSpec>,
    /// Sets `zmq_heartbeat_ivl` (and `zmq_heartbeat_timeout` = 3 × it) on the
    /// master and minions, in milliseconds. `None` leaves Salt's defaults.
    pub zmq_heartbeat_ivl_ms: Option<u32>,
    /// YAML written to `master.d/zz-extra.conf`; its keys override the lab's.
    pub extra_master_config: String,
    /// Bound on the readiness wait of `start`, `start_minion` and
    /// `restart_master`. Default: [`DEFAULT_READY_TIMEOUT`].
    pub ready_timeout: Duration,
    /// `auto_accept` on the master. When false, the lab's own minions are
    /// accepted through an `autosign_file` and any other id stays pending until
    /// `salt-key -a`. Default: true.
    pub auto_accept: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            salt_version: std::env::var("SALT_VERSION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_SALT_VERSION.to_owned()),
            minions: MinionSpec::defaults(),
            zmq_heartbeat_ivl_ms: None,
            extra_master_config: String::new(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            auto_accept: true,
        }
    }
}

/// A running Salt master and its minions. Dropping it stops them all.
#[derive(Debug)]
pub struct Lab {
    opts: LabOptions,
    layout: Layout,
    config_dir: PathBuf,
    venv: PathBuf,
    ports: Ports,
    master: Option<Daemon>,
    minions: BTreeMap<String, Daemon>,
    /// Length of each minion's log when it was last spawned: the ready line
    /// is looked for after it.
    log_offsets: BTreeMap<String, u64>,
    started_in: Duration,
    dir: Option<tempfile::TempDir>,
}

impl Lab {
    /// Starts a lab and waits until it is ready (see the crate docs).
    pub fn start(opts: LabOptions) -> Result<Lab, LabError> {
        let started = Instant::now();
        validate(&opts)?;
        let venv = ensure_venv(&opts.salt_version)?;
        process::reap_orphans();

        let dir = tempfile::Builder::new()
            .prefix("swl-")
            .tempdir_in("/tmp")
            .map_err(|e| LabError::io("create temp dir in", "/tmp", e))?;
        let layout = Layout {
            root: dir.path().to_path_buf(),
        };
        let (publish, ret) = free_ports()?;
        let ports = Ports { publish, ret };
        config::write_all(&layout, &opts, &ports, &current_user())?;

        let mut lab = Lab {
            opts,
            config_dir: layout.master_config_dir(),
            layout,
            venv,
            ports,
            master: None,
            minions: BTreeMap::new(),
            log_offsets: BTreeMap::new(),
            started_in: Duration::ZERO,
            dir: Some(dir),
        };
        lab.spawn_master()?;
        let ids: Vec<String> = lab.opts.minions.iter().map(|m| m.id.clone()).collect();
        for id in &ids {
            lab.spawn_minion(id)?;
        }
        let deadline = started + lab.opts.ready_timeout;
        lab.wait_master(started, deadline)?;
        lab.wait_minions(&ids, Spawned::Now, started, deadline)?;
        lab.started_in = started.elapsed();
        Ok(lab)
    }

    /// Starts a lab with [`LabOptions::default`].
    pub fn start_default() -> Result<Lab, LabError> {
        Lab::start(LabOptions::default())
    }

    /// The master's config dir: pass it as `saltwire -c DIR` or `salt -c DIR`.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The lab's temp dir (the master's `root_dir`).
    pub fn root_dir(&self) -> &Path {
        &self.layout.root
    }

    /// The master's `ret_port` (request server) on 127.0.0.1.
    pub fn ret_port(&self) -> u16 {
        self.ports.ret
    }

    /// The master's `publish_port` on 127.0.0.1.
    pub fn publish_port(&self) -> u16 {
        self.ports.publish
    }

    /// The master's `cachedir` (holds `.root_key`, the job cache, the minion data cache).
    pub fn cachedir(&self) -> PathBuf {
        self.layout.master_cachedir()
    }

    /// The master's `sock_dir` (holds `master_event_pub.ipc`).
    pub fn sock_dir(&self) -> PathBuf {
        self.layout.master_sock_dir()
    }

    /// The master's `pki_dir`.
    pub fn pki_dir(&self) -> PathBuf {
        self.layout.master_pki_dir()
    }

    /// The Salt release this lab runs.
    pub fn salt_version(&self) -> &str {
        &self.opts.salt_version
    }

    /// The ids of all minions of the lab, running or stopped.
    pub fn minion_ids(&self) -> Vec<String> {
        self.opts.minions.iter().map(|m| m.id.clone()).collect()
    }

    /// How long [`Lab::start`] took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// A program of the Salt venv, e.g. `salt`, `salt-call`, `python`.
    pub fn venv_bin(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// `<venv>/bin/<name> -c <config_dir>`, ready for more arguments.
    pub fn salt_command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.venv_bin(name));
        cmd.arg("-c").arg(&self.config_dir).stdin(Stdio::null());
        cmd
    }

    /// Runs `salt -c <config_dir> ARGS...` and returns its output.
    pub fn salt(&self, args: &[&str]) -> Output {
        run(self.salt_command("salt").args(args))
    }

    /// Runs `salt-run -c <config_dir> ARGS...` and returns its output.
    pub fn salt_run(&self, args: &[&str]) -> Output {
        run(self.salt_command("salt-run").args(args))
    }

    /// Runs `salt-key -c <config_dir> ARGS...` and returns its output.
    pub fn salt_key(&self, args: &[&str]) -> Output {
        run(self.salt_command("salt-key").args(args))
    }

    /// Stops minion `id` (its whole process group). Unknown or already
    /// stopped minions are ignored.
    pub fn stop_minion(&mut self, id: &str) {
        if let Some(mut daemon) = self.minions.remove(id) {
            daemon.stop();
        }
    }

    /// Starts minion `id` again and waits until it answers `test.ping`.
    pub fn start_minion(&mut self, id: &str) -> Result<(), LabError> {
        self.known_minion(id)?;
        if self.minions.contains_key(id) {
            return Ok(());
        }
        let started = Instant::now();
        self.spawn_minion(id)?;
        self.wait_minions(
            &[id.to_owned()],
            Spawned::Now,
            started,
            started + self.opts.ready_timeout,
        )
    }

    /// Restarts the master and waits until every running minion answers again.
    pub fn restart_master(&mut self) -> Result<(), LabError> {
        let started = Instant::now();
        if let Some(mut master) = self.master.take() {
            master.stop();
        }
        self.spawn_master()?;
        let deadline = started + self.opts.ready_timeout;
        self.wait_master(started, deadline)?;
        let running: Vec<String> = self.minions.keys().cloned().collect();
        self.wait_minions(&running, Spawned::Before, started, deadline)
    }

    /// The evidence file `myproject.<name>` wrote on `minion`: one line per
    /// call (the revision for `update_code`, the call count otherwise).
    pub fn evidence(&self, minion: &str, name: &str) -> Option<String> {
        fs::read_to_string(self.evidence_dir().join(minion).join(name)).ok()
    }

    /// Where the `myproject` module writes evidence (`<dir>/<minion>/<function>`).
    pub fn evidence_dir(&self) -> PathBuf {
        self.layout.evidence_dir()
    }

    /// The master's log file, whole.
    pub fn master_log(&self) -> String {
        fs::read_to_string(self.layout.master_log()).unwrap_or_default()
    }

    /// Minion `id`'s log file, whole.
    pub fn minion_log(&self, id: &str) -> String {
        fs::read_to_string(self.layout.minion_log(id)).unwrap_or_default()
    }

    fn known_minion(&self, id: &str) -> Result<(), LabError> {
        if self.opts.minions.iter().any(|m| m.id == id) {
            Ok(())
        } else {
            Err(LabError::UnknownMinion {
                id: id.to_owned(),
                known: self.minion_ids().join(", "),
            })
        }
    }

    fn daemon_command(&self, program: &str, config_dir: &Path) -> Command {
        let mut cmd = Command::new(self.venv_bin(program));
        cmd.arg("-c")
            .arg(config_dir)
            .env_remove("SALT_CONFIG_DIR")
            .env_remove("SALT_MASTER_CONFIG")
            .env_remove("SALT_MINION_CONFIG");
        cmd
    }

    fn spawn_master(&mut self) -> Result<(), LabError> {
        let cmd = self.daemon_command("salt-master", &self.config_dir);
        let daemon = Daemon::spawn(
            "salt-master".into(),
            cmd,
            &self.layout.master_output(),
            &self.layout.root,
        )?;
        self.master = Some(daemon);
        Ok(())
    }

    fn spawn_minion(&mut self, id: &str) -> Result<(), LabError> {
        let offset = fs::metadata(self.layout.minion_log(id)).map_or(0, |m| m.len());
        self.log_offsets.insert(id.to_owned(), offset);
        let cmd = self.daemon_command("salt-minion", &self.layout.minion_config_dir(id));
        let daemon = Daemon::spawn(
            format!("salt-minion {id}"),
            cmd,
            &self.layout.minion_output(id),
            &self.layout.root,
        )?;
        self.minions.insert(id.to_owned(), daemon);
        Ok(())
    }

    /// Fails with logs if a daemon has exited.
    fn check_alive(&mut self, stage: &'static str, started: Instant) -> Result<(), LabError> {
        let mut dead = None;
        if let Some(master) = self.master.as_mut() {
            if let Some(status) = master.exited() {
                dead = Some(format!("salt-master exited with {status}"));
            }
        }
        for daemon in self.minions.values_mut() {
            if dead.is_some() {
                break;
            }
            if let Some(status) = daemon.exited() {
                dead = Some(format!("{} exited with {status}", daemon.name));
            }
        }
        match dead {
            Some(reason) => Err(self.not_ready(stage, reason, started)),
            None => Ok(()),
        }
    }

    /// Waits until the master's request port accepts connections and its
    /// event bus socket exists.
    fn wait_master(&mut self, started: Instant, deadline: Instant) -> Result<(), LabError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports.ret));
        let bus = self.sock_dir().join("master_event_pub.ipc");
        loop {
            self.check_alive("master", started)?;
            let listening = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
            if listening && bus.exists() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let reason = format!(
                    "ret_port {} listening: {listening}; {} exists: {}",
                    self.ports.ret,
                    bus.display(),
                    bus.exists()
                );
                return Err(self.not_ready("master", reason, started));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until each of `ids` is accepted, has grains in the master's
    /// cache, has logged that it is ready (if it was just spawned) and
    /// answers `test.ping`.
    fn wait_minions(
        &mut self,
        ids: &[String],
        spawned: Spawned,
        started: Instant,
        deadline: Instant,
    ) -> Result<(), LabError> {
        if ids.is_empty() {
            return Ok(());
        }
        let accepted = self.pki_dir().join("minions");
        loop {
            self.check_alive("key acceptance", started)?;
            let missing: Vec<&String> = ids
                .iter()
                .filter(|id| !accepted.join(id).exists())
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let reason = format!("no accepted key for {missing:?} in {}", accepted.display());
                return Err(self.not_ready("key acceptance", reason, started));
            }
            thread::sleep(POLL);
        }
        loop {
            self.check_alive("grains cache", started)?;
            let missing: Vec<&String> = ids.iter().filter(|id| !self.grains_cached(id)).collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let reason = format!(
                    "no cached grains for {missing:?} in {}",
                    self.cachedir().display()
                );
                return Err(self.not_ready("grains cache", reason, started));
            }
            thread::sleep(POLL);
        }
        // A ping sent before a minion subscribes costs the whole CLI timeout,
        // so wait for the minion's own word first when it is to be had.
        if spawned == Spawned::Now && config::logs_info() {
            loop {
                self.check_alive("minion start", started)?;
                let missing: Vec<&String> = ids
                    .iter()
                    .filter(|id| !self.minion_logged_ready(id))
                    .collect();
                if missing.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    let reason = format!("{missing:?} did not log {MINION_READY_LINE:?}");
                    return Err(self.not_ready("minion start", reason, started));
                }
                thread::sleep(POLL);
            }
        }
        loop {
            self.check_alive("test.ping", started)?;
            let reason = match self.ping(ids) {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(self.not_ready("test.ping", reason, started));
            }
            thread::sleep(POLL);
        }
    }

    /// Whether the master's minion data cache holds `id`'s grains (3008:
    /// bank `grains`; 3006/3007: `minions/<id>/data`).
    fn grains_cached(&self, id: &str) -> bool {
        let cache = self.cachedir();
        cache.join("grains").join(format!("{id}.p")).exists()
            || cache.join("minions").join(id).join("data.p").exists()
    }

    fn minion_logged_ready(&self, id: &str) -> bool {
        let offset = self.log_offsets.get(id).copied().unwrap_or(0);
        let Ok(log) = fs::read(self.layout.minion_log(id)) else {
            return false;
        };
        let fresh = log.get(offset as usize..).unwrap_or(&[]);
        String::from_utf8_lossy(fresh).contains(MINION_READY_LINE)
    }

    fn ping(&self, ids: &[String]) -> Result<(), String> {
        let list = ids.join(",");
        let out = self.salt(&[
            "--out",
            "json",
            "--static",
            "-t",
            PING_TIMEOUT_SECS,
            "-L",
            &list,
            "test.ping",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let parsed: serde_json::Value = serde_json::from_str(stdout.trim()).map_err(|_| {
            format!(
                "salt test.ping ({}) printed no JSON: {}{}",
                out.status,
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        let silent: Vec<&String> = ids
            .iter()
            .filter(|id| parsed.get(id.as_str()) != Some(&serde_json::Value::Bool(true)))
            .collect();
        if silent.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "test.ping not True from {silent:?}: {}",
                stdout.trim()
            ))
        }
    }

    fn not_ready(&self, stage: &'static str, reason: String, started: Instant) -> LabError {
        let mut logs = String::new();
        let mut section = |title: String, path: PathBuf| {
            logs.push_str(&format!("--- {title} ({}) ---\n", path.display()));
            logs.push_str(&tail(&path, LOG_TAIL_LINES));
        };
        section("master log".into(), self.layout.master_log());
        section("master stdout/stderr".into(), self.layout.master_output());
        for minion in &self.opts.minions {
            section(
                format!("minion {} log", minion.id),
                self.layout.minion_log(&minion.id),
            );
            section(
                format!("minion {} stdout/stderr", minion.id),
                self.layout.minion_output(&minion.id),
            );
        }
        LabError::NotReady {
            stage,
            reason,
            waited: started.elapsed(),
            logs,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut daemons: Vec<Daemon> = std::mem::take(&mut self.minions).into_values().collect();
        daemons.extend(self.master.take());
        for daemon in &mut daemons {
            daemon.terminate();
        }
        for daemon in &mut daemons {
            daemon.stop();
        }
        process::kill_tagged(&self.layout.root);
        if let Some(dir) = self.dir.take() {
            if std::env::var(KEEP_ENV).is_ok_and(|v| v == "1") {
                eprintln!("saltwire-lab: kept {}", dir.keep().display());
            }
        }
    }
}

/// Whether the minions being waited for were spawned by this call or were
/// already running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spawned {
    Now,
    Before,
}

fn validate(opts: &LabOptions) -> Result<(), LabError> {
    if opts.minions.is_empty() {
        return Err(LabError::Options("at least one minion is needed".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for m in &opts.minions {
        let ok = !m.id.is_empty()
            && m.id.len() <= 32
            && m.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(LabError::Options(format!(
                "minion id {:?} must be 1-32 characters of [A-Za-z0-9._-]",
                m.id
            )));
        }
        if !seen.insert(m.id.as_str()) {
            return Err(LabError::Options(format!(
                "minion id {:?} is listed twice",
                m.id
            )));
        }
    }
    Ok(())
}

/// Two distinct free TCP ports on 127.0.0.1 (publish, ret).
fn free_ports() -> Result<(u16, u16), LabError> {
    let bind = || {
        TcpListener::bind("127.0.0.1:0")
            .map_err(|e| LabError::io("bind a free port on", "127.0.0.1", e))
    };
    let a = bind()?;
    let b = bind()?;
    let port = |l: &TcpListener| {
        l.local_addr()
            .map(|a| a.port())
            .map_err(|e| LabError::io("read the port of", "127.0.0.1", e))
    };
    Ok((port(&a)?, port(&b)?))
}

/// `root` when running as root, else the current user's name (the daemons'
/// `user` setting must match who runs them).
fn current_user() -> String {
    let uid = nix::unistd::Uid::effective();
    if uid.is_root() {
        return "root".into();
    }
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| Output {
        status: ExitStatus::from_raw(127 << 8),
        stdout: Vec::new(),
        stderr: format!("cannot run {}: {e}\n", cmd.get_program().to_string_lossy()).into_bytes(),
    })
}

/// The last `lines` lines of a file, or a note that it is missing.
fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            let mut out = all[start..].join("\n");
            out.push('\n');
            out
        }
        Err(e) => format!("({e})\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options() {
        let opts = LabOptions::default();
        let ids: Vec<_> = opts.minions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["web1", "web2", "redis1"]);
        assert_eq!(opts.ready_timeout, DEFAULT_READY_TIMEOUT);
    }

    #[test]
    fn configs_are_yaml_with_ports_and_paths() {
        let layout = Layout {
            root: PathBuf::from("/tmp/swl-test"),
        };
        let opts = LabOptions {
            zmq_heartbeat_ivl_ms: Some(500),
            ..LabOptions::default()
        };
        let ports = Ports {
            publish: 41000,
            ret: 41001,
        };
        let master = config::master_config(&layout, &opts, &ports, "root");
        assert_eq!(master["ret_port"], 41001);
        assert_eq!(master["zmq_heartbeat_ivl"], 500);
        assert_eq!(master["sock_dir"], "/tmp/swl-test/var/run/salt/master");
        assert_eq!(master["nodegroups"]["webservers"], "G@roles:webserver");
        let minion = config::minion_config(&layout, &opts, &ports, "root", &opts.minions[0]);
        assert_eq!(minion["master_port"], 41001);
        assert_eq!(minion["publish_port"], 41000);
        assert_eq!(minion["grains"]["roles"][0], "webserver");
    }

    #[test]
    fn rejects_bad_minion_ids() {
        let opts = LabOptions {
            minions: vec![MinionSpec::new("a/b", &[])],
            ..LabOptions::default()
        };
        assert!(matches!(validate(&opts), Err(LabError::Options(_))));
    }
}
