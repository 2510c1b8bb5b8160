//! The sans-IO wire layer against vectors captured from real Salt
//! (`shared/salt-protocol/vectors`, see its README.md).
//!
//! The vectors are found through `SALTWIRE_VECTORS` if set, else at
//! the copy in `tests/vectors`; the tests fail when neither
//! exists.

use std::path::PathBuf;

use saltwire_transport::wire::event::{encode_event_frame, Event, EventDecoder};
use saltwire_transport::wire::msgpack::{self, Limits};
use saltwire_transport::wire::publish::{
    condition_args, encode_clear_request, parse_publish_reply, PublishReply, PublishRequest, Tgt,
};
use saltwire_transport::{Value, WireError};
use serde_json::Value as Json;

mod common;
use common::vectors_dir;

fn read(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn read_json(rel: &str) -> Json {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:.40}: {e}"))
}

/// The value a vector's JSON describes (README.md's conventions).
fn expected(json: &Json) -> Value {
    match json {
        Json::Object(map) if map.len() == 1 => {
            let (marker, inner) = map.iter().next().unwrap();
            match marker.as_str() {
                "__bytes_hex__" => Value::Str(unhex(inner.as_str().unwrap())),
                "__float__" => Value::Float(inner.as_str().unwrap().parse().unwrap()),
                "__datetime__" => Value::Ext(78, strftime(inner.as_str().unwrap()).into_bytes()),
                "__salt_constant__" => {
                    let pair =
                        Value::Array(inner.as_array().unwrap().iter().map(expected).collect());
                    Value::Ext(79, msgpack::encode_bin_type(&pair))
                }
                "__map__" => Value::Map(
                    inner
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|kv| (expected(&kv[0]), expected(&kv[1])))
                        .collect(),
                ),
                _ => Value::Map(vec![(Value::str(marker.as_str()), expected(inner))]),
            }
        }
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (Value::str(k.as_str()), expected(v)))
                .collect(),
        ),
        Json::Array(items) => Value::Array(items.iter().map(expected).collect()),
        other => Value::from_json(other),
    }
}

/// `2026-11-29T18:05:22.916752` → `20261129T18:05:22.916752` (Salt's ext 78 text).
fn strftime(iso: &str) -> String {
    let (date, time) = iso.split_once('T').unwrap();
    let time = if time.contains('.') {
        time.to_string()
    } else {
        format!("{time}.000000")
    };
    format!("{}T{time}", date.replace('-', ""))
}

