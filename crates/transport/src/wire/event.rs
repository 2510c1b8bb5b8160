//! The master event bus: frames, tags and event data (REFERENCE §4).
//!
//! Every frame is a msgpack map `{"head": {}, "body": <bin>}` packed with
//! `use_bin_type=True`, whose body is `tag + b"\n\n" + msgpack(data)`. Salt
//! 3006.26+, 3007.15+ and 3008.2+ put a 4-byte big-endian length before each frame
//! on the IPC sockets; older masters, and the 3007/3008 subscriber side, do not.
//! [`EventDecoder`] tells the two apart per frame, so it reads either.

use super::msgpack::{self, Limits};
use super::value::Value;
use super::WireError;

/// What separates the tag from the data in a frame's body (`salt.utils.event.TAGEND`).
pub const TAG_END: &[u8] = b"\n\n";

/// One event from the master's event bus.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The tag, e.g. `salt/job/20261129180522916379/ret/web1`.
    pub tag: String,
    /// The event data (a map for every event Salt fires).
    pub data: Value,
}

impl Event {
    /// The jid and minion id of a job return, tag `salt/job/<jid>/ret/<minion id>`.
    pub fn job_return(&self) -> Option<(&str, &str)> {
        let (jid, id) = self.tag.strip_prefix("salt/job/")?.split_once("/ret/")?;
        if jid.is_empty() || jid.contains('/') || id.is_empty() {
            return None;
        }
        Some((jid, id))
    }

    /// The jid of a new job, tag `salt/job/<jid>/new`.
    pub fn job_new(&self) -> Option<&str> {
        let jid = self.tag.strip_prefix("salt/job/")?.strip_suffix("/new")?;
        (!jid.is_empty() && !jid.contains('/')).then_some(jid)
    }
}

/// Encodes one event frame as a master's `master_event_pull` socket expects it
/// (REFERENCE §4.2): with `length_prefixed` for Salt 3006.26+, 3007.15+ and
/// 3008.2+, which drop unprefixed frames; without it for older masters.
pub fn encode_event_frame(tag: &str, data: &Value, length_prefixed: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(tag.len() + TAG_END.len() + msgpack::encoded_len(data, true));
    body.extend_from_slice(tag.as_bytes());
    body.extend_from_slice(TAG_END);
    msgpack::encode_into(&mut body, data, true);
    let frame = Value::Map(vec![
        (Value::str("head"), Value::Map(Vec::new())),
        (Value::str("body"), Value::Bin(body)),
    ]);
    let len = msgpack::encoded_len(&frame, true);
    let mut out = Vec::with_capacity(len + 4);
    if length_prefixed {
        let prefix = u32::try_from(len).expect("event frames are shorter than 4 GiB");
        out.extend_from_slice(&prefix.to_be_bytes());
    }
    msgpack::encode_into(&mut out, &frame, true);
    out
}

/// Reassembles events from the bytes of an event-bus stream, with or without the
/// 4-byte length prefix (detected per frame).
///
/// Feed bytes with [`handle_bytes`](Self::handle_bytes) as they arrive, in chunks
/// of any size, then call [`poll_event`](Self::poll_event) until it returns
/// `Ok(None)`.
///
/// # Errors
///
/// An error from `poll_event` either concerns one frame or the stream:
///
/// * When the frame's extent was known (it decoded as msgpack, or it had a length
///   prefix), the frame has been consumed: log or skip it and keep polling. This
///   is the case for [`WireError::Shape`] (a frame that is not
///   `{"head", "body": tag + "\n\n" + data}`) and for undecodable data inside a
///   length-prefixed frame.
/// * When the decoder cannot find where the next frame starts (invalid msgpack in
///   an unprefixed stream, a frame over `max_size`), the stream is out of sync:
///   [`is_failed`](Self::is_failed) becomes true and every later poll returns the
///   same error. Reconnect and start a new decoder.
#[derive(Debug, Default)]
pub struct EventDecoder {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start; consumed bytes are dropped lazily.
    start: usize,
    limits: Limits,
    failed: Option<WireError>,
}

impl EventDecoder {
    /// A decoder with the given bounds (applied to each frame and to each event's
    /// data).
    pub fn new(limits: Limits) -> Self {
        EventDecoder {
            buf: Vec::new(),
            start: 0,
            limits,
            failed: None,
        }
    }

