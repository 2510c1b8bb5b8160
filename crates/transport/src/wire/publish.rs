//! The clear `publish` request and its replies (REFERENCE §2.3, §3.1, §3.2).
//!
//! [`PublishRequest::encode`] writes what `LocalClient.pub` sends to the master's
//! request port: `_prep_pub`'s load wrapped in the clear envelope, with the same
//! key order, so the bytes match Salt's. [`parse_publish_reply`] sorts the
//! master's answer into the cases `LocalClient.pub` tells apart.

use std::fmt;

use zeroize::Zeroizing;

use super::msgpack::{self, Limits};
use super::value::Value;
use super::WireError;

/// The envelope's protocol version; masters refuse anything below their
/// `minimum_auth_version` (default 3) with `"bad load"`.
pub const PROTOCOL_VERSION: i64 = 3;

/// kwargs whose values [`PublishRequest`]'s `Debug` hides.
const SECRET_KWARGS: [&str; 2] = ["password", "token"];

/// Encodes a clear request: `{"enc": "clear", "load": load, "version": 3}`, in the
/// order `AsyncReqChannel._package_load` builds it.
pub fn encode_clear_request(load: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(envelope_len(msgpack::encoded_len(load, false)));
    write_envelope_head(&mut out);
    msgpack::encode_into(&mut out, load, false);
    write_envelope_tail(&mut out);
    out
}

fn envelope_len(load_len: usize) -> usize {
    let text = |s: &str| msgpack::encoded_str_len(s.len(), false);
    1 + text("enc") + text("clear") + text("load") + load_len + text("version") + 1
}

fn write_envelope_head(out: &mut Vec<u8>) {
    msgpack::encode_map_header(out, 3);
    msgpack::encode_str_into(out, b"enc", false);
    msgpack::encode_str_into(out, b"clear", false);
    msgpack::encode_str_into(out, b"load", false);
}

fn write_envelope_tail(out: &mut Vec<u8>) {
    msgpack::encode_str_into(out, b"version", false);
    msgpack::encode_into(out, &Value::Int(PROTOCOL_VERSION), false);
}

/// A publish's target expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tgt {
    /// A glob, regex, compound expression, grain, ... (interpreted by `tgt_type`).
    Expr(String),
    /// Minion ids, for `tgt_type` `"list"`.
    List(Vec<String>),
}

/// The load of a clear `publish` request, as `LocalClient._prep_pub` builds it.
#[derive(Clone, PartialEq)]
pub struct PublishRequest {
    /// The target.
    pub tgt: Tgt,
    /// How the master reads `tgt`: `glob`, `pcre`, `list`, `grain`, `compound`, ...
    pub tgt_type: String,
    /// The function to run, e.g. `test.ping`.
    pub fun: String,
    /// Positional arguments, already conditioned (see [`condition_args`]).
    pub arg: Vec<Value>,
    /// The master's key for `user` (`<cachedir>/.<user>_key`), `""` with eauth.
    pub key: Zeroizing<String>,
    /// Returners, comma separated, `""` for none.
    pub ret: String,
    /// `""` to let the master allocate the jid.
    pub jid: String,
    /// Who publishes (`root`, `sudo_<user>`, ...).
    pub user: String,
    /// `load["kwargs"]`: `eauth`, `username`, `password`, `token`, `delimiter`,
    /// ... Left out of the load when empty, as Salt does.
    pub kwargs: Vec<(String, Value)>,
}

/// `kwargs` may carry an eauth password or a token: wiped when the request goes.
impl Drop for PublishRequest {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (_, value) in &mut self.kwargs {
            value.zeroize();
        }
    }
}

impl PublishRequest {
    /// A request for `fun` on `tgt` with Salt's defaults: `tgt_type` `glob` (or
    /// `list` for [`Tgt::List`]), no arguments, no key, no returner, a
    /// master-allocated jid, and an empty `user` to fill in.
    pub fn new(tgt: Tgt, fun: impl Into<String>) -> Self {
        let tgt_type = match tgt {
            Tgt::Expr(_) => "glob",
            Tgt::List(_) => "list",
        };
        PublishRequest {
            tgt,
            tgt_type: tgt_type.into(),
            fun: fun.into(),
            arg: Vec::new(),
            key: Zeroizing::new(String::new()),
            ret: String::new(),
            jid: String::new(),
            user: String::new(),
            kwargs: Vec::new(),
        }
    }

