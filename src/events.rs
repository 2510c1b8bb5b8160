//! `saltwire events [TAG_PREFIX]`: the master's event bus, as it happens.

use std::time::Duration;

use saltwire_job::MasterConfig;
use saltwire_transport::io::{BusItem, EventBus};
use serde_json::json;

use crate::args::seconds;
use crate::exit;
use crate::output::{Sink, StreamLimit};

/// How events are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventFormat {
    /// The tag, then the data as indented JSON.
    Pretty,
    /// `{"tag": ..., "data": ...}` on one line each.
    Jsonl,
}

/// `saltwire events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only events whose tag starts with this (e.g. `salt/job/`).
    #[arg(default_value = "")]
    prefix: String,
    /// Output format.
    #[arg(long = "out", value_enum, default_value = "pretty")]
    out: EventFormat,
    /// Exit after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long, value_parser = seconds)]
    deadline: Option<Duration>,
}

pub async fn run(config: &MasterConfig, a: EventsArgs) -> i32 {
    let endpoint = config.event_bus();
    let bus = match EventBus::connect(endpoint.clone()).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("saltwire: master unreachable at {endpoint}: {e} (is salt-master running, and is -c its config dir?)");
            return exit::UNREACHABLE;
        }
    };
    let mut sub = bus.subscribe(&a.prefix);
    let mut sink = Sink::open(None).expect("stdout");
    let mut limit = StreamLimit::new(a.count, a.deadline);
    loop {
        let Some(item) = limit.next(sub.recv()).await else {
            return exit::OK;
        };
        match item {
            Some(BusItem::Event(event)) => {
                limit.count_one();
                let mut data = event.data.to_json();
                redact(&mut data);
                match a.out {
                    EventFormat::Jsonl => sink.json_line(&json!({"tag": event.tag, "data": data})),
                    EventFormat::Pretty => sink.write(&format!(
                        "{}\t{}\n",
                        event.tag,
                        serde_json::to_string_pretty(&data).unwrap_or_default()
                    )),
                }
            }
            Some(BusItem::Reconnected) => {
                eprintln!("saltwire: event bus reconnected; events in between may be missing")
            }
            Some(BusItem::Lagged { missed }) => {
                eprintln!("saltwire: {missed} events were dropped (output too slow or undecodable)")
            }
            None => {
                eprintln!("saltwire: the event bus closed");
                return exit::UNREACHABLE;
            }
        }
    }
}

/// Keys whose values are secrets. The master fires `salt/job/error` with the
/// whole refused publish load, eauth password and publish key included; they
/// are never printed.
const SECRET_KEYS: [&str; 4] = ["password", "token", "key", "eauth_password"];

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                    *v = "<redacted>".into();
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_events_are_redacted() {
        let mut v = json!({"tag": "x", "kwargs": {"password": "pw", "username": "alice"}, "key": "K", "list": [{"token": "t"}]});
        redact(&mut v);
        assert_eq!(
            v,
            json!({"tag": "x", "kwargs": {"password": "<redacted>", "username": "alice"}, "key": "<redacted>", "list": [{"token": "<redacted>"}]})
        );
    }
}
