//! The master's configuration, read the way `salt.config.master_config` reads it.
//!
//! saltwire runs on the master host and needs only a handful of the master's
//! settings: where the request port listens, where the event bus and the key
//! files live, the CLI defaults for timeouts, and the nodegroups. A default
//! install needs no saltwire configuration at all.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::error::Error;

/// Salt's default configuration directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/salt";
/// The master's request port (`ret_port`).
pub const DEFAULT_RET_PORT: u16 = 4506;
/// The master's publish port (`publish_port`).
pub const DEFAULT_PUBLISH_PORT: u16 = 4505;
/// The event bus TCP port used when `ipc_mode: tcp` (`tcp_master_pub_port`).
pub const DEFAULT_TCP_MASTER_PUB_PORT: u16 = 4512;
/// The master's `timeout` default: how long the CLI waits for returns before probing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The master's `gather_job_timeout` default: how long a `saltutil.find_job` probe may take.
pub const DEFAULT_GATHER_JOB_TIMEOUT: Duration = Duration::from_secs(10);
/// The `cachedir` default of a master.
pub const DEFAULT_CACHEDIR: &str = "/var/cache/salt/master";
/// The `sock_dir` default of a master.
pub const DEFAULT_SOCK_DIR: &str = "/var/run/salt/master";
/// The `pki_dir` default of a master.
pub const DEFAULT_PKI_DIR: &str = "/etc/salt/pki/master";
/// The glob of files included after the main config file (`default_include`).
pub const DEFAULT_INCLUDE: &str = "master.d/*.conf";

/// How the master's event bus is reached (`ipc_mode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpcMode {
    /// Unix sockets in `sock_dir` (the default on Unix).
    Ipc,
    /// TCP on loopback (`tcp_master_pub_port`).
    Tcp,
}

/// The master settings saltwire uses, with `root_dir` applied.
#[derive(Clone, Debug)]
pub struct MasterConfig {
    /// The file the settings were read from (it may not exist: then all are defaults).
    pub conf_file: PathBuf,
    /// `interface`: the address the master binds.
    pub interface: IpAddr,
    /// `ret_port`.
    pub ret_port: u16,
    /// `publish_port`.
    pub publish_port: u16,
    /// `ipv6`.
    pub ipv6: bool,
    /// `ipc_mode`.
    pub ipc_mode: IpcMode,
    /// `tcp_master_pub_port`.
    pub tcp_master_pub_port: u16,
    /// `cachedir` (job cache, key files, minion data cache).
    pub cachedir: PathBuf,
    /// `sock_dir` (event bus sockets).
    pub sock_dir: PathBuf,
    /// `pki_dir` (accepted minion keys).
    pub pki_dir: PathBuf,
    /// `user`: the user the master runs as.
    pub user: String,
    /// `timeout`.
    pub timeout: Duration,
    /// `gather_job_timeout`.
    pub gather_job_timeout: Duration,
    /// `hash_type`: names the job cache directories.
    pub hash_type: String,
    /// `master_job_cache`: only `local_cache` can be read from disk.
    pub master_job_cache: String,
    /// `ext_job_cache`: appended to every job's returners, as LocalClient does.
    pub ext_job_cache: String,
    /// `nodegroups`: name to definition (a string or a list of words).
    pub nodegroups: BTreeMap<String, Vec<String>>,
}

impl MasterConfig {
    /// Reads `<dir>/master` and the files its `default_include` and `include` name.
    ///
    /// A missing main file gives the defaults, as it does for Salt.
    pub fn load(dir: &Path) -> Result<MasterConfig, Error> {
        let conf_file = dir.join("master");
        let mut opts = read_yaml_map(&conf_file, true)?;
        let default_include = opts
            .get("default_include")
            .and_then(Yaml::as_str)
            .unwrap_or(DEFAULT_INCLUDE)
            .to_string();
        let include = match opts.get("include") {
            Some(Yaml::String(s)) => vec![s.clone()],
            Some(Yaml::Sequence(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        for pattern in std::iter::once(default_include).chain(include) {
            for file in glob_files(dir, &pattern)? {
                opts.extend(read_yaml_map(&file, false)?);
            }
        }
        MasterConfig::from_opts(conf_file, &opts)
    }

    fn from_opts(conf_file: PathBuf, opts: &BTreeMap<String, Yaml>) -> Result<MasterConfig, Error> {
        let text = |key: &str, default: &str| -> String {
            match opts.get(key) {
                Some(Yaml::String(s)) => s.clone(),
                Some(Yaml::Number(n)) => n.to_string(),
                _ => default.to_string(),
            }
        };
        let port = |key: &str, default: u16| -> Result<u16, Error> {
            match opts.get(key) {
                None | Some(Yaml::Null) => Ok(default),
                Some(v) => yaml_u64(v)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| {
                        Error::config(&conf_file, format!("`{key}` must be a port number"))
                    }),
            }
        };
        let seconds = |key: &str, default: Duration| -> Result<Duration, Error> {
            match opts.get(key) {
                None | Some(Yaml::Null) => Ok(default),
                Some(v) => yaml_f64(v)
                    .filter(|s| *s >= 0.0 && s.is_finite())
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Error::config(&conf_file, format!("`{key}` must be a number of seconds"))
                    }),
            }
        };
        let ipv6 = opts.get("ipv6").and_then(Yaml::as_bool).unwrap_or(false);
        let interface_text = text("interface", if ipv6 { "::" } else { "0.0.0.0" });
        let interface: IpAddr = interface_text
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| {
                Error::config(
                    &conf_file,
                    format!("`interface: {interface_text}` is not an IP address"),
                )
            })?;
        let ipc_mode = match text("ipc_mode", "ipc").as_str() {
            "tcp" => IpcMode::Tcp,
            _ => IpcMode::Ipc,
        };

