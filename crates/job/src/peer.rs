//! Peer mode: run jobs from anywhere that reaches the master's ports, as an
//! accepted minion that the master's `peer` setting lets publish
//! (`minion_pub`), collecting returns with `pub_ret` (REFERENCE §8.2).
//!
//! Salt gives peers each minion's return but neither its retcode nor its
//! success flag, so a return is reported as [`MinionState::Returned`], never
//! as a success that could not be seen.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use saltwire_transport::io::{PeerChannel, PeerError, PeerOptions, Publications};
use saltwire_transport::Value;
use tokio::time::Instant;

use crate::client::{Job, Published};
use crate::error::Error;
use crate::keys::KeyStore;
use crate::result::{JobReport, MinionResult};
use crate::run::JobRun;
use crate::target::TargetType;
use crate::tracker::Tracker;

/// The master's request port when `--master` names no port.
pub const DEFAULT_MASTER_PORT: u16 = crate::config::DEFAULT_RET_PORT;
/// How often `pub_ret` is asked for new returns at most (Salt's
/// `publish.publish` polls every 0.3 s). The first polls come sooner
/// ([`FIRST_POLL`], doubling), as quick functions return within ~0.2 s.
pub const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// The first wait before asking `pub_ret`.
pub const FIRST_POLL: Duration = Duration::from_millis(50);
/// How long one request to the master may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer connection: an accepted key, authenticated to the master.
#[derive(Clone)]
pub struct PeerClient {
    channel: PeerChannel,
    id: String,
    master: String,
    timeout: Duration,
    gather_job_timeout: Duration,
}

/// `HOST[:PORT]` with the default request port filled in.
pub fn master_address(master: &str) -> String {
    let has_port = match master.rsplit_once(':') {
        Some((host, port)) => {
            !host.ends_with(':') && port.parse::<u16>().is_ok() && !master.starts_with('[')
        }
        None => false,
    } || (master.starts_with('[') && master.contains("]:"));
    if has_port {
        master.to_string()
    } else {
        format!("{master}:{DEFAULT_MASTER_PORT}")
    }
}

impl PeerClient {
    /// Authenticates to the master at `master` with `id`'s key from `store`,
    /// pinning the master's key on first contact.
    pub async fn connect(master: &str, store: &KeyStore, id: &str) -> Result<PeerClient, Error> {
        let master = master_address(master);
        let key = store.load(id)?;
        let pinned = store.pinned_master(&master)?;
        let first_contact = pinned.is_none();
        let mut options = PeerOptions::new(master.clone(), id.to_string(), Arc::new(key));
        options.pinned_master = pinned;
        options.pinned_path = Some(store.pinned_master_path(&master));
        let channel = PeerChannel::connect(options)
            .await
            .map_err(|e| peer_error(&master, id, e))?;
        if first_contact {
            store.pin_master(&master, &channel.master_pub())?;
        }
        Ok(PeerClient {
            channel,
            id: id.to_string(),
            master,
            timeout: crate::config::DEFAULT_TIMEOUT,
            gather_job_timeout: crate::config::DEFAULT_GATHER_JOB_TIMEOUT,
        })
    }

    /// The id this client publishes as.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The authenticated channel (for the publication stream).
    pub fn channel(&self) -> &PeerChannel {
        &self.channel
    }

    /// The decrypted publication stream: every job the master sends its minions.
    pub async fn publications(&self) -> Result<Publications, Error> {
        self.channel
            .publications()
            .await
            .map_err(|e| peer_error(&self.master, &self.id, e))
    }

    /// Publishes a job with `minion_pub`.
    pub async fn publish(&self, job: &Job) -> Result<Published, Error> {
        self.minion_pub(
            job.target.expr.clone(),
            job.target.tgt_type,
            &job.fun,
            peer_args(&job.arg, &job.kwarg),
            job.timeout,
        )
        .await
    }

    /// Publishes a job and returns a stream of its minions' results.
    pub async fn run(&self, job: Job) -> Result<JobRun, Error> {
        let started = Instant::now();
        let deadline_at = job.deadline.map(|d| started + d);
        let publish = self.publish(&job);
        let published = match deadline_at {
            Some(at) => tokio::time::timeout_at(at, publish)
                .await
                .map_err(|_| Error::DeadlineBeforePublish)??,
            None => publish.await?,
        };
        let timeout = job.timeout.unwrap_or(self.timeout);
        Ok(JobRun::peer(PeerRun {
            client: self.clone(),
            jid: published.jid.clone(),
            fun: job.fun,
            tracker: Tracker::new(&published),
            published,
            timeout,
            gather_job_timeout: job.gather_job_timeout.unwrap_or(self.gather_job_timeout),
            deadline_at,
            timeout_at: Instant::now() + timeout,
            probe: None,
            seen_running: BTreeSet::new(),
            probed: false,
            poll_wait: FIRST_POLL,
        }))
    }

