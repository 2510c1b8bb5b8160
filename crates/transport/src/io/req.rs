//! The request channel: a ZeroMQ `REQ` socket to the master's `ret_port`
//! (REFERENCE §2).
//!
//! libzmq sockets are blocking and not thread-safe, so one dedicated thread owns
//! the socket and serves requests one at a time, as `REQ` requires. Callers hand
//! it a payload and a oneshot channel; the thread answers on the channel. A
//! request that gets no reply in time leaves the socket unable to send again, so
//! the thread closes it and opens a fresh one for the next request (the "lazy
//! pirate" pattern, as Salt's own `RequestClient` does).

use std::fmt;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use zeroize::Zeroizing;

use super::TransportError;

/// First reconnection delay after the master closes the connection; Salt's
/// client uses libzmq's default of 100 ms too.
pub const RECONNECT_IVL: Duration = Duration::from_millis(100);
/// Upper bound of libzmq's exponential reconnection backoff, as Salt sets it
/// (`RequestClient._init_socket`: `RECONNECT_IVL_MAX 5000`).
pub const RECONNECT_IVL_MAX: Duration = Duration::from_millis(5000);
/// How often we send a ZMTP PING when the connection is idle: the master's own
/// default `zmq_heartbeat_ivl`. A master that vanished without closing the TCP
/// connection is noticed after [`HEARTBEAT_TIMEOUT`] and the socket reconnects.
pub const HEARTBEAT_IVL: Duration = Duration::from_secs(10);
/// How long without any traffic after a PING before the connection is dropped
/// and re-established: the master's default `zmq_heartbeat_timeout`.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// TCP keepalive idle time, interval and probe count: the master's values for its
/// `ROUTER` (REFERENCE §2.1), a backstop behind the heartbeats.
const TCP_KEEPALIVE_IDLE_S: i32 = 60;
const TCP_KEEPALIVE_INTVL_S: i32 = 15;
const TCP_KEEPALIVE_CNT: i32 = 3;
/// While waiting for a reply the driver wakes this often to see whether the
/// caller is still waiting.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// A handle on the request channel to the master's `ret_port`.
///
/// Cheap to clone; every clone shares one socket and one driver thread, which
/// ends when the last handle is dropped. Requests from all clones are served in
/// the order they were made, one at a time.
#[derive(Clone)]
pub struct ReqChannel {
    endpoint: Arc<str>,
    jobs: std_mpsc::Sender<Job>,
}

impl fmt::Debug for ReqChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqChannel")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// One request travelling to the driver thread.
struct Job {
    payload: Zeroizing<Vec<u8>>,
    timeout: Duration,
    deadline: Option<Instant>,
    reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
}