    /// The whole clear request, byte for byte what `LocalClient.pub` sends.
    ///
    /// The buffer is sized up front, so the key and credentials exist only in the
    /// returned, zeroized-on-drop bytes.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let fields = self.fields();
        let load_len = msgpack::collection_header_len(fields.len())
            + fields
                .iter()
                .map(|(k, v)| msgpack::encoded_str_len(k.len(), false) + v.encoded_len())
                .sum::<usize>();
        let len = envelope_len(load_len);
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        write_envelope_head(&mut out);
        msgpack::encode_map_header(&mut out, fields.len());
        for (k, v) in &fields {
            msgpack::encode_str_into(&mut out, k.as_bytes(), false);
            v.encode_into(&mut out);
        }
        write_envelope_tail(&mut out);
        debug_assert_eq!(out.len(), len);
        out
    }

    /// The load's entries in `_prep_pub`'s order.
    fn fields(&self) -> Vec<(&'static str, Field<'_>)> {
        let tgt = match &self.tgt {
            Tgt::Expr(s) => Field::Text(s.as_bytes()),
            Tgt::List(ids) => Field::TextList(ids),
        };
        let mut fields = vec![
            ("cmd", Field::Text(b"publish")),
            ("tgt", tgt),
            ("fun", Field::Text(self.fun.as_bytes())),
            ("arg", Field::Array(&self.arg)),
            ("key", Field::Text(self.key.as_bytes())),
            ("tgt_type", Field::Text(self.tgt_type.as_bytes())),
            ("ret", Field::Text(self.ret.as_bytes())),
            ("jid", Field::Text(self.jid.as_bytes())),
        ];
        if !self.kwargs.is_empty() {
            fields.push(("kwargs", Field::Map(&self.kwargs)));
        }
        fields.push(("user", Field::Text(self.user.as_bytes())));
        fields
    }
}

impl fmt::Debug for PublishRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Kwargs<'a>(&'a [(String, Value)]);
        impl fmt::Debug for Kwargs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (k, v) in self.0 {
                    if SECRET_KWARGS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        map.entry(k, &"<redacted>");
                    } else {
                        map.entry(k, v);
                    }
                }
                map.finish()
            }
        }
        let key = if self.key.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("PublishRequest")
            .field("tgt", &self.tgt)
            .field("tgt_type", &self.tgt_type)
            .field("fun", &self.fun)
            .field("arg", &self.arg)
            .field("key", &key)
            .field("ret", &self.ret)
            .field("jid", &self.jid)
            .field("user", &self.user)
            .field("kwargs", &Kwargs(&self.kwargs))
            .finish()
    }
}

