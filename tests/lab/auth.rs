//! Acceptance 6: wrong key, refused eauth and a blacklisted function each give
//! a clear error and their own exit code; no secret appears in any output.

use saltwire_lab::{LabOptions, BLACKLISTED_FUNCTION, EAUTH_BACKEND, EAUTH_USERS};

use crate::{ids, lab_lock, saltwire, saltwire_bin, saltwire_with, spawn_saltwire, start_lab};
use std::process::Command;

#[test]
fn refused_credentials_and_functions_have_their_own_exit_code_and_leak_nothing() {
    let _guard = lab_lock();
    let lab = start_lab(LabOptions::default());
    let root_key =
        std::fs::read_to_string(lab.cachedir().join(".root_key")).expect("the lab's root key");
    let alice = EAUTH_USERS
        .iter()
        .find(|u| u.username == "alice")
        .expect("alice");
    let mut outputs = Vec::new();

    // The master's key file: works.
    let run = saltwire(&lab, &["run", "*", "test.ping", "--out", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    outputs.push(run);

    // A blacklisted function.
    let run = saltwire(&lab, &["run", "*", BLACKLISTED_FUNCTION]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("authorization refused"),
        "{}",
        run.stderr
    );
    outputs.push(run);

    // A wrong key: a config whose cachedir holds a key the master never issued.
    let wrong = tempfile::tempdir().unwrap();
    // As long as the master's own cachedir, so Salt's sock_dir rule keeps the lab's sock_dir.
    let cache = wrong.path().join("var/cache/salt/master");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join(".root_key"),
        "bm90IHRoZSBtYXN0ZXIncyBrZXk=".repeat(3),
    )
    .unwrap();
    let master_conf: String = std::fs::read_to_string(lab.config_dir().join("master"))
        .unwrap()
        .lines()
        .filter(|l| {
            !["cachedir:", "sock_dir:", "root_dir:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        wrong.path().join("master"),
        format!(
            "{master_conf}\ncachedir: {}\nsock_dir: {}\n",
            cache.display(),
            lab.sock_dir().display()
        ),
    )
    .unwrap();
    let run = saltwire_with(wrong.path(), &["run", "*", "test.ping"], &[]);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("authentication refused") && run.stderr.contains(".root_key"),
        "{}",
        run.stderr
    );
    outputs.push(run);

    // An unreadable key file names the file and the fix.
    std::fs::remove_file(cache.join(".root_key")).unwrap();
    let run = saltwire_with(wrong.path(), &["run", "*", "test.ping"], &[]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains(".root_key") && run.stderr.contains("--eauth"),
        "{}",
        run.stderr
    );
    outputs.push(run);

    // eauth with the right password works and publishes as alice.
    let env = [("LAB_PW", alice.password)];
    let eauth = [
        "--eauth",
        EAUTH_BACKEND,
        "--username",
        alice.username,
        "--password-env",
        "LAB_PW",
    ];
    let mut args = vec!["run", "web1", "test.ping", "--out", "json"];
    args.extend(eauth);
    let run = saltwire_with(lab.config_dir(), &args, &env);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.minions_in("succeeded"), ids(&["web1"]));
    outputs.push(run);

    // ... but not for a function outside alice's ACL.
    let mut args = vec!["run", "web1", "cmd.run", "id"];
    args.extend(eauth);
    let run = saltwire_with(lab.config_dir(), &args, &env);
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("authorization refused"),
        "{}",
        run.stderr
    );
    outputs.push(run);

    // A wrong password is refused. The master puts the refused load, password
    // included, on the event bus: `saltwire events` must not print it.
    let wrong_pw = "not-alices-password-4711";
    let mut events = Command::new(saltwire_bin());
    events.args([
        "-c",
        lab.config_dir().to_str().unwrap(),
        "events",
        "salt/job/",
        "--out",
        "jsonl",
        "--deadline",
        "4",
    ]);
    let events = spawn_saltwire(events);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut args = vec!["run", "web1", "test.ping"];
    args.extend(eauth);
    let run = saltwire_with(lab.config_dir(), &args, &[("LAB_PW", wrong_pw)]);
    let watched = events.wait_with_output().unwrap();
    let watched = String::from_utf8_lossy(&watched.stdout).into_owned();
    assert!(
        watched.contains("error") && watched.contains("<redacted>"),
        "no redacted error event seen:\n{watched}"
    );
    assert!(
        !watched.contains(wrong_pw),
        "the password was printed by `events`:\n{watched}"
    );
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("authentication refused") && run.stderr.contains("external_auth"),
        "{}",
        run.stderr
    );
    outputs.push(run);

    // --eauth without a password source on a non-terminal is a usage error.
    let run = saltwire(
        &lab,
        &[
            "run",
            "web1",
            "test.ping",
            "--eauth",
            EAUTH_BACKEND,
            "--username",
            "alice",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--password-file"), "{}", run.stderr);
    outputs.push(run);

    for run in &outputs {
        for secret in [root_key.trim(), alice.password, wrong_pw] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret leaked into the output:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}
