//! `saltwire`: publish Salt jobs and collect their returns from the master host.

mod args;
mod deploy;
mod events;
mod exit;
mod output;
mod peer;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use saltwire_job::{Auth, Client, MasterConfig};

/// A native client for SaltStack's master protocol.
#[derive(Debug, Parser)]
#[command(name = "saltwire", version, about, after_help = exit::TABLE)]
struct Cli {
    /// The master's config dir (reads `master` and `master.d/*.conf` there).
    #[arg(short = 'c', long = "config-dir", global = true, env = "SALTWIRE_CONFIG_DIR", default_value = saltwire_job::config::DEFAULT_CONFIG_DIR)]
    config_dir: PathBuf,

    #[command(flatten)]
    auth: args::AuthArgs,

    #[command(flatten)]
    peer: peer::PeerArgs,

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
    /// Manage this client's key pair for peer mode (--master).
    #[command(subcommand)]
    Key(peer::KeyCommand),
    /// Print the jobs the master publishes to its minions, decrypted (peer mode).
    Watch(peer::WatchArgs),
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
    match cli.command {
        Command::Key(cmd) => return peer::key(&cmd, &cli.peer),
        Command::Watch(a) => return peer::watch(a, &cli.peer).await,
        _ => {}
    }
    // Peer mode reads no master config: the master is elsewhere.
    let config = if cli.peer.master.is_some() {
        None
    } else {
        match MasterConfig::load(&cli.config_dir) {
            Ok(config) => Some(config),
            Err(e) => return fail(&e),
        }
    };
    let conn = Conn {
        config,
        auth: cli.auth,
        peer: cli.peer,
    };
    match cli.command {
        Command::Events(a) => match &conn.config {
            Some(config) => events::run(config, a).await,
            None => {
                usage("events reads the master's event bus on the master host; without --master")
            }
        },
        Command::Run(a) => run::run(conn, a).await,
        Command::Deploy(a) => deploy::run(conn, a).await,
        Command::Key(_) | Command::Watch(_) => unreachable!("handled above"),
    }
}

/// What a command connects to: the local master (config + credentials) or a
/// master as a peer.
pub(crate) struct Conn {
    config: Option<MasterConfig>,
    auth: args::AuthArgs,
    peer: peer::PeerArgs,
}

impl Conn {
    /// The master config, when running locally.
    pub(crate) fn config(&self) -> Option<&MasterConfig> {
        self.config.as_ref()
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
pub(crate) async fn connect(target: Conn) -> Result<Client, i32> {
    if let Some(peer) = target.peer.connect().await {
        return peer;
    }
    let config = target
        .config
        .expect("a local master config when --master is not given");
    let auth: Auth = target.auth.resolve().map_err(|msg| usage(&msg))?;
    saltwire_job::LocalClient::connect(config, auth)
        .await
        .map(Client::Local)
        .map_err(|e| fail(&e))
}