/// One load entry's value, borrowed so secrets are written without copies.
enum Field<'a> {
    Text(&'a [u8]),
    TextList(&'a [String]),
    Array(&'a [Value]),
    Map(&'a [(String, Value)]),
}

impl Field<'_> {
    fn encoded_len(&self) -> usize {
        let text = |s: &[u8]| msgpack::encoded_str_len(s.len(), false);
        match self {
            Field::Text(s) => text(s),
            Field::TextList(items) => {
                msgpack::collection_header_len(items.len())
                    + items.iter().map(|s| text(s.as_bytes())).sum::<usize>()
            }
            Field::Array(items) => {
                msgpack::collection_header_len(items.len())
                    + items
                        .iter()
                        .map(|v| msgpack::encoded_len(v, false))
                        .sum::<usize>()
            }
            Field::Map(entries) => {
                msgpack::collection_header_len(entries.len())
                    + entries
                        .iter()
                        .map(|(k, v)| text(k.as_bytes()) + msgpack::encoded_len(v, false))
                        .sum::<usize>()
            }
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Field::Text(s) => msgpack::encode_str_into(out, s, false),
            Field::TextList(items) => {
                msgpack::encode_array_header(out, items.len());
                for s in *items {
                    msgpack::encode_str_into(out, s.as_bytes(), false);
                }
            }
            Field::Array(items) => {
                msgpack::encode_array_header(out, items.len());
                for v in *items {
                    msgpack::encode_into(out, v, false);
                }
            }
            Field::Map(entries) => {
                msgpack::encode_map_header(out, entries.len());
                for (k, v) in *entries {
                    msgpack::encode_str_into(out, k.as_bytes(), false);
                    msgpack::encode_into(out, v, false);
                }
            }
        }
    }
}

/// Conditions a publish's arguments as `salt.utils.args.condition_input` does:
/// integers whose decimal form is 20 characters long (they look like a jid) become
/// strings, and non-empty `kwargs` are appended as one map
/// `{"__kwarg__": true, k: v, ...}`.
pub fn condition_args(args: Vec<Value>, kwargs: Vec<(String, Value)>) -> Vec<Value> {
    let mut out: Vec<Value> = args
        .into_iter()
        .map(|arg| {
            let digits = match arg {
                Value::Int(i) => i.to_string(),
                Value::UInt(u) => u.to_string(),
                _ => return arg,
            };
            if digits.len() == 20 {
                Value::Str(digits.into_bytes())
            } else {
                arg
            }
        })
        .collect();
    if !kwargs.is_empty() {
        let mut map = Vec::with_capacity(kwargs.len() + 1);
        map.push((Value::str("__kwarg__"), Value::Bool(true)));
        map.extend(kwargs.into_iter().map(|(k, v)| (Value::from(k), v)));
        out.push(Value::Map(map));
    }
    out
}

/// The master's answer to a clear `publish`.
#[derive(Clone, Debug, PartialEq)]
pub enum PublishReply {
    /// The job was published to `minions`; `missing` are ids of a `list` target
    /// that the master does not know (they will not return).
    Published {
        /// The job id.
        jid: String,
        /// Minions expected to return.
        minions: Vec<String>,
        /// Listed minions the master does not know.
        missing: Vec<String>,
    },
    /// No minion matched the target (`jid` is `None` in the reply).
    NoMinions {
        /// The master's explanation, e.g. `Master could not resolve minions for
        /// target nosuchminion*`; empty if it gave none.
        message: String,
    },
    /// Wrong or missing key, bad eauth credentials or token.
    AuthenticationError {
        /// The master's message.
        message: String,
    },
    /// Authenticated, but not allowed to run this function on this target (ACL,
    /// blacklist).
    AuthorizationError {
        /// The master's message.
        message: String,
    },
    /// Any other error the master reported under `error`.
    Error {
        /// The error class, e.g. `SaltInvocationError`; empty when the master sent
        /// a bare message (`{"error": "Routing error"}`).
        name: String,
        /// The message.
        message: String,
    },
    /// An empty reply (`{}`, `""`, `None`): the key may have changed; Salt re-reads
    /// the key file and retries once.
    Empty,
    /// A bare string such as `"bad load"` (envelope refused: version, not a dict,
    /// undecodable) or `"Some exception handling minion payload"`.
    BadLoad(String),
}

/// Sorts the reply to a clear `publish` into the cases of [`PublishReply`].
///
/// # Errors
///
/// A reply that does not decode, or decodes to a shape no master sends
/// ([`WireError::Shape`]).
pub fn parse_publish_reply(bytes: &[u8], limits: &Limits) -> Result<PublishReply, WireError> {
    let reply = msgpack::decode(bytes, limits)?;
    match &reply {
        Value::Map(entries) if entries.is_empty() => Ok(PublishReply::Empty),
        Value::Map(_) => parse_reply_map(&reply),
        Value::Str(_) | Value::Bin(_) if !reply.is_truthy() => Ok(PublishReply::Empty),
        Value::Str(_) | Value::Bin(_) => Ok(PublishReply::BadLoad(lossy(&reply))),
        _ if !reply.is_truthy() => Ok(PublishReply::Empty),
        _ => Err(shape("publish reply is neither a map nor a string", &reply)),
    }
}

fn parse_reply_map(reply: &Value) -> Result<PublishReply, WireError> {
    if let Some(error) = reply.get("error").filter(|e| !e.is_nil()) {
        return Ok(error_reply(error));
    }
    if let Some(msg) = reply.get("msg") {
        if reply.get("load").is_none() {
            return Ok(PublishReply::BadLoad(lossy(msg)));
        }
    }
    let load = reply
        .get("load")
        .ok_or_else(|| shape("publish reply without load or error", reply))?;
    if load.as_map().is_none() {
        return Err(shape("publish reply load is not a map", reply));
    }
    let message = load.get("error").filter(|e| !e.is_nil());
    match load.get("jid") {
        Some(Value::Nil) | None if load.get("minions").is_some() || message.is_some() => {
            Ok(PublishReply::NoMinions {
                message: message.map(lossy).unwrap_or_default(),
            })
        }
        Some(jid @ (Value::Str(_) | Value::Bin(_))) => match message {
            Some(message) => Ok(PublishReply::Error {
                name: String::new(),
                message: lossy(message),
            }),
            None => Ok(PublishReply::Published {
                jid: lossy(jid),
                minions: text_list(load.get("minions")),
                missing: text_list(load.get("missing")),
            }),
        },
        _ => Err(shape("publish reply load without a jid", reply)),
    }
}

fn error_reply(error: &Value) -> PublishReply {
    if error.as_map().is_none() {
        return PublishReply::Error {
            name: String::new(),
            message: lossy(error),
        };
    }
    let name = error.get("name").map(lossy).unwrap_or_default();
    let message = error.get("message").map(lossy).unwrap_or_default();
    match name.as_str() {
        "AuthenticationError" => PublishReply::AuthenticationError { message },
        "AuthorizationError" => PublishReply::AuthorizationError { message },
        _ => PublishReply::Error { name, message },
    }
}

/// Text for a message: strings as they are, anything else as JSON.
fn lossy(value: &Value) -> String {
    match value.to_str_lossy() {
        Some(s) => s.into_owned(),
        None => value.to_json().to_string(),
    }
}

fn text_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |items| items.iter().map(lossy).collect())
}

