//! The lab's files: master and minion configs, file and pillar roots, the
//! eauth user file. All paths are absolute and under the lab's root.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::{LabError, LabOptions, MinionSpec};

/// The `myproject` execution module, shared with `docker/`.
pub const MYPROJECT_MODULE: &str = include_str!("../../../docker/salt/_modules/myproject.py");
const PILLAR_TOP: &str = include_str!("../../../docker/salt/pillar/top.sls");
const PILLAR_COMMON: &str = include_str!("../../../docker/salt/pillar/common.sls");
const PILLAR_FRONTEND: &str = include_str!("../../../docker/salt/pillar/frontend.sls");
/// Nodegroups, eauth and blacklist, shared with the docker master.
const SHARED_MASTER_CONF: &str = include_str!("../../../docker/salt/master.d/saltwire.conf");
/// The eauth users file, shared with the docker master.
const EAUTH_USERS_FILE: &str = include_str!("../../../docker/salt/eauth-users.txt");

/// Nodegroups defined in the lab's master config
/// (`docker/salt/master.d/saltwire.conf`).
pub const NODEGROUPS: &[(&str, &str)] =
    &[("webservers", "G@roles:webserver"), ("cache", "L@redis1")];

/// An eauth user of the lab's `file` eauth backend.
#[derive(Debug, Clone, Copy)]
pub struct EauthUser {
    /// User name.
    pub username: &'static str,
    /// Plaintext password.
    pub password: &'static str,
    /// The functions the user may run (`external_auth: file: <user>: [...]`).
    pub allowed: &'static [&'static str],
}

/// The eauth backend name to pass as `eauth` (`salt -a file`).
pub const EAUTH_BACKEND: &str = "file";

/// The lab's eauth users: alice may run `test.*` and `myproject.*`, bob only
/// `grains.*` (`docker/salt/master.d/saltwire.conf`, `docker/salt/eauth-users.txt`).
pub const EAUTH_USERS: &[EauthUser] = &[
    EauthUser {
        username: "alice",
        password: "alice-secret",
        allowed: &["test.*", "myproject.*"],
    },
    EauthUser {
        username: "bob",
        password: "bob-secret",
        allowed: &["grains.*"],
    },
];

/// A function refused to everyone by `publisher_acl_blacklist`
/// (`docker/salt/master.d/saltwire.conf`).
pub const BLACKLISTED_FUNCTION: &str = "test.rand_sleep";

/// Paths of one lab, derived from its root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
}

impl Layout {
    pub(crate) fn master_config_dir(&self) -> PathBuf {
        self.root.join("etc/salt")
    }
    pub(crate) fn master_cachedir(&self) -> PathBuf {
        self.root.join("var/cache/salt/master")
    }
    pub(crate) fn master_sock_dir(&self) -> PathBuf {
        self.root.join("var/run/salt/master")
    }
    pub(crate) fn master_pki_dir(&self) -> PathBuf {
        self.root.join("etc/salt/pki/master")
    }
    pub(crate) fn master_log(&self) -> PathBuf {
        self.root.join("var/log/salt/master")
    }
    pub(crate) fn master_output(&self) -> PathBuf {
        self.root.join("var/log/salt/master.out")
    }
    pub(crate) fn file_root(&self) -> PathBuf {
        self.root.join("srv/salt")
    }
    pub(crate) fn pillar_root(&self) -> PathBuf {
        self.root.join("srv/pillar")
    }
    pub(crate) fn eauth_file(&self) -> PathBuf {
        self.root.join("etc/salt/eauth-users.txt")
    }
    pub(crate) fn evidence_dir(&self) -> PathBuf {
        self.root.join("evidence")
    }
    pub(crate) fn minion_root(&self, id: &str) -> PathBuf {
        self.root.join("minions").join(id)
    }
    pub(crate) fn autosign_file(&self) -> PathBuf {
        self.master_config_dir().join("autosign.conf")
    }

