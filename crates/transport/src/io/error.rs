//! The I/O layer's error type.

use std::io;
use std::time::Duration;

/// A request or subscription that could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint refused the connection or does not exist.
    #[error("cannot connect to {endpoint}: {source}{}", connect_hint(.source))]
    Connect {
        /// The endpoint as given (`tcp://…`, or the socket path).
        endpoint: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// No reply arrived within the caller's timeout.
    #[error(
        "no reply from {endpoint} within {after:?} (is salt-master running, \
         and is this its ret_port?)"
    )]
    Timeout {
        /// The endpoint the request was sent to.
        endpoint: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The driver behind this handle has stopped (its runtime shut down).
    #[error("the transport driver has stopped")]
    Closed,
    /// libzmq refused an operation (a malformed endpoint, an unsupported option).
    #[error("ZeroMQ error on {endpoint}: {message}")]
    Zmq {
        /// The endpoint concerned.
        endpoint: String,
        /// libzmq's description of the error.
        message: String,
    },
}

impl TransportError {
    /// Whether the caller's timeout expired: the peer may be down, slow, or
    /// not the master at all.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TransportError::Timeout { .. })
    }

    /// Whether nothing listens at the endpoint: a missing socket file, a refused
    /// or unroutable connection. A master that is down shows up this way on the
    /// event bus; on the request channel (ZeroMQ connects lazily) it shows up as
    /// a [timeout](Self::is_timeout).
    pub fn is_unreachable(&self) -> bool {
        match self {
            TransportError::Connect { source, .. } => is_unreachable_kind(source.kind()),
            _ => false,
        }
    }
}

fn is_unreachable_kind(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(
        kind,
        NotFound
            | ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | AddrNotAvailable
            | TimedOut
    )
}

fn connect_hint(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::PermissionDenied => {
            " (run as root or as the master's `user`, or check the permissions of sock_dir)"
        }
        kind if is_unreachable_kind(kind) => {
            " (is salt-master running? check sock_dir, or ipc_mode and tcp_master_pub_port \
             in the master config)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_and_hints() {
        let missing = TransportError::Connect {
            endpoint: "/run/salt/master/master_event_pub.ipc".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(missing.is_unreachable());
        assert!(!missing.is_timeout());
        assert!(missing.to_string().contains("master_event_pub.ipc"));
        assert!(missing.to_string().contains("is salt-master running"));

        let denied = TransportError::Connect {
            endpoint: "/run/salt/master/master_event_pub.ipc".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(!denied.is_unreachable());
        assert!(denied.to_string().contains("run as root"));

        let timeout = TransportError::Timeout {
            endpoint: "tcp://127.0.0.1:4506".into(),
            after: Duration::from_secs(5),
        };
        assert!(timeout.is_timeout());
        assert!(!timeout.is_unreachable());
        assert!(timeout.to_string().contains("tcp://127.0.0.1:4506"));
    }
}
