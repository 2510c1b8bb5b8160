//! Deploy plans: ordered steps that stop at the first failure.
//!
//! The built-in plan is the classic quick deploy: update the code everywhere,
//! collect static files on one web server, restart Apache on the web servers,
//! restart supervisord on the Redis server.

use std::path::Path;
use std::time::Duration;

use saltwire_transport::Value;

use crate::client::Job;
use crate::error::Error;
use crate::result::{JobReport, MinionResult, MinionState};
use crate::run::Client;
use crate::target::{Target, TargetType};

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A short name for reports.
    pub name: String,
    /// The target expression.
    pub target: String,
    /// How to read the target (default `glob`).
    #[serde(default = "default_tgt_type")]
    pub tgt_type: TargetType,
    /// The function.
    pub fun: String,
    /// Positional arguments.
    #[serde(default)]
    pub arg: Vec<serde_json::Value>,
    /// Keyword arguments.
    #[serde(default)]
    pub kwarg: serde_json::Map<String, serde_json::Value>,
    /// This step's timeout in seconds (default: the run's timeout).
    #[serde(default)]
    pub timeout: Option<f64>,
}

fn default_tgt_type() -> TargetType {
    TargetType::Glob
}

impl Step {
    /// A step with no arguments.
    pub fn new(name: &str, target: &str, tgt_type: TargetType, fun: &str) -> Step {
        Step {
            name: name.into(),
            target: target.into(),
            tgt_type,
            fun: fun.into(),
            arg: Vec::new(),
            kwarg: serde_json::Map::new(),
            timeout: None,
        }
    }

    /// The job this step publishes, with the run's defaults filled in.
    pub fn job(&self, defaults: &RunOptions) -> Job {
        let mut job = Job::new(
            Target::new(self.target.clone(), self.tgt_type),
            self.fun.clone(),
        );
        job.arg = self.arg.iter().map(Value::from_json).collect();
        job.kwarg = self
            .kwarg
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect();
        job.timeout = self
            .timeout
            .map(Duration::from_secs_f64)
            .or(defaults.timeout);
        job.gather_job_timeout = defaults.gather_job_timeout;
        job
    }
}

/// An ordered list of steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The plan's name.
    #[serde(default = "default_plan_name")]
    pub name: String,
    /// The steps, run in order.
    pub steps: Vec<Step>,
}

fn default_plan_name() -> String {
    "deploy".into()
}

impl Plan {
    /// The four-step quick deploy.
    pub fn quick_deploy() -> Plan {
        Plan {
            name: "quick_deploy".into(),
            steps: vec![
                Step::new(
                    "update code",
                    "G@roles:webserver or G@roles:redisserver",
                    TargetType::Compound,
                    "myproject.update_code",
                ),
                Step::new(
                    "collectstatic",
                    "web1",
                    TargetType::Glob,
                    "myproject.collectstatic",
                ),
                Step::new(
                    "restart apache",
                    "roles:webserver",
                    TargetType::Grain,
                    "myproject.restart_apache",
                ),
                Step::new(
                    "restart supervisord",
                    "roles:redisserver",
                    TargetType::Grain,
                    "myproject.restart_supervisord",
                ),
            ],
        }
    }

    /// Reads a plan from a YAML file.
    pub fn from_yaml_file(path: &Path) -> Result<Plan, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(path, format!("cannot read the plan: {e}")))?;
        Plan::from_yaml(&text).map_err(|message| Error::config(path, message))
    }

    /// Parses a plan from YAML text.
    pub fn from_yaml(text: &str) -> Result<Plan, String> {
        let plan: Plan = serde_yaml_ng::from_str(text).map_err(|e| {
            format!("not a valid plan: {e} (a plan is `name:` and `steps:`, each step with `name`, `target`, `tgt_type`, `fun`, optional `arg`, `kwarg`, `timeout`)")
        })?;
        if plan.steps.is_empty() {
            return Err("the plan has no steps".into());
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if step.fun.trim().is_empty() || step.target.trim().is_empty() {
                return Err(format!(
                    "step {} (`{}`) needs a `target` and a `fun`",
                    i + 1,
                    step.name
                ));
            }
            if step.timeout.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
                return Err(format!(
                    "step {} (`{}`): `timeout` must be a positive number of seconds",
                    i + 1,
                    step.name
                ));
            }
        }
        Ok(plan)
    }
}

/// Defaults a plan's steps run with.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The timeout of steps that set none.
    pub timeout: Option<Duration>,
    /// The `gather_job_timeout` of every step.
    pub gather_job_timeout: Option<Duration>,
    /// A hard bound on the whole plan.
    pub deadline: Option<Duration>,
}

/// What happens while a plan runs, for callers that report progress.
#[derive(Debug)]
pub enum PlanEvent<'a> {
    /// A step is about to be published.
    StepStarted {
        /// Its index.
        index: usize,
        /// The step.
        step: &'a Step,
    },
    /// The master accepted the step's job.
    StepPublished {
        /// Its index.
        index: usize,
        /// The job id.
        jid: &'a str,
        /// The minions expected.
        minions: &'a [String],
    },
    /// A minion of the step was settled.
    Result {
        /// The step's index.
        index: usize,
        /// The result.
        result: &'a MinionResult,
    },
    /// A step finished.
    StepFinished {
        /// Its index.
        index: usize,
        /// Its outcome.
        outcome: &'a StepOutcome,
    },
}

