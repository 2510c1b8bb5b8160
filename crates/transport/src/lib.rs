//! Salt's master wire protocol.
//!
//! Two layers, with the boundary drawn by a Cargo feature:
//!
//! * [`wire`] is sans-IO: Salt's msgpack conventions, request envelopes, publish
//!   replies and event-bus framing, as functions and state machines over bytes.
//!   No tokio, no sockets, no clock. It is all there is with
//!   `default-features = false`.
//! * `io` (feature `io`, on by default) moves those bytes: a ZeroMQ request
//!   channel to the master's `ret_port` and a subscriber to the master's event bus.

pub mod wire;

#[cfg(feature = "io")]
pub mod io;

pub use wire::value::Value;
pub use wire::WireError;
