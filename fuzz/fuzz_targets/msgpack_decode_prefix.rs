//! `msgpack::decode_prefix` on arbitrary bytes: never panics, and agrees with
//! `decode` on where the value ends, what it is and why it fails.

#![no_main]

use libfuzzer_sys::fuzz_target;
use saltwire_transport::wire::msgpack::{self, Limits};
use saltwire_transport::WireError;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_size: 1 << 16,
        max_depth: 32,
    };
    let prefix = msgpack::decode_prefix(data, &limits);
    let whole = msgpack::decode(data, &limits);
    if data.len() > limits.max_size {
        assert!(matches!(whole, Err(WireError::TooLarge { .. })));
        return;
    }
    match prefix {
        Ok(None) => assert_eq!(whole, Err(WireError::Truncated)),
        Ok(Some((value, used))) => {
            assert!(0 < used && used <= data.len());
            let exact = msgpack::decode(&data[..used], &limits).expect("the prefix decodes alone");
            assert_eq!(
                msgpack::encode_bin_type(&exact),
                msgpack::encode_bin_type(&value)
            );
            if used == data.len() {
                assert!(whole.is_ok());
            } else {
                assert_eq!(whole, Err(WireError::Trailing(data.len() - used)));
            }
        }
        Err(e) => assert_eq!(whole, Err(e)),
    }
});