/// How one step ended.
#[derive(Debug)]
pub enum StepOutcome {
    /// Every targeted minion returned successfully.
    Succeeded(JobReport),
    /// Some minion failed or did not return.
    Failed(JobReport),
    /// The step could not be published.
    Error(Error),
}

impl StepOutcome {
    /// Whether the plan may go on.
    pub fn succeeded(&self) -> bool {
        matches!(self, StepOutcome::Succeeded(_))
    }

    /// The job report, when the step was published.
    pub fn report(&self) -> Option<&JobReport> {
        match self {
            StepOutcome::Succeeded(r) | StepOutcome::Failed(r) => Some(r),
            StepOutcome::Error(_) => None,
        }
    }

    /// Why the step failed, naming the minions.
    pub fn failure_reason(&self) -> Option<String> {
        match self {
            StepOutcome::Succeeded(_) => None,
            StepOutcome::Error(e) => Some(e.to_string()),
            StepOutcome::Failed(report) => {
                let mut parts = Vec::new();
                for state in [
                    MinionState::Failed,
                    MinionState::DidNotReturn,
                    MinionState::NotConnected,
                    MinionState::StillRunning,
                ] {
                    let ids = report.minions_in(state);
                    if !ids.is_empty() {
                        parts.push(format!(
                            "{}: {}",
                            state.as_str().replace('_', " "),
                            ids.join(", ")
                        ));
                    }
                }
                Some(parts.join("; "))
            }
        }
    }
}

/// A finished (or stopped) plan.
#[derive(Debug)]
pub struct PlanReport {
    /// The plan's name.
    pub name: String,
    /// The outcome of every step that ran, in order.
    pub steps: Vec<(Step, StepOutcome)>,
    /// Steps not run because an earlier one failed.
    pub skipped: Vec<Step>,
}

impl PlanReport {
    /// Every step ran and succeeded.
    pub fn succeeded(&self) -> bool {
        self.skipped.is_empty() && self.steps.iter().all(|(_, o)| o.succeeded())
    }

    /// The step that stopped the plan.
    pub fn failed_step(&self) -> Option<(usize, &Step, &StepOutcome)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, (_, o))| !o.succeeded())
            .map(|(i, (s, o))| (i, s, o))
    }
}

/// Runs the steps in order and stops at the first that fails.
pub async fn run_plan(
    client: &Client,
    plan: &Plan,
    options: &RunOptions,
    mut observe: impl FnMut(PlanEvent<'_>),
) -> PlanReport {
    let plan_deadline = options.deadline.map(|d| tokio::time::Instant::now() + d);
    let mut report = PlanReport {
        name: plan.name.clone(),
        steps: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, step) in plan.steps.iter().enumerate() {
        if report.steps.iter().any(|(_, o)| !o.succeeded()) {
            report.skipped.push(step.clone());
            continue;
        }
        observe(PlanEvent::StepStarted { index, step });
        let mut job = step.job(options);
        if let Some(at) = plan_deadline {
            job.deadline = Some(at.saturating_duration_since(tokio::time::Instant::now()));
        }
        let outcome = match client.run(job).await {
            Err(e) => StepOutcome::Error(e),
            Ok(mut run) => {
                observe(PlanEvent::StepPublished {
                    index,
                    jid: run.jid(),
                    minions: &run.published().minions,
                });
                while let Some(result) = run.next().await {
                    observe(PlanEvent::Result {
                        index,
                        result: &result,
                    });
                }
                let job_report = run.into_report();
                if job_report.tally().none_failed_or_missing() {
                    StepOutcome::Succeeded(job_report)
                } else {
                    StepOutcome::Failed(job_report)
                }
            }
        };
        observe(PlanEvent::StepFinished {
            index,
            outcome: &outcome,
        });
        report.steps.push((step.clone(), outcome));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_deploy_has_the_four_steps_in_order() {
        let plan = Plan::quick_deploy();
        let funs: Vec<&str> = plan.steps.iter().map(|s| s.fun.as_str()).collect();
        assert_eq!(
            funs,
            [
                "myproject.update_code",
                "myproject.collectstatic",
                "myproject.restart_apache",
                "myproject.restart_supervisord"
            ]
        );
        assert_eq!(plan.steps[0].tgt_type, TargetType::Compound);
        assert_eq!(plan.steps[1].target, "web1");
        assert_eq!(plan.steps[2].tgt_type, TargetType::Grain);
    }

    #[test]
    fn yaml_plans_round_trip_and_bad_ones_say_why() {
        let text = serde_yaml_ng::to_string(&Plan::quick_deploy()).unwrap();
        assert_eq!(Plan::from_yaml(&text).unwrap(), Plan::quick_deploy());
        let plan = Plan::from_yaml(
            "steps:\n  - {name: fail, target: web1, fun: cmd.run, arg: ['exit 3'], kwarg: {python_shell: true}, timeout: 5}\n",
        )
        .unwrap();
        assert_eq!(plan.steps[0].tgt_type, TargetType::Glob);
        assert_eq!(plan.steps[0].timeout, Some(5.0));
        assert!(Plan::from_yaml("steps: []\n")
            .unwrap_err()
            .contains("no steps"));
        assert!(
            Plan::from_yaml("steps:\n  - {name: x, target: '*', fun: t, bogus: 1}\n")
                .unwrap_err()
                .contains("bogus")
        );
        assert!(
            Plan::from_yaml("steps:\n  - {name: x, target: '*', fun: t, tgt_type: nope}\n")
                .is_err()
        );
    }
}