    pub(crate) fn minion_config_dir(&self, id: &str) -> PathBuf {
        self.minion_root(id).join("etc/salt")
    }
    pub(crate) fn minion_log(&self, id: &str) -> PathBuf {
        self.minion_root(id).join("var/log/salt/minion")
    }
    pub(crate) fn minion_output(&self, id: &str) -> PathBuf {
        self.minion_root(id).join("var/log/salt/minion.out")
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    pub(crate) publish: u16,
    pub(crate) ret: u16,
}

fn write(path: &Path, contents: &str) -> Result<(), LabError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| LabError::io("create directory", dir, e))?;
    }
    fs::write(path, contents).map_err(|e| LabError::io("write", path, e))
}

fn mkdir(path: &Path) -> Result<(), LabError> {
    fs::create_dir_all(path).map_err(|e| LabError::io("create directory", path, e))
}

fn yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).expect("a JSON value always serializes to YAML")
}

fn p(path: PathBuf) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

/// Log level of the daemons' log files: `$SALTWIRE_LAB_LOG_LEVEL`, else `info`.
fn log_level() -> String {
    std::env::var("SALTWIRE_LAB_LOG_LEVEL")
        .ok()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "info".to_owned())
}

/// Whether the daemons' log files include `info` messages.
pub(crate) fn logs_info() -> bool {
    matches!(
        log_level().as_str(),
        "info" | "profile" | "debug" | "trace" | "garbage" | "all"
    )
}

fn heartbeat(config: &mut Map<String, Value>, opts: &LabOptions) {
    if let Some(ivl) = opts.zmq_heartbeat_ivl_ms {
        config.insert("zmq_heartbeat_ivl".into(), json!(ivl));
        config.insert("zmq_heartbeat_timeout".into(), json!(ivl.saturating_mul(3)));
    }
}

pub(crate) fn master_config(
    layout: &Layout,
    opts: &LabOptions,
    ports: &Ports,
    user: &str,
) -> Value {
    let mut config = json!({
        "root_dir": p(layout.root.clone()),
        "pki_dir": p(layout.master_pki_dir()),
        "cachedir": p(layout.master_cachedir()),
        "sock_dir": p(layout.master_sock_dir()),
        "log_file": p(layout.master_log()),
        "key_logfile": p(layout.root.join("var/log/salt/key")),
        "pidfile": p(layout.root.join("var/run/salt-master.pid")),
        "log_level": "warning",
        "log_level_logfile": log_level(),
        "user": user,
        "interface": "127.0.0.1",
        "publish_port": ports.publish,
        "ret_port": ports.ret,
        "auto_accept": true,
        "worker_threads": 2,
        "file_roots": {"base": [p(layout.file_root())]},
        "pillar_roots": {"base": [p(layout.pillar_root())]},
        "enable_gpu_grains": false,
        "enable_fqdns_grains": false,
    });
    let map = config.as_object_mut().expect("object");
    for (key, value) in shared_master_conf(layout) {
        map.insert(key, value);
    }
    heartbeat(map, opts);
    if !opts.auto_accept {
        // Keys of other ids wait in `minions_pre` for `salt-key -a`; the lab's
        // own minions are signed by the autosign file.
        map.insert("auto_accept".into(), json!(false));
        map.insert("autosign_file".into(), p(layout.autosign_file()));
    }
    config
}

/// `docker/salt/master.d/saltwire.conf` with the eauth file moved into the lab.
fn shared_master_conf(layout: &Layout) -> Map<String, Value> {
    let mut shared: Map<String, Value> =
        serde_yaml_ng::from_str(SHARED_MASTER_CONF).expect("saltwire.conf is a YAML mapping");
    if let Some(backend) = shared
        .get_mut("external_auth")
        .and_then(|e| e.get_mut(EAUTH_BACKEND))
        .and_then(Value::as_object_mut)
    {
        backend.insert("^filename".into(), p(layout.eauth_file()));
    }
    shared
}

/// The loopback address a minion connects from: 127.0.0.2 for the first
/// minion, 127.0.0.3 for the second, and so on.
pub fn minion_address(opts: &LabOptions, minion: &MinionSpec) -> String {
    let index = opts
        .minions
        .iter()
        .position(|m| m.id == minion.id)
        .unwrap_or(0);
    format!("127.0.0.{}", 2 + index)
}

