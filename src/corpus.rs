//! `chukei corpus add TRACE`: a new regression in one command (the work is
//! `regressions::corpus::add`): minimized, named by the corpus scheme,
//! stored, replayed on the preset that fixes it (recorded in
//! `on-fix.toml`), and its timeline written as an insta snapshot.
//!
//! Shuttle schedules replay many times while minimizing: as for `chukei
//! minimize`, the work runs in a child process without shuttle's lines.

use anyhow::{Context, Result};
use regressions::corpus;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Minimize a violated trace, name it by the corpus scheme, store it,
    /// record what its schedule shows on the preset that fixes it, and write
    /// its timeline snapshot; `cargo test -p regressions --test corpus`
    /// then replays it both ways.
    Add(AddArgs),
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// The trace file (a violated trace of any schedule kind, e.g. from
    /// `check --trace-out`, `reproduce --trace-out` or a shuttle suite).
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
    /// The corpus directory.
    #[arg(long, value_name = "DIR", default_value_os_t = corpus::dir())]
    corpus: PathBuf,
    /// Replace a stored trace of the same name that has another schedule.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if std::env::var_os(crate::IN_PROCESS).is_none() {
        return crate::rerun_without_shuttle_noise();
    }
    let Command::Add(add) = &args.command;
    let trace = corpus::read(&add.trace)?;
    let added = corpus::add(&add.corpus, &trace, add.force)
        .with_context(|| format!("adding {}", add.trace.display()))?;
    if add.json {
        say!("{}", serde_json::to_string_pretty(&added)?);
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "stored {}: {} {} on {}, {} schedule of {} steps (minimized from {}, {} replays, {} ms)",
        added.path.display(),
        trace.spec,
        trace.property,
        trace.config(),
        trace.schedule.kind(),
        added.steps_after,
        added.steps_before,
        added.replays,
        added.millis,
    );
    if added.fix.is_empty() {
        say!("no preset fixes it yet: nothing recorded on a fix");
    }
    for (config, outcome) in &added.fix {
        say!(
            "on {config}, which fixes it: {outcome} (recorded in {})",
            add.corpus.join(corpus::ON_FIX_FILE).display()
        );
    }
    say!("timeline snapshot {}", added.snapshot.display());
    Ok(ExitCode::SUCCESS)
}
