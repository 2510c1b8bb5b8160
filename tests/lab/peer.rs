//! Issue 3, acceptance 2, 4 and 5 from the command line: peer mode against a
//! master with `auto_accept: False` and a `peer:` setting for saltwire's ids.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use saltwire_lab::{Lab, LabOptions};

use crate::{ids, lab_lock, run_saltwire, saltwire_bin, spawn_saltwire, start_lab, Ran};

/// Five workers: a `minion_pub` holds one while its publish goes back through the
/// request port (Salt's minimum of 3 can stall for 30 s on overlapping requests).
const PEER_CONFIG: &str = "peer:\n  saltwire-.*:\n    - .*\nworker_threads: 5\n";

/// `saltwire --master <lab> --id ID --keys-dir KEYS ARGS`, not yet run.
fn peer_command(lab: &Lab, keys: &Path, id: &str, args: &[&str]) -> Command {
    let master = format!("127.0.0.1:{}", lab.ret_port());
    let mut cmd = Command::new(saltwire_bin());
    cmd.args([
        "--master",
        &master,
        "--id",
        id,
        "--keys-dir",
        keys.to_str().unwrap(),
    ])
    .args(args);
    cmd
}

fn peer(lab: &Lab, keys: &Path, id: &str, args: &[&str]) -> Ran {
    run_saltwire(peer_command(lab, keys, id, args))
}

fn key_init(keys: &Path, id: &str) -> Ran {
    let mut cmd = Command::new(saltwire_bin());
    cmd.args([
        "--keys-dir",
        keys.to_str().unwrap(),
        "--id",
        id,
        "key",
        "init",
    ]);
    run_saltwire(cmd)
}