    /// Feeds bytes read from the stream.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Whether the stream lost its framing; see [the type's docs](Self#errors).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// How many bytes are buffered but not yet part of a returned event.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete event, or `Ok(None)` when more bytes are needed.
    pub fn poll_event(&mut self) -> Result<Option<Event>, WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let pending = &self.buf[self.start..];
        let Some(&first) = pending.first() else {
            return Ok(None);
        };
        let frame = if matches!(first, 0x80..=0x8f | 0xde | 0xdf) {
            match msgpack::decode_prefix(pending, &self.limits) {
                Ok(Some((frame, used))) => {
                    self.start += used;
                    frame
                }
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            }
        } else {
            let Some(prefix) = pending.get(..4) else {
                return Ok(None);
            };
            let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > self.limits.max_size {
                return Err(self.fail(WireError::TooLarge {
                    size: len,
                    limit: self.limits.max_size,
                }));
            }
            let Some(bytes) = pending.get(4..len.saturating_add(4)) else {
                return Ok(None);
            };
            let frame = msgpack::decode(bytes, &self.limits);
            self.start += 4 + len;
            frame?
        };
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        parse_frame(frame, &self.limits).map(Some)
    }

    fn fail(&mut self, e: WireError) -> WireError {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.start = 0;
        e
    }
}

/// Splits a decoded frame into its tag and data.
fn parse_frame(frame: Value, limits: &Limits) -> Result<Event, WireError> {
    let Value::Map(entries) = frame else {
        return Err(WireError::Shape("event frame is not a map".into()));
    };
    let body = entries
        .into_iter()
        .find(|(k, _)| k.as_bytes() == Some(b"body"))
        .map(|(_, v)| v)
        .ok_or_else(|| WireError::Shape("event frame without a body".into()))?;
    let body = match body {
        Value::Bin(b) | Value::Str(b) => b,
        _ => return Err(WireError::Shape("event body is not a byte string".into())),
    };
    let split = body
        .windows(TAG_END.len())
        .position(|w| w == TAG_END)
        .ok_or_else(|| WireError::Shape("event body without a tag separator".into()))?;
    let tag = String::from_utf8_lossy(&body[..split]).into_owned();
    let data = msgpack::decode(&body[split + TAG_END.len()..], limits)
        .map_err(|e| WireError::Shape(format!("event {tag}: undecodable data: {e}")))?;
    Ok(Event { tag, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Value {
        Value::map([("id", Value::str("web1")), ("retcode", Value::Int(0))])
    }

    #[test]
    fn round_trips_both_framings_in_one_stream() {
        let tag = "salt/job/20261129180522916379/ret/web1";
        let mut stream = encode_event_frame(tag, &data(), true);
        stream.extend(encode_event_frame(
            "salt/job/20261129180522916379/new",
            &data(),
            false,
        ));
        let mut dec = EventDecoder::new(Limits::default());
        for b in &stream {
            dec.handle_bytes(std::slice::from_ref(b));
        }
        let first = dec.poll_event().unwrap().unwrap();
        assert_eq!(first.job_return(), Some(("20261129180522916379", "web1")));
        assert_eq!(first.data, data());
        let second = dec.poll_event().unwrap().unwrap();
        assert_eq!(second.job_new(), Some("20261129180522916379"));
        assert_eq!(dec.poll_event(), Ok(None));
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn bad_shape_is_skipped() {
        let mut dec = EventDecoder::new(Limits::default());
        dec.handle_bytes(&msgpack::encode_bin_type(&Value::map([(
            "body",
            Value::Int(1),
        )])));
        let mut bad_body = Value::map([("head", Value::Map(Vec::new()))]);
        if let Value::Map(m) = &mut bad_body {
            m.push((Value::str("body"), Value::Bin(b"no separator".to_vec())));
        }
        dec.handle_bytes(&msgpack::encode_bin_type(&bad_body));
        dec.handle_bytes(&encode_event_frame("x", &data(), true));
        assert!(matches!(dec.poll_event(), Err(WireError::Shape(_))));
        assert!(matches!(dec.poll_event(), Err(WireError::Shape(_))));
        assert!(!dec.is_failed());
        assert_eq!(dec.poll_event().unwrap().unwrap().tag, "x");
    }

    #[test]
    fn oversize_prefix_fails_the_stream() {
        let mut dec = EventDecoder::new(Limits {
            max_size: 1024,
            max_depth: 8,
        });
        dec.handle_bytes(&[0x00, 0x10, 0x00, 0x00]);
        assert!(matches!(dec.poll_event(), Err(WireError::TooLarge { .. })));
        assert!(dec.is_failed());
        dec.handle_bytes(&encode_event_frame("x", &data(), true));
        assert!(dec.poll_event().is_err());
    }

    #[test]
    fn job_tags() {
        let ev = |tag: &str| Event {
            tag: tag.into(),
            data: Value::Nil,
        };
        assert_eq!(ev("salt/job/1/ret/a/b").job_return(), Some(("1", "a/b")));
        assert_eq!(ev("salt/job//ret/a").job_return(), None);
        assert_eq!(ev("salt/job/1/ret/").job_return(), None);
        assert_eq!(ev("salt/job/1/new").job_return(), None);
        assert_eq!(ev("salt/run/1/new").job_new(), None);
    }
}
