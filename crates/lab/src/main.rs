//! `saltwire-lab`: start a throwaway Salt master with minions, run a command
//! against it, stop it.
//!
//! ```text
//! saltwire-lab [--salt-version V] -- CMD ARGS...   # {config_dir} in ARGS is replaced
//! saltwire-lab [--salt-version V] shell            # keep the lab up until Ctrl-C
//! ```

use std::process::{Command, ExitCode, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use saltwire_lab::{Lab, LabOptions, MinionSpec};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Start a Salt master with minions web1, web2, redis1 on loopback and run a
/// command against it.
#[derive(Debug, Parser)]
#[command(name = "saltwire-lab", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Salt release to run (3006.29, 3007.16, 3008.4). Default: $SALT_VERSION, else 3008.4.
    #[arg(long, global = true)]
    salt_version: Option<String>,

    /// Set zmq_heartbeat_ivl (ms) on the master and minions.
    #[arg(long, global = true)]
    zmq_heartbeat_ivl_ms: Option<u32>,

    /// Minions as ID[:ROLE,ROLE...]; repeat for more. Default: web1, web2, redis1.
    #[arg(long = "minion", global = true, value_name = "ID[:ROLES]")]
    minions: Vec<String>,

    /// Let ids matching this regex publish any function as peers (`peer:` in
    /// the master config), for saltwire's peer mode (`--master {master}`).
    #[arg(long, global = true, value_name = "ID_REGEX")]
    peer: Option<String>,

    #[command(subcommand)]
    command: Option<Sub>,

    /// The command to run with the lab up; `{config_dir}` in it is replaced by
    /// the master config dir, which is also in $SALTWIRE_CONFIG_DIR and
    /// $SALT_CONFIG_DIR, and `{master}` by the master's `127.0.0.1:<ret_port>`
    /// (also in $SALTWIRE_LAB_MASTER).
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Keep the lab up until Ctrl-C.
    Shell,
}

enum Event {
    Signal(i32),
    Exited(std::io::Result<ExitStatus>),
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("saltwire-lab: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn parse_minion(spec: &str) -> MinionSpec {
    match spec.split_once(':') {
        Some((id, roles)) => {
            let roles: Vec<&str> = roles.split(',').filter(|r| !r.is_empty()).collect();
            MinionSpec::new(id, &roles)
        }
        None => MinionSpec::new(spec, &[]),
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    if cli.command.is_none() && cli.cmd.is_empty() {
        bail!("nothing to do: give `shell` or `-- CMD ARGS...` (see --help)");
    }

    let mut opts = LabOptions::default();
    if let Some(v) = cli.salt_version {
        opts.salt_version = v;
    }
    opts.zmq_heartbeat_ivl_ms = cli.zmq_heartbeat_ivl_ms;
    if !cli.minions.is_empty() {
        opts.minions = cli.minions.iter().map(|m| parse_minion(m)).collect();
    }
    if let Some(regex) = &cli.peer {
        // A `minion_pub` holds a worker while its own publish goes through
        // the request port: with Salt's minimum of 3 workers, overlapping
        // requests can stall it for 30 s. Five workers leave room.
        opts.extra_master_config = format!(
            "peer:\n  '{}':\n    - .*\nworker_threads: 5\n",
            regex.replace('\'', "''")
        );
    }

    // Ctrl-C, SIGTERM and SIGHUP stop the lab cleanly (the lab is dropped)
    // instead of killing this process and leaving the daemons behind. The
    // handlers only write to a pipe; the daemons start with default handlers
    // and an untouched signal mask.
    let (events, stop) = mpsc::channel::<Event>();
    let mut signals =
        Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing signal handlers")?;
    let signal_events = events.clone();
    thread::spawn(move || {
        for sig in signals.forever() {
            if signal_events.send(Event::Signal(sig)).is_err() {
                break;
            }
        }
    });

    let t0 = Instant::now();
    eprintln!("saltwire-lab: starting salt {} lab...", opts.salt_version);
    let lab = Lab::start(opts)?;
    let config_dir = lab.config_dir().to_path_buf();
    eprintln!(
        "saltwire-lab: lab up in {:.1?}: config dir {} (ret_port {}, publish_port {}, minions {})",
        t0.elapsed(),
        config_dir.display(),
        lab.ret_port(),
        lab.publish_port(),
        lab.minion_ids().join(", ")
    );

    if let Ok(Event::Signal(sig)) = stop.try_recv() {
        eprintln!(
            "saltwire-lab: {} while starting, stopping the lab",
            signal_name(sig)
        );
        drop(lab);
        return Ok(ExitCode::from(130));
    }

    match cli.command {
        Some(Sub::Shell) => {
            eprintln!(
                "saltwire-lab: try   {} -c {} '*' test.ping",
                lab.venv_bin("salt").display(),
                config_dir.display()
            );
            eprintln!("saltwire-lab: Ctrl-C stops the lab");
            if let Ok(Event::Signal(sig)) = stop.recv() {
                eprintln!("saltwire-lab: {}, stopping the lab", signal_name(sig));
            }
            drop(lab);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let dir = config_dir.to_string_lossy().into_owned();
            let master = format!("127.0.0.1:{}", lab.ret_port());
            let args: Vec<String> = cli
                .cmd
                .iter()
                .map(|a| a.replace("{config_dir}", &dir).replace("{master}", &master))
                .collect();
            let mut child = Command::new(&args[0])
                .args(&args[1..])
                .env("SALTWIRE_CONFIG_DIR", &config_dir)
                .env("SALT_CONFIG_DIR", &config_dir)
                .env("SALTWIRE_LAB_MASTER", &master)
                .spawn()
                .with_context(|| format!("cannot run {}", args[0]))?;
            let pid = Pid::from_raw(child.id() as i32);
            thread::spawn(move || {
                let _ = events.send(Event::Exited(child.wait()));
            });
            let status = loop {
                match stop.recv() {
                    Ok(Event::Exited(status)) => {
                        break status.context("waiting for the command")?
                    }
                    Ok(Event::Signal(sig)) => {
                        // Pass it on; the command's exit then ends the loop.
                        if let Ok(sig) = Signal::try_from(sig) {
                            let _ = kill(pid, sig);
                        }
                    }
                    Err(_) => bail!("lost track of {}", args[0]),
                }
            };
            drop(lab);
            let code = status
                .code()
                .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s))
                .unwrap_or(1);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}
