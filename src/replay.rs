//! `chukei replay`: run stored traces again and compare with their verdict
//! (the harness is `regressions::replay`).

use anyhow::{Context, Result};
use model::Verdict;
use regressions::{corpus, replay};
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
        let trace = corpus::read(path)?;
        let replayed = replay(&trace)
            .with_context(|| format!("replaying {}", path.display()))?
            .verdict;
        rows.push(Replayed {
            file: path.display().to_string(),
            spec: trace.spec.clone(),
            preset: trace.config().name(),
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
