//! Publishing jobs and collecting their returns, as `salt.client.LocalClient`
//! does on the master host, with an honest end state for every minion.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saltwire_transport::io::{BusItem, EventBus, ReqChannel, Subscription};
use saltwire_transport::wire::event::Event;
use saltwire_transport::wire::msgpack::Limits;
use saltwire_transport::wire::publish::{
    condition_args, parse_publish_reply, PublishReply, PublishRequest,
};
use saltwire_transport::Value;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::auth::{specific_user, Auth};
use crate::cache::MasterCache;
use crate::config::MasterConfig;
use crate::error::Error;
use crate::result::{JobReport, MinionResult, MinionState, Source};
use crate::run::JobRun;
use crate::target::Target;
use crate::tracker::Tracker;

/// How long the master may take to answer a publish (Salt's `publish_timeout`
/// is 30 s; a master that has not answered a local publish in 10 s is not
/// going to, and the caller's deadline shortens it further).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the TCP check of the request port may take before the master is
/// called unreachable.
pub const RET_PORT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The publish `key` and the extra `kwargs` that carry eauth or a token.
type Credentials = (Zeroizing<String>, Vec<(String, Value)>);

/// A job to publish: what to run, where, and how long to wait.
#[derive(Clone, Debug)]
pub struct Job {
    /// Which minions.
    pub target: Target,
    /// The function, e.g. `test.ping`.
    pub fun: String,
    /// Positional arguments.
    pub arg: Vec<Value>,
    /// Keyword arguments (sent as Salt sends them: a trailing map with `__kwarg__`).
    pub kwarg: Vec<(String, Value)>,
    /// How long to wait for returns before probing with `saltutil.find_job`
    /// (`None`: the master's `timeout`).
    pub timeout: Option<Duration>,
    /// How long a `saltutil.find_job` probe may take (`None`: the master's
    /// `gather_job_timeout`).
    pub gather_job_timeout: Option<Duration>,
    /// A hard bound on the whole job, publish included (`None`: no bound beyond
    /// the liveness rules).
    pub deadline: Option<Duration>,
    /// Returners to send the returns to as well (comma separated).
    pub ret: String,
}

impl Job {
    /// A job running `fun` on `target` with no arguments.
    pub fn new(target: Target, fun: impl Into<String>) -> Job {
        Job {
            target,
            fun: fun.into(),
            arg: Vec::new(),
            kwarg: Vec::new(),
            timeout: None,
            gather_job_timeout: None,
            deadline: None,
            ret: String::new(),
        }
    }

    /// Adds a positional argument.
    pub fn arg(mut self, arg: impl Into<Value>) -> Job {
        self.arg.push(arg.into());
        self
    }