#[test]
fn peer_mode_authenticates_runs_deploys_and_watches() {
    let _guard = lab_lock();
    let lab = start_lab(LabOptions {
        extra_master_config: PEER_CONFIG.into(),
        auto_accept: false,
        ..LabOptions::default()
    });
    let keys = lab.root_dir().join("saltwire-keys");
    let id = "saltwire-t1";

    let init = key_init(&keys, id);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(
        init.stdout.contains(&format!("salt-key -a {id}")) && init.stdout.contains("peer:"),
        "{}",
        init.stdout
    );
    assert!(
        init.stdout.contains(&format!("* and not {id}")),
        "{}",
        init.stdout
    );

    // A new key is pending until the master accepts it.
    let run = peer(&lab, &keys, id, &["run", "web1", "test.ping"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("pending") && run.stderr.contains(&format!("salt-key -a {id}")),
        "{}",
        run.stderr
    );
    assert!(lab.pki_dir().join("minions_pre").join(id).exists());

    let accept = lab.salt_key(&["-a", id, "-y"]);
    assert!(
        accept.status.success(),
        "{}",
        String::from_utf8_lossy(&accept.stderr)
    );

    // Accepted: jobs run; the retcode is reported as unknown, never as 0.
    let run = peer(
        &lab,
        &keys,
        id,
        &[
            "run",
            "-C",
            &format!("* and not {id}"),
            "test.ping",
            "--out",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.minions_in("returned"),
        ids(&["redis1", "web1", "web2"]),
        "{}",
        run.stdout
    );
    let doc = run.json();
    assert!(doc["minions"]["web1"]["retcode"].is_null(), "{doc}");
    assert_eq!(doc["minions"]["web1"]["return"], true);

    // The four-step deploy, remotely, reaches the same minions as locally.
    let run = peer(&lab, &keys, id, &["deploy", "--out", "jsonl"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let steps = run.minions_per_step("returned");
    assert_eq!(
        steps,
        vec![
            ids(&["web1", "web2", "redis1"]),
            ids(&["web1"]),
            ids(&["web1", "web2"]),
            ids(&["redis1"])
        ]
    );
    assert_eq!(
        lab.evidence("web1", "collectstatic").as_deref(),
        Some("1\n")
    );
    assert_eq!(lab.evidence("web2", "collectstatic"), None);
    assert_eq!(
        lab.evidence("redis1", "restart_supervisord").as_deref(),
        Some("1\n")
    );

    // `watch` shows a job the salt CLI publishes, decrypted, within a second.
    let watch = spawn_saltwire(peer_command(
        &lab,
        &keys,
        id,
        &[
            "watch",
            "--out",
            "jsonl",
            "--count",
            "1",
            "--deadline",
            "20",
        ],
    ));
    std::thread::sleep(Duration::from_millis(1500));
    let salt = lab.salt(&["web2", "test.echo", "watch-me"]);
    assert!(salt.status.success());
    let out = watch.wait_with_output().unwrap();
    // `watch --count 1` exits right after printing: an upper bound on when it saw the job.
    let seen_by = std::time::SystemTime::now();
    let seen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(seen.lines().next().unwrap_or("{}")).unwrap();
    assert_eq!(line["publication"]["fun"], "test.echo", "{seen}");
    assert_eq!(
        line["publication"]["arg"],
        serde_json::json!(["watch-me"]),
        "{seen}"
    );
    // Jids are the master's UTC time of publishing.
    let published = jid_time(line["publication"]["jid"].as_str().expect("jid"));
    let latency = seen_by.duration_since(published).unwrap_or_default();
    assert!(
        latency < Duration::from_secs(1),
        "watch showed the job {latency:?} after the master made it"
    );

    // An id the `peer:` setting does not cover is refused by the ACL.
    let other = "other-peer";
    assert_eq!(key_init(&keys, other).code, 0);
    let _ = peer(&lab, &keys, other, &["run", "web1", "test.ping"]);
    assert!(lab.salt_key(&["-a", other, "-y"]).status.success());
    let run = peer(&lab, &keys, other, &["run", "web1", "test.ping"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("authorization refused") && run.stderr.contains("peer"),
        "{}",
        run.stderr
    );

    // A rejected key.
    let rejected = "saltwire-rejected";
    assert_eq!(key_init(&keys, rejected).code, 0);
    let _ = peer(&lab, &keys, rejected, &["run", "web1", "test.ping"]);
    assert!(lab.salt_key(&["-r", rejected, "-y"]).status.success());
    let run = peer(&lab, &keys, rejected, &["run", "web1", "test.ping"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("rejected"), "{}", run.stderr);

    // A pinned master key that changes is refused.
    let pinned = std::fs::read_dir(keys.join("masters"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let other_pub = std::fs::read_to_string(keys.join(format!("{other}.pub"))).unwrap();
    std::fs::write(&pinned, other_pub).unwrap();
    let run = peer(&lab, &keys, id, &["run", "web1", "test.ping"]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(pinned.to_str().unwrap()),
        "the error must name the pinned file: {}",
        run.stderr
    );

    // Secrets stay out of every output.
    let private = std::fs::read_to_string(keys.join(format!("{id}.pem"))).unwrap();
    let body: String = private.lines().nth(1).unwrap().to_string();
    assert!(!run.stdout.contains(&body) && !run.stderr.contains(&body));
}

/// The UTC time a jid names (`YYYYMMDDhhmmssffffff`).
fn jid_time(jid: &str) -> std::time::SystemTime {
    let n = |r: std::ops::Range<usize>| -> i64 { jid[r].parse().expect("a numeric jid") };
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // Days from 1970-01-01 to the civil date (proleptic Gregorian).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(8..10) * 3600 + n(10..12) * 60 + n(12..14);
    std::time::UNIX_EPOCH
        + Duration::from_secs(secs as u64)
        + Duration::from_micros(n(14..20) as u64)
}

#[test]
fn jids_read_as_utc_times() {
    let t = jid_time("20261129180522916379");
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(since.as_secs(), 1_795_975_522);
    assert_eq!(since.subsec_micros(), 916_379);
}