/// `value` with [`Value::Bin`] wherever `like` (the same value decoded from a
/// `use_bin_type=True` encoding) has it.
fn with_bins(value: &Value, like: &Value) -> Value {
    match (value, like) {
        (Value::Str(b), Value::Bin(_)) => Value::Bin(b.clone()),
        (Value::Array(a), Value::Array(l)) if a.len() == l.len() => {
            Value::Array(a.iter().zip(l).map(|(v, l)| with_bins(v, l)).collect())
        }
        (Value::Map(a), Value::Map(l)) if a.len() == l.len() => Value::Map(
            a.iter()
                .zip(l)
                .map(|((k, v), (lk, lv))| (with_bins(k, lk), with_bins(v, lv)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// `value` with every [`Value::Bin`] turned into [`Value::Str`].
fn without_bins(value: &Value) -> Value {
    match value {
        Value::Bin(b) => Value::Str(b.clone()),
        Value::Array(a) => Value::Array(a.iter().map(without_bins).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (without_bins(k), without_bins(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn vectors_dir_is_found() {
    assert!(vectors_dir().join("lab.json").is_file());
}

/// The copy kept in this crate is the shared reference's, byte for byte, when
/// the reference is next to the checkout.
#[test]
fn vendored_vectors_match_the_shared_reference() {
    let shared =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/salt-protocol/vectors");
    if !shared.is_dir() {
        return;
    }
    let ours = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    for rel in [
        "payload_dumps.json",
        "crypticle.json",
        "rsa.json",
        "lab.json",
        "lab/r8_session.json",
    ] {
        assert_eq!(
            std::fs::read(ours.join(rel)).unwrap(),
            std::fs::read(shared.join(rel)).unwrap(),
            "{rel} differs"
        );
    }
}

#[test]
fn payload_dumps_both_encodings_and_decode() {
    let doc = read_json("payload_dumps.json");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 44, "only {} cases", cases.len());
    let mut checked = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        if name == "str_len65536" {
            let value = Value::str("d".repeat(65536));
            let mut want = unhex("db00010000");
            want.extend(std::iter::repeat_n(b'd', 65536));
            assert_eq!(case["dumps_hex_len"], 65541);
            assert!(case["dumps_hex_prefix"]
                .as_str()
                .unwrap()
                .starts_with("db00010000"));
            assert_eq!(msgpack::encode(&value), want, "{name}");
            assert_eq!(msgpack::encode_bin_type(&value), want, "{name}");
            assert_eq!(msgpack::decode(&want, &limits()).unwrap(), value);
            checked += 1;
            continue;
        }
        let dumps = unhex(case["dumps_hex"].as_str().unwrap());
        let dumps_bin = unhex(case["dumps_bin_hex"].as_str().unwrap());
        let value = expected(&case["loads"]);

        assert_eq!(
            hex::encode(msgpack::encode(&value)),
            hex::encode(&dumps),
            "{name}: encode"
        );
        assert_eq!(
            msgpack::decode(&dumps, &limits()).unwrap(),
            value,
            "{name}: decode"
        );
        assert_eq!(
            msgpack::decode_prefix(&dumps, &limits()).unwrap(),
            Some((value.clone(), dumps.len()))
        );

        let decoded_bin = msgpack::decode(&dumps_bin, &limits()).unwrap();
        assert_eq!(
            without_bins(&decoded_bin),
            value,
            "{name}: decode of the bin variant"
        );
        assert_eq!(expected(&case["loads_of_bin_variant"]), value, "{name}");
        let value_bin = with_bins(&value, &decoded_bin);
        assert_eq!(decoded_bin, value_bin, "{name}");
        assert_eq!(
            hex::encode(msgpack::encode_bin_type(&value_bin)),
            hex::encode(&dumps_bin),
            "{name}: encode_bin_type"
        );
        // Without bin type a Bin is written as str, exactly like Salt does.
        assert_eq!(msgpack::encode(&value_bin), dumps, "{name}");

        for cut in 0..dumps.len() {
            assert_eq!(
                msgpack::decode_prefix(&dumps[..cut], &limits()),
                Ok(None),
                "{name}: cut {cut}"
            );
            assert_eq!(
                msgpack::decode(&dumps[..cut], &limits()),
                Err(WireError::Truncated)
            );
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

/// The JSON `Value::to_json` should give for a vector's `loads` description.
fn plain(json: &Json) -> Json {
    match json {
        Json::Object(map) if map.len() == 1 => {
            let (marker, inner) = map.iter().next().unwrap();
            match marker.as_str() {
                "__bytes_hex__" => Json::String(
                    String::from_utf8_lossy(&unhex(inner.as_str().unwrap())).into_owned(),
                ),
                "__float__" => serde_json::json!(inner.as_str().unwrap().parse::<f64>().unwrap()),
                "__datetime__" => inner.clone(),
                "__salt_constant__" => inner[0].clone(),
                "__map__" => Json::Object(
                    inner
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|kv| {
                            let key = match plain(&kv[0]) {
                                Json::String(s) => s,
                                other => other.to_string(),
                            };
                            (key, plain(&kv[1]))
                        })
                        .collect(),
                ),
                _ => Json::Object(std::iter::once((marker.clone(), plain(inner))).collect()),
            }
        }
        Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        Json::Array(items) => Json::Array(items.iter().map(plain).collect()),
        other => other.clone(),
    }
}

#[test]
fn payload_dumps_to_json_matches_salt_loads() {
    let doc = read_json("payload_dumps.json");
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let Some(hex) = case["dumps_hex"].as_str() else {
            continue;
        };
        let json = msgpack::decode(&unhex(hex), &limits()).unwrap().to_json();
        assert_eq!(json, plain(&case["loads"]), "{name}");
    }
}

fn lab_files() -> Vec<Json> {
    read_json("lab.json")["files"].as_array().unwrap().clone()
}

fn lab_entry(file: &str) -> Json {
    lab_files()
        .into_iter()
        .find(|f| f["file"] == format!("lab/{file}"))
        .unwrap_or_else(|| panic!("{file} not in lab.json"))
}

#[test]
fn lab_files_match_lab_json_hex() {
    for f in lab_files() {
        let rel = f["file"].as_str().unwrap();
        let bytes = read(rel);
        assert_eq!(hex::encode(&bytes), f["hex"].as_str().unwrap(), "{rel}");
        assert_eq!(bytes.len() as u64, f["len"].as_u64().unwrap(), "{rel}");
    }
}

#[test]
fn lab_publish_request_re_encodes_byte_for_byte() {
    let bytes = read("lab/lab_clear_publish_request.bin");
    let envelope = msgpack::decode(&bytes, &limits()).unwrap();
    assert_eq!(envelope.get("enc").and_then(Value::as_str), Some("clear"));
    assert_eq!(envelope.get("version"), Some(&Value::Int(3)));
    let load = envelope.get("load").unwrap();
    let text = |k: &str| load.get(k).and_then(Value::as_str).unwrap().to_string();
    assert_eq!(text("cmd"), "publish");
    let key = load.get("key").unwrap().as_bytes().unwrap();
    // The captured layout: envelope, then the load in `_prep_pub`'s key order, the
    // 76-character key as str16.
    let head = unhex(concat!(
        "83a3656e63a5636c656172a46c6f616489a3636d64a77075626c697368a3746774a12a",
        "a366756ea9746573742e70696e67a361726790a36b6579da004c"
    ));
    assert_eq!(&bytes[..head.len()], &head[..]);
    assert_eq!(key.len(), 76);

    let mut req = PublishRequest::new(Tgt::Expr(text("tgt")), text("fun"));
    req.tgt_type = text("tgt_type");
    req.arg = condition_args(
        load.get("arg").unwrap().as_array().unwrap().to_vec(),
        Vec::new(),
    );
    req.key = zeroize::Zeroizing::new(text("key"));
    req.ret = text("ret");
    req.jid = text("jid");
    req.user = text("user");
    assert_eq!(hex::encode(&*req.encode()), hex::encode(&bytes));
    assert_eq!(encode_clear_request(load), bytes);

    let shown = format!("{req:?}");
    assert!(
        !shown.contains(&text("key")),
        "Debug shows the key: {shown}"
    );
}

#[test]
fn lab_publish_reply() {
    let reply = parse_publish_reply(&read("lab/lab_clear_publish_reply.bin"), &limits()).unwrap();
    assert_eq!(
        reply,
        PublishReply::Published {
            jid: "20261129180522916379".into(),
            minions: vec!["redis1".into(), "web1".into(), "web2".into()],
            missing: vec![],
        }
    );
}

/// Every event of `bytes`, fed in chunks of `chunk` bytes (all at once for 0).
fn events_of(bytes: &[u8], chunk: usize) -> Vec<Event> {
    let mut dec = EventDecoder::new(limits());
    let mut events = Vec::new();
    let chunks: Vec<&[u8]> = if chunk == 0 {
        vec![bytes]
    } else {
        bytes.chunks(chunk).collect()
    };
    for piece in chunks {
        dec.handle_bytes(piece);
        while let Some(ev) = dec.poll_event().unwrap() {
            events.push(ev);
        }
    }
    assert_eq!(dec.buffered(), 0, "bytes left over");
    events
}

fn check_events(events: &[Event], frames: &[Json], what: &str) {
    let tags: Vec<&str> = events.iter().map(|e| e.tag.as_str()).collect();
    let want: Vec<&str> = frames.iter().map(|f| f["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, want, "{what}");
    for (ev, frame) in events.iter().zip(frames) {
        assert_eq!(ev.data, expected(&frame["data"]), "{what}: {}", ev.tag);
        assert_eq!(ev.data.to_json(), frame["data"], "{what}: {}", ev.tag);
    }
}

#[test]
fn lab_event_streams_in_any_chunking() {
    for (file, prefixed) in [
        ("lab_eventbus_stream_3008.4.bin", false),
        ("r7_eventbus_stream_3007.16.bin", false),
        ("r6_eventbus_stream_3006.29_lenprefixed.bin", true),
    ] {
        let bytes = read(&format!("lab/{file}"));
        let frames = lab_entry(file)["decoded_frames"]
            .as_array()
            .unwrap()
            .clone();
        assert!(frames.len() >= 3, "{file}");
        let whole = events_of(&bytes, 0);
        check_events(&whole, &frames, file);
        for chunk in [1, 7, 64] {
            assert_eq!(
                events_of(&bytes, chunk),
                whole,
                "{file} in chunks of {chunk}"
            );
        }
        let re_encoded: Vec<u8> = whole
            .iter()
            .flat_map(|e| encode_event_frame(&e.tag, &e.data, prefixed))
            .collect();
        assert_eq!(
            hex::encode(re_encoded),
            hex::encode(&bytes),
            "{file}: re-encoded"
        );
    }
}

#[test]
fn lab_event_frames() {
    let mut returns = 0;
    for f in lab_files() {
        let rel = f["file"].as_str().unwrap();
        if !rel.contains("eventbus") || rel.contains("stream") {
            continue;
        }
        let bytes = read(rel);
        let events = events_of(&bytes, 0);
        assert_eq!(events.len(), 1, "{rel}");
        let ev = &events[0];
        let decoded = &f["decoded"];
        assert_eq!(ev.tag, decoded["tag"].as_str().unwrap(), "{rel}");
        assert_eq!(ev.data, expected(&decoded["data"]), "{rel}");
        assert_eq!(
            encode_event_frame(&ev.tag, &ev.data, false),
            bytes,
            "{rel}: re-encoded"
        );
        let prefixed = encode_event_frame(&ev.tag, &ev.data, true);
        assert_eq!(&prefixed[..4], &(bytes.len() as u32).to_be_bytes());
        assert_eq!(events_of(&prefixed, 3), events, "{rel}: prefixed");

        if let Some((jid, id)) = ev.job_return() {
            returns += 1;
            assert_eq!(ev.data.get("id").and_then(Value::as_str), Some(id), "{rel}");
            assert_eq!(
                ev.data.get("jid").and_then(Value::as_str),
                Some(jid),
                "{rel}"
            );
            assert!(ev.data.get("return").is_some(), "{rel}");
            assert!(
                ev.data.get("retcode").and_then(Value::as_i64).is_some(),
                "{rel}"
            );
            assert!(
                ev.data.get("success").and_then(Value::as_bool).is_some(),
                "{rel}"
            );
        }
    }
    assert_eq!(returns, 6);
}

#[test]
fn lab_return_event_fields() {
    let ret = |file: &str| events_of(&read(&format!("lab/{file}")), 0).remove(0);

    let ping = ret("lab_eventbus_02_salt_job_20261129180522916379_ret_web1.bin");
    assert_eq!(ping.job_return(), Some(("20261129180522916379", "web1")));
    assert_eq!(ping.data.get("return"), Some(&Value::Bool(true)));
    assert_eq!(ping.data.get("retcode"), Some(&Value::Int(0)));
    assert_eq!(ping.data.get("success"), Some(&Value::Bool(true)));
    assert_eq!(ping.data.get("ts"), Some(&Value::Int(1795975522)));
    assert_eq!(
        ping.data.get("_stamp").and_then(Value::as_str),
        Some("2026-11-29T18:05:23.003632+00:00")
    );

    let cmd = ret("lab_eventbus_cmdrun_frame_02_salt_job_20261129181826562161_ret_web1.bin");
    assert_eq!(cmd.data.get("return").and_then(Value::as_str), Some("hi"));
    assert_eq!(cmd.data.get("retcode"), Some(&Value::Int(3)));
    assert_eq!(cmd.data.get("success"), Some(&Value::Bool(false)));

    let nosuch = ret("lab_eventbus_nosuch_frame_02_salt_job_20261129181831835557_ret_web1.bin");
    assert_eq!(
        nosuch.data.get("return").and_then(Value::as_str),
        Some("'no.such_function' is not available.")
    );
    assert_eq!(nosuch.data.get("retcode"), Some(&Value::Int(1)));
    assert_eq!(
        nosuch.data.get("out").and_then(Value::as_str),
        Some("nested")
    );

    let grains = ret("lab_eventbus_grains_frame_05_salt_job_20261129181821300926_ret_web1.bin");
    assert_eq!(
        grains.data.get("return").unwrap().to_json(),
        serde_json::json!({"roles": ["webserver"]})
    );
}

#[test]
fn event_frame_sizes_are_bounded() {
    let bytes = read("lab/lab_eventbus_stream_3008.4.bin");
    let mut dec = EventDecoder::new(Limits {
        max_size: 100,
        max_depth: 8,
    });
    dec.handle_bytes(&bytes);
    assert!(matches!(dec.poll_event(), Err(WireError::TooLarge { .. })));
    assert!(dec.is_failed());

    let nested = Value::map([(
        "a",
        Value::map([("b", Value::Array(vec![Value::Array(vec![])]))]),
    )]);
    let frame = encode_event_frame("deep", &nested, true);
    let mut dec = EventDecoder::new(Limits {
        max_size: 1 << 20,
        max_depth: 2,
    });
    dec.handle_bytes(&frame);
    dec.handle_bytes(&encode_event_frame("flat", &Value::Int(1), true));
    assert!(matches!(dec.poll_event(), Err(WireError::Shape(m)) if m.contains("deeper")));
    assert!(!dec.is_failed());
    assert_eq!(dec.poll_event().unwrap().unwrap().tag, "flat");
}

/// A small deterministic generator (xorshift64*), enough to shake the decoders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Events (as re-encoded data, since NaN != NaN) and error texts, in order, with
/// `input` fed in chunks of `chunk` bytes.
fn event_outcomes(input: &[u8], chunk: usize, limits: &Limits) -> Vec<Result<Vec<u8>, String>> {
    let mut dec = EventDecoder::new(*limits);
    let mut seen = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        dec.handle_bytes(piece);
        loop {
            let before = dec.buffered();
            match dec.poll_event() {
                Ok(Some(ev)) => {
                    let _ = ev.data.to_json();
                    seen.push(Ok(msgpack::encode_bin_type(&ev.data)));
                }
                Ok(None) => break,
                Err(e) if dec.is_failed() => {
                    seen.push(Err(e.to_string()));
                    return seen;
                }
                Err(e) => seen.push(Err(e.to_string())),
            }
            assert!(dec.buffered() < before, "no progress");
        }
    }
    seen
}

/// Runs every decoder over `input` and checks what the fuzz targets check.
fn shake(input: &[u8], limits: &Limits) {
    let _ = parse_publish_reply(input, limits);

    let whole = msgpack::decode(input, limits);
    match msgpack::decode_prefix(input, limits) {
        Ok(None) => assert_eq!(whole, Err(WireError::Truncated)),
        Ok(Some((_, used))) if used == input.len() => assert!(whole.is_ok()),
        Ok(Some((_, used))) => assert_eq!(whole, Err(WireError::Trailing(input.len() - used))),
        Err(e) => assert_eq!(whole, Err(e)),
    }
    if let Ok(v) = &whole {
        let _ = v.to_json();
        let roomy = Limits {
            max_size: usize::MAX,
            ..*limits
        };
        let bin = msgpack::encode_bin_type(v);
        let again = msgpack::decode(&bin, &roomy).unwrap();
        assert_eq!(msgpack::encode_bin_type(&again), bin);
    }

    let all_at_once = event_outcomes(input, input.len(), limits);
    for chunk in [1, 5] {
        assert_eq!(
            event_outcomes(input, chunk, limits),
            all_at_once,
            "chunks of {chunk}"
        );
    }
}

#[test]
fn garbage_and_mutated_vectors_never_panic() {
    let limits = Limits {
        max_size: 1 << 16,
        max_depth: 16,
    };
    let mut rng = Rng(0x5a17_3d0c_0ffe_e123);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        shake(&input, &limits);
    }
    let mut seeds: Vec<Vec<u8>> = lab_files()
        .iter()
        .map(|f| read(f["file"].as_str().unwrap()))
        .collect();
    let doc = read_json("payload_dumps.json");
    seeds.extend(
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["dumps_hex"].as_str())
            .map(unhex),
    );
    for seed in &seeds {
        for _ in 0..200 {
            let mut input = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(input.len());
                match rng.below(3) {
                    0 => input[i] = rng.next() as u8,
                    1 => input[i] ^= 0x80,
                    _ => input.truncate(i),
                }
                if input.is_empty() {
                    break;
                }
            }
            shake(&input, &limits);
        }
    }
}

#[test]
fn announced_lengths_are_not_trusted() {
    let roomy = Limits {
        max_size: usize::MAX,
        max_depth: 16,
    };
    // 4 GiB of array items, strings, maps announced in a few bytes.
    for input in [
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0][..],
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0],
        &[0xdb, 0xff, 0xff, 0xff, 0xff, 0x61],
        &[0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01],
    ] {
        assert_eq!(msgpack::decode(input, &roomy), Err(WireError::Truncated));
        assert_eq!(msgpack::decode_prefix(input, &roomy), Ok(None));
        assert!(matches!(
            msgpack::decode(input, &limits()),
            Err(WireError::TooLarge { .. })
        ));
    }
    let mut dec = EventDecoder::new(roomy);
    dec.handle_bytes(&[0xde, 0xff, 0xff]);
    assert_eq!(dec.poll_event(), Ok(None));
    let mut dec = EventDecoder::new(limits());
    dec.handle_bytes(&[0x7f, 0xff, 0xff, 0xff, 0x82]);
    assert!(matches!(dec.poll_event(), Err(WireError::TooLarge { .. })));
}
