//! `chukei simulate`: the national day, calibrated to 29 Mar and 18 Apr
//! 2016, and the what-ifs on the peak day (the `simulate` crate).

use anyhow::{Context, Result};
use patches::CsRule;
use simulate::{Outcome, Seeds, Study, Summary};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seeds per day (each a whole day; they run in parallel on all cores).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    seeds: u64,
    /// First seed: days run on seeds FIRST..FIRST+SEEDS, the same for every
    /// day, so a run is reproducible and days differ only by parameters.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Write one SVG per day (requests, excess answers, blocked CS-minutes,
    /// inconsistencies over the day, legacy against improved) into DIR.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Print the whole study as JSON.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Exit 0 when both published days are reproduced within the bounds
/// (requests within 10%, connection excess within a factor 2), 1 if not.
pub fn run(args: &Args) -> Result<ExitCode> {
    let seeds = Seeds {
        first: args.first_seed,
        count: args.seeds,
    };
    if args.first_seed.checked_add(args.seeds).is_none() {
        anyhow::bail!(
            "--first-seed {} + --seeds {} overflows",
            args.first_seed,
            args.seeds
        );
    }
    // A bad plot directory is an error now, not after the whole run.
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let started = Instant::now();
    let study = Study::run(seeds, |day, rule| {
        if !args.quiet {
            eprintln!(
                "simulate: {day} ({} rule): {} seeds done at {:.1} s",
                rule.name(),
                seeds.count,
                started.elapsed().as_secs_f64()
            );
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(dir) = &args.plots {
        write_plots(&study, dir)?;
    }
    if args.json {
        say!("{}", serde_json::to_string_pretty(&study)?);
    } else {
        print_study(&study, elapsed);
    }
    Ok(if study.calibrated() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_study(study: &Study, elapsed: f64) {
    let f = &study.fitted;
    say!(
        "Calibration ({} seeds from {}; legacy CS rule as in 2016; mean ± sd over seeds)",
        study.seeds.count,
        study.seeds.first
    );
    say!(
        "  {:<8} {:>22} {:>9} {:>7} {:>20} {:>9} {:>7}  ok",
        "day",
        "requests (simulated)",
        "published",
        "ratio",
        "excess (simulated)",
        "published",
        "ratio"
    );
    for c in &study.calibration {
        let s = &c.simulated;
        say!(
            "  {:<8} {:>22} {:>9} {:>7.3} {:>20} {:>9} {:>7.2}  {}",
            c.day.name,
            format!("{:.0} ± {:.0}", s.requests.mean, s.requests.sd),
            c.day.requests,
            c.requests_ratio,
            format!(
                "{:.0} ± {:.0}",
                s.connection_excess.mean, s.connection_excess.sd
            ),
            c.day.connection_excess,
            c.excess_ratio,
            if c.within_bounds { "yes" } else { "NO" }
        );
    }
    for c in &study.calibration {
        say!("  {}: {}", c.day.name, c.day.facility_note);
    }
    say!(
        "  fitted: applicants 29-mar {:.0}, 18-apr {:.0}; upstream service {:.1} s; burstiness {:.2}",
        f.cards_29_mar,
        f.cards_18_apr,
        f.upstream_op as f64 / 1e6,
        f.burstiness
    );
    say!("  facts: connections, relays, HSM boards per day, 10 s write+verify, 1 min block, 4,000 moves/10 min, peak hours; the rest assumed (docs/simulate.md)");
    say!("");
    say!("Predictions on 29 Mar (not refitted)");
    outcome_table(&study.predictions);
    say!("");
    say!("The published days under the improved CS rule");
    outcome_table(&study.improved);
    say!("");
    let days = (study.calibration.len() + study.improved.len() + study.predictions.len()) as u64
        * study.seeds.count;
    say!(
        "{days} days simulated, {} events in {elapsed:.1} s ({:.1} M events/s)",
        study.events,
        study.events as f64 / elapsed / 1e6
    );
}

fn outcome_table(outcomes: &[Outcome]) {
    say!(
        "  {:<32} {:<8} {:>16} {:>12} {:>10} {:>12} {:>11} {:>9}",
        "facility",
        "rule",
        "peak tel./10 min",
        "cards/day",
        "unserved",
        "excess",
        "blocked CS-min",
        "inconsist."
    );
    for o in outcomes {
        let s: &Summary = &o.simulated;
        say!(
            "  {:<32} {:<8} {:>16.0} {:>12.0} {:>10.0} {:>12.0} {:>11.0} {:>9.0}",
            o.name,
            o.rule.name(),
            s.peak_processed_per_10min.mean,
            s.cards_issued.mean,
            s.unserved.mean,
            s.connection_excess.mean,
            s.blocked_cs_minutes.mean,
            s.inconsistencies.mean
        );
    }
}

/// One SVG per day: the published days and each what-if.
fn write_plots(study: &Study, dir: &std::path::Path) -> Result<()> {
    let mut pairs: Vec<(&str, &Summary, &Summary)> = study
        .calibration
        .iter()
        .zip(&study.improved)
        .map(|(c, i)| (c.day.name, &c.simulated, &i.simulated))
        .collect();
    for pair in study.predictions.chunks(2).skip(1) {
        if let [legacy, improved] = pair {
            debug_assert_eq!(
                (legacy.rule, improved.rule),
                (CsRule::Legacy, CsRule::Improved)
            );
            pairs.push((legacy.name, &legacy.simulated, &improved.simulated));
        }
    }
    for (name, legacy, improved) in pairs {
        let file = dir.join(format!("{}.svg", slug(name)));
        let title = format!("{name}: mean of {} seeds", legacy.seeds.len());
        let svg = simulate::plot::day_svg(&title, &legacy.series, &improved.series)
            .map_err(|e| anyhow::anyhow!("plotting {name}: {e}"))?;
        std::fs::write(&file, svg).with_context(|| format!("writing {}", file.display()))?;
        eprintln!("simulate: wrote {}", file.display());
    }
    Ok(())
}

/// A file name for a day's name.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}
