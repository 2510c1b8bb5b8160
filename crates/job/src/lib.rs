//! LocalClient semantics for saltwire: publish a job to a Salt master from the
//! master host, collect its returns as a stream, and settle every targeted
//! minion in exactly one state.
//!
//! ```no_run
//! use saltwire_job::{Auth, Job, LocalClient, MasterConfig, Target};
//!
//! # async fn demo() -> Result<(), saltwire_job::Error> {
//! let config = MasterConfig::load(std::path::Path::new("/etc/salt"))?;
//! let client = LocalClient::connect(config, Auth::KeyFile).await?;
//! let mut run = client.run(Job::new(Target::grain("roles:webserver"), "test.ping")).await?;
//! while let Some(result) = run.next().await {
//!     println!("{}: {} {:?}", result.minion, result.state, result.ret);
//! }
//! let report = run.into_report();
//! assert!(report.tally().all_succeeded());
//! # Ok(()) }
//! ```
//!
//! # What is spawned, and when bytes are sent
//!
//! [`LocalClient::connect`] connects to the master's event bus (a Unix socket in
//! `sock_dir`, or loopback TCP with `ipc_mode: tcp`) and starts one task that
//! reads it, and one thread that owns the ZeroMQ request socket to `ret_port`.
//! Nothing is sent until [`LocalClient::run`] publishes: one `publish` request,
//! then, if minions are slow, one `saltutil.find_job` probe per timeout round,
//! exactly as `salt` does. Returns the event bus drops are looked up in the
//! master's job cache before any minion is called "did not return".

pub mod auth;
pub mod cache;
pub mod client;
pub mod config;
pub mod error;
pub mod keys;
pub mod peer;
pub mod plan;
pub mod result;
pub mod run;
pub mod target;
mod tracker;

pub use auth::Auth;
pub use client::{Job, LocalClient, Published};
pub use config::MasterConfig;
pub use error::Error;
pub use keys::KeyStore;
pub use peer::PeerClient;
pub use plan::{run_plan, Plan, PlanEvent, PlanReport, RunOptions, Step, StepOutcome};
pub use result::{JobReport, MinionResult, MinionState, Source, Tally};
pub use run::{Client, JobRun};
pub use target::{Target, TargetType};
