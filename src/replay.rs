//! `chukei replay`: run stored traces again, on their own preset or another
//! one, and report one of four outcomes per file (the harness is
//! `regressions::judge`).
//!
//! Each file replays in a child process of its own: shuttle prints its
//! "test panicked" / "Test deadlocked" lines straight to stderr when a
//! replayed run stops at the recorded violation, which is the expected end
//! of a bug's schedule, not news; and one file that crashes the replay cannot
//! take the others with it.

use crate::config_args::{parse_patch, read_variant};
use anyhow::{Context, Result};
use model::Verdict;
use patches::Config;
use patches::Preset;
use regressions::{corpus, judge_on, Outcome};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Trace files (JSON, the suite's common Trace format), e.g.
    /// `regressions/corpus/*.json`.
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,
    /// Replay on this preset instead of the one each trace was recorded on
    /// (a bug's schedule on its fix): the expected verdict is then the
    /// expectations table's for that configuration, where it records one.
    #[arg(long, value_name = "PRESET", value_parser = crate::one::<Preset>())]
    preset: Option<Preset>,
    /// Override one switch (repeatable) of `--preset`, of `--variant`, or
    /// else of each trace's own configuration, e.g. `--patch
    /// timer_fix=epoch` replays every trace with our epoch fix.
    #[arg(long = "patch", value_name = "NAME=VALUE", value_parser = parse_patch)]
    patches: Vec<String>,
    /// Replay on the configuration of this variant file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    variant: Option<PathBuf>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
    /// Replay in this process (shuttle's messages included); what each
    /// child process of `chukei replay` runs.
    #[arg(long, hide = true)]
    in_process: bool,
}

/// One file's result.
#[derive(Serialize, Deserialize, Debug)]
struct Row {
    file: String,
    spec: Option<String>,
    property: Option<String>,
    /// The preset the trace was recorded on, and the one it replayed on.
    recorded_preset: Option<String>,
    preset: Option<String>,
    recorded: Option<Verdict>,
    /// The verdict expected on `preset`.
    expected: Option<Verdict>,
    /// reproduced | fixed | stale | unreadable.
    outcome: String,
    /// Why a stale or unreadable trace says nothing about the bug.
    reason: Option<String>,
    as_expected: bool,
    /// Schedule steps, and how many the run took.
    steps: Option<usize>,
    steps_used: Option<usize>,
}

impl Row {
    fn unreadable(file: &Path, reason: String) -> Row {
        Row {
            file: file.display().to_string(),
            spec: None,
            property: None,
            recorded_preset: None,
            preset: None,
            recorded: None,
            expected: None,
            outcome: Outcome::Unreadable(String::new()).name().to_string(),
            reason: Some(reason),
            as_expected: false,
            steps: None,
            steps_used: None,
        }
    }

    /// How bad the row is; the worst row decides the exit code.
    fn severity(&self) -> u8 {
        match self.outcome.as_str() {
            _ if self.as_expected => 0,
            "reproduced" | "fixed" => 1,
            "stale" => 2,
            _ => 3,
        }
    }
}

/// Exit codes by severity: as expected, a verdict other than expected, a
/// stale schedule, an unreadable file.
const EXIT: [u8; 4] = [0, 1, 3, 2];

pub fn run(args: &Args) -> Result<ExitCode> {
    // A bad variant file or patch is a usage error before any replay.
    let target = args.target()?;
    let rows = if args.in_process {
        args.traces
            .iter()
            .map(|p| replay_here(p, &target))
            .collect()
    } else {
        args.traces
            .iter()
            .map(|p| replay_in_child(p, args))
            .collect::<Result<Vec<_>>>()?
    };
    if args.json {
        say!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_text(&rows);
    }
    let worst = rows.iter().map(Row::severity).max().unwrap_or(0);
    Ok(ExitCode::from(EXIT[worst as usize]))
}

/// Where a trace replays: on the configuration given, or on its own with
/// the `--patch` overrides.
enum Target {
    Own(Vec<String>),
    Given(Config),
}

impl Args {
    fn target(&self) -> Result<Target> {
        let base = match (&self.variant, self.preset) {
            (Some(path), _) => read_variant(path)?,
            (None, Some(preset)) => Config::preset(preset),
            (None, None) => return Ok(Target::Own(self.patches.clone())),
        };
        Ok(Target::Given(base.patched(&self.patches)?))
    }
}

