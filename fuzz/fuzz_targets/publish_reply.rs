//! `publish::parse_publish_reply` on arbitrary bytes: never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use saltwire_transport::wire::msgpack::Limits;
use saltwire_transport::wire::publish::parse_publish_reply;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_size: 1 << 16,
        max_depth: 32,
    };
    let _ = parse_publish_reply(data, &limits);
});
