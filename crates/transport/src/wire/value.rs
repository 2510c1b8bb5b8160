//! A msgpack value as Salt puts it on the wire.
//!
//! Salt packs requests and publications with `use_bin_type=False` (every string
//! and every byte string is a msgpack *str*, possibly holding non-UTF-8 bytes) and
//! event data with `use_bin_type=True` (str for text, bin for bytes). [`Value`]
//! keeps the bytes of both families and tries UTF-8 only when asked, so one type
//! reads both.

use std::fmt;

use super::msgpack::{Limits, EXT_DATETIME, EXT_SALT_CONSTANT};

/// A decoded msgpack value.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `nil` (Python `None`).
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer (every msgpack int that fits in `i64`).
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float (Salt always sends float64).
    Float(f64),
    /// A msgpack *str*: text, but Salt may put non-UTF-8 bytes in it.
    Str(Vec<u8>),
    /// A msgpack *bin* (event data packed with `use_bin_type=True`).
    Bin(Vec<u8>),
    /// An array (Python list, tuple or set).
    Array(Vec<Value>),
    /// A map, in wire order; keys may be any value.
    Map(Vec<(Value, Value)>),
    /// An extension type: 78 is a datetime (`%Y%m%dT%H:%M:%S.%f`), 79 a Salt constant.
    Ext(i8, Vec<u8>),
}

impl Value {
    /// A text value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into().into_bytes())
    }

    /// A map from `(key, value)` pairs with text keys.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (Value::str(k), v)).collect())
    }

    /// The text of a str or bin holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(b) | Value::Bin(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The bytes of a str or bin.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(b) | Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// An integer that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries of a map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The value under a text key of a map (the first, if the key repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Python truthiness, as Salt's `if ret:` checks see it.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::UInt(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(b) | Value::Bin(b) | Value::Ext(_, b) => !b.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }
}