fn shape(what: &str, reply: &Value) -> WireError {
    let mut shown = reply.to_json().to_string();
    if shown.len() > 200 {
        let mut cut = 200;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    WireError::Shape(format!("{what}: {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(v: &Value) -> PublishReply {
        parse_publish_reply(&msgpack::encode(v), &Limits::default()).unwrap()
    }

    #[test]
    fn condition_args_mirrors_salt() {
        let args = vec![
            Value::Int(1),
            Value::UInt(10_000_000_000_000_000_000),
            Value::Int(-1000000000000000000),
            Value::Int(i64::MAX),
            Value::Bool(true),
        ];
        let out = condition_args(args, vec![("k".into(), Value::str("v"))]);
        assert_eq!(out[0], Value::Int(1));
        assert_eq!(out[1], Value::str("10000000000000000000"));
        assert_eq!(out[2], Value::str("-1000000000000000000"));
        assert_eq!(out[3], Value::Int(i64::MAX));
        assert_eq!(out[4], Value::Bool(true));
        assert_eq!(
            out[5],
            Value::Map(vec![
                (Value::str("__kwarg__"), Value::Bool(true)),
                (Value::str("k"), Value::str("v")),
            ])
        );
        assert_eq!(condition_args(vec![], vec![]), vec![]);
    }

    #[test]
    fn encode_matches_a_value_built_load() {
        let mut req =
            PublishRequest::new(Tgt::List(vec!["web1".into(), "ghost".into()]), "test.arg");
        req.arg = condition_args(vec![Value::str("a")], vec![("k".into(), Value::Int(1))]);
        req.key = Zeroizing::new("k".repeat(76));
        req.user = "root".into();
        req.kwargs = vec![
            ("eauth".into(), Value::str("pam")),
            ("password".into(), Value::str("hunter2")),
        ];
        let load = Value::map([
            ("cmd", Value::str("publish")),
            (
                "tgt",
                Value::Array(vec![Value::str("web1"), Value::str("ghost")]),
            ),
            ("fun", Value::str("test.arg")),
            ("arg", Value::Array(req.arg.clone())),
            ("key", Value::str("k".repeat(76))),
            ("tgt_type", Value::str("list")),
            ("ret", Value::str("")),
            ("jid", Value::str("")),
            (
                "kwargs",
                Value::map([
                    ("eauth", Value::str("pam")),
                    ("password", Value::str("hunter2")),
                ]),
            ),
            ("user", Value::str("root")),
        ]);
        assert_eq!(*req.encode(), encode_clear_request(&load));
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("kkkk"),
            "{shown}"
        );
        assert!(shown.contains(r#""eauth": Str("pam")"#), "{shown}");
    }

    #[test]
    fn every_reply_shape() {
        let clear = |load: Value| Value::map([("enc", Value::str("clear")), ("load", load)]);
        let err = |name: &str, message: &str| {
            Value::map([(
                "error",
                Value::map([("name", Value::str(name)), ("message", Value::str(message))]),
            )])
        };
        assert_eq!(
            reply(&clear(Value::map([
                ("jid", Value::str("20261129180522916379")),
                ("minions", Value::Array(vec![Value::str("native1")])),
                ("missing", Value::Array(vec![Value::str("ghost")])),
            ]))),
            PublishReply::Published {
                jid: "20261129180522916379".into(),
                minions: vec!["native1".into()],
                missing: vec!["ghost".into()],
            }
        );
        let none = "Master could not resolve minions for target nosuchminion*";
        assert_eq!(
            reply(&clear(Value::map([
                ("jid", Value::Nil),
                ("minions", Value::Array(vec![])),
                ("error", Value::str(none)),
            ]))),
            PublishReply::NoMinions {
                message: none.into()
            }
        );
        let auth = "Authentication error occurred.";
        assert_eq!(
            reply(&err("AuthenticationError", auth)),
            PublishReply::AuthenticationError {
                message: auth.into()
            }
        );
        let authz = "Authorization error occurred.";
        assert_eq!(
            reply(&err("AuthorizationError", authz)),
            PublishReply::AuthorizationError {
                message: authz.into()
            }
        );
        assert_eq!(
            reply(&err("SaltInvocationError", "boom")),
            PublishReply::Error {
                name: "SaltInvocationError".into(),
                message: "boom".into()
            }
        );
        for message in ["Routing error", "Master failed to assign jid"] {
            assert_eq!(
                reply(&Value::map([("error", Value::str(message))])),
                PublishReply::Error {
                    name: String::new(),
                    message: message.into()
                }
            );
        }
        assert_eq!(
            reply(&Value::map([("msg", Value::str("bad load"))])),
            PublishReply::BadLoad("bad load".into())
        );
        for bare in [
            "bad load",
            "payload and load must be a dict",
            "Some exception handling minion payload",
        ] {
            assert_eq!(reply(&Value::str(bare)), PublishReply::BadLoad(bare.into()));
        }
        for empty in [
            Value::Map(vec![]),
            Value::str(""),
            Value::Nil,
            Value::Bool(false),
        ] {
            assert_eq!(reply(&empty), PublishReply::Empty);
        }
        let limits = Limits::default();
        assert!(matches!(
            parse_publish_reply(
                &msgpack::encode(&clear(Value::map([("ret", Value::Bool(false))]))),
                &limits
            ),
            Err(WireError::Shape(_))
        ));
        assert!(matches!(
            parse_publish_reply(&msgpack::encode(&Value::Int(7)), &limits),
            Err(WireError::Shape(_))
        ));
        assert!(parse_publish_reply(&[0xc1], &limits).is_err());
    }
}
