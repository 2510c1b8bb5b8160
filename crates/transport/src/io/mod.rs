//! The I/O layer: moves the [`wire`](crate::wire) layer's bytes to and from a
//! Salt master.
//!
//! * [`ReqChannel`]: a ZeroMQ `REQ` socket to the master's `ret_port`
//!   (`tcp://<master>:4506`), one request frame out, one reply frame back.
//! * [`EventBus`]: a subscriber to the master's event bus
//!   (`<sock_dir>/master_event_pub.ipc`, or `127.0.0.1:4512` with
//!   `ipc_mode: tcp`), dispatching events by tag prefix to [`Subscription`]s.
//!
//! All are cheap `Clone` handles on one driver that owns the socket. Policy
//! (how long to wait, whether to retry) stays with the caller: every wait takes
//! the caller's timeout, and the drivers never retry a request. The one
//! exception is the protocol's own: a [`PeerChannel`] whose keys went stale
//! authenticates again and resends the request once, within the caller's
//! timeout.
//!
//! # What is spawned, and when bytes are sent
//!
//! * [`ReqChannel::connect`] creates a libzmq context (which starts libzmq's I/O
//!   and reaper threads), connects a `REQ` socket without waiting for the TCP
//!   connection, and spawns one thread, `saltwire-req`, that owns the socket.
//!   Nothing is sent until [`ReqChannel::request`]; a request made before the
//!   connection is up is queued by libzmq and sent as soon as it is. The thread
//!   and the context end when the last handle is dropped (`LINGER` is 0, so
//!   nothing holds the process open at exit).
//! * [`EventBus::connect`] opens the stream socket (failing at once if nothing
//!   listens) and spawns one tokio task that reads it. The subscriber never
//!   writes to the bus. If the stream drops, the task reopens it with a backoff
//!   of 100 ms doubling to 2 s, and every subscription receives
//!   [`BusItem::Reconnected`]. The task ends when every handle and
//!   subscription is dropped.
//!
//! # Example
//!
//! ```no_run
//! use std::path::PathBuf;
//! use std::time::Duration;
//!
//! use saltwire_transport::io::{BusEndpoint, BusItem, EventBus, ReqChannel, TransportError};
//! use zeroize::Zeroizing;
//!
//! async fn ping_master(request: Vec<u8>) -> Result<(), TransportError> {
//!     // Subscribe before sending, so that no event caused by the request is missed.
//!     let bus = EventBus::connect(BusEndpoint::Ipc(PathBuf::from(
//!         "/var/run/salt/master/master_event_pub.ipc",
//!     )))
//!     .await?;
//!     let mut jobs = bus.subscribe("salt/job/");
//!
//!     let master = ReqChannel::connect("tcp://127.0.0.1:4506")?;
//!     let reply = master.request(Zeroizing::new(request), Duration::from_secs(5)).await?;
//!     println!("{} reply bytes", reply.len());
//!
//!     while let Some(item) = jobs.recv().await {
//!         match item {
//!             BusItem::Event(event) => println!("{}", event.tag),
//!             gap => eprintln!("events may have been lost: {gap:?}"),
//!         }
//!     }
//!     Ok(())
//! }
//! ```

mod bus;
mod error;
pub mod peer;
mod req;

pub use bus::{
    BusEndpoint, BusItem, EventBus, Subscription, RECONNECT_BACKOFF_MAX, RECONNECT_BACKOFF_MIN,
    SUBSCRIPTION_CAPACITY,
};
pub use error::TransportError;
pub use peer::{
    Accepted, PeerChannel, PeerError, PeerOptions, Publications, DEFAULT_AUTH_TIMEOUT,
    DEFAULT_RET_PORT,
};
pub use req::{ReqChannel, HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, RECONNECT_IVL, RECONNECT_IVL_MAX};
