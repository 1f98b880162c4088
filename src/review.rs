//! `chukei review --base CONFIG --change CONFIG`: what a change to the
//! relay's configuration does to every verdict (the `review` crate), as text,
//! JSON, or with `--out DIR` a self-contained HTML page (`review_page.rs`)
//! with the counterexamples as sequence diagrams and their trace files.
//!
//! Exit codes: 0 when the change breaks no verdict, 1 when it breaks at least
//! one (a property that held on the base is violated on the change, or a
//! root cause reproduces on the change and not on the base), 2 on bad input.

use crate::config_args::{named_config, parse_patch};
use anyhow::{Context, Result};
use regressions::corpus;
use review::{review, Options, Progress, Review};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The configuration before the change: a preset (2016-01, 2016-03,
    /// 2016-04, proposed) or a variant file (e.g. variants/guard-alone.toml).
    #[arg(long, value_name = "PRESET|FILE")]
    base: String,
    /// Override one switch of the base (repeatable), as `--patch` elsewhere.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_patch)]
    base_patch: Vec<String>,
    /// The configuration after the change: a preset or a variant file.
    #[arg(long, value_name = "PRESET|FILE")]
    change: String,
    /// Override one switch of the change (repeatable), e.g.
    /// `--change 2016-01 --change-patch hsm_guard=error-on-interrupted`.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_patch)]
    change_patch: Vec<String>,
    /// Write review.html (self-contained: verdict diff, counterexample
    /// sequence diagrams), review.json and every counterexample's trace
    /// file (traces/base/, traces/change/) into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the review as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Keep the relay schedules as found (by default the one a verdict
    /// shows is minimized, `chukei minimize`: seconds per schedule on some
    /// configurations).
    #[arg(long)]
    no_minimize: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Narrow the environment assumption settings checked (repeatable, as
    /// `chukei check --assume`), e.g. `--assume demand=finite`; by default
    /// every setting of every assumption of every spec.
    #[arg(long = "assume", value_name = "NAME=VALUE")]
    assume: Vec<String>,
    /// First seed of the relay search (as `chukei reproduce --seed`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Relay schedules per root cause and configuration (as `chukei
    /// reproduce --budget`).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    budget: u64,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let base = named_config(&args.base, &args.base_patch).context("--base")?;
    let change = named_config(&args.change, &args.change_patch).context("--change")?;
    if scenarios::search::seeds(args.seed, args.budget).is_none() {
        anyhow::bail!(
            "--seed {} with --budget {} runs past the largest seed",
            args.seed,
            args.budget
        );
    }
    if let Some(dir) = &args.out {
        crate::reproduce::ensure_writable_dir(dir)?;
    }
    let options = Options {
        assume: args.assume.clone(),
        seed: args.seed,
        budget: args.budget,
        minimize: !args.no_minimize,
    };
    let quiet = args.quiet;
    let mut progress = |p: Progress| {
        if !quiet {
            eprintln!("{}", progress_line(&p));
        }
    };
    let mut review = review(&base, &change, &options, &mut progress)?;
    if let Some(dir) = &args.out {
        write_out(dir, &mut review)?;
    }
    if args.json {
        say!("{}", serde_json::to_string_pretty(&review)?);
    } else {
        say_raw!("{}", review::render_text(&review));
    }
    Ok(if review.breaks_nothing() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_line(p: &Progress) -> String {
    match p {
        Progress::Explored { side, spec, states } => {
            format!("review: {side}: explored {spec}, {states} states")
        }
        Progress::Searched {
            side,
            cause,
            reproduced,
        } => format!(
            "review: {side}: searched the relay for {cause}: {}",
            if *reproduced {
                "reproduced"
            } else {
                "not reproduced"
            }
        ),
    }
}

/// Writes every counterexample's trace file, then review.json and
/// review.html, into `dir`.
fn write_out(dir: &Path, review: &mut Review) -> Result<()> {
    let mut written = 0;
    for row in &mut review.rows {
        for (side, counterexample) in row.counterexamples_mut() {
            let path = corpus::write(&dir.join("traces").join(side), &counterexample.trace)?;
            counterexample.trace_file = Some(path.display().to_string());
            written += 1;
        }
    }
    let json = dir.join("review.json");
    std::fs::write(&json, serde_json::to_string_pretty(review)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    let html = dir.join("review.html");
    std::fs::write(&html, crate::review_page::render_page(review, dir))
        .with_context(|| format!("writing {}", html.display()))?;
    eprintln!(
        "wrote {} and {} with {written} trace files under {}",
        html.display(),
        json.display(),
        dir.join("traces").display()
    );
    Ok(())
}
