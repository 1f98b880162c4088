//! `chukei check` and `chukei explore`: the specs, exhaustively.

use crate::config_args::ConfigArgs;
use crate::{all_or_one, Selection};
use anyhow::{Context, Result};
use model::search::{available_memory_bytes, Limits};
use model::SpecName;
use regressions::corpus;
use stateright_models::{
    all_as_expected, all_decided, check_command, explore_command, render_report_with, run_checks,
    CheckResult, CheckSelection, Progress,
};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Spec.
    #[arg(long, default_value = "all", value_parser = all_or_one::<SpecName>())]
    spec: Selection<SpecName>,
    #[command(flatten)]
    config: ConfigArgs,
    /// Size overrides, e.g. `--size telegrams=4 workers=2`. Verdicts are
    /// recorded (scenarios/expectations.toml) at default sizes; elsewhere
    /// they are printed, and only a recorded one that differs exits 1.
    #[arg(long = "size", value_name = "K=V", num_args = 1..)]
    sizes: Vec<String>,
    /// Environment assumption (repeatable), e.g. `--assume arrivals=one-terminal`;
    /// a value `all` checks every value of that assumption, `--assume all`
    /// every setting of every assumption.
    #[arg(long = "assume", value_name = "NAME=VALUE", long_help = assume_help())]
    assumptions: Vec<String>,
    /// Fairness of the liveness properties: `weak` (default) or `none`
    /// (any step may be postponed forever), or `all` for both; the same as
    /// `--assume fairness=...`, so a reviewer sees which verdicts depend on it.
    #[arg(long, value_name = "weak|none|all", value_parser = ["weak", "none", "all"])]
    fairness: Option<String>,
    /// Compare with the verdicts recorded in this file (the format of
    /// scenarios/expectations.toml) instead of the built-in ones.
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Check only this property (on the selected specs that have it); a
    /// safety or reachability property stops at its first, shortest
    /// counterexample or example.
    #[arg(long, value_name = "NAME")]
    property: Option<String>,
    /// Decide safety and reachability on the full state graph instead of the
    /// symmetry-reduced one (same verdicts and lengths; to compare counts).
    #[arg(long)]
    no_symmetry: bool,
    /// Write each counterexample (and each `sometimes` example) as a trace
    /// file into DIR, named as in the corpus; the report then says how to
    /// replay and explain each.
    #[arg(long, value_name = "DIR")]
    trace_out: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Threads exploring each graph (default: the available cores). Any
    /// number gives the same graph, counts, verdicts and paths.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
    /// Bitstate search for spaces larger than memory: the visited set is a
    /// table of 2^LOG2 bits (e.g. 30: 128 MB), 3 bits per state. A violation
    /// found is real; a `holds` is not a proof and says the estimated
    /// probability that a state was missed; liveness is left inconclusive.
    /// One thread.
    #[arg(long, value_name = "LOG2", value_parser = clap::value_parser!(u32).range(13..=39))]
    bitstate: Option<u32>,
}

/// Where a check stops early. A property a stopped exploration could not
/// decide is reported `inconclusive` (exit code 3), never `holds`; a
/// counterexample found before the limit is still a (shortest) one.
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Stop each exploration once it has discovered N states (symmetry
    /// classes with symmetry on).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_states: Option<u64>,
    /// Explore no further than N actions from the initial states.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// Stop after S seconds of the whole check (decimals allowed).
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    max_seconds: Option<f64>,
    /// Stop when the process's resident memory reaches MB megabytes.
    /// Default: 80% of the memory available when the check starts, so a
    /// large check ends inconclusive instead of being killed by the OS;
    /// 0 turns the guard off.
    #[arg(long, value_name = "MB")]
    max_memory: Option<u64>,
}