    /// Adds a keyword argument.
    pub fn kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Job {
        self.kwarg.push((key.into(), value.into()));
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Job {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the deadline.
    pub fn deadline(mut self, deadline: Duration) -> Job {
        self.deadline = Some(deadline);
        self
    }
}

/// What the master said when it accepted a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The job id.
    pub jid: String,
    /// The minions the master expects to run it.
    pub minions: Vec<String>,
    /// Ids named in a list target that the master does not know.
    pub missing: Vec<String>,
}

struct Inner {
    config: MasterConfig,
    cache: MasterCache,
    req: ReqChannel,
    bus: EventBus,
    auth: Auth,
    user: String,
    key: Mutex<Option<Zeroizing<String>>>,
}

/// A connection to the master on this host: its request port and its event bus.
///
/// Cheap to clone; every clone shares the same sockets.
#[derive(Clone)]
pub struct LocalClient {
    inner: Arc<Inner>,
}

impl LocalClient {
    /// Connects to the master the config describes. The event bus is connected
    /// at once, so a master that is not running is reported here.
    pub async fn connect(config: MasterConfig, auth: Auth) -> Result<LocalClient, Error> {
        let endpoint = config.event_bus();
        let bus = EventBus::connect(endpoint.clone()).await.map_err(|e| {
            Error::unreachable(
                &endpoint,
                format!(
                    "{e}; is {} the master's config dir (-c)?",
                    config
                        .conf_file
                        .parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            )
        })?;
        let ret_endpoint = config.ret_endpoint();
        // ZeroMQ would wait quietly for a master that is not listening; a plain
        // TCP connect says at once whether anything is there.
        let ret_addr = config.ret_addr();
        match tokio::time::timeout(
            RET_PORT_PROBE_TIMEOUT,
            tokio::net::TcpStream::connect(ret_addr),
        )
        .await
        {
            Ok(Ok(_probe)) => {}
            Ok(Err(e)) => {
                return Err(Error::unreachable(
                    &ret_endpoint,
                    format!(
                        "{e}; is salt-master running, and are `interface`/`ret_port` in {} right?",
                        config.conf_file.display()
                    ),
                ))
            }
            Err(_) => {
                return Err(Error::unreachable(
                    &ret_endpoint,
                    format!(
                        "no TCP answer within {} s",
                        RET_PORT_PROBE_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
        let req =
            ReqChannel::connect(&ret_endpoint).map_err(|e| Error::unreachable(&ret_endpoint, e))?;
        Ok(LocalClient {
            inner: Arc::new(Inner {
                cache: MasterCache::new(&config),
                config,
                req,
                bus,
                auth,
                user: specific_user(),
                key: Mutex::new(None),
            }),
        })
    }

    /// The master configuration in use.
    pub fn config(&self) -> &MasterConfig {
        &self.inner.config
    }

    /// Publishes a job and returns as soon as the master accepted it (`salt --async`).
    pub async fn publish(&self, job: &Job) -> Result<Published, Error> {
        let deadline = job.deadline.map(|d| Instant::now() + d);
        self.publish_raw(
            &job.target,
            &job.fun,
            job.arg.clone(),
            job.kwarg.clone(),
            &job.ret,
            deadline,
        )
        .await
    }

    /// Publishes a job and returns a stream of its minions' results.
    pub async fn run(&self, job: Job) -> Result<JobRun, Error> {
        Ok(JobRun::local(self.run_local(job).await?))
    }

    async fn run_local(&self, job: Job) -> Result<LocalRun, Error> {
        let started = Instant::now();
        let deadline_at = job.deadline.map(|d| started + d);
        // Subscribe before publishing, as LocalClient does, so no return is missed.
        let sub = self.inner.bus.subscribe("salt/job/");
        let published = self
            .publish_raw(
                &job.target,
                &job.fun,
                job.arg.clone(),
                job.kwarg.clone(),
                &job.ret,
                deadline_at,
            )
            .await?;
        let timeout = job.timeout.unwrap_or(self.inner.config.timeout);
        let gather_job_timeout = job
            .gather_job_timeout
            .unwrap_or(self.inner.config.gather_job_timeout);
        Ok(LocalRun {
            client: self.clone(),
            sub,
            jid: published.jid.clone(),
            fun: job.fun,
            tracker: Tracker::new(&published),
            published,
            timeout,
            gather_job_timeout,
            deadline_at,
            minion_timeouts: HashMap::new(),
            timeout_at: Instant::now() + timeout,
            minions_running: true,
            probe_jid: None,
            seen_running: BTreeSet::new(),
            bus_open: true,
        })
    }

    /// Runs a job to the end and returns every minion's result.
    pub async fn cmd(&self, job: Job) -> Result<JobReport, Error> {
        let mut run = self.run(job).await?;
        while run.next().await.is_some() {}
        Ok(run.into_report())
    }

    async fn publish_raw(
        &self,
        target: &Target,
        fun: &str,
        arg: Vec<Value>,
        kwarg: Vec<(String, Value)>,
        ret: &str,
        deadline_at: Option<Instant>,
    ) -> Result<Published, Error> {
        if fun.trim().is_empty() || fun.contains(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "`{fun}` is not a function name (expected module.function, e.g. test.ping)"
            )));
        }
        let (tgt, tgt_type) = target.resolve(&self.inner.config.nodegroups)?;
        let arg = condition_args(arg, kwarg);
        let mut returners = ret.to_string();
        if !self.inner.config.ext_job_cache.is_empty() {
            if !returners.is_empty() {
                returners.push(',');
            }
            returners.push_str(&self.inner.config.ext_job_cache);
        }
        for attempt in 0..2 {
            let (key, kwargs) = self.credentials(attempt > 0)?;
            let request = PublishRequest {
                tgt: tgt.clone(),
                tgt_type: tgt_type.to_string(),
                fun: fun.to_string(),
                arg: arg.clone(),
                key,
                ret: returners.clone(),
                jid: String::new(),
                user: self.inner.user.clone(),
                kwargs,
            };
            let reply = self.request(request.encode(), deadline_at).await?;
            let reply = parse_publish_reply(&reply, &Limits::default())
                .map_err(|e| Error::Protocol(format!("the publish reply does not decode: {e}")))?;
            match reply {
                PublishReply::Published {
                    jid,
                    minions,
                    missing,
                } => {
                    return Ok(Published {
                        jid,
                        minions,
                        missing,
                    })
                }
                PublishReply::Empty if attempt == 0 && matches!(self.inner.auth, Auth::KeyFile) => {
                    continue
                }
                PublishReply::Empty => {
                    return Err(Error::AuthenticationRefused {
                        message: "the master answered the publish with an empty reply".into(),
                        hint: self.auth_hint(),
                    })
                }
                PublishReply::NoMinions { message } => return Err(Error::NoMinions { message }),
                // The master makes a new key file when it restarts (3006 always
                // does): a key read before that is refused. Read it again once.
                PublishReply::AuthenticationError { .. }
                    if attempt == 0
                        && matches!(self.inner.auth, Auth::KeyFile)
                        && self.key_file_changed() =>
                {
                    continue
                }
                PublishReply::AuthenticationError { message } => {
                    return Err(Error::AuthenticationRefused {
                        message,
                        hint: self.auth_hint(),
                    })
                }
                PublishReply::AuthorizationError { message } => {
                    return Err(Error::AuthorizationRefused { message })
                }
                PublishReply::Error { name, message } => {
                    return Err(Error::Protocol(format!("{name}: {message}")))
                }
                PublishReply::BadLoad(text) => return Err(Error::Protocol(text)),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn request(
        &self,
        payload: Zeroizing<Vec<u8>>,
        deadline_at: Option<Instant>,
    ) -> Result<Vec<u8>, Error> {
        let mut wait = PUBLISH_TIMEOUT;
        if let Some(at) = deadline_at {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
            if wait.is_zero() {
                return Err(Error::DeadlineBeforePublish);
            }
        }
        let endpoint = self.inner.config.ret_endpoint();
        self.inner.req.request(payload, wait).await.map_err(|e| {
            if e.is_timeout() {
                Error::unreachable(
                    &endpoint,
                    format!(
                        "no answer within {:.1} s; is salt-master listening there (`interface`/`ret_port` in {})?",
                        wait.as_secs_f64(),
                        self.inner.config.conf_file.display()
                    ),
                )
            } else {
                Error::unreachable(&endpoint, e)
            }
        })
    }

    fn credentials(&self, reread: bool) -> Result<Credentials, Error> {
        match &self.inner.auth {
            Auth::KeyFile => {
                let mut slot = self.inner.key.lock().unwrap_or_else(|p| p.into_inner());
                if reread || slot.is_none() {
                    let path = self.inner.config.key_file(&self.inner.user);
                    let key = std::fs::read_to_string(&path).map_err(|e| Error::KeyFile {
                        path: path.clone(),
                        reason: match e.kind() {
                            std::io::ErrorKind::PermissionDenied => "permission denied".into(),
                            std::io::ErrorKind::NotFound => {
                                "no such file (is this the master host, and the right -c?)".into()
                            }
                            _ => e.to_string(),
                        },
                    })?;
                    *slot = Some(Zeroizing::new(key));
                }
                Ok((slot.clone().unwrap_or_default(), Vec::new()))
            }
            Auth::Eauth {
                eauth,
                username,
                password,
            } => Ok((
                Zeroizing::new(String::new()),
                vec![
                    ("eauth".into(), Value::str(eauth.clone())),
                    ("username".into(), Value::str(username.clone())),
                    ("password".into(), Value::str(password.as_str())),
                ],
            )),
            Auth::Token(token) => Ok((
                Zeroizing::new(String::new()),
                vec![("token".into(), Value::str(token.as_str()))],
            )),
        }
    }

    fn key_file_changed(&self) -> bool {
        let slot = self.inner.key.lock().unwrap_or_else(|p| p.into_inner());
        let on_disk = std::fs::read_to_string(self.inner.config.key_file(&self.inner.user))
            .map(Zeroizing::new);
        match (slot.as_ref(), on_disk) {
            (Some(cached), Ok(current)) => cached.as_str() != current.as_str(),
            _ => false,
        }
    }

    fn auth_hint(&self) -> String {
        match &self.inner.auth {
            Auth::KeyFile => format!(
                "the key in {} was not accepted; run as the master's `user` or root on the master host, or use --eauth",
                self.inner.config.key_file(&self.inner.user).display()
            ),
            Auth::Eauth { eauth, username, .. } => format!(
                "check the password of `{username}` and that `external_auth` in the master config has a `{eauth}` entry for that user"
            ),
            Auth::Token(_) => "the token is unknown or expired; get a new one with `salt -T` or the mk_token call".into(),
        }
    }

    async fn probe(
        &self,
        jid: &str,
        minions: Vec<String>,
        deadline_at: Option<Instant>,
    ) -> Option<String> {
        let target = Target::list(minions);
        let published = self
            .publish_raw(
                &target,
                "saltutil.find_job",
                vec![Value::str(jid)],
                Vec::new(),
                "",
                deadline_at,
            )
            .await
            .ok()?;
        Some(published.jid)
    }
}

/// A local job whose returns come from the event bus.
pub(crate) struct LocalRun {
    client: LocalClient,
    sub: Subscription,
    jid: String,
    fun: String,
    published: Published,
    tracker: Tracker,
    timeout: Duration,
    gather_job_timeout: Duration,
    deadline_at: Option<Instant>,
    minion_timeouts: HashMap<String, Instant>,
    timeout_at: Instant,
    minions_running: bool,
    probe_jid: Option<String>,
    seen_running: BTreeSet<String>,
    bus_open: bool,
}

impl LocalRun {
    /// The job id.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// What the master said when it accepted the job.
    pub fn published(&self) -> &Published {
        &self.published
    }

    /// The minions expected to return so far.
    pub fn expected(&self) -> &BTreeSet<String> {
        &self.tracker.expected
    }

    /// Results settled so far.
    pub fn results(&self) -> &[MinionResult] {
        &self.tracker.results
    }

    /// The finished job.
    pub fn into_report(self) -> JobReport {
        JobReport {
            jid: self.jid,
            fun: self.fun,
            results: self.tracker.results,
        }
    }

    /// The next settled minion, or `None` when every minion is settled.
    pub async fn next(&mut self) -> Option<MinionResult> {
        loop {
            if let Some(next) = self.tracker.poll() {
                return next;
            }
            // Ids the master said it does not know will never answer: once every
            // other minion is in, there is nothing left to wait for.
            if self
                .tracker
                .expected
                .difference(&self.tracker.found)
                .all(|id| self.published.missing.contains(id))
            {
                self.settle_pending(false);
                continue;
            }
            let now = Instant::now();
            if self.deadline_at.is_some_and(|at| now >= at) {
                self.settle_pending(true);
                continue;
            }
            for id in self.tracker.expected.difference(&self.tracker.found) {
                self.minion_timeouts
                    .entry(id.clone())
                    .or_insert(now + self.timeout);
            }
            if now >= self.timeout_at && self.minions_running {
                // Returns the bus dropped are in the job cache: look there first.
                self.check_job_cache();
                if self.tracker.found.is_superset(&self.tracker.expected) {
                    continue;
                }
                self.start_probe().await;
                continue;
            }
            let all_timed_out = self
                .tracker
                .expected
                .difference(&self.tracker.found)
                .all(|id| self.minion_timeouts.get(id).is_some_and(|t| now >= *t));
            if now >= self.timeout_at && !self.minions_running && all_timed_out {
                self.settle_pending(false);
                continue;
            }
            let mut wake = self.timeout_at;
            for id in self.tracker.expected.difference(&self.tracker.found) {
                if let Some(t) = self.minion_timeouts.get(id) {
                    if *t > now && (wake <= now || *t < wake) {
                        wake = *t;
                    }
                }
            }
            if wake <= now {
                wake = now + Duration::from_millis(50);
            }
            if let Some(at) = self.deadline_at {
                wake = wake.min(at);
            }
            if self.bus_open {
                tokio::select! {
                    item = self.sub.recv() => match item {
                        Some(BusItem::Event(event)) => self.handle_event(event),
                        Some(_gap) => self.check_job_cache(),
                        None => self.bus_open = false,
                    },
                    _ = tokio::time::sleep_until(wake) => {}
                }
            } else {
                // No bus: the job cache is the only source left; poll it.
                tokio::time::sleep_until(wake.min(Instant::now() + Duration::from_millis(200)))
                    .await;
                self.check_job_cache();
            }
        }
    }

    fn handle_event(&mut self, event: Event) {
        let Some(rest) = event.tag.strip_prefix("salt/job/") else {
            return;
        };
        let (jid, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if jid == self.jid {
            if let Some(Value::Array(minions)) = event.data.get("minions") {
                self.tracker
                    .expected
                    .extend(minions.iter().filter_map(|m| m.as_str().map(String::from)));
            }
            let Some(minion) = tail.strip_prefix("ret/") else {
                return;
            };
            let Some(ret) = event.data.get("return") else {
                return;
            };
            let minion = event
                .data
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(minion)
                .to_string();
            self.tracker.settle(MinionResult::returned(
                minion,
                ret.clone(),
                event.data.get("retcode").and_then(Value::as_i64),
                event.data.get("success").and_then(Value::as_bool),
                event
                    .data
                    .get("out")
                    .and_then(Value::as_str)
                    .map(String::from),
                Source::EventBus,
            ));
        } else if self.probe_jid.as_deref() == Some(jid) {
            let Some(minion) = tail.strip_prefix("ret/") else {
                return;
            };
            let Some(ret) = event.data.get("return") else {
                return;
            };
            // A non-empty job record means the minion is still running the job.
            let running = match ret {
                Value::Map(m) if !m.is_empty() => ret.get("return").is_none_or(Value::is_truthy),
                _ => false,
            };
            if running && !self.tracker.found.contains(minion) {
                let minion = minion.to_string();
                self.minion_timeouts
                    .insert(minion.clone(), Instant::now() + self.timeout);
                self.seen_running.insert(minion);
                self.minions_running = true;
            }
        }
    }

    async fn start_probe(&mut self) {
        let accepted = self.client.inner.cache.accepted_minions();
        let probe: Vec<String> = self
            .tracker
            .pending()
            .into_iter()
            .filter(|id| accepted.as_ref().is_none_or(|a| a.contains(id)))
            .collect();
        self.seen_running.clear();
        self.probe_jid = if probe.is_empty() {
            None
        } else {
            self.client.probe(&self.jid, probe, self.deadline_at).await
        };
        self.minions_running = false;
        self.timeout_at = Instant::now() + self.gather_job_timeout;
    }

    fn check_job_cache(&mut self) {
        let pending: Vec<String> = self.tracker.pending();
        for minion in pending {
            if let Some(cached) = self.client.inner.cache.job_return(&self.jid, &minion) {
                self.tracker.settle(MinionResult::returned(
                    minion,
                    cached.ret,
                    cached.retcode,
                    cached.success,
                    cached.out,
                    Source::JobCache,
                ));
            }
        }
    }

    fn settle_pending(&mut self, at_deadline: bool) {
        self.check_job_cache();
        let config = &self.client.inner.config;
        let cache = &self.client.inner.cache;
        let pending: Vec<String> = self.tracker.pending();
        for minion in pending {
            let result = if self.published.missing.contains(&minion) {
                let detail = "the master has no accepted key for this id".to_string();
                MinionResult::missing(minion.clone(), MinionState::NotConnected, detail)
            } else if cache.is_connected(&minion, config.publish_port) == Some(false) {
                let detail = "the master has no connection from this minion".to_string();
                MinionResult::missing(minion.clone(), MinionState::NotConnected, detail)
            } else {
                let still_running = at_deadline
                    && (self.seen_running.contains(&minion) || self.probe_jid.is_none());
                MinionResult::no_return(
                    minion.clone(),
                    &self.jid,
                    still_running,
                    "a late return will be in the job cache",
                )
            };
            self.tracker.settle(result);
        }
        self.tracker.finish();
    }
}