impl Value {
    /// A non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// A float, or an integer as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            _ => None,
        }
    }

    /// The text of a str or bin, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_str_lossy(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.as_bytes().map(String::from_utf8_lossy)
    }

    /// A datetime (extension 78) in Python's `datetime.isoformat()` form:
    /// `2026-11-29T18:05:23.003632`, or `2026-11-29T00:00:00` when the
    /// microseconds are zero.
    pub fn as_datetime_iso(&self) -> Option<String> {
        match self {
            Value::Ext(EXT_DATETIME, payload) => datetime_iso(payload),
            _ => None,
        }
    }

    /// A Salt constant (extension 79): its name and value.
    pub fn as_salt_constant(&self) -> Option<(String, Value)> {
        let Value::Ext(EXT_SALT_CONSTANT, payload) = self else {
            return None;
        };
        let limits = Limits {
            max_size: payload.len(),
            max_depth: 32,
        };
        let decoded = super::msgpack::decode(payload, &limits).ok()?;
        match decoded {
            Value::Array(mut items) if items.len() == 2 => {
                let value = items.pop()?;
                let name = items.pop()?.to_str_lossy()?.into_owned();
                Some((name, value))
            }
            _ => None,
        }
    }

    /// The value as JSON, for output.
    ///
    /// * str and bin become JSON strings; bytes that are not UTF-8 are replaced
    ///   by U+FFFD (Salt's own JSON outputter fails on them instead).
    /// * Integers of any width become JSON numbers; NaN and infinities become
    ///   `null`, as JSON has no spelling for them.
    /// * A datetime (extension 78) becomes its ISO-8601 text as Python's
    ///   `isoformat()` writes it; a Salt constant (extension 79) its name; any
    ///   other extension its payload read as text.
    /// * Map keys that are not text become the JSON text of the key: `1` →
    ///   `"1"`, `true` → `"true"`, `nil` → `"null"` (what Python's `json.dumps`
    ///   writes for such keys). When keys repeat, the last entry wins. The
    ///   entries keep wire order only if serde_json's `preserve_order` feature is
    ///   on.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::UInt(u) => Json::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(b) | Value::Bin(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.to_json_key(), v.to_json());
                }
                Json::Object(map)
            }
            Value::Ext(EXT_DATETIME, payload) => Json::String(
                datetime_iso(payload)
                    .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned()),
            ),
            Value::Ext(EXT_SALT_CONSTANT, payload) => match self.as_salt_constant() {
                Some((name, _)) => Json::String(name),
                None => Json::String(String::from_utf8_lossy(payload).into_owned()),
            },
            Value::Ext(_, payload) => Json::String(String::from_utf8_lossy(payload).into_owned()),
        }
    }

    fn to_json_key(&self) -> String {
        match self.to_json() {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// A value from JSON: integers become [`Value::Int`] (or [`Value::UInt`] above
    /// `i64::MAX`), other numbers [`Value::Float`], strings [`Value::Str`], objects
    /// maps with text keys.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as Json;
        match json {
            Json::Null => Value::Nil,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::str(s.as_str()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (Value::str(k.as_str()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Text shows as text (`Str("web1")`), other bytes escaped (`Str(b"\\xff")`).
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Bytes<'a>(&'a [u8]);
        impl fmt::Debug for Bytes<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match std::str::from_utf8(self.0) {
                    Ok(s) => fmt::Debug::fmt(s, f),
                    Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
                }
            }
        }
        match self {
            Value::Nil => f.write_str("Nil"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Value::UInt(u) => f.debug_tuple("UInt").field(u).finish(),
            Value::Float(x) => f.debug_tuple("Float").field(x).finish(),
            Value::Str(b) => f.debug_tuple("Str").field(&Bytes(b)).finish(),
            Value::Bin(b) => f.debug_tuple("Bin").field(&Bytes(b)).finish(),
            Value::Array(items) => f.debug_tuple("Array").field(items).finish(),
            Value::Map(entries) => f.debug_tuple("Map").field(entries).finish(),
            Value::Ext(ty, b) => f.debug_tuple("Ext").field(ty).field(&Bytes(b)).finish(),
        }
    }
}

/// Python's `isoformat()` of a datetime packed as `%Y%m%dT%H:%M:%S.%f`.
fn datetime_iso(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let (date, time) = text.split_once('T')?;
    let (hms, micros) = time.split_once('.')?;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = hms.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = date.len() == 8
        && all_digits(date)
        && [h, m, s].iter().all(|p| p.len() == 2 && all_digits(p))
        && parts.next().is_none()
        && micros.len() == 6
        && all_digits(micros);
    if !well_formed {
        return None;
    }
    let mut iso = format!("{}-{}-{}T{h}:{m}:{s}", &date[..4], &date[4..6], &date[6..]);
    if micros != "000000" {
        iso.push('.');
        iso.push_str(micros);
    }
    Some(iso)
}

impl From<u64> for Value {
    fn from(u: u64) -> Value {
        i64::try_from(u).map_or(Value::UInt(u), Value::Int)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s.into_bytes())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn to_json_renders_salt_values() {
        let constant = super::super::msgpack::encode_bin_type(&Value::Array(vec![
            Value::str("SALT_TEST_CONSTANT"),
            Value::Int(42),
        ]));
        let v = Value::Map(vec![
            (Value::Int(1), Value::str("one")),
            (Value::Bool(true), Value::Float(f64::NAN)),
            (Value::Nil, Value::Float(f64::INFINITY)),
            (Value::str("big"), Value::UInt(u64::MAX)),
            (Value::str("raw"), Value::Str(vec![b'a', 0xff])),
            (Value::str("bin"), Value::Bin(b"abc".to_vec())),
            (
                Value::str("dt"),
                Value::Ext(78, b"20261129T18:05:23.003632".to_vec()),
            ),
            (
                Value::str("date"),
                Value::Ext(78, b"20261129T00:00:00.000000".to_vec()),
            ),
            (Value::str("odd"), Value::Ext(78, b"yesterday".to_vec())),
            (Value::str("const"), Value::Ext(79, constant)),
        ]);
        assert_eq!(
            v.to_json(),
            json!({
                "1": "one",
                "true": null,
                "null": null,
                "big": 18446744073709551615u64,
                "raw": "a\u{fffd}",
                "bin": "abc",
                "dt": "2026-11-29T18:05:23.003632",
                "date": "2026-11-29T00:00:00",
                "odd": "yesterday",
                "const": "SALT_TEST_CONSTANT",
            })
        );
    }

    #[test]
    fn from_json_picks_integer_widths() {
        let v =
            Value::from_json(&json!({"a": [1, -1, 18446744073709551615u64, 1.5, "s", null, true]}));
        assert_eq!(
            v,
            Value::map([(
                "a",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Int(-1),
                    Value::UInt(u64::MAX),
                    Value::Float(1.5),
                    Value::str("s"),
                    Value::Nil,
                    Value::Bool(true),
                ])
            )])
        );
        assert_eq!(Value::from(5u64), Value::Int(5));
        assert_eq!(Value::Int(-3).as_u64(), None);
    }

    #[test]
    fn debug_shows_text() {
        let v = Value::Array(vec![
            Value::str("web1"),
            Value::Bin(vec![b'a', 0xff]),
            Value::Nil,
        ]);
        assert_eq!(
            format!("{v:?}"),
            r#"Array([Str("web1"), Bin(b"a\xff"), Nil])"#
        );
    }
}

impl zeroize::Zeroize for Value {
    /// Overwrites every byte string (and number) inside, for values that carry
    /// credentials such as an eauth password.
    fn zeroize(&mut self) {
        match self {
            Value::Str(b) | Value::Bin(b) | Value::Ext(_, b) => b.zeroize(),
            Value::Array(items) => items.iter_mut().for_each(zeroize::Zeroize::zeroize),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.zeroize();
                v.zeroize();
            }),
            Value::Int(i) => i.zeroize(),
            Value::UInt(u) => u.zeroize(),
            Value::Float(f) => f.zeroize(),
            Value::Bool(_) | Value::Nil => {}
        }
    }
}

#[cfg(test)]
mod zeroize_tests {
    use super::*;
    use zeroize::Zeroize;

    #[test]
    fn zeroize_clears_nested_bytes() {
        let mut v = Value::map([
            ("password", Value::str("s3cret")),
            ("n", Value::Array(vec![Value::Bin(vec![1, 2])])),
        ]);
        v.zeroize();
        let text = format!("{v:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("password"),
            "{text}"
        );
    }
}
