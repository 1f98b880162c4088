//! `chukei reproduce --exhaustive`: every driver schedule up to a bound on
//! preemptions, per cause and preset.

use crate::reproduce::{exhaustive_replay, print_anomalies, print_finding, yes_no, Args};
use anyhow::Result;
use scenarios::exhaustive::{search_bounded, Exhaustive};
use serde::Serialize;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    search: &'a Exhaustive,
    expected: Option<bool>,
    /// Expected to reproduce, not found within the bound: the bound was too
    /// small to decide, which is not "clean".
    inconclusive: bool,
    symptom: &'static str,
    summary: String,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let show_progress = !args.quiet() && std::io::stderr().is_terminal();
    let mut results = Vec::new();
    let configs = args.configs()?;
    for &cause in args.causes() {
        for config in &configs {
            let progress = |n: u64, k: u32| {
                if show_progress && n.is_multiple_of(50) {
                    eprint!("\r{cause} on {config}: {n} schedules, at {k} preemption(s)");
                }
            };
            results.push(search_bounded(
                cause,
                config.clone(),
                &args.bound(config),
                progress,
            ));
            if show_progress {
                eprint!("\r{:60}\r", "");
            }
        }
    }
    let findings: Vec<_> = results.iter().map(|r| r.finding.clone()).collect();
    args.write_outputs(&findings)?;
    if args.json() {
        let rows: Vec<_> = results
            .iter()
            .map(|r| Row {
                search: r,
                expected: r.finding.expected(),
                inconclusive: r.inconclusive(),
                symptom: r.finding.cause.symptom(),
                summary: r.summary(),
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_text(args, &results);
    }
    Ok(if results.iter().all(Exhaustive::as_expected) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(args: &Args, results: &[Exhaustive]) {
    say!(
        "{:<13} {:<9} {:<11} {:<9} {:>9} {:>8}  coverage",
        "cause",
        "preset",
        "reproduced",
        "expected",
        "schedules",
        "ms"
    );
    for r in results {
        let f = &r.finding;
        let mark = if r.inconclusive() {
            "  <-- bound too small to decide"
        } else if !r.as_expected() {
            "  <-- unexpected"
        } else {
            ""
        };
        say!(
            "{:<13} {:<9} {:<11} {:<9} {:>9} {:>8}  {}{mark}",
            f.cause.name(),
            f.config().name(),
            yes_no(f.reproduced),
            f.expected().map_or("-", yes_no),
            f.schedules_tried,
            f.millis,
            r.summary()
        );
    }
    for r in results {
        print_finding(&r.finding, &exhaustive_replay(args, &r.finding, r.bound));
    }
    if results.iter().any(Exhaustive::inconclusive) {
        say!("\nA cause expected to reproduce was not found within the bound: that row is undecided, not clean; raise --preemptions (or --max-schedules).");
    }
    print_anomalies(results.iter().map(|r| &r.finding));
}
