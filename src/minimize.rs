//! `chukei minimize TRACE`: delta debugging over a trace's schedule until no
//! single step can go (the algorithm is `regressions::minimize`).
//!
//! Shuttle schedules replay many times here, and shuttle prints a line for
//! every replay that stops at the violation: the work runs in a child
//! process without those lines (`crate::rerun_without_shuttle_noise`).

use anyhow::{Context, Result};
use regressions::{corpus, minimize};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to minimize (a violated trace: spec actions, driver
    /// choices or a shuttle schedule).
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
    /// Where to write the minimized trace (default: print it on stdout).
    #[arg(short, long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print the report as JSON (with the minimized trace when no -o).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    spec: &'a str,
    preset: String,
    property: &'a str,
    kind: &'static str,
    steps_before: usize,
    steps_after: usize,
    replays: usize,
    millis: u64,
    method: &'static str,
    /// Driver schedules: preemptions, clock jumps, threads switched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pressure_before: Option<regressions::Pressure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pressure_after: Option<regressions::Pressure>,
    written_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a model::Trace>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if std::env::var_os(crate::IN_PROCESS).is_none() {
        return crate::rerun_without_shuttle_noise();
    }
    let trace = corpus::read(&args.trace)?;
    let minimized = minimize(&trace).with_context(|| format!("{}", args.trace.display()))?;
    if let Some(out) = &args.out {
        write(out, &minimized.trace)?;
    }
    let report = Report {
        file: args.trace.display().to_string(),
        spec: &trace.spec,
        preset: trace.preset.to_string(),
        property: &trace.property,
        kind: kind(&trace.schedule),
        steps_before: minimized.before,
        steps_after: minimized.after,
        replays: minimized.replays,
        millis: minimized.millis,
        method: minimized.method,
        pressure_before: minimized.pressure_before,
        pressure_after: minimized.pressure_after,
        written_to: args.out.as_ref().map(|p| p.display().to_string()),
        trace: args.out.is_none().then_some(&minimized.trace),
    };
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.out.is_none() {
        say!("{}", minimized.trace.to_json_pretty());
    }
    let switching = match (&report.pressure_before, &report.pressure_after) {
        (Some(b), Some(a)) => format!(
            "; preemptions {} -> {}, clock jumps {} -> {}, threads switched {} -> {}",
            b.preemptions, a.preemptions, b.clock_jumps, a.clock_jumps, b.threads, a.threads
        ),
        _ => String::new(),
    };
    eprintln!(
        "{} {} {} on {}: {} steps -> {}{switching} ({}, {} replays, {} ms){}",
        report.kind,
        report.spec,
        report.property,
        report.preset,
        report.steps_before,
        report.steps_after,
        report.method,
        report.replays,
        report.millis,
        report
            .written_to
            .as_ref()
            .map(|p| format!(", written to {p}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

fn kind(schedule: &model::Schedule) -> &'static str {
    match schedule {
        model::Schedule::Actions { .. } => "actions",
        model::Schedule::Driver { .. } => "driver",
        model::Schedule::Shuttle { .. } => "shuttle",
        model::Schedule::Loom { .. } => "loom",
    }
}

fn write(out: &Path, trace: &model::Trace) -> Result<()> {
    std::fs::write(out, trace.to_json_pretty() + "\n")
        .with_context(|| format!("writing {}", out.display()))
}
