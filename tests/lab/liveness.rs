//! Acceptance 4, 5 and 7: stopped minions, the deadline, a master that is down,
//! heartbeats on an idle client, master restarts.

use std::time::Duration;

use saltwire_job::{Auth, Job, LocalClient, MasterConfig, MinionState, Target};
use saltwire_lab::LabOptions;

use crate::{block_on, ids, lab_lock, saltwire, saltwire_with, start_lab};

#[test]
fn stopped_minion_is_reported_in_time_and_the_deadline_bounds_the_run() {
    let _guard = lab_lock();
    let mut lab = start_lab(LabOptions::default());
    lab.stop_minion("redis1");

    // timeout 2 + gather_job_timeout 2: settled within that, plus start-up slack.
    let run = saltwire(
        &lab,
        &[
            "run",
            "*",
            "test.ping",
            "-t",
            "2",
            "--gather-job-timeout",
            "2",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.minions_in("succeeded"), ids(&["web1", "web2"]));
    assert_eq!(
        run.minions_in("not_connected"),
        ids(&["redis1"]),
        "{}",
        run.stdout
    );
    assert!(
        run.elapsed < Duration::from_secs(7),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(run.json()["summary"]["not_connected"], 1);

    // jsonl: every line parses; the last is the summary.
    let run = saltwire(
        &lab,
        &[
            "run",
            "*",
            "test.ping",
            "-t",
            "1",
            "--gather-job-timeout",
            "1",
            "--out",
            "jsonl",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let lines = run.jsonl();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[3]["type"], "summary");
    assert_eq!(lines[3]["exit_code"], 3);
    assert!(lines
        .iter()
        .any(|l| l["minion"] == "redis1" && l["state"] == "not_connected"));

    // The deploy stops at its first step and says which minion is missing.
    let run = saltwire(&lab, &["deploy", "-t", "1", "--gather-job-timeout", "1"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("not connected: redis1"),
        "{}",
        run.stdout
    );
    assert_eq!(
        lab.evidence("web1", "collectstatic"),
        None,
        "step 2 ran after step 1 failed"
    );

    // --deadline is a hard bound: a 30 s job is cut at 2 s and reported still running.
    let run = saltwire(
        &lab,
        &[
            "run",
            "web1",
            "myproject.slow",
            "30",
            "--deadline",
            "2",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.minions_in("still_running"),
        ids(&["web1"]),
        "{}",
        run.stdout
    );
    assert!(
        run.elapsed < Duration::from_millis(3000),
        "the deadline of 2 s was overrun: {:?}",
        run.elapsed
    );

    // A long job with a short timeout: find_job keeps it alive and the return arrives.
    let run = saltwire(
        &lab,
        &[
            "run",
            "web2",
            "myproject.slow",
            "3",
            "-t",
            "1",
            "--gather-job-timeout",
            "2",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.minions_in("succeeded"), ids(&["web2"]));

    // The minion comes back: everything succeeds again.
    lab.start_minion("redis1").expect("redis1 restarts");
    let run = saltwire(&lab, &["run", "*", "test.ping", "--out", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.minions_in("succeeded"),
        ids(&["redis1", "web1", "web2"])
    );

    // A master that is not there: a clear error, its own exit code, at once.
    let nowhere = tempfile::tempdir().unwrap();
    std::fs::write(
        nowhere.path().join("master"),
        format!(
            "root_dir: {}\ninterface: 127.0.0.1\nret_port: 1\n",
            nowhere.path().display()
        ),
    )
    .unwrap();
    let run = saltwire_with(nowhere.path(), &["run", "*", "test.ping"], &[]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(run.stderr.contains("master unreachable"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);

    // The event bus is there but nothing listens on ret_port.
    let half = tempfile::tempdir().unwrap();
    std::fs::write(
        half.path().join("master"),
        format!(
            "cachedir: {}\nsock_dir: {}\ninterface: 127.0.0.1\nret_port: 1\n",
            lab.cachedir().display(),
            lab.sock_dir().display()
        ),
    )
    .unwrap();
    let run = saltwire_with(half.path(), &["run", "*", "test.ping"], &[]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(run.stderr.contains("127.0.0.1:1"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
}

#[test]
fn idle_client_survives_heartbeats_and_master_restarts() {
    let _guard = lab_lock();
    let mut lab = start_lab(LabOptions {
        zmq_heartbeat_ivl_ms: Some(1000),
        ..LabOptions::default()
    });
    let config = MasterConfig::load(lab.config_dir()).expect("lab config");
    block_on(async {
        let client = LocalClient::connect(config, Auth::KeyFile)
            .await
            .expect("connect");
        let ping = || Job::new(Target::glob("*"), "test.ping").timeout(Duration::from_secs(5));
        let all = ids(&["redis1", "web1", "web2"]);

        let report = client.cmd(ping()).await.expect("first ping");
        assert_eq!(report.minions_in(MinionState::Succeeded), all);

        // Idle through five master heartbeats.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let report = client.cmd(ping()).await.expect("ping after idling");
        assert_eq!(report.minions_in(MinionState::Succeeded), all);

        lab.restart_master().expect("master restarts");
        let report = client
            .cmd(ping())
            .await
            .expect("ping after a master restart");
        assert_eq!(
            report.minions_in(MinionState::Succeeded),
            all,
            "{:?}",
            report.results
        );
    });
    let run = saltwire(&lab, &["run", "*", "test.ping", "--out", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}