        // Salt swaps a long sock_dir for one under cachedir before applying root_dir.
        let cachedir = text("cachedir", DEFAULT_CACHEDIR);
        let mut sock_dir = text("sock_dir", DEFAULT_SOCK_DIR);
        if sock_dir.len() > cachedir.len() + 10 {
            sock_dir = format!("{}/.salt-unix", cachedir.trim_end_matches('/'));
        }
        let root_dir = text("root_dir", "/");
        let mut nodegroups = BTreeMap::new();
        if let Some(Yaml::Mapping(groups)) = opts.get("nodegroups") {
            for (name, def) in groups {
                let Some(name) = name.as_str() else { continue };
                let words = match def {
                    Yaml::String(s) => s.split_whitespace().map(str::to_string).collect(),
                    Yaml::Sequence(items) => items.iter().map(yaml_word).collect(),
                    _ => {
                        return Err(Error::config(
                            &conf_file,
                            format!("nodegroup `{name}` must be a string or a list"),
                        ))
                    }
                };
                nodegroups.insert(name.to_string(), words);
            }
        }
        Ok(MasterConfig {
            interface,
            ret_port: port("ret_port", DEFAULT_RET_PORT)?,
            publish_port: port("publish_port", DEFAULT_PUBLISH_PORT)?,
            ipv6,
            ipc_mode,
            tcp_master_pub_port: port("tcp_master_pub_port", DEFAULT_TCP_MASTER_PUB_PORT)?,
            cachedir: prepend_root_dir(&root_dir, &cachedir),
            sock_dir: prepend_root_dir(&root_dir, &sock_dir),
            pki_dir: prepend_root_dir(&root_dir, &text("pki_dir", DEFAULT_PKI_DIR)),
            user: text("user", "root"),
            timeout: seconds("timeout", DEFAULT_TIMEOUT)?,
            gather_job_timeout: seconds("gather_job_timeout", DEFAULT_GATHER_JOB_TIMEOUT)?,
            hash_type: text("hash_type", "sha256"),
            master_job_cache: text("master_job_cache", "local_cache"),
            ext_job_cache: text("ext_job_cache", ""),
            nodegroups,
            conf_file,
        })
    }

    /// The request port's address: `interface:ret_port`, with a wildcard bind read as loopback.
    pub fn ret_addr(&self) -> SocketAddr {
        let host = match self.interface {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            other => other,
        };
        SocketAddr::new(host, self.ret_port)
    }

    /// Where the master's event bus is read: `<sock_dir>/master_event_pub.ipc`,
    /// or loopback TCP on `tcp_master_pub_port` with `ipc_mode: tcp`.
    pub fn event_bus(&self) -> saltwire_transport::io::BusEndpoint {
        use saltwire_transport::io::BusEndpoint;
        match self.ipc_mode {
            IpcMode::Ipc => BusEndpoint::Ipc(self.sock_dir.join("master_event_pub.ipc")),
            IpcMode::Tcp => {
                let host = if self.ipv6 {
                    IpAddr::V6(Ipv6Addr::LOCALHOST)
                } else {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                };
                BusEndpoint::Tcp(SocketAddr::new(host, self.tcp_master_pub_port))
            }
        }
    }

    /// The ZeroMQ endpoint of the request port.
    pub fn ret_endpoint(&self) -> String {
        format!("tcp://{}", self.ret_addr())
    }

    /// The key file LocalClient would read for `user` (REFERENCE §3.1).
    pub fn key_file(&self, user: &str) -> PathBuf {
        let key_user = if user == "root" || user.starts_with("sudo_") {
            if user.starts_with("sudo_") || self.user != "root" {
                self.user.as_str()
            } else {
                user
            }
        } else {
            user
        };
        self.cachedir.join(format!(".{key_user}_key"))
    }
}