pub(crate) fn minion_config(
    layout: &Layout,
    opts: &LabOptions,
    ports: &Ports,
    user: &str,
    minion: &MinionSpec,
) -> Value {
    let root = layout.minion_root(&minion.id);
    let mut config = json!({
        "id": minion.id,
        "root_dir": p(root.clone()),
        "pki_dir": p(root.join("etc/salt/pki/minion")),
        "cachedir": p(root.join("var/cache/salt/minion")),
        "sock_dir": p(root.join("var/run/salt/minion")),
        "log_file": p(layout.minion_log(&minion.id)),
        "pidfile": p(root.join("var/run/salt-minion.pid")),
        "log_level": "warning",
        "log_level_logfile": log_level(),
        "user": user,
        "master": "127.0.0.1",
        "master_port": ports.ret,
        "publish_port": ports.publish,
        // Each minion connects from its own loopback address and reports only
        // that one in its `ipv4` grain, so the master (and saltwire) can tell
        // which minions are connected, as on a real network.
        "source_address": minion_address(opts, minion),
        "grains": {"roles": minion.roles, "ipv4": [minion_address(opts, minion)]},
        "acceptance_wait_time": 1,
        "acceptance_wait_time_max": 2,
        "random_reauth_delay": 0,
        "recon_default": 100,
        "recon_max": 1000,
        "recon_randomize": false,
        "auth_timeout": 5,
        "enable_gpu_grains": false,
        "enable_fqdns_grains": false,
        "module_dirs": [p(layout.file_root().join("_modules"))],
        "myproject_evidence_dir": p(layout.evidence_dir()),
    });
    heartbeat(config.as_object_mut().expect("object"), opts);
    config
}

/// Writes every file of the lab under `layout.root`.
pub(crate) fn write_all(
    layout: &Layout,
    opts: &LabOptions,
    ports: &Ports,
    user: &str,
) -> Result<(), LabError> {
    let config_dir = layout.master_config_dir();
    write(
        &config_dir.join("master"),
        &yaml(&master_config(layout, opts, ports, user)),
    )?;
    write(
        &config_dir.join("master.d/zz-extra.conf"),
        &opts.extra_master_config,
    )?;
    write(&layout.eauth_file(), EAUTH_USERS_FILE)?;
    let autosign: String = opts.minions.iter().map(|m| format!("{}\n", m.id)).collect();
    write(&layout.autosign_file(), &autosign)?;
    write(
        &layout.file_root().join("_modules/myproject.py"),
        MYPROJECT_MODULE,
    )?;
    write(&layout.pillar_root().join("top.sls"), PILLAR_TOP)?;
    write(&layout.pillar_root().join("common.sls"), PILLAR_COMMON)?;
    write(&layout.pillar_root().join("frontend.sls"), PILLAR_FRONTEND)?;
    mkdir(&layout.evidence_dir())?;
    mkdir(&layout.root.join("var/log/salt"))?;
    for minion in &opts.minions {
        let cfg = minion_config(layout, opts, ports, user, minion);
        write(
            &layout.minion_config_dir(&minion.id).join("minion"),
            &yaml(&cfg),
        )?;
        mkdir(&layout.minion_root(&minion.id).join("var/log/salt"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Map<String, Value> {
        shared_master_conf(&Layout {
            root: PathBuf::from("/tmp/swl-x"),
        })
    }

    #[test]
    fn constants_match_the_shared_master_conf() {
        let conf = shared();
        let groups = conf["nodegroups"].as_object().unwrap();
        assert_eq!(groups.len(), NODEGROUPS.len());
        for (name, expr) in NODEGROUPS {
            assert_eq!(groups[*name], *expr);
        }
        let eauth = &conf["external_auth"][EAUTH_BACKEND];
        assert_eq!(eauth["^filename"], "/tmp/swl-x/etc/salt/eauth-users.txt");
        for user in EAUTH_USERS {
            assert_eq!(eauth[user.username], json!(user.allowed));
        }
        assert_eq!(
            conf["publisher_acl_blacklist"]["modules"],
            json!([BLACKLISTED_FUNCTION])
        );
    }

    #[test]
    fn constants_match_the_eauth_users_file() {
        let lines: Vec<String> = EAUTH_USERS
            .iter()
            .map(|u| format!("{}:{}", u.username, u.password))
            .collect();
        assert_eq!(EAUTH_USERS_FILE.lines().collect::<Vec<_>>(), lines);
    }
}
