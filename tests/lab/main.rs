//! Real-server tests: the `saltwire` binary and library against a real
//! salt-master with real minions (crates/lab), never a mock.
//!
//! Each test starts its own lab and holds [`lab_lock`] while it runs, so labs
//! never compete for the two cores of a CI machine. `SALT_VERSION` selects the
//! Salt release (3008.4 by default; 3006.29 and 3007.16 are supported).

mod auth;
mod deploy;
mod liveness;
mod output;
mod peer;
mod targets;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use saltwire_lab::{Lab, LabOptions};

/// Serialises labs within this test binary.
pub fn lab_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a lab, failing the test with the lab's logs if it does not come up.
pub fn start_lab(opts: LabOptions) -> Lab {
    match Lab::start(opts) {
        Ok(lab) => lab,
        Err(e) => panic!("the lab did not start: {e}"),
    }
}

/// One finished `saltwire` command.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Ran {
    /// The stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Every stdout line parsed as JSON.
    pub fn jsonl(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", self.stdout))
            })
            .collect()
    }

    /// Minion ids per step of `deploy --out jsonl`, sorted; every return must
    /// be in `state` and steps must not interleave.
    pub fn minions_per_step(&self, state: &str) -> Vec<Vec<String>> {
        let mut steps: Vec<Vec<String>> = Vec::new();
        let mut last_step = 0;
        for line in self.jsonl().iter().filter(|l| l["type"] == "return") {
            let step = line["step"].as_u64().expect("step index") as usize;
            assert!(
                step >= last_step,
                "returns of step {step} after step {last_step}:\n{}",
                self.stdout
            );
            last_step = step;
            if steps.len() <= step {
                steps.resize(step + 1, Vec::new());
            }
            assert_eq!(line["state"], state, "{line}");
            steps[step].push(line["minion"].as_str().unwrap().to_string());
        }
        for s in &mut steps {
            s.sort();
        }
        steps
    }

    /// Minion ids of a `--out json` run, by state.
    pub fn minions_in(&self, state: &str) -> Vec<String> {
        let doc = self.json();
        let mut ids: Vec<String> = doc["minions"]
            .as_object()
            .unwrap_or_else(|| panic!("no minions map in {doc}"))
            .iter()
            .filter(|(_, v)| v["state"] == state)
            .map(|(k, _)| k.clone())
            .collect();
        ids.sort();
        ids
    }
}

/// The `saltwire` binary built for these tests.
pub fn saltwire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_saltwire"))
}

/// Runs `saltwire -c <lab config> ARGS`.
pub fn saltwire(lab: &Lab, args: &[&str]) -> Ran {
    saltwire_with(lab.config_dir(), args, &[])
}

/// Runs `saltwire -c DIR ARGS` with extra environment variables.
pub fn saltwire_with(config_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new(saltwire_bin());
    cmd.arg("-c")
        .arg(config_dir)
        .args(args)
        .envs(env.iter().copied());
    run_saltwire(cmd)
}

/// Runs a prepared `saltwire` command with no input and none of the
/// environment variables that would point it elsewhere.
pub fn run_saltwire(mut cmd: Command) -> Ran {
    let started = Instant::now();
    let out = isolate(&mut cmd).output().expect("run saltwire");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Starts a prepared `saltwire` command in the background (`events`,
/// `watch`), its output captured for `wait_with_output`.
pub fn spawn_saltwire(mut cmd: Command) -> std::process::Child {
    isolate(&mut cmd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start saltwire")
}

fn isolate(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("SALTWIRE_CONFIG_DIR")
        .env_remove("SALTWIRE_HOME")
        .stdin(std::process::Stdio::null())
}

/// Minion ids `salt --out json --static` reports for a target (the reference).
pub fn salt_minions(lab: &Lab, target_args: &[&str]) -> Vec<String> {
    let mut args = vec!["--out", "json", "--static", "-t", "10"];
    args.extend_from_slice(target_args);
    let out = lab.salt(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if text.trim().is_empty()
        || text.contains("No minions matched")
        || stderr.contains("No minions matched")
    {
        return Vec::new();
    }
    let doc: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("salt {args:?} gave no JSON ({e}): {text}\n{stderr}"));
    let mut ids: Vec<String> = doc
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Sorted owned strings.
pub fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// A one-off tokio runtime for library-level checks.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
