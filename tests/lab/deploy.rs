//! Acceptance 1 and 2: the four-step deploy reaches exactly the right minions,
//! in order, with evidence on the minions; a failing step stops the deploy.

use std::path::PathBuf;
use std::time::SystemTime;

use saltwire_lab::{Lab, LabOptions};

use crate::{ids, lab_lock, saltwire, start_lab};

fn evidence_mtime(lab: &Lab, minion: &str, name: &str) -> SystemTime {
    std::fs::metadata(lab.evidence_dir().join(minion).join(name))
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("no evidence {name} on {minion}: {e}"))
}

fn lines(lab: &Lab, minion: &str, name: &str) -> usize {
    lab.evidence(minion, name).map_or(0, |t| t.lines().count())
}

fn write_plan(lab: &Lab, name: &str, yaml: &str) -> PathBuf {
    let path = lab.root_dir().join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn quick_deploy_reaches_the_right_minions_in_order_and_failures_stop_it() {
    let _guard = lab_lock();
    let lab = start_lab(LabOptions::default());

    // The built-in plan through the CLI.
    let run = saltwire(&lab, &["deploy", "--out", "jsonl"]);
    assert_eq!(
        run.code, 0,
        "deploy failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    let steps = run.minions_per_step("succeeded");
    assert_eq!(
        steps,
        vec![
            ids(&["web1", "web2", "redis1"]),
            ids(&["web1"]),
            ids(&["web1", "web2"]),
            ids(&["redis1"])
        ],
        "{}",
        run.stdout
    );
    let summary = run.jsonl().pop().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["succeeded"], true);
    let jids: Vec<String> = run
        .jsonl()
        .iter()
        .filter(|l| l["type"] == "step")
        .map(|l| l["jid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(jids.len(), 4);
    assert!(
        jids.windows(2).all(|w| w[0] < w[1]),
        "steps were not published in order: {jids:?}"
    );

    // Evidence on the minions: who ran what, and in which order.
    for m in ["web1", "web2", "redis1"] {
        assert_eq!(
            lab.evidence(m, "update_code").as_deref(),
            Some("abc123\n"),
            "{m}"
        );
    }
    assert_eq!(lines(&lab, "web1", "collectstatic"), 1);
    assert_eq!(lines(&lab, "web2", "collectstatic"), 0);
    assert_eq!(lines(&lab, "redis1", "collectstatic"), 0);
    assert_eq!(
        (
            lines(&lab, "web1", "restart_apache"),
            lines(&lab, "web2", "restart_apache")
        ),
        (1, 1)
    );
    assert_eq!(lines(&lab, "redis1", "restart_apache"), 0);
    assert_eq!(lines(&lab, "redis1", "restart_supervisord"), 1);
    assert_eq!(
        lines(&lab, "web1", "restart_supervisord") + lines(&lab, "web2", "restart_supervisord"),
        0
    );
    let order = [
        evidence_mtime(&lab, "web1", "update_code"),
        evidence_mtime(&lab, "web1", "collectstatic"),
        evidence_mtime(&lab, "web1", "restart_apache"),
        evidence_mtime(&lab, "redis1", "restart_supervisord"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "steps ran out of order: {order:?}"
    );

    // The same deploy written against the library (examples/quick_deploy.rs).
    let example = example_binary("quick_deploy");
    let out = std::process::Command::new(&example)
        .arg(lab.config_dir())
        .output()
        .expect("run the example");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("quick deploy done"), "{text}");
    assert_eq!(lines(&lab, "web1", "collectstatic"), 2);
    assert_eq!(lines(&lab, "web2", "collectstatic"), 0);
    assert_eq!(
        (
            lines(&lab, "web1", "restart_apache"),
            lines(&lab, "web2", "restart_apache")
        ),
        (2, 2)
    );
    assert_eq!(lines(&lab, "redis1", "restart_supervisord"), 2);
    assert_eq!(lines(&lab, "redis1", "update_code"), 2);

    // A step whose command exits 3 stops the deploy: later steps never run.
    let plan = write_plan(
        &lab,
        "exit3.yaml",
        "name: exit3\nsteps:\n  - {name: update, target: '*', fun: myproject.update_code, kwarg: {rev: v2}}\n  - {name: broken, target: web1, fun: cmd.run, arg: ['exit 3']}\n  - {name: restart, target: 'roles:webserver', tgt_type: grain, fun: myproject.restart_apache}\n",
    );
    let run = saltwire(&lab, &["deploy", plan.to_str().unwrap()]);
    assert_eq!(
        run.code, 1,
        "a failed step must exit 1:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("stopped at step 2 (broken)") && run.stdout.contains("failed: web1"),
        "{}",
        run.stdout
    );
    assert_eq!(
        lab.evidence("web1", "update_code").as_deref(),
        Some("abc123\nabc123\nv2\n")
    );
    assert_eq!(
        lines(&lab, "web1", "restart_apache"),
        2,
        "step 3 ran after a failed step"
    );

    // A function that raises stops it too, and JSON output says which step and minion.
    let plan = write_plan(
        &lab,
        "raise.yaml",
        "name: raise\nsteps:\n  - {name: boom, target: 'web*', fun: myproject.fail}\n  - {name: restart, target: 'web*', fun: myproject.restart_apache}\n",
    );
    let run = saltwire(&lab, &["deploy", plan.to_str().unwrap(), "--out", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["succeeded"], false);
    assert_eq!(doc["failed_step"]["name"], "boom");
    assert_eq!(doc["skipped"], serde_json::json!(["restart"]));
    let failed: Vec<&str> = doc["steps"][0]["minions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "failed")
        .map(|m| m["minion"].as_str().unwrap())
        .collect();
    assert_eq!(ids(&failed), ids(&["web1", "web2"]));
    assert_eq!(lines(&lab, "web1", "restart_apache"), 2);

    // --dry-run publishes nothing.
    let run = saltwire(&lab, &["deploy", "--dry-run", "--out", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["steps"].as_array().unwrap().len(), 4);
    assert_eq!(lines(&lab, "web1", "collectstatic"), 2);

    // A plan that does not parse is a usage error naming the file.
    let bad = write_plan(&lab, "bad.yaml", "steps: [{name: x}]\n");
    let run = saltwire(&lab, &["deploy", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("bad.yaml"), "{}", run.stderr);
}

/// The example binary cargo built next to this test binary.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = target_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} was not built: run the tests with `cargo test --all-targets` (or `cargo build --examples` first)",
        path.display()
    );
    path
}
