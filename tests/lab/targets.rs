//! Acceptance 3: every target type selects the same minions as `salt` does.

use saltwire_lab::LabOptions;

use crate::{ids, lab_lock, salt_minions, saltwire, start_lab};

#[test]
fn every_target_type_matches_what_salt_matches() {
    let _guard = lab_lock();
    let lab = start_lab(LabOptions::default());
    let cases: &[(&str, &str, &[&str])] = &[
        ("", "*", &["redis1", "web1", "web2"]),
        ("", "web*", &["web1", "web2"]),
        ("-E", "web[0-9]$", &["web1", "web2"]),
        ("-E", "^redis", &["redis1"]),
        ("-L", "web1,redis1", &["redis1", "web1"]),
        ("-G", "roles:webserver", &["web1", "web2"]),
        ("-G", "roles:redis*", &["redis1"]),
        ("-P", "roles:^web.*", &["web1", "web2"]),
        ("-I", "deploy:env:lab", &["redis1", "web1", "web2"]),
        ("-I", "frontend:True", &["web1"]),
        ("-J", "deploy:env:^l.b$", &["redis1", "web1", "web2"]),
        (
            "-C",
            "G@roles:webserver or G@roles:redisserver",
            &["redis1", "web1", "web2"],
        ),
        ("-C", "G@roles:webserver and not web2", &["web1"]),
        ("-C", "N@cache or web2", &["redis1", "web2"]),
        ("-N", "webservers", &["web1", "web2"]),
        ("-N", "cache", &["redis1"]),
        ("-S", "127.0.0.0/8", &["redis1", "web1", "web2"]),
        ("-S", "127.0.0.2", &["web1"]),
    ];
    let mut mismatches = Vec::new();
    for (flag, expr, want) in cases {
        let mut salt_args: Vec<&str> = Vec::new();
        let mut ours: Vec<&str> = vec!["run"];
        if !flag.is_empty() {
            salt_args.push(flag);
            ours.push(flag);
        }
        salt_args.extend([*expr, "test.ping"]);
        ours.extend([*expr, "test.ping", "--out", "json", "-t", "10"]);
        let reference = salt_minions(&lab, &salt_args);
        let run = saltwire(&lab, &ours);
        assert_eq!(
            run.code, 0,
            "saltwire {ours:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        let got = run.minions_in("succeeded");
        if got != reference || got != ids(want) {
            mismatches.push(format!(
                "{flag} {expr}: salt {reference:?}, saltwire {got:?}, expected {want:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "target mismatches:\n{}",
        mismatches.join("\n")
    );

    // Nothing matched: its own exit code, a clear message, and salt agrees.
    assert!(salt_minions(&lab, &["nosuch*", "test.ping"]).is_empty());
    let run = saltwire(&lab, &["run", "nosuch*", "test.ping"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("no minions matched"), "{}", run.stderr);
    let run = saltwire(&lab, &["run", "-G", "roles:nosuch", "test.ping"]);
    assert_eq!(run.code, 4, "{}", run.stderr);

    // A list naming an unknown id: the known ones run, the unknown one is not connected.
    let run = saltwire(
        &lab,
        &[
            "run",
            "-L",
            "web1,ghost",
            "test.ping",
            "--out",
            "json",
            "-t",
            "1",
            "--gather-job-timeout",
            "1",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.minions_in("succeeded"), ids(&["web1"]));
    assert_eq!(run.minions_in("not_connected"), ids(&["ghost"]));

    // An unknown nodegroup is a usage error that names the setting.
    let run = saltwire(&lab, &["run", "-N", "nosuchgroup", "test.ping"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nodegroups"), "{}", run.stderr);
}
