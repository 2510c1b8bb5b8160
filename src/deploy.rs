//! `saltwire deploy [PLAN]`.

use std::path::PathBuf;

use saltwire_job::{run_plan, MasterConfig, Plan, PlanEvent, RunOptions, StepOutcome};
use serde_json::json;

use crate::output::{stream_result, Format, Sink};
use crate::run::{summary_text, WaitArgs};
use crate::{connect, exit, usage};

/// `saltwire deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// A YAML plan file (default: the built-in four-step quick deploy).
    plan: Option<PathBuf>,
    #[command(flatten)]
    wait: WaitArgs,
    /// Show the steps and their targets (nodegroups expanded), publish nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(target: crate::Conn, a: DeployArgs) -> i32 {
    let plan = match &a.plan {
        Some(path) => match Plan::from_yaml_file(path) {
            Ok(p) => p,
            Err(e) => return usage(&e.to_string()),
        },
        None => Plan::quick_deploy(),
    };
    let mut sink = match Sink::open(a.wait.out_file.as_deref()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("--out-file: {e}")),
    };
    let format = a.wait.out;
    if a.dry_run {
        return dry_run(target.config(), &plan, format, &mut sink);
    }
    let client = match connect(target).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let options = RunOptions {
        timeout: a.wait.timeout,
        gather_job_timeout: a.wait.gather_job_timeout,
        deadline: a.wait.deadline,
    };
    let total = plan.steps.len();
    let report = run_plan(&client, &plan, &options, |event| match event {
        PlanEvent::StepStarted { index, step } => {
            if matches!(format, Format::Nested | Format::Txt) {
                sink.write(&format!(
                    "[{}/{total}] {}: {} on {} `{}`\n",
                    index + 1,
                    step.name,
                    step.fun,
                    step.tgt_type,
                    step.target
                ));
            }
        }
        PlanEvent::StepPublished { .. } => {}
        PlanEvent::Result { index, result } => stream_result(
            &mut sink,
            format,
            result,
            &[
                ("step", index.into()),
                ("step_name", plan.steps[index].name.clone().into()),
            ],
        ),
        PlanEvent::StepFinished { index, outcome } => match format {
            Format::Jsonl => sink.json_line(&step_json(index, &plan.steps[index].name, outcome)),
            Format::Nested | Format::Txt => {
                let line = match (outcome.report(), outcome.failure_reason()) {
                    (Some(r), None) => {
                        format!("  ok: {} minions (jid {})\n", r.results.len(), r.jid)
                    }
                    (_, Some(reason)) => format!("  FAILED: {reason}\n"),
                    (None, None) => String::new(),
                };
                sink.write(&line);
            }
            Format::Json | Format::Yaml => {}
        },
    })
    .await;

    let steps: Vec<serde_json::Value> = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, (s, o))| step_json(i, &s.name, o))
        .collect();
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.name.as_str()).collect();
    let code = plan_exit_code(&report);
    let summary = json!({
        "type": "summary",
        "plan": report.name,
        "succeeded": report.succeeded(),
        "steps_run": report.steps.len(),
        "steps_total": total,
        "failed_step": report.failed_step().map(|(i, s, _)| json!({"index": i, "name": s.name})),
        "skipped": skipped,
        "exit_code": code,
    });
    match format {
        Format::Jsonl => sink.json_line(&summary),
        Format::Json | Format::Yaml => {
            let mut doc = summary.clone();
            doc["steps"] = serde_json::Value::Array(steps);
            if let serde_json::Value::Object(m) = &mut doc {
                m.remove("type");
            }
            sink.document(format, &doc);
        }
        Format::Nested | Format::Txt => {
            let text = match report.failed_step() {
                None => format!("deploy {}: {total}/{total} steps succeeded\n", report.name),
                Some((i, step, outcome)) => format!(
                    "deploy {}: stopped at step {} ({}): {}; {} step(s) not run\n",
                    report.name,
                    i + 1,
                    step.name,
                    outcome.failure_reason().unwrap_or_default(),
                    report.skipped.len()
                ),
            };
            sink.write(&text);
        }
    }
    if let Some((_, _, StepOutcome::Failed(r))) = report.failed_step() {
        eprintln!("saltwire: {}", summary_text(&r.tally(), &r.jid));
    }
    code
}

fn plan_exit_code(report: &saltwire_job::PlanReport) -> i32 {
    match report.failed_step() {
        None => exit::OK,
        Some((_, _, StepOutcome::Failed(r))) => exit::for_tally(&r.tally()),
        Some((_, _, StepOutcome::Error(e))) => {
            eprintln!("saltwire: {e}");
            exit::for_error(e)
        }
        Some((_, _, StepOutcome::Succeeded(_))) => exit::OK,
    }
}

fn step_json(index: usize, name: &str, outcome: &StepOutcome) -> serde_json::Value {
    let mut v =
        json!({"type": "step", "index": index, "name": name, "succeeded": outcome.succeeded()});
    if let Some(r) = outcome.report() {
        v["jid"] = r.jid.clone().into();
        v["fun"] = r.fun.clone().into();
        v["minions"] = r.results.iter().map(|m| m.to_json()).collect();
        v["summary"] = serde_json::to_value(r.tally()).unwrap_or_default();
    }
    if let Some(reason) = outcome.failure_reason() {
        v["error"] = reason.into();
    }
    v
}

fn dry_run(config: Option<&MasterConfig>, plan: &Plan, format: Format, sink: &mut Sink) -> i32 {
    let no_groups = Default::default();
    let nodegroups = config.map_or(&no_groups, |c| &c.nodegroups);
    let mut steps = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let target = saltwire_job::Target::new(step.target.clone(), step.tgt_type);
        let (tgt, tgt_type) = match target.resolve(nodegroups) {
            Ok(r) => r,
            Err(e) => return usage(&format!("step {} ({}): {e}", i + 1, step.name)),
        };
        let tgt = match tgt {
            saltwire_transport::wire::publish::Tgt::Expr(s) => json!(s),
            saltwire_transport::wire::publish::Tgt::List(l) => json!(l),
        };
        steps.push(json!({"index": i, "name": step.name, "fun": step.fun, "tgt": tgt, "tgt_type": tgt_type, "arg": step.arg, "kwarg": step.kwarg, "timeout": step.timeout}));
    }
    match format {
        Format::Json | Format::Yaml => sink.document(
            format,
            &json!({"plan": plan.name, "dry_run": true, "steps": steps}),
        ),
        Format::Jsonl => {
            for s in &steps {
                sink.json_line(s);
            }
        }
        Format::Nested | Format::Txt => {
            for s in &steps {
                sink.write(&format!(
                    "[{}/{}] {}: {} on {} {}\n",
                    s["index"].as_u64().unwrap_or(0) + 1,
                    steps.len(),
                    s["name"].as_str().unwrap_or(""),
                    s["fun"].as_str().unwrap_or(""),
                    s["tgt_type"].as_str().unwrap_or(""),
                    s["tgt"]
                ));
            }
        }
    }
    exit::OK
}
