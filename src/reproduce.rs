//! `chukei reproduce`: seeded schedule search on the real relay.

use crate::config_args::ConfigArgs;
use crate::{all_or_one, Selection};
use anyhow::{Context, Result};
use regressions::corpus;
use scenarios::search::{search_with_progress, Cause, Finding};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Root cause to search for (stale-timeout: the review's open question).
    #[arg(long, default_value = "all", value_parser = all_or_one::<Cause>())]
    cause: Selection<Cause>,
    #[command(flatten)]
    config: ConfigArgs,
    /// First seed; schedule i uses seed+i, so a reported seed replays alone.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Schedules to try per cause and preset before giving up.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    budget: u64,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Write each reproducing schedule as a trace file (the suite's common
    /// Trace format) into this directory; `chukei replay` runs it again.
    #[arg(long, value_name = "DIR")]
    trace_out: Option<std::path::PathBuf>,
    /// Write the schedules as found, not minimized (`--trace-out` minimizes
    /// each by default: `chukei minimize`).
    #[arg(long, requires = "trace_out")]
    no_minimize: bool,
    /// Write each reproducing schedule's relay events (up to the symptom) as
    /// JSON lines into this directory, for `chukei validate`.
    #[arg(long, value_name = "DIR")]
    events_out: Option<std::path::PathBuf>,
    /// Run every driver schedule up to --preemptions preemptions, fewest
    /// first, instead of seeded random ones (--seed and --budget then unused).
    #[arg(long)]
    pub exhaustive: bool,
    /// With --exhaustive: the most preemptions a schedule may have.
    #[arg(long, value_name = "K", default_value_t = scenarios::exhaustive::DEFAULT_PREEMPTIONS, requires = "exhaustive")]
    pub preemptions: u32,
    /// With --exhaustive: the most schedules to run per cause and preset.
    #[arg(long, value_name = "N", default_value_t = scenarios::exhaustive::DEFAULT_MAX_SCHEDULES,
          value_parser = clap::value_parser!(u64).range(1..), requires = "exhaustive")]
    pub max_schedules: u64,
}

impl Args {
    pub fn causes(&self) -> &[Cause] {
        &self.cause.0
    }
    /// The configurations to search (`--preset`, `--patch`, `--variant`).
    pub fn configs(&self) -> Result<Vec<patches::Config>> {
        self.config.configs()
    }
    pub fn json(&self) -> bool {
        self.json
    }
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Checks what would otherwise fail only after the whole search: the
    /// seeds fit in a u64, the output directories can be written.
    pub fn validate(&self) -> Result<()> {
        if !self.exhaustive && scenarios::search::seeds(self.seed, self.budget).is_none() {
            anyhow::bail!(
                "--seed {} with --budget {} runs past the largest seed ({}): use a seed of at most {}",
                self.seed,
                self.budget,
                u64::MAX,
                u64::MAX - (self.budget - 1)
            );
        }
        for dir in [&self.trace_out, &self.events_out].into_iter().flatten() {
            ensure_writable_dir(dir)?;
        }
        Ok(())
    }

    /// A finding's trace, minimized unless `--no-minimize`.
    fn trace_to_store(&self, finding: &Finding) -> model::Trace {
        let trace = finding.to_trace();
        if self.no_minimize {
            return trace;
        }
        match regressions::minimize(&trace) {
            Ok(m) => {
                eprintln!(
                    "minimized {} on {}: {} -> {} choices",
                    finding.cause,
                    finding.config(),
                    m.before,
                    m.after
                );
                m.trace
            }
            Err(e) => {
                eprintln!("chukei: warning: kept the schedule as found: {e}");
                trace
            }
        }
    }

