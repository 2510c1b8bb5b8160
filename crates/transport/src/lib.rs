//! Salt's master wire protocol.
//!
//! Two layers, with the boundary drawn by a Cargo feature:
//!
//! * [`wire`] is sans-IO: Salt's msgpack conventions, request envelopes, publish
//!   replies, event-bus framing and the crypto (RSA, Crypticle, the `_auth`
//!   handshake, publications), as functions and state machines over bytes.
//!   No tokio, no sockets, no clock, no global RNG. It is all there is with
//!   `default-features = false`.
//! * `io` (feature `io`, on by default) moves those bytes: a ZeroMQ request
//!   channel to the master's `ret_port`, a subscriber to the master's event
//!   bus, and the authenticated peer channel with its publication stream.
//!
//! ```
//! use saltwire_transport::wire::event::{encode_event_frame, EventDecoder};
//! use saltwire_transport::wire::msgpack::Limits;
//! use saltwire_transport::Value;
//!
//! // A return event as the master's event bus carries it (3006.26+ prefixes
//! // each frame with its length; the decoder tells the two framings apart).
//! let data = Value::map([("id", Value::str("web1")), ("return", Value::Bool(true)), ("retcode", Value::Int(0))]);
//! let frame = encode_event_frame("salt/job/20261129180522916379/ret/web1", &data, true);
//!
//! let mut decoder = EventDecoder::new(Limits::default());
//! for chunk in frame.chunks(7) {
//!     decoder.handle_bytes(chunk);
//! }
//! let event = decoder.poll_event()?.expect("one whole event");
//! assert_eq!(event.job_return(), Some(("20261129180522916379", "web1")));
//! assert_eq!(event.data.get("return"), Some(&Value::Bool(true)));
//! # Ok::<(), saltwire_transport::WireError>(())
//! ```

pub mod wire;

#[cfg(feature = "io")]
pub mod io;

pub use wire::value::Value;
pub use wire::WireError;
