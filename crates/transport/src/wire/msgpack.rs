//! Salt's msgpack conventions (REFERENCE §1): encoding as `salt.payload.dumps`
//! does it, tolerant and bounded decoding.
//!
//! Two encodings, matching msgpack-python's two packer modes:
//!
//! * [`encode`] is `salt.payload.dumps(obj)` (`use_bin_type=False`), the format of
//!   everything sent to the request and publish ports: [`Value::Str`] and
//!   [`Value::Bin`] both become the *str* family, and `str8` is never used.
//! * [`encode_bin_type`] is `salt.payload.dumps(obj, use_bin_type=True)`, the
//!   format of event data and IPC frames: `str8` for text, the *bin* family for
//!   [`Value::Bin`].
//!
//! Integers take the smallest encoding, floats are always float64, and extension
//! values use `fixext` when their length allows.
//!
//! Decoding reads both families into [`Value`] without assuming UTF-8, and is
//! bounded by [`Limits`]: no announced length is trusted beyond the bytes at hand,
//! nesting stops at `max_depth` and the encoded size at `max_size`.

use super::value::Value;
use super::WireError;

/// Bounds for a decoder whose input comes from the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest encoded value accepted, in bytes.
    pub max_size: usize,
    /// The deepest nesting of arrays and maps accepted.
    pub max_depth: usize,
}

/// Salt trims event data to `max_event_size` (1 MiB) but a job return read from a
/// request reply or the job cache can be larger; 64 MiB leaves room for both.
pub const DEFAULT_MAX_SIZE: usize = 64 * 1024 * 1024;
/// Deep enough for any state return seen in practice, shallow enough for the stack.
pub const DEFAULT_MAX_DEPTH: usize = 128;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: DEFAULT_MAX_SIZE,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Extension type of a datetime: payload `%Y%m%dT%H:%M:%S.%f` in ASCII.
pub const EXT_DATETIME: i8 = 78;
/// Extension type of a Salt constant: payload `[name, value]` packed with bin type.
pub const EXT_SALT_CONSTANT: i8 = 79;

/// Encodes as `salt.payload.dumps(obj)` (`use_bin_type=False`) does.
///
/// # Panics
///
/// If a string, byte string, array, map or extension is longer than `u32::MAX`
/// (msgpack cannot express it; Salt refuses it too).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value, false));
    encode_into(&mut out, value, false);
    out
}

/// Encodes as `salt.payload.dumps(obj, use_bin_type=True)` does (event data).
///
/// # Panics
///
/// As [`encode`].
pub fn encode_bin_type(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value, true));
    encode_into(&mut out, value, true);
    out
}

/// Appends the encoding of `value` to `out`; `bin_type` selects
/// [`encode_bin_type`]'s format over [`encode`]'s.
pub fn encode_into(out: &mut Vec<u8>, value: &Value, bin_type: bool) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(i) => encode_int(out, *i),
        Value::UInt(u) => encode_uint(out, *u),
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(bytes) => encode_str(out, bytes, bin_type),
        Value::Bin(bytes) if bin_type => {
            encode_len_header(out, bytes.len(), None, [0xc4, 0xc5, 0xc6]);
            out.extend_from_slice(bytes);
        }
        Value::Bin(bytes) => encode_str(out, bytes, false),
        Value::Array(items) => {
            encode_array_header(out, items.len());
            for item in items {
                encode_into(out, item, bin_type);
            }
        }
        Value::Map(entries) => {
            encode_map_header(out, entries.len());
            for (k, v) in entries {
                encode_into(out, k, bin_type);
                encode_into(out, v, bin_type);
            }
        }
        Value::Ext(ty, data) => {
            let fixed = match data.len() {
                1 => Some(0xd4),
                2 => Some(0xd5),
                4 => Some(0xd6),
                8 => Some(0xd7),
                16 => Some(0xd8),
                _ => None,
            };
            match fixed {
                Some(marker) => out.push(marker),
                None => encode_len_header(out, data.len(), None, [0xc7, 0xc8, 0xc9]),
            }
            out.push(*ty as u8);
            out.extend_from_slice(data);
        }
    }
}