    async fn minion_pub(
        &self,
        tgt: String,
        tgt_type: TargetType,
        fun: &str,
        arg: Vec<Value>,
        timeout: Option<Duration>,
    ) -> Result<Published, Error> {
        if fun.trim().is_empty() || fun.contains(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "`{fun}` is not a function name (expected module.function, e.g. test.ping)"
            )));
        }
        let tmo = timeout.unwrap_or(self.timeout).as_secs().max(1) as i64;
        let load = Value::map([
            ("cmd", Value::str("minion_pub")),
            ("fun", Value::str(fun)),
            ("arg", Value::Array(arg)),
            ("tgt", Value::str(tgt.clone())),
            ("tgt_type", Value::str(tgt_type.as_str())),
            ("ret", Value::str("")),
            ("tmo", Value::Int(tmo)),
            ("form", Value::str("clean")),
            ("id", Value::str(self.id.clone())),
            ("no_parse", Value::Array(Vec::new())),
        ]);
        let reply = self.request(load).await?;
        let jid = reply.get("jid").and_then(Value::as_str).map(String::from);
        let minions: Vec<String> = reply
            .get("minions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        match jid {
            Some(jid) if !jid.is_empty() && !minions.is_empty() => Ok(Published { jid, minions, missing: Vec::new() }),
            Some(_) => Err(Error::NoMinions { message: format!("no minion matched `{tgt}` ({tgt_type})") }),
            None if !reply.is_truthy() => Err(Error::AuthorizationRefused {
                message: format!(
                    "the master refused to publish `{fun}` for peer `{}`: its `peer` setting must allow this id to run this function",
                    self.id
                ),
            }),
            None => Err(Error::Protocol(format!("minion_pub answered {:?}", reply.to_json()))),
        }
    }

    async fn pub_ret(&self, jid: &str) -> Result<BTreeMap<String, (Value, Option<String>)>, Error> {
        let load = Value::map([
            ("cmd", Value::str("pub_ret")),
            ("jid", Value::str(jid)),
            ("id", Value::str(self.id.clone())),
        ]);
        let reply = self.request(load).await?;
        let mut out = BTreeMap::new();
        for (minion, data) in reply.as_map().unwrap_or_default() {
            let Some(minion) = minion.as_str() else {
                continue;
            };
            let Some(ret) = data.get("ret") else { continue };
            out.insert(
                minion.to_string(),
                (
                    ret.clone(),
                    data.get("out").and_then(Value::as_str).map(String::from),
                ),
            );
        }
        Ok(out)
    }

    async fn request(&self, load: Value) -> Result<Value, Error> {
        self.channel
            .request(load, REQUEST_TIMEOUT)
            .await
            .map_err(|e| peer_error(&self.master, &self.id, e))
    }
}

fn peer_error(master: &str, id: &str, e: PeerError) -> Error {
    if e.is_pending() {
        Error::AuthenticationRefused {
            message: format!("the key of `{id}` is pending on the master"),
            hint: format!("accept it on the master with `salt-key -a {id}`"),
        }
    } else if e.is_rejected() {
        Error::AuthenticationRefused {
            message: format!("the master rejected the key of `{id}`"),
            hint: format!("on the master, `salt-key -d {id}` then run again and `salt-key -a {id}`; or use another id"),
        }
    } else if e.is_unreachable() {
        Error::unreachable(master, e)
    } else {
        match e {
            PeerError::MasterKeyChanged { .. } => Error::AuthenticationRefused {
                message: e.to_string(),
                hint: "only re-pin after checking the master's key fingerprint with `salt-key -F master` on the master".into(),
            },
            PeerError::Timeout { .. } => Error::unreachable(master, e),
            other => Error::Protocol(other.to_string()),
        }
    }
}

/// Arguments as `minion_pub` takes them: strings, parsed master-side
/// (`key=value` becomes a keyword argument, values are read as YAML).
fn peer_args(arg: &[Value], kwarg: &[(String, Value)]) -> Vec<Value> {
    let text = |v: &Value| -> String {
        match v {
            Value::Str(_) | Value::Bin(_) => {
                v.to_str_lossy().map(|t| t.into_owned()).unwrap_or_default()
            }
            Value::Nil => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            other => other.to_json().to_string(),
        }
    };
    arg.iter()
        .map(|a| Value::str(text(a)))
        .chain(
            kwarg
                .iter()
                .map(|(k, v)| Value::str(format!("{k}={}", text(v)))),
        )
        .collect()
}

