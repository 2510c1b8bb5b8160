//! The classic quick deploy, written against the library: update the code on
//! the web and Redis servers, collect static files on web1, restart Apache on
//! the web servers, restart supervisord on the Redis server; stop at the first
//! step that fails.
//!
//! Run it on the master host: `cargo run --example quick_deploy -- [CONFIG_DIR]`
//! (default `/etc/salt`, or `$SALTWIRE_CONFIG_DIR`).

use std::path::PathBuf;

use saltwire_job::{Auth, Job, LocalClient, MasterConfig, MinionState, Target};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("SALTWIRE_CONFIG_DIR").ok())
        .unwrap_or_else(|| "/etc/salt".into());
    let config = MasterConfig::load(&PathBuf::from(dir))?;
    let client = LocalClient::connect(config, Auth::KeyFile).await?;

    let steps = [
        Job::new(
            Target::compound("G@roles:webserver or G@roles:redisserver"),
            "myproject.update_code",
        ),
        Job::new(Target::glob("web1"), "myproject.collectstatic"),
        Job::new(Target::grain("roles:webserver"), "myproject.restart_apache"),
        Job::new(
            Target::grain("roles:redisserver"),
            "myproject.restart_supervisord",
        ),
    ];
    for job in steps {
        let fun = job.fun.clone();
        let report = client.cmd(job).await?;
        println!("{fun} (jid {}):", report.jid);
        for result in &report.results {
            let shown = result.ret.as_ref().map(|r| r.to_json().to_string());
            println!(
                "  {}: {} {}",
                result.minion,
                result.state,
                shown.unwrap_or_default()
            );
        }
        if !report.tally().all_succeeded() {
            let bad: Vec<String> = report
                .results
                .iter()
                .filter(|r| r.state != MinionState::Succeeded)
                .map(|r| r.minion.clone())
                .collect();
            anyhow::bail!("{fun} failed on {}; stopping the deploy", bad.join(", "));
        }
    }
    println!("quick deploy done");
    Ok(())
}