/// The length of `value`'s encoding, without encoding it.
pub fn encoded_len(value: &Value, bin_type: bool) -> usize {
    match value {
        Value::Nil | Value::Bool(_) => 1,
        Value::Int(i) if *i >= 0 => uint_len(*i as u64),
        Value::Int(i) => match *i {
            -32..=-1 => 1,
            -0x80..=-33 => 2,
            -0x8000..=-0x81 => 3,
            -0x8000_0000..=-0x8001 => 5,
            _ => 9,
        },
        Value::UInt(u) => uint_len(*u),
        Value::Float(_) => 9,
        Value::Str(bytes) => encoded_str_len(bytes.len(), bin_type),
        Value::Bin(bytes) if bin_type => {
            let header = match bytes.len() {
                0..=0xff => 2,
                0x100..=0xffff => 3,
                _ => 5,
            };
            header + bytes.len()
        }
        Value::Bin(bytes) => str_header_len(bytes.len()) + bytes.len(),
        Value::Array(items) => {
            collection_header_len(items.len())
                + items
                    .iter()
                    .map(|v| encoded_len(v, bin_type))
                    .sum::<usize>()
        }
        Value::Map(entries) => {
            collection_header_len(entries.len())
                + entries
                    .iter()
                    .map(|(k, v)| encoded_len(k, bin_type) + encoded_len(v, bin_type))
                    .sum::<usize>()
        }
        Value::Ext(_, data) => {
            let header = match data.len() {
                1 | 2 | 4 | 8 | 16 => 2,
                0..=0xff => 3,
                0x100..=0xffff => 4,
                _ => 6,
            };
            header + data.len()
        }
    }
}

/// Appends a str-family value holding `bytes`, as [`encode_into`] would write
/// `Value::Str(bytes)`, without building a [`Value`] (for secrets that must not
/// be copied).
pub fn encode_str_into(out: &mut Vec<u8>, bytes: &[u8], bin_type: bool) {
    encode_str(out, bytes, bin_type);
}

/// The length of [`encode_str_into`]'s output.
pub fn encoded_str_len(len: usize, bin_type: bool) -> usize {
    if bin_type && (32..=0xff).contains(&len) {
        2 + len
    } else {
        str_header_len(len) + len
    }
}

/// Appends an array header announcing `n` items.
pub fn encode_array_header(out: &mut Vec<u8>, n: usize) {
    encode_len_header(out, n, Some((0x90, 15)), [0x00, 0xdc, 0xdd]);
}

/// Appends a map header announcing `n` entries.
pub fn encode_map_header(out: &mut Vec<u8>, n: usize) {
    encode_len_header(out, n, Some((0x80, 15)), [0x00, 0xde, 0xdf]);
}

/// The length of an array or map header announcing `n` items or entries.
pub fn collection_header_len(n: usize) -> usize {
    match n {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    }
}

fn str_header_len(n: usize) -> usize {
    match n {
        0..=31 => 1,
        32..=0xffff => 3,
        _ => 5,
    }
}