impl Target {
    /// The configuration `trace` replays on; `None`: its own, unchanged.
    fn config_for(&self, trace: &model::Trace) -> Result<Option<Config>, patches::PatchError> {
        match self {
            Target::Own(patches) if patches.is_empty() => Ok(None),
            Target::Own(patches) => trace.config().patched(patches).map(Some),
            Target::Given(config) => Ok(Some(config.clone())),
        }
    }
}

fn replay_here(path: &Path, target: &Target) -> Row {
    let trace = match corpus::read(path) {
        Ok(trace) => trace,
        Err(e) => return Row::unreadable(path, e.to_string()),
    };
    let config = match target.config_for(&trace) {
        Ok(config) => config,
        Err(e) => return Row::unreadable(path, e.to_string()),
    };
    let judged = judge_on(&trace, config.as_ref());
    let fit = judged.replayed.as_ref().map(|r| &r.fit);
    // On a switch set with no recorded verdict the outcome is news, not a
    // failure (as `chukei check` on an unrecorded configuration).
    let unrecorded = config
        .as_ref()
        .is_some_and(|c| c.patches != trace.config().patches && !has_recorded_verdict(&trace, c));
    let as_expected = match unrecorded {
        true => matches!(judged.outcome, Outcome::Reproduced | Outcome::Fixed),
        false => judged.as_expected(),
    };
    Row {
        file: path.display().to_string(),
        spec: Some(trace.spec.clone()),
        property: Some(trace.property.clone()),
        recorded_preset: Some(trace.config().name()),
        preset: Some(config.unwrap_or_else(|| trace.config()).name()),
        recorded: Some(trace.verdict),
        expected: (!unrecorded).then_some(judged.expected),
        outcome: judged.outcome.name().to_string(),
        reason: judged.outcome.reason().map(str::to_string),
        as_expected,
        steps: fit.map(|f| f.steps),
        steps_used: fit.map(|f| f.used),
    }
}

/// Whether the expectations record `trace`'s property on `config`.
fn has_recorded_verdict(trace: &model::Trace, config: &Config) -> bool {
    trace.spec.parse::<model::SpecName>().is_ok_and(|spec| {
        scenarios::expect::expected_at_defaults(spec, &config.patches, &trace.property).is_some()
    })
}

/// Replays one file in a child `chukei replay --in-process --json`, its
/// stderr (shuttle's messages) discarded.
fn replay_in_child(path: &Path, args: &Args) -> Result<Row> {
    let exe = std::env::current_exe().context("locating the chukei executable")?;
    let mut command = Command::new(exe);
    command.args(["replay", "--in-process", "--json"]);
    if let Some(preset) = args.preset {
        command.args(["--preset", preset.name()]);
    }
    if let Some(variant) = &args.variant {
        command.arg("--variant").arg(variant);
    }
    for patch in &args.patches {
        command.args(["--patch", patch]);
    }
    let output = command
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("starting a replay process")?;
    let parsed: Option<Vec<Row>> = serde_json::from_slice(&output.stdout).ok();
    Ok(match parsed.and_then(|rows| rows.into_iter().next()) {
        Some(row) => row,
        None => Row::unreadable(
            path,
            format!(
                "replaying it crashed the replay process ({})",
                output.status
            ),
        ),
    })
}

fn print_text(rows: &[Row]) {
    for r in rows {
        let mark = if r.as_expected { "ok" } else { "FAIL" };
        match (&r.spec, &r.property, &r.preset, &r.expected) {
            (Some(spec), Some(property), Some(preset), Some(expected)) => say!(
                "{mark:<5} {:<10} {spec} {property} on {preset} (expected {}): {}",
                r.outcome,
                expected_outcome(*expected),
                r.file
            ),
            (Some(spec), Some(property), Some(preset), None) => say!(
                "{mark:<5} {:<10} {spec} {property} on {preset} (no recorded verdict): {}",
                r.outcome,
                r.file
            ),
            _ => say!("{mark:<5} {:<10} {}", r.outcome, r.file),
        }
        if let Some(reason) = &r.reason {
            say!("      {reason}");
        }
    }
    let expected = rows.iter().filter(|r| r.as_expected).count();
    say!("{} traces, {expected} as expected", rows.len());
}

fn expected_outcome(verdict: Verdict) -> &'static str {
    Outcome::expected_for(verdict).name()
}
