//! `saltwire`: publish Salt jobs and collect their returns from the master host.

mod args;
mod deploy;
mod events;
mod exit;
mod output;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use saltwire_job::{Auth, MasterConfig};

/// A native client for SaltStack's master protocol.
#[derive(Debug, Parser)]
#[command(name = "saltwire", version, about, after_help = exit::TABLE)]
struct Cli {
    /// The master's config dir (reads `master` and `master.d/*.conf` there).
    #[arg(short = 'c', long = "config-dir", global = true, env = "SALTWIRE_CONFIG_DIR", default_value = saltwire_job::config::DEFAULT_CONFIG_DIR)]
    config_dir: PathBuf,

    #[command(flatten)]
    auth: args::AuthArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one function on the targeted minions (like `salt TARGET FUN ARGS`).
    #[command(after_help = exit::TABLE)]
    Run(run::RunArgs),
    /// Run a deploy plan: steps in order, stopping at the first failure.
    #[command(after_help = exit::TABLE)]
    Deploy(deploy::DeployArgs),
    /// Print the master's events as they arrive (like `salt-run state.event`).
    Events(events::EventsArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("saltwire: cannot start the async runtime: {e}");
            std::process::exit(exit::PROTOCOL);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Exit without waiting for the driver thread and task to wind down.
    std::process::exit(code);
}

async fn dispatch(cli: Cli) -> i32 {
    let config = match MasterConfig::load(&cli.config_dir) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    match cli.command {
        Command::Events(a) => events::run(&config, a).await,
        Command::Run(a) => match cli.auth.resolve() {
            Ok(auth) => run::run(config, auth, a).await,
            Err(msg) => usage(&msg),
        },
        Command::Deploy(a) => match cli.auth.resolve() {
            Ok(auth) => deploy::run(config, auth, a).await,
            Err(msg) => usage(&msg),
        },
    }
}

/// Reports an error that stopped a command and returns its exit code.
pub(crate) fn fail(e: &saltwire_job::Error) -> i32 {
    eprintln!("saltwire: {e}");
    exit::for_error(e)
}

/// Reports a usage error.
pub(crate) fn usage(msg: &str) -> i32 {
    eprintln!("saltwire: {msg}");
    exit::USAGE
}

/// Connects, reporting failures.
pub(crate) async fn connect(
    config: MasterConfig,
    auth: Auth,
) -> Result<saltwire_job::LocalClient, i32> {
    saltwire_job::LocalClient::connect(config, auth)
        .await
        .map_err(|e| fail(&e))
}
