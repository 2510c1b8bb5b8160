//! `msgpack::decode` on arbitrary bytes: never panics, and what it decodes
//! survives a round trip through both encodings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use saltwire_transport::wire::msgpack::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_size: 1 << 20,
        max_depth: 64,
    };
    let Ok(value) = msgpack::decode(data, &limits) else {
        return;
    };
    let _ = value.to_json();
    // Float32 grows to float64 when re-encoded, so the size bound is relaxed.
    let roomy = Limits {
        max_size: usize::MAX,
        ..limits
    };

    let bin = msgpack::encode_bin_type(&value);
    assert_eq!(bin.len(), msgpack::encoded_len(&value, true));
    let again = msgpack::decode(&bin, &roomy).expect("a bin-type encoding decodes");
    // Compared as bytes, since NaN != NaN as a value.
    assert_eq!(msgpack::encode_bin_type(&again), bin);

    let plain = msgpack::encode(&value);
    assert_eq!(plain.len(), msgpack::encoded_len(&value, false));
    let again = msgpack::decode(&plain, &roomy).expect("a str-only encoding decodes");
    assert_eq!(msgpack::encode(&again), plain);
});
