//! The publication subscriber: a ZeroMQ `SUB` socket to the master's
//! `publish_port` (REFERENCE §7.1, §7.2), owned by a dedicated thread that
//! hands every multipart message to the async side.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::io::req::{HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, RECONNECT_IVL, RECONNECT_IVL_MAX};
use crate::io::TransportError;

/// How many publications may wait between the socket thread and
/// [`Publications::recv`](super::Publications::recv) before the thread stops
/// reading (and libzmq's own high-water mark takes over).
pub(super) const QUEUE_CAPACITY: usize = 1024;
/// How often the thread wakes to see whether the receiver is still there.
const POLL_SLICE_MS: i64 = 100;

/// What the socket thread sends: one message's frames, or why it stopped.
pub(super) type Frames = Result<Vec<Vec<u8>>, TransportError>;

/// Tells apart the monitor endpoints of several subscribers in one process.
static MONITOR_SEQ: AtomicU64 = AtomicU64::new(0);

/// Opens the `SUB` socket, subscribes to `topics` and spawns its thread.
/// `connected` fires once the first ZMTP handshake with the master has
/// succeeded (after which the subscriptions are on their way to it).
pub(super) fn spawn(
    endpoint: &str,
    identity: &[u8],
    topics: &[Vec<u8>],
) -> Result<(mpsc::Receiver<Frames>, oneshot::Receiver<()>), TransportError> {
    let context = zmq::Context::new();
    let monitor_endpoint = format!(
        "inproc://saltwire-sub-monitor-{}",
        MONITOR_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let open = || -> Result<(zmq::Socket, zmq::Socket), zmq::Error> {
        let socket = context.socket(zmq::SUB)?;
        socket.set_linger(0)?;
        socket.set_identity(identity)?;
        socket.set_reconnect_ivl(millis(RECONNECT_IVL))?;
        socket.set_reconnect_ivl_max(millis(RECONNECT_IVL_MAX))?;
        socket.set_heartbeat_ivl(millis(HEARTBEAT_IVL))?;
        socket.set_heartbeat_timeout(millis(HEARTBEAT_TIMEOUT))?;
        socket.set_tcp_keepalive(1)?;
        if endpoint.starts_with("tcp://[") {
            socket.set_ipv6(true)?;
        }
        for topic in topics {
            socket.set_subscribe(topic)?;
        }
        socket.monitor(
            &monitor_endpoint,
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32,
        )?;
        let monitor = context.socket(zmq::PAIR)?;
        monitor.set_linger(0)?;
        monitor.connect(&monitor_endpoint)?;
        socket.connect(endpoint)?;
        Ok((socket, monitor))
    };
    let (socket, monitor) = open().map_err(|e| zmq_error(endpoint, e))?;
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let (connected_tx, connected_rx) = oneshot::channel();
    let driver = Driver {
        endpoint: endpoint.to_owned(),
        socket,
        monitor,
        _context: context,
        connected: Some(connected_tx),
        tx,
    };
    thread::Builder::new()
        .name("saltwire-sub".into())
        .spawn(move || driver.run())
        .map_err(|source| TransportError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok((rx, connected_rx))
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn zmq_error(endpoint: &str, error: zmq::Error) -> TransportError {
    TransportError::Zmq {
        endpoint: endpoint.to_owned(),
        message: error.message().to_owned(),
    }
}

/// The socket thread's state: the only owner of the sockets.
struct Driver {
    endpoint: String,
    // The sockets come before the context: fields drop in order, and a
    // context ends only once its sockets are closed.
    socket: zmq::Socket,
    monitor: zmq::Socket,
    _context: zmq::Context,
    connected: Option<oneshot::Sender<()>>,
    tx: mpsc::Sender<Frames>,
}

impl Driver {
    fn run(mut self) {
        if let Err(e) = self.pump() {
            let _ = self.tx.blocking_send(Err(zmq_error(&self.endpoint, e)));
        }
        // LINGER 0 on both sockets: closing them and the context returns at once.
    }

    /// Reads until the receiver is dropped (`Ok`) or libzmq fails.
    fn pump(&mut self) -> Result<(), zmq::Error> {
        loop {
            if self.tx.is_closed() {
                return Ok(());
            }
            let mut items = [
                self.socket.as_poll_item(zmq::POLLIN),
                self.monitor.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, POLL_SLICE_MS) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(e),
            }
            let (data, event) = (items[0].is_readable(), items[1].is_readable());
            if event {
                // Every later handshake (after a reconnection) is drained too.
                while let Ok(parts) = self.monitor.recv_multipart(zmq::DONTWAIT) {
                    drop(parts);
                    if let Some(connected) = self.connected.take() {
                        let _ = connected.send(());
                    }
                }
            }
            if data {
                loop {
                    match self.socket.recv_multipart(zmq::DONTWAIT) {
                        Ok(frames) => {
                            if self.tx.blocking_send(Ok(frames)).is_err() {
                                return Ok(());
                            }
                        }
                        Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}
