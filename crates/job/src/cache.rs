//! What the master keeps on disk that a client on the master host can read:
//! the job cache (`local_cache`), the minion data cache and the accepted keys.
//!
//! The job cache is what makes saltwire's "did not return" honest: the master
//! writes every return there before it fires the return event, so a return that
//! the event bus dropped is still found (saltstack/salt#57750, #56467).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use saltwire_transport::wire::msgpack::{decode, Limits};
use saltwire_transport::Value;
use sha2::Digest;

use crate::config::MasterConfig;

/// A return read from the master's job cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedReturn {
    /// The function's return.
    pub ret: Value,
    /// The minion's retcode, when the master stored one.
    pub retcode: Option<i64>,
    /// The minion's success flag, when the master stored one.
    pub success: Option<bool>,
    /// The outputter the function declared.
    pub out: Option<String>,
}

/// Read access to the master's caches.
#[derive(Clone, Debug)]
pub struct MasterCache {
    cachedir: PathBuf,
    pki_dir: PathBuf,
    hash_type: String,
    job_cache_readable: bool,
}

impl MasterCache {
    /// The caches of the master described by `config`.
    pub fn new(config: &MasterConfig) -> MasterCache {
        MasterCache {
            cachedir: config.cachedir.clone(),
            pki_dir: config.pki_dir.clone(),
            hash_type: config.hash_type.clone(),
            job_cache_readable: config.master_job_cache == "local_cache",
        }
    }

    /// The directory `local_cache` keeps a job's returns in.
    pub fn job_dir(&self, jid: &str) -> Option<PathBuf> {
        let digest = match self.hash_type.as_str() {
            "sha256" => hex_lower(&sha2::Sha256::digest(jid.as_bytes())),
            "sha512" => hex_lower(&sha2::Sha512::digest(jid.as_bytes())),
            "sha384" => hex_lower(&sha2::Sha384::digest(jid.as_bytes())),
            "sha224" => hex_lower(&sha2::Sha224::digest(jid.as_bytes())),
            _ => return None,
        };
        Some(
            self.cachedir
                .join("jobs")
                .join(&digest[..2])
                .join(&digest[2..]),
        )
    }

    /// A minion's return for a job, if the master has cached it.
    pub fn job_return(&self, jid: &str, minion: &str) -> Option<CachedReturn> {
        if !self.job_cache_readable || minion.contains('/') || minion.starts_with('.') {
            return None;
        }
        let dir = self.job_dir(jid)?.join(minion);
        let data = read_msgpack(&dir.join("return.p"))?;
        let out = read_msgpack(&dir.join("out.p")).and_then(|v| v.as_str().map(String::from));
        if data.get("return").is_none() {
            // The old layout stored the bare return.
            return Some(CachedReturn {
                ret: data,
                retcode: None,
                success: None,
                out,
            });
        }
        Some(CachedReturn {
            ret: data.get("return").cloned().unwrap_or(Value::Nil),
            retcode: data.get("retcode").and_then(Value::as_i64),
            success: data.get("success").and_then(Value::as_bool),
            out,
        })
    }

    /// The ids with an accepted key (`<pki_dir>/minions`), or `None` when unreadable.
    pub fn accepted_minions(&self) -> Option<BTreeSet<String>> {
        let entries = std::fs::read_dir(self.pki_dir.join("minions")).ok()?;
        Some(
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| !n.starts_with('.'))
                .collect(),
        )
    }

    /// A minion's grains from the master's minion data cache (3008 keeps them
    /// in the `grains` bank, 3006/3007 in `minions/<id>/data.p`).
    pub fn grains(&self, minion: &str) -> Option<Value> {
        if minion.contains('/') || minion.starts_with('.') {
            return None;
        }
        if let Some(grains) =
            read_msgpack(&self.cachedir.join("grains").join(format!("{minion}.p")))
        {
            return Some(grains);
        }
        read_msgpack(&self.cachedir.join("minions").join(minion).join("data.p"))?
            .get("grains")
            .cloned()
    }

    /// Whether the master sees the minion connected, judged as Salt's
    /// `CkMinions.connected_ids` judges it: an established connection to the
    /// publish port from one of the minion's cached IP addresses. `None` when
    /// the minion has no cached grains (nothing to judge by).
    pub fn is_connected(&self, minion: &str, publish_port: u16) -> Option<bool> {
        let grains = self.grains(minion)?;
        let addrs = publish_port_peers(publish_port);
        let minion_addrs = ["ipv4", "ipv6"]
            .iter()
            .filter_map(|k| grains.get(k).and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.as_str().and_then(|s| s.parse::<IpAddr>().ok()));
        Some(minion_addrs.into_iter().any(|a| addrs.contains(&a)))
    }
}