/// Applies `root_dir` to a path as `salt.config.prepend_root_dir` does on Unix.
pub fn prepend_root_dir(root_dir: &str, path: &str) -> PathBuf {
    let root = root_dir.trim_end_matches('/');
    if root.is_empty() {
        return PathBuf::from(path);
    }
    let relative = match path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    PathBuf::from(format!("{root}/{}", relative.trim_start_matches('/')))
}

fn read_yaml_map(path: &Path, missing_ok: bool) -> Result<BTreeMap<String, Yaml>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BTreeMap::new())
        }
        Err(e) => return Err(Error::config(path, format!("cannot read it: {e}"))),
    };
    let doc: Yaml = serde_yaml_ng::from_str(&text)
        .map_err(|e| Error::config(path, format!("not valid YAML: {e}")))?;
    match doc {
        Yaml::Null => Ok(BTreeMap::new()),
        Yaml::Mapping(map) => Ok(map
            .into_iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
            .collect()),
        _ => Err(Error::config(
            path,
            "the file must hold a YAML mapping of settings".to_string(),
        )),
    }
}

/// Expands an include pattern relative to the config dir. Only `*` in the file
/// name is supported, which covers Salt's `master.d/*.conf` convention.
fn glob_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, Error> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let Some(name) = full
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
    else {
        return Ok(Vec::new());
    };
    let parent = full.parent().unwrap_or(dir).to_path_buf();
    if !name.contains('*') {
        return Ok(if full.is_file() {
            vec![full]
        } else {
            Vec::new()
        });
    }
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard_match(&name, n))
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Shell-style matching of `*` (any run) and `?` (one character).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn yaml_u64(v: &Yaml) -> Option<u64> {
    match v {
        Yaml::Number(n) => n.as_u64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn yaml_f64(v: &Yaml) -> Option<f64> {
    match v {
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn yaml_word(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_dir_is_prepended_like_salt() {
        assert_eq!(
            prepend_root_dir("/", "/var/cache/salt/master"),
            PathBuf::from("/var/cache/salt/master")
        );
        assert_eq!(
            prepend_root_dir("/srv/lab", "/var/cache/salt/master"),
            PathBuf::from("/srv/lab/var/cache/salt/master")
        );
        assert_eq!(
            prepend_root_dir("/srv/lab/", "/srv/lab/cache"),
            PathBuf::from("/srv/lab/cache")
        );
        assert_eq!(
            prepend_root_dir("/srv/lab", "relative/dir"),
            PathBuf::from("/srv/lab/relative/dir")
        );
    }

    #[test]
    fn includes_override_the_main_file_and_root_dir_applies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("master"),
            "root_dir: /r\nret_port: 1000\ntimeout: 7\nnodegroups:\n  web: 'G@roles:webserver'\n  both: [N@web, or, L@redis1]\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("master.d")).unwrap();
        std::fs::write(dir.path().join("master.d/a.conf"), "ret_port: 2000\n").unwrap();
        std::fs::write(
            dir.path().join("master.d/b.conf"),
            "ret_port: 3000\ninterface: 127.0.0.5\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("master.d/ignored.txt"), "ret_port: 9\n").unwrap();
        let cfg = MasterConfig::load(dir.path()).unwrap();
        assert_eq!(cfg.ret_port, 3000);
        assert_eq!(cfg.timeout, Duration::from_secs(7));
        assert_eq!(cfg.gather_job_timeout, DEFAULT_GATHER_JOB_TIMEOUT);
        assert_eq!(cfg.cachedir, PathBuf::from("/r/var/cache/salt/master"));
        assert_eq!(cfg.sock_dir, PathBuf::from("/r/var/run/salt/master"));
        assert_eq!(cfg.ret_endpoint(), "tcp://127.0.0.5:3000");
        assert_eq!(cfg.nodegroups["web"], vec!["G@roles:webserver"]);
        assert_eq!(cfg.nodegroups["both"], vec!["N@web", "or", "L@redis1"]);
    }

    #[test]
    fn missing_config_gives_defaults_and_bad_yaml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = MasterConfig::load(dir.path()).unwrap();
        assert_eq!(cfg.ret_endpoint(), "tcp://127.0.0.1:4506");
        assert_eq!(
            cfg.key_file("root"),
            PathBuf::from("/var/cache/salt/master/.root_key")
        );
        std::fs::write(dir.path().join("master"), "ret_port: [\n").unwrap();
        let err = MasterConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("master"), "{err}");
    }

    #[test]
    fn key_file_follows_localclient_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("master"), "user: salt\n").unwrap();
        let cfg = MasterConfig::load(dir.path()).unwrap();
        assert!(cfg.key_file("root").ends_with(".salt_key"));
        assert!(cfg.key_file("sudo_alice").ends_with(".salt_key"));
        assert!(cfg.key_file("alice").ends_with(".alice_key"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(!wildcard_match("*.conf", "a.conf.bak"));
        assert!(wildcard_match("web?", "web1"));
    }
}
