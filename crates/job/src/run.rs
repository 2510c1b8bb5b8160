//! One interface over both ways of running a job: locally on the master host
//! ([`LocalClient`]) and remotely as a peer ([`PeerClient`]).

use std::collections::BTreeSet;

use crate::client::{Job, LocalClient, LocalRun, Published};
use crate::error::Error;
use crate::peer::{PeerClient, PeerRun};
use crate::result::{JobReport, MinionResult};

/// A connection that can run jobs.
#[derive(Clone)]
pub enum Client {
    /// On the master host: key file and event bus.
    Local(LocalClient),
    /// Anywhere the master's ports reach: an accepted key and peer publishing.
    Peer(PeerClient),
}

impl From<LocalClient> for Client {
    fn from(c: LocalClient) -> Client {
        Client::Local(c)
    }
}

impl From<PeerClient> for Client {
    fn from(c: PeerClient) -> Client {
        Client::Peer(c)
    }
}

impl Client {
    /// Publishes a job and returns a stream of its minions' results.
    pub async fn run(&self, job: Job) -> Result<JobRun, Error> {
        match self {
            Client::Local(c) => c.run(job).await,
            Client::Peer(c) => c.run(job).await,
        }
    }

    /// Publishes a job without waiting for returns.
    pub async fn publish(&self, job: &Job) -> Result<Published, Error> {
        match self {
            Client::Local(c) => c.publish(job).await,
            Client::Peer(c) => c.publish(job).await,
        }
    }

    /// Runs a job to the end.
    pub async fn cmd(&self, job: Job) -> Result<JobReport, Error> {
        let mut run = self.run(job).await?;
        while run.next().await.is_some() {}
        Ok(run.into_report())
    }
}

/// A published job whose returns are being collected.
///
/// [`JobRun::next`] yields each minion's result as it is settled: returns in
/// arrival order, then the minions without one once the liveness rules (or the
/// deadline) give up on them.
pub struct JobRun {
    kind: Kind,
}

enum Kind {
    Local(Box<LocalRun>),
    Peer(Box<PeerRun>),
}

impl JobRun {
    pub(crate) fn local(run: LocalRun) -> JobRun {
        JobRun {
            kind: Kind::Local(Box::new(run)),
        }
    }

    pub(crate) fn peer(run: PeerRun) -> JobRun {
        JobRun {
            kind: Kind::Peer(Box::new(run)),
        }
    }

    /// The job id.
    pub fn jid(&self) -> &str {
        match &self.kind {
            Kind::Local(r) => r.jid(),
            Kind::Peer(r) => r.jid(),
        }
    }

    /// What the master said when it accepted the job.
    pub fn published(&self) -> &Published {
        match &self.kind {
            Kind::Local(r) => r.published(),
            Kind::Peer(r) => r.published(),
        }
    }

    /// The minions expected to return so far.
    pub fn expected(&self) -> &BTreeSet<String> {
        match &self.kind {
            Kind::Local(r) => r.expected(),
            Kind::Peer(r) => r.expected(),
        }
    }

    /// Results settled so far.
    pub fn results(&self) -> &[MinionResult] {
        match &self.kind {
            Kind::Local(r) => r.results(),
            Kind::Peer(r) => r.results(),
        }
    }

    /// The next settled minion, or `None` when every minion is settled.
    pub async fn next(&mut self) -> Option<MinionResult> {
        match &mut self.kind {
            Kind::Local(r) => r.next().await,
            Kind::Peer(r) => r.next().await,
        }
    }

    /// The finished job.
    pub fn into_report(self) -> JobReport {
        match self.kind {
            Kind::Local(r) => r.into_report(),
            Kind::Peer(r) => r.into_report(),
        }
    }
}