impl ReqChannel {
    /// Opens the socket and starts the driver thread. Does not block and does not
    /// wait for the connection: libzmq connects in the background and the first
    /// request is queued until it is up.
    ///
    /// `endpoint` is a ZeroMQ endpoint such as `tcp://127.0.0.1:4506`; a malformed
    /// one is refused here with [`TransportError::Zmq`].
    pub fn connect(endpoint: &str) -> Result<ReqChannel, TransportError> {
        let context = zmq::Context::new();
        let socket = open_socket(&context, endpoint)?;
        let (jobs, queue) = std_mpsc::channel();
        let driver = Driver {
            endpoint: endpoint.to_owned(),
            context,
            socket: Some(socket),
            queue,
        };
        thread::Builder::new()
            .name("saltwire-req".into())
            .spawn(move || driver.run())
            .map_err(|source| TransportError::Connect {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        Ok(ReqChannel {
            endpoint: endpoint.into(),
            jobs,
        })
    }

    /// The endpoint this channel sends to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request frame and waits for the one reply frame, at most
    /// `timeout` from now (including the time spent behind earlier requests).
    ///
    /// On [`TransportError::Timeout`] the request may still have reached the
    /// master and been acted on. Dropping the returned future abandons the
    /// request the same way. Either way the next request uses a fresh socket.
    pub async fn request(
        &self,
        payload: Zeroizing<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let (reply, reply_rx) = oneshot::channel();
        let deadline = Instant::now().checked_add(timeout);
        self.jobs
            .send(Job {
                payload,
                timeout,
                deadline,
                reply,
            })
            .map_err(|_| TransportError::Closed)?;
        match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(TransportError::Closed),
            Err(_) => Err(TransportError::Timeout {
                endpoint: self.endpoint.to_string(),
                after: timeout,
            }),
        }
    }
}

fn zmq_error(endpoint: &str, error: zmq::Error) -> TransportError {
    TransportError::Zmq {
        endpoint: endpoint.to_owned(),
        message: error.message().to_owned(),
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// A connected `REQ` socket with Salt's options.
fn open_socket(context: &zmq::Context, endpoint: &str) -> Result<zmq::Socket, TransportError> {
    let configure = || -> Result<zmq::Socket, zmq::Error> {
        let socket = context.socket(zmq::REQ)?;
        // Never let unsent requests hold up closing the socket or the context.
        socket.set_linger(0)?;
        socket.set_reconnect_ivl(millis(RECONNECT_IVL))?;
        socket.set_reconnect_ivl_max(millis(RECONNECT_IVL_MAX))?;
        socket.set_heartbeat_ivl(millis(HEARTBEAT_IVL))?;
        socket.set_heartbeat_timeout(millis(HEARTBEAT_TIMEOUT))?;
        socket.set_tcp_keepalive(1)?;
        socket.set_tcp_keepalive_idle(TCP_KEEPALIVE_IDLE_S)?;
        socket.set_tcp_keepalive_intvl(TCP_KEEPALIVE_INTVL_S)?;
        socket.set_tcp_keepalive_cnt(TCP_KEEPALIVE_CNT)?;
        if endpoint.starts_with("tcp://[") {
            socket.set_ipv6(true)?;
        }
        socket.connect(endpoint)?;
        Ok(socket)
    };
    configure().map_err(|e| zmq_error(endpoint, e))
}

/// Why a round trip ended without a reply.
enum Failure {
    /// The caller dropped its future.
    Abandoned,
    /// The deadline passed.
    TimedOut,
    /// libzmq reported an error.
    Zmq(zmq::Error),
}

/// The driver thread's state: the only owner of the socket.
struct Driver {
    endpoint: String,
    context: zmq::Context,
    socket: Option<zmq::Socket>,
    queue: std_mpsc::Receiver<Job>,
}

impl Driver {
    fn run(mut self) {
        while let Ok(job) = self.queue.recv() {
            self.serve(job);
        }
        // Every handle is gone. LINGER 0: closing the socket and terminating the
        // context return at once, whatever was in flight.
        drop(self.socket.take());
        drop(self.context);
    }

    fn serve(&mut self, job: Job) {
        if job.reply.is_closed() {
            return;
        }
        if self.socket.is_none() {
            match open_socket(&self.context, &self.endpoint) {
                Ok(socket) => self.socket = Some(socket),
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    return;
                }
            }
        }
        let Some(socket) = self.socket.as_ref() else {
            return;
        };
        let result = round_trip(socket, &job);
        let outcome = match result {
            Ok(reply) => Ok(reply),
            Err(failure) => {
                // The socket is mid-exchange (or broken): a REQ socket cannot
                // send again before it has received, so replace it.
                self.socket = None;
                match failure {
                    Failure::Abandoned => return,
                    Failure::TimedOut => Err(TransportError::Timeout {
                        endpoint: self.endpoint.clone(),
                        after: job.timeout,
                    }),
                    Failure::Zmq(e) => Err(zmq_error(&self.endpoint, e)),
                }
            }
        };
        let _ = job.reply.send(outcome);
    }
}

/// Sends the request and receives its reply on a socket ready to send.
fn round_trip(socket: &zmq::Socket, job: &Job) -> Result<Vec<u8>, Failure> {
    loop {
        match socket.send(&job.payload[..], zmq::DONTWAIT) {
            Ok(()) => break,
            Err(zmq::Error::EAGAIN) => wait_for(socket, zmq::POLLOUT, job)?,
            Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(Failure::Zmq(e)),
        }
    }
    loop {
        match socket.recv_bytes(zmq::DONTWAIT) {
            Ok(reply) => {
                // Salt replies with one frame; drain any others so the socket
                // stays in step.
                while socket.get_rcvmore().map_err(Failure::Zmq)? {
                    socket.recv_bytes(0).map_err(Failure::Zmq)?;
                }
                return Ok(reply);
            }
            Err(zmq::Error::EAGAIN) => wait_for(socket, zmq::POLLIN, job)?,
            Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(Failure::Zmq(e)),
        }
    }
}

/// Blocks until the socket is ready for `events`, the deadline passes or the
/// caller goes away.
fn wait_for(socket: &zmq::Socket, events: zmq::PollEvents, job: &Job) -> Result<(), Failure> {
    loop {
        if job.reply.is_closed() {
            return Err(Failure::Abandoned);
        }
        let slice = match job.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure::TimedOut);
                }
                left.min(POLL_SLICE)
            }
            None => POLL_SLICE,
        };
        // Round up so that a sub-millisecond remainder still sleeps.
        let slice_ms = i64::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
        match socket.poll(events, slice_ms) {
            Ok(0) | Err(zmq::Error::EINTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(Failure::Zmq(e)),
        }
    }
}
