//! `saltwire run TARGET FUN [ARGS...]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use saltwire_job::{Job, Tally, Target, TargetType};
use serde_json::json;

use crate::args::{parse_fun_args, seconds};
use crate::output::{stream_result, Format, Sink};
use crate::{connect, exit, fail, usage};

/// Target flags, as `salt` spells them.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct TargetFlags {
    /// TARGET is a PCRE on minion ids.
    #[arg(short = 'E', long = "pcre")]
    pcre: bool,
    /// TARGET is a comma-separated list of minion ids.
    #[arg(short = 'L', long = "list")]
    list: bool,
    /// TARGET is `grain:glob`.
    #[arg(short = 'G', long = "grain")]
    grain: bool,
    /// TARGET is `grain:pcre`.
    #[arg(short = 'P', long = "grain-pcre")]
    grain_pcre: bool,
    /// TARGET is `pillar:glob`.
    #[arg(short = 'I', long = "pillar")]
    pillar: bool,
    /// TARGET is `pillar:pcre`.
    #[arg(short = 'J', long = "pillar-pcre")]
    pillar_pcre: bool,
    /// TARGET is a compound expression.
    #[arg(short = 'C', long = "compound")]
    compound: bool,
    /// TARGET is a nodegroup from the master config.
    #[arg(short = 'N', long = "nodegroup")]
    nodegroup: bool,
    /// TARGET is an IP address or CIDR subnet.
    #[arg(short = 'S', long = "ipcidr")]
    ipcidr: bool,
}

impl TargetFlags {
    fn tgt_type(&self) -> TargetType {
        [
            (self.pcre, TargetType::Pcre),
            (self.list, TargetType::List),
            (self.grain, TargetType::Grain),
            (self.grain_pcre, TargetType::GrainPcre),
            (self.pillar, TargetType::Pillar),
            (self.pillar_pcre, TargetType::PillarPcre),
            (self.compound, TargetType::Compound),
            (self.nodegroup, TargetType::Nodegroup),
            (self.ipcidr, TargetType::Ipcidr),
        ]
        .into_iter()
        .find(|(set, _)| *set)
        .map_or(TargetType::Glob, |(_, t)| t)
    }
}

/// Options shared by `run` and `deploy`.
#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// Seconds to wait for returns before probing minions with saltutil.find_job (default: the master's `timeout`).
    #[arg(short = 't', long, value_parser = seconds)]
    pub timeout: Option<Duration>,
    /// Seconds a saltutil.find_job probe may take (default: the master's `gather_job_timeout`).
    #[arg(long, value_parser = seconds)]
    pub gather_job_timeout: Option<Duration>,
    /// Hard bound in seconds on the whole command: nothing outlives it.
    #[arg(long, value_parser = seconds)]
    pub deadline: Option<Duration>,
    /// Output format.
    #[arg(long = "out", value_enum, default_value = "nested")]
    pub out: Format,
    /// Write results to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out_file: Option<PathBuf>,
}

/// `saltwire run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    target_flags: TargetFlags,
    /// The target expression (a glob on minion ids unless a flag says otherwise).
    target: String,
    /// The function, e.g. test.ping.
    fun: String,
    /// Arguments; `key=value` ones are keyword arguments (put `--` before arguments that start with `-`).
    args: Vec<String>,
    #[command(flatten)]
    wait: WaitArgs,
    /// Print the job id once the master accepted the job, and exit.
    #[arg(long = "async")]
    async_: bool,
}

pub async fn run(target: crate::Conn, a: RunArgs) -> i32 {
    let (arg, kwarg) = parse_fun_args(&a.args);
    let mut job = Job::new(
        Target::new(a.target.clone(), a.target_flags.tgt_type()),
        a.fun.clone(),
    );
    job.arg = arg;
    job.kwarg = kwarg;
    job.timeout = a.wait.timeout;
    job.gather_job_timeout = a.wait.gather_job_timeout;
    job.deadline = a.wait.deadline;
    let mut sink = match Sink::open(a.wait.out_file.as_deref()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("--out-file: {e}")),
    };
    let work = async {
        let client = connect(target).await?;
        if a.async_ {
            let published = client.publish(&job).await.map_err(|e| fail(&e))?;
            let doc = json!({"jid": published.jid, "minions": published.minions, "missing": published.missing});
            match a.wait.out {
                Format::Jsonl => sink.json_line(&doc),
                Format::Json | Format::Yaml => sink.document(a.wait.out, &doc),
                _ => sink.write(&format!(
                    "Executed command with job ID: {}\n",
                    published.jid
                )),
            }
            return Ok(exit::OK);
        }
        let mut run = client.run(job).await.map_err(|e| fail(&e))?;
        let progress = std::io::stderr().is_terminal();
        let jid = run.jid().to_string();
        while let Some(result) = run.next().await {
            stream_result(
                &mut sink,
                a.wait.out,
                &result,
                &[("jid", jid.clone().into())],
            );
            if progress {
                let done = run.results().len();
                eprint!("\r{done}/{} minions settled", run.expected().len());
            }
        }
        if progress {
            eprintln!();
        }
        let report = run.into_report();
        let tally = report.tally();
        let results: Vec<serde_json::Value> = report.results.iter().map(|r| r.to_json()).collect();
        let summary = summary_json(&report.jid, &report.fun, &tally);
        match a.wait.out {
            Format::Jsonl => sink.json_line(&summary),
            Format::Json | Format::Yaml => {
                let mut minions = serde_json::Map::new();
                for r in &results {
                    let id = r["minion"].as_str().unwrap_or_default().to_string();
                    minions.insert(id, r.clone());
                }
                sink.document(
                    a.wait.out,
                    &json!({"jid": report.jid, "fun": report.fun, "minions": minions, "summary": summary["summary"]}),
                );
            }
            Format::Nested | Format::Txt => {
                if !tally.all_succeeded() {
                    eprintln!("{}", summary_text(&tally, &report.jid));
                }
            }
        }
        Ok::<i32, i32>(exit::for_tally(&tally))
    };
    let code = match a.wait.deadline {
        // The job layer honours the deadline; this bound also covers connecting.
        Some(d) => match tokio::time::timeout(d + Duration::from_millis(250), work).await {
            Ok(r) => r,
            Err(_) => {
                eprintln!("saltwire: the deadline of {:.1} s passed", d.as_secs_f64());
                Err(exit::NO_RETURN)
            }
        },
        None => work.await,
    };
    code.unwrap_or_else(|c| c)
}

/// The summary line/object shared by `run` and `deploy`.
pub fn summary_json(jid: &str, fun: &str, tally: &Tally) -> serde_json::Value {
    json!({"type": "summary", "jid": jid, "fun": fun, "summary": tally, "exit_code": exit::for_tally(tally)})
}

/// A one-line summary for stderr.
pub fn summary_text(tally: &Tally, jid: &str) -> String {
    format!(
        "{} of {} minions succeeded, {} failed, {} did not return, {} not connected, {} still running (jid {jid})",
        tally.succeeded, tally.expected, tally.failed, tally.did_not_return, tally.not_connected, tally.still_running
    ) + &if tally.returned > 0 { format!("; {} returned with an unknown retcode (peer mode)", tally.returned) } else { String::new() }
}