fn uint_len(u: u64) -> usize {
    match u {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

fn encode_uint(out: &mut Vec<u8>, u: u64) {
    match u {
        0..=0x7f => out.push(u as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, u as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    }
}

fn encode_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        return encode_uint(out, i as u64);
    }
    match i {
        -32..=-1 => out.push(i as u8),
        -0x80..=-33 => out.extend_from_slice(&[0xd0, i as u8]),
        -0x8000..=-0x81 => {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        }
        -0x8000_0000..=-0x8001 => {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    }
}

/// A str-family value; without bin type msgpack-python skips `str8`, so 32..=255
/// bytes take `str16`.
fn encode_str(out: &mut Vec<u8>, bytes: &[u8], bin_type: bool) {
    let n = bytes.len();
    if n <= 31 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff && bin_type {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else {
        encode_len_header(out, n, None, [0x00, 0xda, 0xdb]);
    }
    out.extend_from_slice(bytes);
}

/// A length header: a fix marker `(base, max)` when given and `n` fits it, else
/// the 8/16/32-bit marker of `markers` (a zero marker means "width not available").
fn encode_len_header(out: &mut Vec<u8>, n: usize, fix: Option<(u8, usize)>, markers: [u8; 3]) {
    if let Some((base, max)) = fix {
        if n <= max {
            out.push(base | n as u8);
            return;
        }
    }
    if n <= 0xff && markers[0] != 0 {
        out.extend_from_slice(&[markers[0], n as u8]);
    } else if n <= 0xffff {
        out.push(markers[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        let n = u32::try_from(n).expect("msgpack lengths are at most u32::MAX");
        out.push(markers[2]);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Decodes exactly one value filling all of `bytes`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Value, WireError> {
    if bytes.len() > limits.max_size {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: limits.max_size,
        });
    }
    let mut reader = Reader {
        bytes,
        pos: 0,
        limits,
    };
    let value = reader.value(0)?;
    match bytes.len() - reader.pos {
        0 => Ok(value),
        n => Err(WireError::Trailing(n)),
    }
}

/// Decodes one value from the front of `bytes`: `Ok(None)` when more bytes are
/// needed, else the value and how many bytes it took.
///
/// A value whose announced size alone exceeds `limits.max_size` is refused with
/// [`WireError::TooLarge`] as soon as its header is read, so a streaming reader
/// does not wait for it.
pub fn decode_prefix(bytes: &[u8], limits: &Limits) -> Result<Option<(Value, usize)>, WireError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        limits,
    };
    match reader.value(0) {
        Ok(value) => Ok(Some((value, reader.pos))),
        Err(WireError::Truncated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Items reserved up front for an array or map; beyond that the vector grows as
/// items are read, so memory follows the bytes decoded, not the counts announced.
const MAX_PREALLOCATED_ITEMS: usize = 1024;

/// A cursor over the input. Every length is checked against what is left, and the
/// end of every value against `max_size`, before anything is allocated.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: &'a Limits,
}

impl Reader<'_> {
    /// Makes sure `n` more bytes are available, reporting an end past `max_size`
    /// before reporting truncation.
    fn need(&self, n: usize) -> Result<(), WireError> {
        let end = self.pos.saturating_add(n);
        if end > self.limits.max_size {
            return Err(WireError::TooLarge {
                size: end,
                limit: self.limits.max_size,
            });
        }
        if end > self.bytes.len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        self.need(n)?;
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, WireError> {
        Ok(usize::from(self.byte()?))
    }

    fn len16(&mut self) -> Result<usize, WireError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn len32(&mut self) -> Result<usize, WireError> {
        let n = u32::from_be_bytes(self.array()?);
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn bytes_of(&mut self, n: usize) -> Result<Vec<u8>, WireError> {
        Ok(self.take(n)?.to_vec())
    }

    fn ext(&mut self, n: usize) -> Result<Value, WireError> {
        // The type byte and the payload must both be there.
        self.need(n.saturating_add(1))?;
        let ty = self.byte()? as i8;
        Ok(Value::Ext(ty, self.bytes_of(n)?))
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        let marker = self.byte()?;
        let value = match marker {
            0x00..=0x7f => Value::Int(i64::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.items(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Value::Str(self.bytes_of(usize::from(marker & 0x1f))?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = self.len8()?;
                Value::Bin(self.bytes_of(n)?)
            }
            0xc5 => {
                let n = self.len16()?;
                Value::Bin(self.bytes_of(n)?)
            }
            0xc6 => {
                let n = self.len32()?;
                Value::Bin(self.bytes_of(n)?)
            }
            0xc7 => {
                let n = self.len8()?;
                self.ext(n)?
            }
            0xc8 => {
                let n = self.len16()?;
                self.ext(n)?
            }
            0xc9 => {
                let n = self.len32()?;
                self.ext(n)?
            }
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Int(i64::from(self.byte()?)),
            0xcd => Value::Int(i64::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::Int(i64::from(u32::from_be_bytes(self.array()?))),
            0xcf => {
                let u = u64::from_be_bytes(self.array()?);
                i64::try_from(u).map_or(Value::UInt(u), Value::Int)
            }
            0xd0 => Value::Int(i64::from(self.byte()? as i8)),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9 => {
                let n = self.len8()?;
                Value::Str(self.bytes_of(n)?)
            }
            0xda => {
                let n = self.len16()?;
                Value::Str(self.bytes_of(n)?)
            }
            0xdb => {
                let n = self.len32()?;
                Value::Str(self.bytes_of(n)?)
            }
            0xdc => {
                let n = self.len16()?;
                self.items(n, depth)?
            }
            0xdd => {
                let n = self.len32()?;
                self.items(n, depth)?
            }
            0xde => {
                let n = self.len16()?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.len32()?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(i64::from(marker as i8)),
            0xc1 => return Err(WireError::InvalidMarker(marker)),
        };
        Ok(value)
    }

    fn enter(&self, depth: usize) -> Result<usize, WireError> {
        if depth >= self.limits.max_depth {
            return Err(WireError::TooDeep(self.limits.max_depth));
        }
        Ok(depth + 1)
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        let depth = self.enter(depth)?;
        // Every item takes at least one byte: a count beyond the input is refused
        // (or waited for) before any allocation. The vector then grows with the
        // items actually read, as every level of nesting could claim the whole
        // input at once.
        self.need(n)?;
        let mut items = Vec::with_capacity(n.min(MAX_PREALLOCATED_ITEMS));
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        let depth = self.enter(depth)?;
        self.need(n.saturating_mul(2))?;
        let mut entries = Vec::with_capacity(n.min(MAX_PREALLOCATED_ITEMS));
        for _ in 0..n {
            let k = self.value(depth)?;
            let v = self.value(depth)?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn str_family_without_bin_type_skips_str8() {
        let s = Value::str("a".repeat(32));
        assert_eq!(&hex(&encode(&s))[..6], "da0020");
        assert_eq!(&hex(&encode_bin_type(&s))[..4], "d920");
        let b = Value::Bin(vec![1, 2]);
        assert_eq!(hex(&encode(&b)), "a20102");
        assert_eq!(hex(&encode_bin_type(&b)), "c4020102");
    }

    #[test]
    fn encoded_len_matches_encoding() {
        let mut values = vec![
            Value::Nil,
            Value::Int(-1),
            Value::Int(-33),
            Value::Int(-129),
            Value::Int(-40000),
            Value::Int(i64::MIN),
            Value::Int(200),
            Value::UInt(u64::MAX),
            Value::Float(1.5),
            Value::Ext(78, vec![0; 24]),
            Value::Ext(1, vec![0; 16]),
            Value::Ext(1, Vec::new()),
            Value::Ext(1, vec![0; 300]),
        ];
        for n in [0, 31, 32, 255, 256, 65535, 65536] {
            values.push(Value::Str(vec![b'x'; n]));
            values.push(Value::Bin(vec![b'x'; n]));
        }
        values.push(Value::Array(values.clone()));
        values.push(Value::Map(
            values.iter().cloned().map(|v| (v.clone(), v)).collect(),
        ));
        for v in &values {
            assert_eq!(encoded_len(v, false), encode(v).len(), "{v:?}");
            assert_eq!(encoded_len(v, true), encode_bin_type(v).len(), "{v:?}");
        }
    }

    #[test]
    fn round_trips() {
        let v = Value::map([
            (
                "a",
                Value::Array(vec![
                    Value::Int(-5),
                    Value::UInt(u64::MAX),
                    Value::Float(-0.0),
                ]),
            ),
            ("b", Value::Bin(vec![0xff, 0])),
            ("c", Value::Ext(78, b"20261129T18:05:22.916752".to_vec())),
        ]);
        let limits = Limits::default();
        assert_eq!(decode(&encode_bin_type(&v), &limits).unwrap(), v);
        let (back, used) = decode_prefix(&encode(&v), &limits).unwrap().unwrap();
        assert_eq!(used, encode(&v).len());
        assert_eq!(back.get("b"), Some(&Value::Str(vec![0xff, 0])));
    }

    #[test]
    fn decode_reports_trailing_and_truncated() {
        let limits = Limits::default();
        assert_eq!(decode(&[0xc0, 0xc0], &limits), Err(WireError::Trailing(1)));
        assert_eq!(decode(&[0x92, 0x01], &limits), Err(WireError::Truncated));
        assert_eq!(decode_prefix(&[0x92, 0x01], &limits), Ok(None));
        assert_eq!(decode_prefix(&[], &limits), Ok(None));
        assert_eq!(
            decode(&[0xc1], &limits),
            Err(WireError::InvalidMarker(0xc1))
        );
        assert_eq!(
            decode_prefix(&[0x91, 0xc1], &limits),
            Err(WireError::InvalidMarker(0xc1))
        );
    }

    #[test]
    fn huge_announced_lengths_do_not_allocate() {
        let limits = Limits::default();
        for input in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01][..],
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xdb, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert!(matches!(
                decode(input, &limits),
                Err(WireError::TooLarge { .. })
            ));
            assert!(matches!(
                decode_prefix(input, &limits),
                Err(WireError::TooLarge { .. })
            ));
        }
        let roomy = Limits {
            max_size: usize::MAX,
            max_depth: 8,
        };
        let input = [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05];
        assert_eq!(decode(&input, &roomy), Err(WireError::Truncated));
        assert_eq!(decode_prefix(&input, &roomy), Ok(None));
    }

    #[test]
    fn nesting_is_bounded() {
        let limits = Limits {
            max_size: 1 << 20,
            max_depth: 16,
        };
        let mut deep = vec![0x91; 17];
        deep.push(0xc0);
        assert_eq!(decode(&deep, &limits), Err(WireError::TooDeep(16)));
        let ok = &deep[1..];
        assert!(decode(ok, &limits).is_ok());
        // Each level announces as many items as there are bytes left.
        let mut claims = Vec::new();
        for level in 0..16u32 {
            claims.push(0xdd);
            claims.extend_from_slice(&(60_000 - 5 * level).to_be_bytes());
        }
        claims.resize(60_000, 0xc0);
        let roomy = Limits {
            max_size: 1 << 20,
            max_depth: 32,
        };
        assert_eq!(decode_prefix(&claims, &roomy), Ok(None));
        let huge = vec![0x91; 1_000_000];
        assert_eq!(
            decode(&huge, &Limits::default()),
            Err(WireError::TooDeep(DEFAULT_MAX_DEPTH))
        );
    }
}
