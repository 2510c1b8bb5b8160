//! Output formats, `--async`, `--out-file`, `events`, and usage errors.

use std::process::Command;
use std::time::Duration;

use saltwire_lab::LabOptions;

use crate::{ids, lab_lock, saltwire, saltwire_bin, spawn_saltwire, start_lab};

#[test]
fn every_output_format_parses_and_events_stream() {
    let _guard = lab_lock();
    let lab = start_lab(LabOptions::default());

    let run = saltwire(
        &lab,
        &[
            "run",
            "-G",
            "roles:webserver",
            "grains.item",
            "roles",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["fun"], "grains.item");
    assert_eq!(
        doc["minions"]["web1"]["return"]["roles"],
        serde_json::json!(["webserver"])
    );
    assert_eq!(doc["minions"]["web1"]["retcode"], 0);
    assert_eq!(doc["summary"]["succeeded"], 2);

    let run = saltwire(
        &lab,
        &["run", "*", "test.arg", "1", "two", "k=v", "--out", "jsonl"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.jsonl();
    assert_eq!(lines.len(), 4);
    let ret = &lines[0]["return"];
    assert_eq!(ret["args"], serde_json::json!([1, "two"]), "{ret}");
    assert_eq!(ret["kwargs"]["k"], "v", "{ret}");

    let run = saltwire(&lab, &["run", "web1", "test.ping", "--out", "yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_yaml_ng::from_str(&run.stdout).expect("yaml");
    assert_eq!(doc["minions"]["web1"]["return"], true);

    let run = saltwire(&lab, &["run", "web*", "test.ping", "--out", "txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut txt: Vec<&str> = run.stdout.lines().collect();
    txt.sort();
    assert_eq!(txt, ["web1: True", "web2: True"]);

    let run = saltwire(&lab, &["run", "redis1", "test.ping"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "redis1:\n    True\n"));

    // --out-file: stdout stays empty.
    let file = lab.root_dir().join("out.json");
    let run = saltwire(
        &lab,
        &[
            "run",
            "web1",
            "test.ping",
            "--out",
            "json",
            "--out-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["minions"]["web1"]["state"], "succeeded");

    // --async prints the jid at once; the job still runs and lands in the job cache.
    let run = saltwire(
        &lab,
        &[
            "run",
            "web2",
            "myproject.collectstatic",
            "--async",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let jid = run.json()["jid"].as_str().unwrap().to_string();
    assert_eq!(jid.len(), 20, "{jid}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lab.evidence("web2", "collectstatic").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        lab.evidence("web2", "collectstatic").as_deref(),
        Some("1\n")
    );

    // events: a job published by the salt CLI shows up as return events.
    let mut events = Command::new(saltwire_bin());
    events.args([
        "-c",
        lab.config_dir().to_str().unwrap(),
        "events",
        "salt/job/",
        "--out",
        "jsonl",
        "--count",
        "2",
        "--deadline",
        "30",
    ]);
    let events = spawn_saltwire(events);
    std::thread::sleep(Duration::from_millis(300));
    let salt = lab.salt(&["web1", "test.ping"]);
    assert!(salt.status.success());
    let out = events.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["tag"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tags.len(), 2);
    assert!(tags.iter().all(|t| t.starts_with("salt/job/")), "{tags:?}");

    // Usage errors exit 2 and say what is wrong.
    for args in [
        vec!["run", "*"],
        vec!["run", "-G", "-E", "x", "test.ping"],
        vec!["run", "*", "test.ping", "-t", "soon"],
        vec!["run", "*", "test.ping", "--out", "xml"],
        vec!["run", "*", "not a function"],
    ] {
        let run = saltwire(&lab, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
    let _ = ids(&[]);
}
