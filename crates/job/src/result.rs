//! What became of each targeted minion.

use std::fmt;

use saltwire_transport::Value;

/// The one state every targeted minion ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MinionState {
    /// Returned, with retcode 0 and no `success: false`.
    Succeeded,
    /// Returned, with a non-zero retcode or `success: false`.
    Failed,
    /// Returned, but the retcode is unknown: in peer mode the master gives
    /// back each minion's return and nothing else.
    Returned,
    /// No return by the deadline, and the minion was last seen running the job.
    StillRunning,
    /// No return, and the master has no connection from the minion (or no key for it).
    NotConnected,
    /// No return within the timeout, and no sign of the job running.
    DidNotReturn,
}

impl MinionState {
    /// The minion returned (successfully or not).
    pub fn returned(self) -> bool {
        matches!(
            self,
            MinionState::Succeeded | MinionState::Failed | MinionState::Returned
        )
    }

    /// The name used in machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            MinionState::Succeeded => "succeeded",
            MinionState::Failed => "failed",
            MinionState::Returned => "returned",
            MinionState::StillRunning => "still_running",
            MinionState::NotConnected => "not_connected",
            MinionState::DidNotReturn => "did_not_return",
        }
    }
}

impl fmt::Display for MinionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a return was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The master's event bus, as it arrived.
    EventBus,
    /// The master's job cache, after the event bus did not deliver it.
    JobCache,
    /// No return was found.
    None,
}

/// One targeted minion's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct MinionResult {
    /// The minion id.
    pub minion: String,
    /// Its state.
    pub state: MinionState,
    /// The function's return, when the minion returned.
    pub ret: Option<Value>,
    /// The retcode, when the minion sent one.
    pub retcode: Option<i64>,
    /// The success flag, when the minion sent one.
    pub success: Option<bool>,
    /// The outputter the function declared.
    pub out: Option<String>,
    /// Where the return came from.
    pub source: Source,
    /// Why a minion has no return, in words an operator can act on.
    pub detail: Option<String>,
}

impl MinionResult {
    /// A result built from a return's fields.
    pub fn returned(
        minion: String,
        ret: Value,
        retcode: Option<i64>,
        success: Option<bool>,
        out: Option<String>,
        source: Source,
    ) -> MinionResult {
        let failed = retcode.is_some_and(|c| c != 0) || success == Some(false);
        MinionResult {
            minion,
            state: if failed {
                MinionState::Failed
            } else {
                MinionState::Succeeded
            },
            ret: Some(ret),
            retcode,
            success,
            out,
            source,
            detail: None,
        }
    }

    /// A return whose retcode is unknown (peer mode).
    pub fn returned_unknown(minion: String, ret: Value, out: Option<String>) -> MinionResult {
        MinionResult {
            minion,
            state: MinionState::Returned,
            ret: Some(ret),
            retcode: None,
            success: None,
            out,
            source: Source::JobCache,
            detail: Some("the retcode is unknown: the master does not give it to peers".into()),
        }
    }

    /// A minion whose wait is over without a return: still running (the
    /// deadline cut the wait while the job was running, as far as one can
    /// tell) or did not return. `note` is added to the hint for the latter.
    pub fn no_return(minion: String, jid: &str, still_running: bool, note: &str) -> MinionResult {
        let lookup = format!("salt-run jobs.lookup_jid {jid}");
        if still_running {
            let detail =
                format!("no return by the deadline; the job may still be running: {lookup}");
            MinionResult::missing(minion, MinionState::StillRunning, detail)
        } else {
            let detail = format!("no return and no sign of the job running ({note}): {lookup}");
            MinionResult::missing(minion, MinionState::DidNotReturn, detail)
        }
    }

    /// A minion without a return.
    pub fn missing(minion: String, state: MinionState, detail: String) -> MinionResult {
        MinionResult {
            minion,
            state,
            ret: None,
            retcode: None,
            success: None,
            out: None,
            source: Source::None,
            detail: Some(detail),
        }
    }

    /// A JSON object for machine-readable output.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("minion".into(), self.minion.clone().into());
        m.insert("state".into(), self.state.as_str().into());
        if let Some(ret) = &self.ret {
            m.insert("return".into(), ret.to_json());
        }
        m.insert(
            "retcode".into(),
            self.retcode.map_or(serde_json::Value::Null, Into::into),
        );
        if let Some(success) = self.success {
            m.insert("success".into(), success.into());
        }
        if let Some(out) = &self.out {
            m.insert("out".into(), out.clone().into());
        }
        m.insert(
            "source".into(),
            serde_json::to_value(self.source).unwrap_or_default(),
        );
        if let Some(detail) = &self.detail {
            m.insert("detail".into(), detail.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

/// Counts of each state over a job's minions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Minions targeted.
    pub expected: usize,
    /// Returned successfully.
    pub succeeded: usize,
    /// Returned a failure.
    pub failed: usize,
    /// Returned, retcode unknown (peer mode).
    pub returned: usize,
    /// Still running at the deadline.
    pub still_running: usize,
    /// Not connected.
    pub not_connected: usize,
    /// Did not return.
    pub did_not_return: usize,
}

impl Tally {
    /// Counts the given results.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a MinionResult>) -> Tally {
        let mut t = Tally::default();
        for r in results {
            t.expected += 1;
            match r.state {
                MinionState::Succeeded => t.succeeded += 1,
                MinionState::Failed => t.failed += 1,
                MinionState::Returned => t.returned += 1,
                MinionState::StillRunning => t.still_running += 1,
                MinionState::NotConnected => t.not_connected += 1,
                MinionState::DidNotReturn => t.did_not_return += 1,
            }
        }
        t
    }

    /// Minions without a return, whatever the reason.
    pub fn without_return(&self) -> usize {
        self.still_running + self.not_connected + self.did_not_return
    }

    /// Every minion returned successfully.
    pub fn all_succeeded(&self) -> bool {
        self.succeeded == self.expected
    }

    /// Every minion returned and none is known to have failed (the test a
    /// deploy step passes; in peer mode retcodes are unknown).
    pub fn none_failed_or_missing(&self) -> bool {
        self.succeeded + self.returned == self.expected
    }
}

/// A finished job.
#[derive(Clone, Debug)]
pub struct JobReport {
    /// The job id.
    pub jid: String,
    /// The function.
    pub fun: String,
    /// Every targeted minion's result, in the order they were settled.
    pub results: Vec<MinionResult>,
}

impl JobReport {
    /// Counts of each state.
    pub fn tally(&self) -> Tally {
        Tally::of(&self.results)
    }

    /// The result of one minion.
    pub fn get(&self, minion: &str) -> Option<&MinionResult> {
        self.results.iter().find(|r| r.minion == minion)
    }

    /// Minion ids in the given state, sorted.
    pub fn minions_in(&self, state: MinionState) -> Vec<String> {
        let mut ids: Vec<String> = self
            .results
            .iter()
            .filter(|r| r.state == state)
            .map(|r| r.minion.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Minion ids that returned, successfully or not, sorted.
    pub fn returned_minions(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .results
            .iter()
            .filter(|r| r.state.returned())
            .map(|r| r.minion.clone())
            .collect();
        ids.sort();
        ids
    }
}
