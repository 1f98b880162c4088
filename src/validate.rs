//! `chukei validate`: trace refinement of a relay event log against a spec.

use crate::config_args::OneConfigArgs;
use anyhow::{Context, Result};
use model::SpecName;
use scenarios::refine::parse_jsonl;
use scenarios::refine::{Report, Verdict};
use scenarios::registry::validate_assuming;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Relay event log, one JSON event per line (`EventLog::to_jsonl`, or
    /// `chukei reproduce --events-out`). From any platform, real threads too.
    #[arg(value_name = "EVENTS.jsonl")]
    events: PathBuf,
    /// Spec to check the log against: timer-free (the AP's events),
    /// irq-order (the HSM's and interrupts'), cs-block (admission and the
    /// `cs` terminals').
    #[arg(long, value_parser = crate::one::<SpecName>())]
    spec: SpecName,
    /// The configuration the relay ran with: `--preset`, `--patch`
    /// overrides or `--variant FILE`.
    #[command(flatten)]
    config: OneConfigArgs,
    /// An environment assumption to read the log under (repeatable), in
    /// place of the relay's own reading (`hsm-wait=may-expire`, and for
    /// irq-order `guard-effect=resets-hsm`), e.g. `--assume
    /// hsm-wait=in-time`: where does the relay leave the spec's default?
    #[arg(long = "assume", value_name = "NAME=VALUE")]
    assumptions: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when every event in scope maps to a step the spec allows or is
/// accounted for (violations of the spec's properties are reported, not
/// failures: a 2016-01 log *should* show them); 1 at the first divergence
/// or when events were left unchecked (after an abnormal termination); 2 on
/// an unreadable or empty log, or one with no step of the spec at all.
pub fn run(args: &Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.events)
        .with_context(|| format!("reading {}", args.events.display()))?;
    let (name, params) = (args.spec.name(), args.spec.assumption_params());
    let mut overrides = BTreeMap::new();
    for item in &args.assumptions {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("--assume {item}: not of the form NAME=VALUE"))?;
        overrides.insert(k.trim().to_string(), v.trim().to_string());
    }
    // An unknown name or value is an error before the log is read.
    model::assume::resolve(name, params, &overrides)?;
    let events = parse_jsonl(&text).with_context(|| format!("in {}", args.events.display()))?;
    let report = validate_assuming(&events, name, args.config.config()?, &overrides)
        .with_context(|| format!("in {}", args.events.display()))?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(if report.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(r: &Report) {
    say!(
        "{} events ({} telegrams) against {} on {}: {} mapped to spec steps, {} checked, {}",
        r.events,
        r.telegrams,
        r.spec,
        r.preset,
        r.mapped,
        r.checked,
        r.skips_summary()
    );
    match (&r.divergence, r.verdict) {
        (Some(d), _) => {
            say!(
                "DIVERGENCE at event {} (line {}, seq {}):",
                d.index,
                d.index + 1,
                d.seq
            );
            say!("  {}", d.event);
            say!("  {}", d.reason);
            say!("  spec state: {}", d.spec_state);
        }
        (None, Verdict::Incomplete) => say!(
            "INCOMPLETE: no divergence in what was checked, but {} events were not checked (after-abnormal-termination: the spec stops where the AP died)",
            r.unchecked()
        ),
        (None, _) => say!("code and spec agree"),
    }
    for v in &r.violations {
        say!(
            "property {} violated at event {} (line {}): {}",
            v.property,
            v.index,
            v.index + 1,
            v.event
        );
    }
}
