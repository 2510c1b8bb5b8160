//! The bookkeeping every job run shares, however its returns arrive: which
//! minions are expected, which are settled, and the results not yet handed out.

use std::collections::{BTreeSet, VecDeque};

use crate::client::Published;
use crate::result::MinionResult;

/// Expected and settled minions of one job, and its results in order.
pub(crate) struct Tracker {
    /// Minions expected to return (grows when the master names more).
    pub(crate) expected: BTreeSet<String>,
    /// Minions settled (returned, or given up on).
    pub(crate) found: BTreeSet<String>,
    /// Settled results not yet handed to the caller.
    queue: VecDeque<MinionResult>,
    /// Results handed to the caller, in order.
    pub(crate) results: Vec<MinionResult>,
    done: bool,
}

impl Tracker {
    /// Expecting the minions the master named, and the ids it did not know.
    pub(crate) fn new(published: &Published) -> Tracker {
        Tracker {
            expected: published
                .minions
                .iter()
                .chain(published.missing.iter())
                .cloned()
                .collect(),
            found: BTreeSet::new(),
            queue: VecDeque::new(),
            results: Vec::new(),
            done: false,
        }
    }

    /// What `next()` returns now: `Some(Some(result))` for a settled minion,
    /// `Some(None)` when the job is over, `None` when there is more to wait for.
    pub(crate) fn poll(&mut self) -> Option<Option<MinionResult>> {
        if let Some(result) = self.queue.pop_front() {
            self.results.push(result.clone());
            return Some(Some(result));
        }
        if self.done || self.found.is_superset(&self.expected) {
            self.done = true;
            return Some(None);
        }
        None
    }

    /// Minions still unsettled, sorted.
    pub(crate) fn pending(&self) -> Vec<String> {
        self.expected.difference(&self.found).cloned().collect()
    }

    /// Settles a minion, unless it is settled already; a minion nobody
    /// expected (a return from outside the target) is added.
    pub(crate) fn settle(&mut self, result: MinionResult) -> bool {
        if !self.found.insert(result.minion.clone()) {
            return false;
        }
        self.expected.insert(result.minion.clone());
        self.queue.push_back(result);
        true
    }

    /// Whether results wait to be handed out.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// No more results will come after the queued ones.
    pub(crate) fn finish(&mut self) {
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{MinionState, Source};
    use saltwire_transport::Value;

    fn ret(id: &str) -> MinionResult {
        MinionResult::returned(
            id.into(),
            Value::Bool(true),
            Some(0),
            Some(true),
            None,
            Source::EventBus,
        )
    }

    #[test]
    fn each_minion_is_settled_once_and_the_run_ends_when_all_are() {
        let published = Published {
            jid: "1".into(),
            minions: vec!["web1".into(), "web2".into()],
            missing: vec!["ghost".into()],
        };
        let mut t = Tracker::new(&published);
        assert!(t.poll().is_none());
        assert_eq!(t.pending(), ["ghost", "web1", "web2"]);
        assert!(t.settle(ret("web1")));
        assert!(
            !t.settle(ret("web1")),
            "a second return of the same minion is ignored"
        );
        assert!(
            t.settle(ret("extra")),
            "a return from outside the target is kept"
        );
        assert_eq!(t.poll().unwrap().unwrap().minion, "web1");
        assert_eq!(t.poll().unwrap().unwrap().minion, "extra");
        assert!(t.poll().is_none());
        t.settle(MinionResult::missing(
            "ghost".into(),
            MinionState::NotConnected,
            "x".into(),
        ));
        t.settle(ret("web2"));
        t.finish();
        assert!(t.has_queued());
        assert_eq!(t.poll().unwrap().unwrap().minion, "ghost");
        assert_eq!(t.poll().unwrap().unwrap().minion, "web2");
        assert_eq!(t.poll(), Some(None));
        assert_eq!(t.results.len(), 4);
    }
}