impl LimitArgs {
    /// The limits as the search takes them (`explore` uses them too).
    pub fn limits(&self) -> Limits {
        let max_memory = match self.max_memory {
            Some(0) => None,
            Some(mb) => Some(mb.saturating_mul(1_000_000)),
            None => default_memory_guard(),
        };
        Limits {
            max_states: self.max_states.map(|n| n as usize),
            max_depth: self.max_depth,
            deadline: self.max_seconds.map(|s| {
                let limit = Duration::from_secs_f64(s);
                (Instant::now() + limit, limit)
            }),
            max_memory,
        }
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The default memory guard: 80% of what the OS can give now (none where
/// it does not say).
fn default_memory_guard() -> Option<u64> {
    available_memory_bytes().map(|bytes| bytes / 5 * 4)
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 {
        Ok(seconds)
    } else {
        Err("must be a positive number of seconds".to_string())
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let bitstate = args.bitstate.map(model::bitstate::Bitstate::new);
    if let (Some(table), Some(available)) = (bitstate, available_memory_bytes()) {
        anyhow::ensure!(
            table.bytes() < available,
            "--bitstate {}: the table needs {} MB, only {} MB are available",
            table.log2_bits,
            table.bytes() / 1_000_000,
            available / 1_000_000
        );
    }
    let mut selection =
        CheckSelection::new(args.spec.0.clone(), args.config.configs()?, &args.sizes)?
            .with_symmetry(!args.no_symmetry)
            .with_limits(args.limits.limits())
            .with_threads(args.threads.map_or_else(available_cores, |n| n as usize))
            .with_bitstate(bitstate)
            .with_assumptions(&assumptions(args))?;
    if let Some(name) = &args.property {
        selection = selection.with_property(name)?;
    }
    let mut progress = progress_printer(args.quiet);
    let mut results = run_checks(&selection, &mut progress);
    if let Some(path) = &args.expectations {
        recompare(&mut results, &selection, path)?;
    }
    let written = match &args.trace_out {
        Some(dir) => write_traces(dir, &results)?,
        None => BTreeMap::new(),
    };
    if args.json {
        say!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        let hints = |r: &CheckResult| match written.get(&result_key(r)) {
            Some(path) => vec![
                format!("replay: chukei replay {path}"),
                format!("explain: chukei explain {path}"),
                explore_command(r),
            ],
            None => vec![check_command(r), explore_command(r)],
        };
        say_raw!("{}", render_report_with(&results, &hints));
    }
    Ok(if !all_as_expected(&results) {
        ExitCode::from(1)
    } else if !all_decided(&results) {
        ExitCode::from(INCONCLUSIVE)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--assume` items with `--fairness` as one more (it is an assumption of
/// every spec).
fn assumptions(args: &Args) -> Vec<String> {
    let mut items = args.assumptions.clone();
    if let Some(fairness) = &args.fairness {
        items.push(format!("fairness={fairness}"));
    }
    items
}

/// `--help` for `--assume`: every spec's assumptions, values and defaults.
fn assume_help() -> String {
    let mut help = String::from(
        "Environment assumption (repeatable), e.g. `--assume arrivals=one-terminal`. \
         A value `all` checks every value of that assumption; `--assume all` checks \
         every setting of every assumption. The first value is the default:",
    );
    for spec in SpecName::ALL {
        for a in spec.assumption_params() {
            help += &format!(
                "\n  {spec} {}: {} ({})",
                a.name,
                a.values.join(", "),
                a.help
            );
        }
    }
    help
}

/// Progress on stderr: one line rewritten in place on a terminal; when
/// stderr is no terminal (CI), a line every few seconds, so a long check is
/// not silent. `check`, `explore` and `expectations` print the same.
pub(crate) fn progress_printer(quiet: bool) -> impl FnMut(Progress) {
    let mut lines = ProgressLines::new(std::io::stderr().is_terminal(), progress_every());
    move |p: Progress| {
        if quiet {
            return;
        }
        match lines.line(&p, Instant::now()) {
            Some(ProgressLine::InPlace(line)) => eprint!("{line}"),
            Some(ProgressLine::Whole(line)) => eprintln!("{line}"),
            None => {}
        }
    }
}

/// When and how a progress report is shown (kept apart from stderr so its
/// cadence is testable without waiting).
struct ProgressLines {
    terminal: bool,
    every: Duration,
    /// When the last whole line went out (off a terminal); the first one
    /// waits `every` from the start, so a short check stays silent.
    last_line: Option<Instant>,
}

/// One progress line to print.
#[derive(Debug, PartialEq, Eq)]
enum ProgressLine {
    /// A terminal's line, rewritten in place (`\r`; a newline when done).
    InPlace(String),
    /// A line of its own, for a log.
    Whole(String),
}

impl ProgressLines {
    fn new(terminal: bool, every: Duration) -> Self {
        ProgressLines {
            terminal,
            every,
            last_line: None,
        }
    }

    fn line(&mut self, p: &Progress, now: Instant) -> Option<ProgressLine> {
        let text = format!(
            "{:<10} {:<8} {:<14} {:>8} states {:>10.0} states/s",
            p.spec, p.config, p.checker, p.states, p.states_per_sec,
        );
        if self.terminal {
            let end = if p.done { "\n" } else { "" };
            return Some(ProgressLine::InPlace(format!("\r{text}{end}")));
        }
        let last = *self.last_line.get_or_insert(now);
        if now.duration_since(last) < self.every {
            return None;
        }
        self.last_line = Some(now);
        Some(ProgressLine::Whole(format!("progress: {text}")))
    }
}

/// The exit code of a check that a limit stopped before it decided every
/// property (and where nothing decided differs from its expectation).
const INCONCLUSIVE: u8 = 3;

/// How often a check in CI reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// `PROGRESS_EVERY`, or `CHUKEI_PROGRESS_EVERY_MS` milliseconds when set
/// (a log that wants more or fewer lines; a test sets 0 to see the
/// wiring without waiting). A value that is no number is said and ignored.
fn progress_every() -> Duration {
    let Ok(value) = std::env::var("CHUKEI_PROGRESS_EVERY_MS") else {
        return PROGRESS_EVERY;
    };
    match value.trim().parse() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => {
            eprintln!(
                "CHUKEI_PROGRESS_EVERY_MS={value:?} is no number of milliseconds: progress every {} s",
                PROGRESS_EVERY.as_secs()
            );
            PROGRESS_EVERY
        }
    }
}

/// (spec, configuration, property) of a result.
fn result_key(r: &CheckResult) -> (String, String, String) {
    (r.spec.clone(), r.config.clone(), r.property.clone())
}

/// Writes every result's trace into `dir`; the paths, by result.
fn write_traces(
    dir: &Path,
    results: &[CheckResult],
) -> Result<BTreeMap<(String, String, String), String>> {
    let mut written = BTreeMap::new();
    for r in results {
        if let Some(trace) = &r.trace {
            let path = corpus::write(dir, trace)?;
            written.insert(result_key(r), path.display().to_string());
        }
    }
    if !written.is_empty() {
        eprintln!("wrote {} trace files to {}", written.len(), dir.display());
    }
    Ok(written)
}

/// Replaces each result's expected verdict with the one `path` records.
fn recompare(results: &mut [CheckResult], selection: &CheckSelection, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading expectations {}", path.display()))?;
    let recorded = scenarios::expect::parse(&text).with_context(|| path.display().to_string())?;
    for r in results {
        let spec: SpecName = r.spec.parse()?;
        let sizes = &selection.sizes[&spec];
        r.expected = scenarios::expect::verdict_in(
            &recorded,
            spec,
            &r.patches,
            sizes,
            &r.assumptions,
            &r.property,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use patches::Preset;

    fn report(states: usize, done: bool) -> Progress {
        Progress {
            spec: "timer-free",
            preset: Preset::Jan2016,
            config: "2016-01".into(),
            checker: "explore",
            states,
            states_per_sec: 1000.0,
            done,
        }
    }

    /// Off a terminal (CI) a long check or Explorer build prints a whole
    /// line every `every`, none before; on a terminal every report rewrites
    /// the line, ending it when the phase is done.
    #[test]
    fn progress_off_a_terminal_is_a_line_every_few_seconds() {
        let every = Duration::from_secs(5);
        let start = Instant::now();
        let mut log = ProgressLines::new(false, every);
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(log.line(&report(10, false), at(0)), None);
        assert_eq!(log.line(&report(20, false), at(4)), None);
        let Some(ProgressLine::Whole(line)) = log.line(&report(30, false), at(5)) else {
            panic!("a line after five seconds")
        };
        assert!(line.starts_with("progress: timer-free 2016-01"), "{line}");
        assert!(line.contains("30 states"), "{line}");
        assert_eq!(log.line(&report(40, true), at(9)), None);
        assert!(log.line(&report(50, false), at(10)).is_some());

        let mut terminal = ProgressLines::new(true, every);
        let Some(ProgressLine::InPlace(running)) = terminal.line(&report(1, false), at(0)) else {
            panic!("a terminal shows every report")
        };
        assert!(running.starts_with('\r') && !running.ends_with('\n'));
        let Some(ProgressLine::InPlace(done)) = terminal.line(&report(2, true), at(0)) else {
            panic!("a terminal shows every report")
        };
        assert!(done.ends_with('\n'));
    }
}
