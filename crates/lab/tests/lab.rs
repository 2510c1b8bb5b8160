//! The lab against real Salt daemons: start, target, stop/start a minion,
//! restart the master, and leave no process behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use saltwire_lab::{
    EauthUser, Lab, LabOptions, MinionSpec, BLACKLISTED_FUNCTION, EAUTH_BACKEND, EAUTH_USERS,
};

/// Live processes whose environment carries `SALTWIRE_LAB_TAG=<root>`.
fn lab_processes(root: &Path) -> Vec<String> {
    let needle = format!("SALTWIRE_LAB_TAG={}", root.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let tagged = env.split(|&b| b == 0).any(|e| e == needle.as_bytes());
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        if tagged && !zombie {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid} {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

fn json(out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); status {}; stdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `salt` reports a refused publish on stdout or stderr, with exit code 0 or
/// 1 depending on the outputter.
fn refused(out: &std::process::Output) -> bool {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.contains("Authorization error occurred")
}

fn responders(out: &std::process::Output) -> Vec<String> {
    let v = json(out);
    let mut ids: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    ids.sort();
    ids
}

#[test]
fn lab_lifecycle() {
    let t0 = Instant::now();
    let mut lab = Lab::start_default().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "lab started in {:.1?} at {}",
        t0.elapsed(),
        lab.root_dir().display()
    );
    let root: PathBuf = lab.root_dir().to_path_buf();
    assert!(!lab_processes(&root).is_empty());

    // Everyone answers.
    let out = lab.salt(&["--out", "json", "--static", "*", "test.ping"]);
    assert_eq!(responders(&out), ["redis1", "web1", "web2"]);

    // Grain targeting runs the deploy step on the webservers only.
    let out = lab.salt(&[
        "--out",
        "json",
        "--static",
        "-G",
        "roles:webserver",
        "myproject.update_code",
        "rev=r42",
    ]);
    let v = json(&out);
    assert_eq!(v["web1"]["revision"], "r42");
    assert_eq!(v["web2"]["minion"], "web2");
    assert!(v.get("redis1").is_none(), "{v}");
    assert_eq!(
        lab.evidence("web1", "update_code").as_deref(),
        Some("r42\n")
    );
    assert_eq!(
        lab.evidence("web2", "update_code").as_deref(),
        Some("r42\n")
    );
    assert_eq!(lab.evidence("redis1", "update_code"), None);

    // Nodegroup and pillar targeting.
    let out = lab.salt(&["--out", "json", "--static", "-N", "cache", "test.ping"]);
    assert_eq!(responders(&out), ["redis1"]);
    let out = lab.salt(&[
        "--out",
        "json",
        "--static",
        "-I",
        "frontend:true",
        "test.ping",
    ]);
    assert_eq!(responders(&out), ["web1"]);

    // A failing step: the return is an error string and `salt` exits non-zero.
    let out = lab.salt(&["--out", "json", "--static", "web1", "myproject.fail"]);
    assert!(
        json(&out)["web1"].as_str().unwrap().starts_with("ERROR"),
        "{}",
        json(&out)
    );
    let out = lab.salt(&["web1", "myproject.fail"]);
    assert!(!out.status.success());
    assert_eq!(lab.evidence("web1", "fail").as_deref(), Some("1\n2\n"));

    // eauth: alice may run test.*, bob only grains.*; the blacklist refuses everyone.
    let as_user = |u: &EauthUser, fun: &str| {
        lab.salt(&[
            "--out",
            "json",
            "--static",
            "-a",
            EAUTH_BACKEND,
            "--username",
            u.username,
            "--password",
            u.password,
            "web1",
            fun,
        ])
    };
    let out = as_user(&EAUTH_USERS[0], "test.ping");
    assert_eq!(json(&out)["web1"], true);
    let out = as_user(&EAUTH_USERS[1], "test.ping");
    assert!(refused(&out), "{out:?}");
    // (`--static` pings first, which bob may not do, so no `--static` here.)
    let out = lab.salt(&[
        "--out",
        "json",
        "-a",
        EAUTH_BACKEND,
        "--username",
        EAUTH_USERS[1].username,
        "--password",
        EAUTH_USERS[1].password,
        "web1",
        "grains.item",
        "roles",
    ]);
    assert_eq!(json(&out)["web1"]["roles"][0], "webserver");
    let out = lab.salt(&["web1", BLACKLISTED_FUNCTION]);
    assert!(refused(&out), "{out:?}");

    // Stop and start a minion.
    lab.stop_minion("web2");
    let out = lab.salt(&["--out", "json", "--static", "-t", "3", "*", "test.ping"]);
    assert_eq!(json(&out)["web1"], true);
    assert_ne!(json(&out)["web2"], true);
    let t = Instant::now();
    lab.start_minion("web2").unwrap_or_else(|e| panic!("{e}"));
    eprintln!("minion restarted in {:.1?}", t.elapsed());

    // Restart the master.
    let t = Instant::now();
    lab.restart_master().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("master restarted in {:.1?}", t.elapsed());
    let out = lab.salt(&["--out", "json", "--static", "*", "test.ping"]);
    assert_eq!(responders(&out), ["redis1", "web1", "web2"]);

    assert!(lab
        .master_log()
        .contains("Authentication accepted from web1"));
    assert!(lab.minion_log("web1").contains("myproject.update_code"));

    let t = Instant::now();
    drop(lab);
    eprintln!("lab stopped in {:.1?}", t.elapsed());
    assert_eq!(lab_processes(&root), Vec::<String>::new());
    assert!(!root.exists() || std::env::var("SALTWIRE_LAB_KEEP").is_ok_and(|v| v == "1"));
}

#[test]
fn panicking_test_leaves_no_process() {
    let opts = LabOptions {
        minions: vec![MinionSpec::new("solo", &["webserver"])],
        ..LabOptions::default()
    };
    let root = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::start(opts).unwrap_or_else(|e| panic!("{e}"));
        *root.lock().unwrap() = Some(lab.root_dir().to_path_buf());
        assert!(!lab_processes(lab.root_dir()).is_empty());
        panic!("deliberate");
    });
    let msg = result.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"deliberate"));
    let root = root.into_inner().unwrap().expect("lab started");
    assert_eq!(lab_processes(&root), Vec::<String>::new());
}