    /// Writes the reproducing schedules' trace and event files asked for.
    pub fn write_outputs(&self, findings: &[Finding]) -> Result<()> {
        if let Some(dir) = &self.trace_out {
            write_files(dir, findings, ".json", |f| {
                self.trace_to_store(f).to_json_pretty() + "\n"
            })?;
        }
        if let Some(dir) = &self.events_out {
            write_files(dir, findings, ".events.jsonl", events_jsonl)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    /// Whether the cause must reproduce here; absent where no verdict is
    /// recorded for the configuration.
    expected: Option<bool>,
    symptom: &'static str,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    args.validate()?;
    if args.exhaustive {
        return crate::exhaustive::run(args);
    }
    let (causes, configs) = (args.causes(), args.configs()?);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut findings = Vec::new();
    for &cause in causes {
        for config in &configs {
            let progress = |n: u64| {
                if show_progress && (n.is_multiple_of(10) || n == args.budget) {
                    eprint!("\r{cause} on {config}: {n}/{} schedules", args.budget);
                }
            };
            findings.push(search_with_progress(
                cause,
                config.clone(),
                args.seed,
                args.budget,
                progress,
            ));
            if show_progress {
                eprintln!();
            }
        }
    }
    args.write_outputs(&findings)?;
    let mismatches = findings
        .iter()
        .filter(|f| f.expected().is_some_and(|want| want != f.reproduced))
        .count();
    if args.json {
        let rows: Vec<_> = findings
            .iter()
            .map(|f| Row {
                finding: f,
                expected: f.expected(),
                symptom: f.cause.symptom(),
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_text(&findings);
    }
    Ok(if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(findings: &[Finding]) {
    let width = findings
        .iter()
        .map(|f| f.config().name().len())
        .max()
        .unwrap_or(0)
        .max("preset".len());
    say!(
        "{:<13} {:<width$} {:<11} {:<9} {:>9} {:>8}  seed",
        "cause",
        "preset",
        "reproduced",
        "expected",
        "schedules",
        "ms"
    );
    for f in findings {
        let want = f.expected();
        let mark = if want.is_some_and(|w| w != f.reproduced) {
            "  <-- unexpected"
        } else {
            ""
        };
        let seed = f.seed.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        say!(
            "{:<13} {:<width$} {:<11} {:<9} {:>9} {:>8}  {seed}{mark}",
            f.cause.name(),
            f.config().name(),
            yes_no(f.reproduced),
            want.map_or("-", yes_no),
            f.schedules_tried,
            f.millis
        );
    }
    for f in findings.iter().filter(|f| f.reproduced) {
        say!("\n== {} on {}: {}", f.cause, f.config(), f.cause.symptom());
        say!("   time telegram thread    event");
        for e in &f.timeline {
            say!("{e}");
        }
        if let Some(seed) = f.seed {
            say!(
                "replay: chukei reproduce --cause {} {} --seed {seed} --budget 1",
                f.cause,
                f.config().cli_args()
            );
        }
    }
    for f in findings.iter().filter(|f| !f.anomalies.is_empty()) {
        say!(
            "\nanomalies for {} on {}: {:?}",
            f.cause,
            f.config(),
            f.anomalies
        );
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn events_jsonl(f: &Finding) -> String {
    f.timeline
        .iter()
        .map(|e| serde_json::to_string(e).expect("events serialize") + "\n")
        .collect()
}

/// Writes one file per reproducing finding, named as in the corpus
/// (`reproduce-{spec}-{preset}-{property}`).
fn write_files(
    dir: &Path,
    findings: &[Finding],
    extension: &str,
    contents: impl Fn(&Finding) -> String,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in findings.iter().filter(|f| f.reproduced) {
        let name = corpus::file_name(&f.to_trace()).replace(".json", extension);
        let path = dir.join(name);
        std::fs::write(&path, contents(f))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Creates `dir` and proves a file can be written in it, before any long
/// work whose results would go there.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let probe = dir.join(format!(".chukei-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| format!("{} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).with_context(|| format!("removing {}", probe.display()))?;
    Ok(())
}
