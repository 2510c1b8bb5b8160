//! `EventDecoder` on arbitrary bytes: never panics, always makes progress, and
//! yields the same events and errors however the bytes are chunked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use saltwire_transport::wire::event::EventDecoder;
use saltwire_transport::wire::msgpack::{self, Limits};

/// Events (as their re-encoded frames, since NaN != NaN) and error texts, in order.
fn run(data: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, String>> {
    let limits = Limits {
        max_size: 1 << 16,
        max_depth: 32,
    };
    let mut dec = EventDecoder::new(limits);
    let mut seen = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        dec.handle_bytes(piece);
        loop {
            let before = dec.buffered();
            match dec.poll_event() {
                Ok(Some(ev)) => {
                    let _ = ev.data.to_json();
                    let _ = ev.job_return();
                    seen.push(Ok(msgpack::encode_bin_type(&ev.data)));
                }
                Ok(None) => break,
                Err(e) if dec.is_failed() => {
                    seen.push(Err(e.to_string()));
                    return seen;
                }
                Err(e) => seen.push(Err(e.to_string())),
            }
            assert!(
                dec.buffered() < before,
                "a frame was returned without being consumed"
            );
        }
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let chunked = run(data, usize::from(chunk % 32) + 1);
    assert_eq!(whole, chunked);
});
