//! The sans-IO wire layer.

pub mod crypto;
pub mod event;
pub mod msgpack;
pub mod publish;
pub mod value;

pub use msgpack::Limits;

/// A payload that could not be decoded or encoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside a value.
    #[error("msgpack input ended inside a value")]
    Truncated,
    /// A byte that starts no msgpack value.
    #[error("invalid msgpack marker byte 0x{0:02x}")]
    InvalidMarker(u8),
    /// A value larger than the decoder's size limit.
    #[error("msgpack payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size announced or seen.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Arrays and maps nested deeper than the decoder's limit.
    #[error("msgpack nesting deeper than {0} levels")]
    TooDeep(usize),
    /// Bytes left over after a complete value where none were expected.
    #[error("{0} trailing bytes after a msgpack value")]
    Trailing(usize),
    /// The bytes decoded, but not to the shape expected here.
    #[error("unexpected payload: {0}")]
    Shape(String),
}
