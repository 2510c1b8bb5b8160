use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while building, starting or driving a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The Salt venv could not be found or made.
    #[error("salt {version} venv at {path} is not usable: {message} (run `scripts/salt-venv.sh {version}`)")]
    Venv {
        /// The Salt version asked for.
        version: String,
        /// Where the venv was expected.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A file or directory of the lab could not be written or read.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("write", "create directory", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A daemon could not be started at all.
    #[error("cannot start {what} ({program}): {source}")]
    Spawn {
        /// `salt-master` or `salt-minion <id>`.
        what: String,
        /// The program that was run.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The lab did not become ready within `ready_timeout`, or a daemon died
    /// while it was starting. The message carries the tail of every log.
    #[error("salt lab not ready after {waited:.1?} ({stage}): {reason}\n{logs}")]
    NotReady {
        /// Which readiness step failed.
        stage: &'static str,
        /// What was seen last.
        reason: String,
        /// How long it waited.
        waited: Duration,
        /// The tails of the master and minion logs.
        logs: String,
    },

    /// A minion id that is not part of this lab.
    #[error("no minion {id:?} in this lab (minions: {known})")]
    UnknownMinion {
        /// The id asked for.
        id: String,
        /// The lab's minion ids, comma separated.
        known: String,
    },

    /// The options cannot make a lab.
    #[error("invalid lab options: {0}")]
    Options(String),
}

impl LabError {
    /// True when the lab started but did not become ready in time (or a
    /// daemon died while starting); the message has the logs.
    pub fn is_not_ready(&self) -> bool {
        matches!(self, LabError::NotReady { .. })
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LabError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
