//! Output formats. Results go to stdout (or `--out-file`); nothing else does.

use std::io::Write;

use saltwire_job::{MinionResult, MinionState};
use serde_json::Value as Json;

/// `--out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Salt's nested outputter: readable, indented.
    Nested,
    /// One JSON document, written when the job is over.
    Json,
    /// One JSON object per line as results arrive, then a summary line.
    Jsonl,
    /// One YAML document, written when the job is over.
    Yaml,
    /// `minion: return` on one line each, the return as Python prints it (Salt's txt outputter).
    Txt,
}

/// Bounds a stream by `--count` and `--deadline`.
pub struct StreamLimit {
    count: Option<u64>,
    seen: u64,
    stop_at: Option<tokio::time::Instant>,
}

impl StreamLimit {
    /// Stops after `count` items or `deadline` from now, whichever comes first.
    pub fn new(count: Option<u64>, deadline: Option<std::time::Duration>) -> StreamLimit {
        StreamLimit {
            count,
            seen: 0,
            stop_at: deadline.map(|d| tokio::time::Instant::now() + d),
        }
    }

    /// The next item of the stream `next` reads, `None` once a bound is reached.
    pub async fn next<T>(&mut self, next: impl std::future::Future<Output = T>) -> Option<T> {
        if self.count.is_some_and(|c| self.seen >= c) {
            return None;
        }
        let item = match self.stop_at {
            Some(at) => tokio::time::timeout_at(at, next).await.ok()?,
            None => next.await,
        };
        Some(item)
    }

    /// Counts an item shown.
    pub fn count_one(&mut self) {
        self.seen += 1;
    }
}

/// Where results go.
pub struct Sink {
    out: Box<dyn Write>,
}

impl Sink {
    /// Stdout, or the `--out-file`.
    pub fn open(path: Option<&std::path::Path>) -> std::io::Result<Sink> {
        let out: Box<dyn Write> = match path {
            Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        Ok(Sink { out })
    }

    /// Writes text and flushes, so streamed lines appear at once.
    pub fn write(&mut self, text: &str) {
        // A closed stdout (e.g. `| head`) must not turn into a panic.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Writes one JSON value on one line.
    pub fn json_line(&mut self, value: &Json) {
        self.write(&format!("{value}\n"));
    }

    /// Writes a whole document in a non-streaming format.
    pub fn document(&mut self, format: Format, value: &Json) {
        match format {
            Format::Yaml => self.write(&serde_yaml_ng::to_string(value).unwrap_or_default()),
            _ => self.write(&format!(
                "{}\n",
                serde_json::to_string_pretty(value).unwrap_or_default()
            )),
        }
    }
}

/// A settled minion in the streaming formats.
pub fn stream_result(
    sink: &mut Sink,
    format: Format,
    result: &MinionResult,
    extra: &[(&str, Json)],
) {
    match format {
        Format::Jsonl => {
            let mut line = result.to_json();
            if let Json::Object(m) = &mut line {
                m.insert("type".into(), "return".into());
                for (k, v) in extra {
                    m.insert((*k).into(), v.clone());
                }
            }
            sink.json_line(&line);
        }
        Format::Txt => sink.write(&format!("{}: {}\n", result.minion, one_line(result))),
        Format::Nested => sink.write(&nested_result(result)),
        Format::Json | Format::Yaml => {}
    }
}

fn one_line(result: &MinionResult) -> String {
    match &result.ret {
        Some(ret) => match ret.to_json() {
            Json::String(s) => s,
            other => py_repr(&other),
        },
        None => missing_text(result),
    }
}

/// A value as Python's `repr` shows it, which is what Salt's txt outputter prints.
fn py_repr(value: &Json) -> String {
    match value {
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Json::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn missing_text(result: &MinionResult) -> String {
    let head = match result.state {
        MinionState::NotConnected => "Minion did not return. [Not connected]",
        MinionState::StillRunning => "Minion did not return by the deadline. [Still running]",
        _ => "Minion did not return. [No response]",
    };
    match &result.detail {
        Some(d) => format!("{head} ({d})"),
        None => head.to_string(),
    }
}

/// Salt's nested layout for one minion.
pub fn nested_result(result: &MinionResult) -> String {
    let mut text = format!("{}:\n", result.minion);
    match &result.ret {
        Some(ret) => nested(&ret.to_json(), 4, &mut text),
        None => {
            text.push_str("    ");
            text.push_str(&missing_text(result));
            text.push('\n');
        }
    }
    if result.state == MinionState::Failed {
        if let Some(code) = result.retcode {
            text.push_str(&format!("    [retcode: {code}]\n"));
        }
    }
    text
}

fn scalar(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Null => "None".into(),
        other => other.to_string(),
    }
}

fn nested(value: &Json, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Json::Object(map) if !map.is_empty() => {
            out.push_str(&format!("{pad}----------\n"));
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                let v = &map[k];
                match v {
                    Json::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        nested(v, indent + 4, out);
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        nested(v, indent + 4, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}:\n{pad}    {}\n", scalar(v))),
                }
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Json::Object(_) | Json::Array(_) => {
                        out.push_str(&format!("{pad}|_\n"));
                        nested(item, indent + 2, out);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        Json::String(s) if s.contains('\n') => {
            for line in s.lines() {
                out.push_str(&format!("{pad}{line}\n"));
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saltwire_job::Source;
    use saltwire_transport::Value;

    #[test]
    fn nested_layout_reads_like_salt() {
        let r = MinionResult::returned(
            "web1".into(),
            Value::map([("roles", Value::Array(vec![Value::str("webserver")]))]),
            Some(0),
            Some(true),
            None,
            Source::EventBus,
        );
        assert_eq!(
            nested_result(&r),
            "web1:\n    ----------\n    roles:\n        - webserver\n"
        );
        let m = MinionResult::missing("redis1".into(), MinionState::NotConnected, "x".into());
        assert!(nested_result(&m).contains("[Not connected]"));
    }
}

#[cfg(test)]
mod repr_tests {
    use super::*;

    #[test]
    fn txt_values_read_like_python() {
        let v: Json =
            serde_json::json!({"roles": ["webserver"], "ok": true, "n": null, "s": "it's"});
        assert_eq!(
            py_repr(&v),
            "{'roles': ['webserver'], 'ok': True, 'n': None, 's': \"it's\"}"
        );
    }
}
