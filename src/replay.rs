//! `chukei replay`: run stored traces again and compare with their verdict:
//! spec actions on the model, driver choices on the real relay, shuttle
//! schedules on the real relay under shuttle.

use anyhow::{bail, Context, Result};
use model::trace::{Schedule, Trace, Verdict};
use relay::reproduce::{run_schedule, Cause};
use relay::sim::{Choice, Chooser};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Trace files (JSON, the suite's common Trace format), e.g.
    /// `regressions/corpus/*.json`.
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Replayed {
    file: String,
    spec: String,
    preset: String,
    property: String,
    recorded: Verdict,
    replayed: Verdict,
    agrees: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for path in &args.traces {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let trace = Trace::from_json(&text).with_context(|| format!("in {}", path.display()))?;
        let replayed = replay(&trace).with_context(|| format!("replaying {}", path.display()))?;
        rows.push(Replayed {
            file: path.display().to_string(),
            spec: trace.spec.clone(),
            preset: trace.preset.to_string(),
            property: trace.property.clone(),
            recorded: trace.verdict,
            replayed,
            agrees: replayed == trace.verdict,
        });
    }
    if args.json {
        say!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in &rows {
            let mark = if r.agrees { "ok" } else { "MISMATCH" };
            say!(
                "{mark:<8} {} {} {}: recorded {}, replayed {}  ({})",
                r.spec,
                r.preset,
                r.property,
                r.recorded,
                r.replayed,
                r.file
            );
        }
    }
    Ok(if rows.iter().all(|r| r.agrees) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs one trace on what it was recorded against: spec actions on the
/// model, driver choices on the real relay.
pub fn replay(trace: &Trace) -> Result<Verdict> {
    match &trace.schedule {
        Schedule::Actions { .. } => Ok(model::registry::replay_trace(trace)?.verdict),
        Schedule::Driver { choices } => {
            let cause: Cause = trace.spec.parse()?;
            let choices: Vec<Choice> = choices
                .iter()
                .map(|c| serde_json::from_value(c.clone()))
                .collect::<Result<_, _>>()
                .context("a driver choice is a thread number or \"clock\"")?;
            let run = run_schedule(cause, trace.preset, Chooser::Replay(choices));
            Ok(if run.reproduced {
                Verdict::Violated
            } else {
                Verdict::Holds
            })
        }
        Schedule::Shuttle { .. } => replay_shuttle(trace),
    }
}

/// A shuttle schedule runs the relay under shuttle's replay scheduler; a
/// violation shows as a panic inside it, so the panic hook is silenced for
/// the run (the verdict is reported instead).
fn replay_shuttle(trace: &Trace) -> Result<Verdict> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let replayed = loom_tests::corpus::replay(trace);
    std::panic::set_hook(hook);
    match replayed {
        Ok(_) => Ok(Verdict::Violated),
        Err(why) if why.starts_with("the replay passed") => Ok(Verdict::Holds),
        Err(why) => bail!("{why}"),
    }
}
