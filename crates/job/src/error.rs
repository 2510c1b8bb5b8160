//! The job layer's error type.

use std::path::{Path, PathBuf};

/// Everything that can stop a job before its returns are collected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration or plan file that cannot be read or understood.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong and what fixes it.
        message: String,
    },
    /// The publish key file cannot be read and no other credentials were given.
    #[error(
        "cannot read {}: {reason} (run as root or as the master's `user`, or use --eauth/--token)",
        path.display()
    )]
    KeyFile {
        /// The key file LocalClient would use.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// The master's request port or event bus does not answer.
    #[error("master unreachable at {endpoint}: {detail}")]
    MasterUnreachable {
        /// The socket path or address tried.
        endpoint: String,
        /// What happened and what to check.
        detail: String,
    },
    /// The master refused the credentials.
    #[error("authentication refused by the master: {message} ({hint})")]
    AuthenticationRefused {
        /// The master's words.
        message: String,
        /// What to try next.
        hint: String,
    },
    /// The credentials are good but not for this function or target.
    #[error("authorization refused by the master: {message} (the function may be in `publisher_acl_blacklist`, or outside this user's ACL)")]
    AuthorizationRefused {
        /// The master's words.
        message: String,
    },
    /// The target matched no minion.
    #[error("no minions matched the target: {message}")]
    NoMinions {
        /// The master's words.
        message: String,
    },
    /// The caller's input cannot be turned into a job.
    #[error("{0}")]
    Usage(String),
    /// The master answered something this client does not understand.
    #[error("unexpected reply from the master: {0}")]
    Protocol(String),
    /// The deadline passed before the job was published.
    #[error("the deadline passed before the master accepted the job")]
    DeadlineBeforePublish,
}

impl Error {
    pub(crate) fn config(path: &Path, message: impl Into<String>) -> Error {
        Error::Config {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn unreachable(endpoint: impl ToString, detail: impl ToString) -> Error {
        Error::MasterUnreachable {
            endpoint: endpoint.to_string(),
            detail: detail.to_string(),
        }
    }

    /// The master refused the credentials or the function.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::AuthenticationRefused { .. }
                | Error::AuthorizationRefused { .. }
                | Error::KeyFile { .. }
        )
    }

    /// The master could not be reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::MasterUnreachable { .. } | Error::DeadlineBeforePublish
        )
    }

    /// Nothing matched the target.
    pub fn is_no_minions(&self) -> bool {
        matches!(self, Error::NoMinions { .. })
    }

    /// The input (flags, config, plan) is at fault.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::Config { .. })
    }
}
