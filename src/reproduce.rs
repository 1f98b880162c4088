//! `chukei reproduce`: seeded schedule search on the real relay.

use crate::config_args::ConfigArgs;
use crate::{all_or_one, Selection};
use anyhow::{Context, Result};
use model::SpecName;
use regressions::corpus;
use scenarios::exhaustive::{search_row, Bound, Row};
use scenarios::search::{Cause, Conformance, Finding};
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Run only every driver schedule up to --preemptions preemptions,
    /// fewest first (--seed and --budget then unused). Without it each row
    /// runs --budget seeded schedules, then, if none reproduced, every
    /// schedule up to --preemptions preemptions.
    #[arg(long)]
    pub exhaustive: bool,
    /// The most preemptions a schedule of the exhaustive search may have
    /// [default: 2 with --exhaustive, 1 after the seeded schedules].
    #[arg(long, value_name = "K")]
    preemptions: Option<u32>,
    /// The most schedules of the exhaustive search per cause and preset.
    #[arg(long, value_name = "N", default_value_t = scenarios::exhaustive::DEFAULT_MAX_SCHEDULES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_schedules: u64,
    /// Also check every schedule's relay event log against the spec (the
    /// `chukei validate` refinement): a clean row then means the relay
    /// refines the spec on every schedule searched, and the first schedule
    /// that leaves it is reported like a counterexample.
    #[arg(long)]
    pub conformance: bool,
    /// With --conformance: an environment assumption the relay's logs are
    /// read under (repeatable), in place of the relay's own reading
    /// (`hsm-wait=may-expire`, and for irq-order `guard-effect=resets-hsm`),
    /// e.g. `--assume hsm-wait=in-time` shows where the relay's logs leave
    /// the spec's default assumption.
    #[arg(long = "assume", value_name = "NAME=VALUE", requires = "conformance")]
    assumptions: Vec<String>,
    /// Run every schedule of the exhaustive search, also those that only
    /// reorder independent steps of one already run (sleep sets off: to
    /// compare counts and verdicts).
    #[arg(long)]
    pub no_sleep_sets: bool,
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

    /// The exhaustive search's bound, checking conformance against `config`.
    pub fn bound(&self, config: &patches::Config) -> Bound {
        let default = if self.exhaustive {
            scenarios::exhaustive::DEFAULT_PREEMPTIONS
        } else {
            scenarios::exhaustive::DEFAULT_ROW_PREEMPTIONS
        };
        Bound {
            preemptions: self.preemptions.unwrap_or(default),
            max_schedules: self.max_schedules,
            conformance: self.conformance.then(|| Conformance {
                config: config.clone(),
                assume: self.assume_overrides(),
            }),
            sleep_sets: !self.no_sleep_sets,
            cards: scenarios::search::CARDS,
        }
    }

    /// The flags that replay an exhaustive finding (bound, conformance).
    pub fn exhaustive_flags(&self, bound: u32) -> String {
        format!("--preemptions {bound}{}", self.conformance_flags())
    }

    /// `--conformance` and its `--assume` items, as given (or nothing).
    fn conformance_flags(&self) -> String {
        if !self.conformance {
            return String::new();
        }
        let assume: String = self
            .assumptions
            .iter()
            .map(|item| format!(" --assume {item}"))
            .collect();
        format!(" --conformance{assume}")
    }

    /// The `--assume` items as overrides (checked by [`Args::validate`]).
    fn assume_overrides(&self) -> BTreeMap<String, String> {
        self.assumptions
            .iter()
            .filter_map(|item| item.split_once('='))
            .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
            .collect()
    }

    /// Each `--assume` item names an assumption of a selected cause's spec,
    /// with one of its values.
    fn check_assumptions(&self) -> Result<()> {
        let mut specs: Vec<SpecName> = Vec::new();
        for spec in self.causes().iter().map(|c| c.spec()) {
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        for item in &self.assumptions {
            let (name, value) = item
                .split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .with_context(|| format!("--assume {item}: not of the form NAME=VALUE"))?;
            let has = |s: &&SpecName| s.assumption_params().iter().any(|a| a.name == name);
            let owners: Vec<&SpecName> = specs.iter().filter(has).collect();
            if owners.is_empty() {
                let valid: Vec<String> = specs
                    .iter()
                    .map(|s| format!("{s}: {}", model::assume::names(s.assumption_params())))
                    .collect();
                anyhow::bail!(
                    "--assume {item}: no assumption `{name}` in the specs of the selected causes (valid: {})",
                    valid.join("; ")
                );
            }
            let given = BTreeMap::from([(name.to_string(), value.to_string())]);
            for spec in owners {
                model::assume::resolve(spec.name(), spec.assumption_params(), &given)?;
            }
        }
        Ok(())
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
        self.check_assumptions()
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
            let reproduced: Vec<_> = findings.iter().filter(|f| f.reproduced).cloned().collect();
            write_files(dir, &reproduced, ".json", |f| {
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
struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a Row,
    /// Whether the cause must reproduce here; absent where no verdict is
    /// recorded for the configuration.
    expected: Option<bool>,
    symptom: &'static str,
    summary: String,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    args.validate()?;
    if args.exhaustive {
        return crate::exhaustive::run(args);
    }
    let (causes, configs) = (args.causes(), args.configs()?);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for &cause in causes {
        for config in &configs {
            let progress = |n: u64| {
                if show_progress && n.is_multiple_of(50) {
                    eprint!("\r{cause} on {config}: {n} schedules");
                }
            };
            let bound = args.bound(config);
            rows.push(search_row(
                cause,
                config.clone(),
                args.seed,
                args.budget,
                &bound,
                progress,
            ));
            if show_progress {
                eprint!("\r{:60}\r", "");
            }
        }
    }
    let findings: Vec<_> = rows.iter().map(|r| r.finding.clone()).collect();
    args.write_outputs(&findings)?;
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| JsonRow {
                row: r,
                expected: r.finding.expected(),
                symptom: r.finding.cause.symptom(),
                summary: r.summary(),
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_text(args, &rows);
    }
    Ok(if rows.iter().all(Row::as_expected) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(args: &Args, rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.finding.config().name().len())
        .max()
        .unwrap_or(0)
        .max("preset".len());
    say!(
        "{:<13} {:<width$} {:<11} {:<9} {:>9} {:>8}  {:<5} coverage",
        "cause",
        "preset",
        "reproduced",
        "expected",
        "schedules",
        "ms",
        "seed"
    );
    for r in rows {
        let f = &r.finding;
        let mark = if r.as_expected() {
            ""
        } else {
            "  <-- unexpected"
        };
        let seed = f.seed.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        say!(
            "{:<13} {:<width$} {:<11} {:<9} {:>9} {:>8}  {seed:<5} {}{mark}",
            f.cause.name(),
            f.config().name(),
            yes_no(f.reproduced),
            f.expected().map_or("-", yes_no),
            f.schedules_tried,
            f.millis,
            r.summary()
        );
    }
    for r in rows {
        let replay = match (&r.finding.seed, &r.exhaustive) {
            (Some(seed), _) => format!(
                "chukei reproduce --cause {} {} --seed {seed} --budget 1{}",
                r.finding.cause,
                r.finding.config().cli_args(),
                args.conformance_flags()
            ),
            (None, Some(x)) => exhaustive_replay(args, &r.finding, x.bound),
            (None, None) => continue,
        };
        print_finding(&r.finding, &replay);
    }
    print_anomalies(rows.iter().map(|r| &r.finding));
}

/// The command that finds an exhaustive finding again and writes its trace.
pub fn exhaustive_replay(args: &Args, f: &Finding, bound: u32) -> String {
    format!(
        "chukei reproduce --exhaustive --cause {} {} {} --trace-out DIR, then chukei replay DIR/*.json",
        f.cause,
        f.config().cli_args(),
        args.exhaustive_flags(bound)
    )
}

/// A reproducing or divergent schedule: its timeline and how to replay it.
pub fn print_finding(f: &Finding, replay: &str) {
    if let Some(d) = &f.divergence {
        say!(
            "\n== {} on {}: the relay left the {} spec at event {}: {}",
            f.cause,
            f.config(),
            f.cause.spec(),
            d.index,
            d.reason
        );
        say!("   spec state: {}", d.spec_state);
    } else if f.reproduced {
        say!("\n== {} on {}: {}", f.cause, f.config(), f.cause.symptom());
    } else {
        return;
    }
    say!("   time telegram thread    event");
    for e in &f.timeline {
        say!("{e}");
    }
    say!("replay: {replay}");
}

pub fn print_anomalies<'a>(findings: impl Iterator<Item = &'a Finding>) {
    for f in findings.filter(|f| !f.anomalies.is_empty()) {
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

/// Writes one file per reproducing or divergent finding, named as in the corpus
/// (`reproduce-{spec}-{preset}-{property}`).
fn write_files(
    dir: &Path,
    findings: &[Finding],
    extension: &str,
    contents: impl Fn(&Finding) -> String,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in findings
        .iter()
        .filter(|f| f.reproduced || f.divergence.is_some())
    {
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