/// A peer job whose returns come from polling `pub_ret`.
pub(crate) struct PeerRun {
    client: PeerClient,
    jid: String,
    fun: String,
    published: Published,
    tracker: Tracker,
    timeout: Duration,
    gather_job_timeout: Duration,
    deadline_at: Option<Instant>,
    timeout_at: Instant,
    /// The `saltutil.find_job` probe in flight and when it gives up.
    probe: Option<(String, Instant)>,
    seen_running: BTreeSet<String>,
    probed: bool,
    /// The current wait between `pub_ret` polls.
    poll_wait: Duration,
}

impl PeerRun {
    pub(crate) fn jid(&self) -> &str {
        &self.jid
    }

    pub(crate) fn published(&self) -> &Published {
        &self.published
    }

    pub(crate) fn expected(&self) -> &BTreeSet<String> {
        &self.tracker.expected
    }

    pub(crate) fn results(&self) -> &[MinionResult] {
        &self.tracker.results
    }

    pub(crate) fn into_report(self) -> JobReport {
        JobReport {
            jid: self.jid,
            fun: self.fun,
            results: self.tracker.results,
        }
    }

    pub(crate) async fn next(&mut self) -> Option<MinionResult> {
        loop {
            if let Some(next) = self.tracker.poll() {
                return next;
            }
            if self.deadline_at.is_some_and(|at| Instant::now() >= at) {
                self.settle(true);
                continue;
            }
            // Wait before each poll: 50 ms first (quick functions return in
            // ~0.2 s), doubling up to POLL_INTERVAL.
            let mut wake = Instant::now() + self.poll_wait;
            if let Some(at) = self.deadline_at {
                wake = wake.min(at);
            }
            tokio::time::sleep_until(wake).await;
            self.poll_wait = (self.poll_wait * 2).min(POLL_INTERVAL);
            if self.deadline_at.is_some_and(|at| Instant::now() >= at) {
                continue;
            }
            if let Ok(returns) = self.client.pub_ret(&self.jid).await {
                for (minion, (ret, out)) in returns {
                    self.tracker
                        .settle(MinionResult::returned_unknown(minion, ret, out));
                }
            }
            if self.tracker.has_queued() {
                continue;
            }
            let now = Instant::now();
            if let Some((probe_jid, until)) = self.probe.clone() {
                if let Ok(records) = self.client.pub_ret(&probe_jid).await {
                    for (minion, (record, _)) in records {
                        let running = matches!(&record, Value::Map(m) if !m.is_empty());
                        if running
                            && !self.tracker.found.contains(&minion)
                            && self.seen_running.insert(minion)
                        {
                            self.timeout_at = Instant::now() + self.timeout;
                        }
                    }
                }
                if now >= until {
                    self.probe = None;
                    if self.seen_running.is_empty() {
                        self.settle(false);
                        continue;
                    }
                }
            } else if now >= self.timeout_at {
                let pending: Vec<String> = self.tracker.pending();
                self.seen_running.clear();
                self.probed = true;
                let probe = self
                    .client
                    .minion_pub(
                        pending.join(","),
                        TargetType::List,
                        "saltutil.find_job",
                        vec![Value::str(self.jid.clone())],
                        None,
                    )
                    .await;
                match probe {
                    Ok(p) => self.probe = Some((p.jid, Instant::now() + self.gather_job_timeout)),
                    // The peer ACL may not allow find_job: then the timeout is final.
                    Err(_) => {
                        self.settle(false);
                        continue;
                    }
                }
            }
        }
    }

    fn settle(&mut self, at_deadline: bool) {
        let pending: Vec<String> = self.tracker.pending();
        for minion in pending {
            let still_running =
                at_deadline && (self.seen_running.contains(&minion) || !self.probed);
            let note = "peers cannot see whether a minion is connected";
            self.tracker.settle(MinionResult::no_return(
                minion,
                &self.jid,
                still_running,
                note,
            ));
        }
        self.tracker.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addresses_get_the_default_port() {
        assert_eq!(master_address("salt.example.com"), "salt.example.com:4506");
        assert_eq!(master_address("10.0.0.5:14506"), "10.0.0.5:14506");
        assert_eq!(master_address("[::1]:4506"), "[::1]:4506");
    }

    #[test]
    fn peer_args_are_strings_the_master_parses() {
        let args = peer_args(
            &[
                Value::str("exit 3"),
                Value::Int(5),
                Value::Bool(true),
                Value::Array(vec![Value::Int(1)]),
            ],
            &[("rev".into(), Value::str("v2"))],
        );
        let texts: Vec<&str> = args.iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(texts, ["exit 3", "5", "True", "[1]", "rev=v2"]);
    }
}
