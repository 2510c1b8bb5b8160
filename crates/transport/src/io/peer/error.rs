//! The peer channel's error type.

use std::path::PathBuf;
use std::time::Duration;

use crate::io::TransportError;
use crate::wire::crypto::CryptoError;

/// Why the authenticated channel could not do what was asked.
///
/// Messages never contain key material or decrypted data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The master holds our key in `minions_pre/`: it must be accepted first.
    #[error(
        "the master has not accepted the key of `{id}` yet (it is pending): run \
         `salt-key -a {id}` on the master, then try again"
    )]
    Pending {
        /// Our minion id.
        id: String,
    },
    /// The master refused our key: it is in `minions_rejected/`, or another key
    /// is accepted or pending for this id (then ours went to `minions_denied/`).
    #[error(
        "the master refused the key of `{id}`: it is rejected, or another key is accepted or \
         pending for this id (see `salt-key -L` on the master; `salt-key -d {id}` removes the \
         old entry so that this key can be offered again)"
    )]
    Rejected {
        /// Our minion id.
        id: String,
    },
    /// The master has reached its `max_minions`.
    #[error(
        "the master accepts no more keys: `max_minions` is reached (raise it in the master \
         config, or delete unused keys with `salt-key -d`)"
    )]
    Full,
    /// The master presented a key other than the pinned one.
    #[error(
        "the master key has changed: pinned {pinned}, offered {offered}; the master may have \
         been subverted. If its key was replaced on purpose, compare the new fingerprint with \
         `salt-key -F master` on the master, then {}",
        repin_hint(.pinned_path)
    )]
    MasterKeyChanged {
        /// Fingerprint of the pinned key (Salt's `pem_finger`, SHA-256).
        pinned: String,
        /// Fingerprint of the key the master sent.
        offered: String,
        /// Where the caller keeps the pinned key, if it said.
        pinned_path: Option<PathBuf>,
    },
    /// The request or subscription socket failed.
    #[error(transparent)]
    Transport(TransportError),
    /// A crypto check failed (a bad signature, a nonce mismatch, a reply that
    /// does not decrypt even after authenticating again...).
    #[error(transparent)]
    Crypto(CryptoError),
    /// No answer within the caller's timeout.
    #[error(
        "no answer from the master within {after:?} (is salt-master running, and is this its \
         ret_port, 4506 by default? are ports 4505 and 4506 reachable from here?)"
    )]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// No connection to the master's publish port in time.
    #[error(
        "cannot connect to the master's publish port at {endpoint} within {after:?} (is it \
         reachable from here? the master announces its `publish_port`, 4505 by default)"
    )]
    PublishUnreachable {
        /// The endpoint, `tcp://host:publish_port`.
        endpoint: String,
        /// How long we waited.
        after: Duration,
    },
    /// The master answered something this client does not understand.
    #[error("unexpected answer from the master: {0}")]
    Master(String),
    /// The `master` option is not `host` or `host:port`.
    #[error(
        "invalid master address {0:?}: expected HOST or HOST:PORT (e.g. salt.example.com:4506)"
    )]
    InvalidAddress(String),
}

fn repin_hint(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(
            "delete the pinned copy {} and connect again",
            path.display()
        ),
        None => "delete the pinned copy of the master key and connect again".to_owned(),
    }
}

impl PeerError {
    /// Whether the key waits for `salt-key -a` on the master.
    pub fn is_pending(&self) -> bool {
        matches!(self, PeerError::Pending { .. })
    }

    /// Whether the master refused the key (rejected or denied).
    pub fn is_rejected(&self) -> bool {
        matches!(self, PeerError::Rejected { .. })
    }

    /// Whether the master could not be reached: no answer in time, or nothing
    /// listening.
    pub fn is_unreachable(&self) -> bool {
        match self {
            PeerError::Timeout { .. } | PeerError::PublishUnreachable { .. } => true,
            PeerError::Transport(e) => e.is_timeout() || e.is_unreachable(),
            _ => false,
        }
    }

    /// Whether the master cannot be trusted: a changed key, a bad signature, a
    /// wrong token or nonce.
    pub fn is_trust_failure(&self) -> bool {
        match self {
            PeerError::MasterKeyChanged { .. } => true,
            PeerError::Crypto(e) => e.is_trust_failure(),
            _ => false,
        }
    }
}

impl From<TransportError> for PeerError {
    fn from(e: TransportError) -> PeerError {
        match e {
            TransportError::Timeout { after, .. } => PeerError::Timeout { after },
            other => PeerError::Transport(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let pending = PeerError::Pending {
            id: "saltwire-ci".into(),
        };
        assert!(pending.is_pending());
        assert!(pending.to_string().contains("salt-key -a saltwire-ci"));

        let rejected = PeerError::Rejected {
            id: "saltwire-ci".into(),
        };
        assert!(rejected.is_rejected() && !rejected.is_pending());
        assert!(rejected.to_string().contains("salt-key -L"));

        let changed = PeerError::MasterKeyChanged {
            pinned: "aa:bb".into(),
            offered: "cc:dd".into(),
            pinned_path: Some(PathBuf::from("/home/u/.config/saltwire/master.pub")),
        };
        assert!(changed.is_trust_failure());
        let text = changed.to_string();
        assert!(
            text.contains("/home/u/.config/saltwire/master.pub"),
            "{text}"
        );
        assert!(text.contains("salt-key -F master"), "{text}");

        let timeout = PeerError::from(TransportError::Timeout {
            endpoint: "tcp://127.0.0.1:4506".into(),
            after: Duration::from_secs(5),
        });
        assert!(matches!(timeout, PeerError::Timeout { .. }));
        assert!(timeout.is_unreachable());
    }
}
