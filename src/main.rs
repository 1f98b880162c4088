//! `chukei`: the verification suite's command line.
//!
//! Exit codes: 0 when every verdict matches its recorded expectation, 1 when
//! one does not (so CI can gate on it), 2 on bad arguments or bad input, 3
//! when `check` was stopped by a limit (`--max-states`, `--max-depth`,
//! `--max-seconds`, `--max-memory`) before it decided every property and
//! nothing it decided differs.

/// `println!` to stdout, but a closed pipe (`chukei check | head`) is no
/// panic: output stops, the work and its exit code go on.
macro_rules! say {
    ($($arg:tt)*) => { $crate::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same care.
macro_rules! say_raw {
    ($($arg:tt)*) => { $crate::write_out(format_args!($($arg)*)) };
}

mod check;
mod config_args;
mod corpus;
mod exhaustive;
mod expectations;
mod explain;
mod explore;
mod load;
mod minimize;
mod relayd;
mod replay;
mod reproduce;
mod review;
mod review_page;
mod simulate;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "chukei",
    version,
    about = "Verification suite for the 2016 My Number relay server: reproduce its timing bugs, check its specs, keep them fixed",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every spec exhaustively on every preset: a verdict matrix
    /// (spec x preset x property), then each shortest counterexample.
    Check(check::Args),
    /// Regenerate the recorded verdicts from the checker: every spec on
    /// every preset and recorded variant under every assumption setting,
    /// into scenarios/expectations.toml and the tables of docs/specs.md
    /// (`--write`), or compare them (exit 1 where they differ).
    Expectations(expectations::Args),
    /// Serve the Explorer on localhost: every property's verdict as `check`
    /// decides it, each counterexample step by step, any state's successors.
    Explore(explore::Args),
    /// Search schedules of the real relay (deterministic driver) until a
    /// root cause of 2016 reproduces; print the triggering timeline.
    Reproduce(reproduce::Args),
    /// Replay stored traces (spec actions on the model, driver and shuttle
    /// schedules on the real relay) and compare with their recorded verdict.
    Replay(replay::Args),
    /// Shrink a violated trace (delta debugging over its schedule) until no
    /// single step can be removed; report steps before and after.
    Minimize(minimize::Args),
    /// Keep a counterexample as a regression: `corpus add TRACE`
    /// minimizes, names, stores and snapshots it in one step.
    Corpus(corpus::Args),
    /// Draw a trace as a sequence diagram (one lane per actor, what each step
    /// changed, the violating step marked): text, Mermaid or SVG.
    Explain(explain::Args),
    /// Check a relay event log against a spec (trace refinement): report the
    /// first event the spec does not allow.
    Validate(validate::Args),
    /// Review a change of configuration: check every spec and search the
    /// relay for every root cause on the base and on the change; report what
    /// the change fixes, breaks and leaves, each with its counterexample.
    /// Exit 1 when it breaks a verdict.
    Review(review::Args),
    /// Run the relay as a TCP server speaking the telegram frame format,
    /// until SIGINT or SIGTERM (then drain and stop).
    Relayd(relayd::Args),
    /// Run the card management server (the relay's upstream) as a TCP
    /// server of its own, for `relayd --upstream`, until SIGINT or SIGTERM.
    Upstream(relayd::UpstreamArgs),
    /// Drive one or more relayds with N real CS terminals over TCP; report
    /// answers, connection excess, losses, disagreements and latency.
    Load(load::Args),
    /// Simulate a national day (CS terminals, distributor, relays, HSM
    /// boards, upstream): calibrate to 29 Mar and 18 Apr 2016, then predict
    /// 94 connections and a second HSM board on the peak day.
    Simulate(simulate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Expectations(args) => expectations::run(&args),
        Command::Explore(args) => explore::run(&args),
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Minimize(args) => minimize::run(&args),
        Command::Corpus(args) => corpus::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Review(args) => review::run(&args),
        Command::Relayd(args) => relayd::run(&args),
        Command::Upstream(args) => relayd::run_upstream(&args),
        Command::Load(args) => load::run(&args),
        Command::Simulate(args) => simulate::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("chukei: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Relay events go to `tracing` at debug level with their telegram and
/// thread IDs: `RUST_LOG=relay=debug chukei reproduce` prints every one.
/// relayd logs at info by default, as text or JSON.
fn init_logging(command: &Command) {
    let (default, json) = match command {
        Command::Relayd(args) => ("info", args.log_format == relayd::LogFormat::Json),
        Command::Upstream(_) => ("info", false),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Colour codes only for a person at a terminal: not when stderr is a file
/// or pipe (CI logs, `2> log`), nor when `NO_COLOR` is set (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What an `all`-or-one-name argument selects.
#[derive(Clone, Debug)]
pub struct Selection<T>(pub Vec<T>);

/// A named thing the CLI takes by name (spec, preset, cause): one argument
/// style, whose values `--help` lists and shells complete.
pub trait Named: Copy + Send + Sync + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

impl Named for model::SpecName {
    const ALL: &'static [Self] = &model::SpecName::ALL;
    fn name(self) -> &'static str {
        self.name()
    }
}

impl Named for patches::Preset {
    const ALL: &'static [Self] = &patches::Preset::ALL;
    fn name(self) -> &'static str {
        self.name()
    }
}

impl Named for scenarios::search::Cause {
    const ALL: &'static [Self] = &scenarios::search::Cause::ALL;
    fn name(self) -> &'static str {
        self.name()
    }
}

/// Parses one of `T`'s names.
pub fn one<T: Named>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::ALL.iter().map(|t| t.name())).map(|name| {
        *T::ALL
            .iter()
            .find(|t| t.name() == name)
            .expect("a listed name")
    })
}

/// Parses `all` or one of `T`'s names.
pub fn all_or_one<T: Named>() -> impl clap::builder::TypedValueParser<Value = Selection<T>> {
    use clap::builder::TypedValueParser;
    let names = std::iter::once("all").chain(T::ALL.iter().map(|t| t.name()));
    clap::builder::PossibleValuesParser::new(names).map(|name| {
        Selection(
            T::ALL
                .iter()
                .copied()
                .filter(|t| name == "all" || t.name() == name)
                .collect(),
        )
    })
}

/// Set once stdout's reader went away: nothing more is written.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout. When the reader went away (`chukei replay X | head -1`)
/// the rest of the output is dropped but the command runs to its verdict,
/// so the exit code is the same as without the pipe (CI's `pipefail` sees
/// a regression). Exits 2 on another write error.
pub fn write_out(text: std::fmt::Arguments) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(text) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            return;
        }
        eprintln!("chukei: error: writing output: {e}");
        std::process::exit(2);
    }
}

/// Set in the child process of [`rerun_without_shuttle_noise`].
pub const IN_PROCESS: &str = "CHUKEI_IN_PROCESS";

/// Runs this very command again in a child process and passes its stdout
/// and exit code on, dropping from its stderr the lines shuttle prints for
/// every replayed schedule that stops at a failure (`test panicked in
/// task`, `Test deadlocked`): for a replay that is the expected end, not
/// news, and shuttle writes them straight to stderr.
pub fn rerun_without_shuttle_noise() -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("locating the chukei executable")?;
    let output = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(IN_PROCESS, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::inherit())
        .output()
        .context("starting the child process")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|l| !is_shuttle_noise(l)) {
        eprintln!("{line}");
    }
    match output.status.code() {
        Some(code) => Ok(ExitCode::from(code as u8)),
        None => anyhow::bail!("the child process was killed ({})", output.status),
    }
}

/// The lines shuttle prints for a run that stops at a failure.
fn is_shuttle_noise(line: &str) -> bool {
    line.starts_with("test panicked in task")
        || line.starts_with("Task failed, serializing schedule")
        || line.starts_with("Test deadlocked")
}