fn read_msgpack(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    decode(&bytes, &Limits::default()).ok()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Remote addresses of established TCP connections to a local port, from
/// `/proc/net/tcp{,6}`; a loopback peer stands for the host's own addresses, as
/// in Salt.
pub fn publish_port_peers(port: u16) -> BTreeSet<IpAddr> {
    let mut addrs = BTreeSet::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 || cols[3] != "01" {
                continue;
            }
            let (Some(local), Some(remote)) =
                (parse_proc_addr(cols[1], v6), parse_proc_addr(cols[2], v6))
            else {
                continue;
            };
            if local.1 == port {
                addrs.insert(remote.0);
            }
        }
    }
    let v4_loopback: IpAddr = "127.0.0.1".parse().expect("literal");
    let v6_loopback: IpAddr = "::1".parse().expect("literal");
    if addrs.remove(&v4_loopback) | addrs.remove(&v6_loopback) {
        addrs.extend(host_addresses());
    }
    addrs
}

fn parse_proc_addr(field: &str, v6: bool) -> Option<(IpAddr, u16)> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        if addr.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, word) in addr.as_bytes().chunks(8).enumerate() {
            let w = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
            bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        let v6 = std::net::Ipv6Addr::from(bytes);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    } else {
        let w = u32::from_str_radix(addr, 16).ok()?;
        IpAddr::V4(std::net::Ipv4Addr::from(w.to_le_bytes()))
    };
    Some((ip, port))
}

/// The host's non-loopback addresses (IPv4 from `/proc/net/fib_trie`, IPv6 from
/// `/proc/net/if_inet6`).
fn host_addresses() -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in text.lines() {
            let t = line.trim_start_matches([' ', '|', '+', '-', '`']).trim();
            if let Ok(ip) = t.parse::<IpAddr>() {
                last = Some(ip);
            } else if t.starts_with("/32 host LOCAL") {
                if let Some(ip) = last.filter(|ip| !ip.is_loopback()) {
                    out.insert(ip);
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        for line in text.lines() {
            let Some(hex) = line.split_whitespace().next() else {
                continue;
            };
            let Ok(n) = u128::from_str_radix(hex, 16) else {
                continue;
            };
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(n));
            if !ip.is_loopback() {
                out.insert(ip);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_parse() {
        assert_eq!(
            parse_proc_addr("0100007F:1199", false),
            Some(("127.0.0.1".parse().unwrap(), 0x1199))
        );
        assert_eq!(
            parse_proc_addr("0000000000000000FFFF00000200007F:0050", true),
            Some(("127.0.0.2".parse().unwrap(), 80))
        );
    }

    #[test]
    fn job_dir_is_sha256_split_like_local_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("master"),
            format!("cachedir: {}\n", dir.path().display()),
        )
        .unwrap();
        let cfg = MasterConfig::load(dir.path()).unwrap();
        let cache = MasterCache::new(&cfg);
        // sha256("20261129180522916379")
        let digest = hex_lower(&sha2::Sha256::digest(b"20261129180522916379"));
        let want = dir
            .path()
            .join("jobs")
            .join(&digest[..2])
            .join(&digest[2..]);
        assert_eq!(cache.job_dir("20261129180522916379").unwrap(), want);
        assert!(cache.job_return("20261129180522916379", "web1").is_none());
    }
}
